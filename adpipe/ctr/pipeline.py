"""Train on every labelled impression and save the model with its threshold; predict another file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adpipe import config
from adpipe.ctr.defaults import MODEL_FILE, PARAMS_FILE, PREDICTIONS_FILE, TASK
from adpipe.ctr.evaluation import labelled_data
from adpipe.ctr.models import build_decision_model, decision_threshold, threshold_rule
from adpipe.ctr.params import load_params
from adpipe.errors import DataError
from adpipe.io import load_model, save_model, write_csv
from adpipe.params import lightgbm_refusal
from adpipe.reference import METADATA_KEY, InputReference
from features.ctr import MALE, NUMERIC_COLUMNS, NUMERIC_FEATURES, build_features, count_duplicates, load_impressions

# The loaded record's columns guarded by the training reference, by the model input made from each (the
# timestamp, the ad's text and the derived features are not guarded).
_RECORD_SOURCES = {**dict(zip(NUMERIC_FEATURES[:4], NUMERIC_COLUMNS, strict=True)), "male": MALE}
_KEYS = ("City", "Country")


def record_inputs(model_columns: list[str] | tuple[str, ...]) -> list[str]:
    """The loaded record's columns that ``model_columns`` (the model's inputs) read as given."""
    used = [_RECORD_SOURCES[column] for column in model_columns if column in _RECORD_SOURCES]
    parts = {part for column in model_columns for part in column.split("&")}
    return used + [key for key in _KEYS if key.lower() in parts]


def fit(
    data: str | Path = config.CTR_FILE,
    params_file: str | Path = PARAMS_FILE,
    seed: int = config.DEFAULT_SEED,
    *,
    threshold: float | None = None,
    imbalance: str | None = None,
    features: list[str] | None = None,
    calibration: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The decision model fitted on every labelled row (threshold chosen unless given), and how it was made."""
    params = load_params(params_file, imbalance=imbalance, features=features, calibration=calibration)
    X, y, table = labelled_data(data)
    with lightgbm_refusal(params_file):
        model = build_decision_model(params, seed, threshold).fit(X, y)
    metadata = {
        "task": TASK,
        "params": params,
        "seed": seed,
        "threshold": decision_threshold(model),
        "threshold_rule": threshold_rule(threshold),
        "n_rows": len(y),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().sort_index().items()},
        "duplicates_found": count_duplicates(table),
        "data": str(data),
        METADATA_KEY: InputReference.from_frame(table[record_inputs(model.estimator_.columns)]).model_dump(),
    }
    return model, metadata


def train(
    data: str | Path = config.CTR_FILE,
    params_file: str | Path = PARAMS_FILE,
    model_file: str | Path = MODEL_FILE,
    seed: int = config.DEFAULT_SEED,
    **options: Any,
) -> dict[str, Any]:
    """:func:`fit` (``options``: its keyword arguments), then save the model with its metadata."""
    model, metadata = fit(data, params_file, seed, **options)
    save_model(model_file, model, metadata)
    return metadata


def predicted_rows(model: Any, input_file: str | Path) -> pd.DataFrame:
    """The input's rows and columns, as written, plus ``click_probability`` and ``clicked`` (0/1 at the
    model's threshold)."""
    table = load_impressions(input_file, labelled=False)
    X = build_features(table)
    rows = pd.read_csv(input_file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if len(rows) != len(X):
        raise DataError(f"read {len(X)} impressions but {len(rows)} CSV rows: check for blank lines", path=input_file)
    positive = list(model.classes_).index(1)
    rows["click_probability"] = np.round(model.predict_proba(X)[:, positive], 6)
    rows["clicked"] = model.predict(X).astype("int64")
    return rows


def predict(
    input_file: str | Path, output: str | Path = PREDICTIONS_FILE, model_file: str | Path = MODEL_FILE
) -> pd.DataFrame:
    """Predict ``input_file`` with the saved model and write :func:`predicted_rows` to ``output``."""
    model, _ = load_model(model_file, task=TASK)
    rows = predicted_rows(model, input_file)
    write_csv(output, rows)
    return rows
