"""Train on every labelled impression and save the model with its threshold and its training reference (the
inputs it reads as given, and its own predictions on forward-in-time windows); predict another file, each row
checked against that reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from adpipe import config
from adpipe.ctr.defaults import MODEL_FILE, PARAMS_FILE, PREDICTIONS_FILE, TASK
from adpipe.ctr.evaluation import labelled_data
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.models import build_decision_model, decision_threshold, threshold_rule
from adpipe.ctr.params import load_params
from adpipe.drift import expected_score
from adpipe.errors import DataError
from adpipe.io import load_model, write_csv
from adpipe.params import lightgbm_refusal
from adpipe.reference import (
    METADATA_KEY,
    WARNINGS_COLUMN,
    GuardedRows,
    InputReference,
    LabelFreeCheck,
    PredictionReference,
    guard_rows,
)
from adpipe.validation import FoldMetrics, cross_validate
from adpipe.versions import save_trained
from features.ctr import (
    MALE,
    NUMERIC_COLUMNS,
    NUMERIC_FEATURES,
    TIMESTAMP,
    build_features,
    count_duplicates,
    load_impressions,
)

# The loaded record's columns guarded by the training reference, by the model input made from each (the
# timestamp, the ad's text and the derived features are not guarded).
_RECORD_SOURCES = {**dict(zip(NUMERIC_FEATURES[:4], NUMERIC_COLUMNS, strict=True)), "male": MALE}
_KEYS = ("City", "Country")
# The held-out predictions of the reference: validate's forward windows, three instead of its five (a decision
# model costs about as much to fit on a sixth of the rows as on all of them: five made train about five times
# slower; three make it twice as slow, 3.7 s -> 7.4 s on the reference data).
HELD_OUT_FOLDS = 3


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
    held_out: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """The decision model fitted on every labelled row (threshold chosen unless given), and how it was made.

    ``held_out`` adds the model's predictions on forward windows to its reference (what the drift of served
    predictions is measured against): three more fits, which the export check (``ctr holdout``) does without.
    """
    params = load_params(params_file, imbalance=imbalance, features=features, calibration=calibration)
    X, y, table = labelled_data(data)
    with lightgbm_refusal(params_file):
        model = build_decision_model(params, seed, threshold).fit(X, y)
        predictions = held_out_predictions(params, seed, threshold, X, y, table) if held_out else None
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
        METADATA_KEY: InputReference.from_frame(
            table[record_inputs(model.estimator_.columns)], predictions
        ).model_dump(),
    }
    return model, metadata


def _held_out(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
    positive = model.predict_proba(X)[:, list(model.classes_).index(1)]
    return {"probability": positive, "clicked": model.predict(X).astype("int64"), "truth": y.to_numpy()}


def held_out_predictions(
    params: dict[str, Any], seed: int, threshold: float | None, X: pd.DataFrame, y: pd.Series, table: pd.DataFrame
) -> PredictionReference:
    """The decision model's clicks (at each window's own threshold) on validate's forward windows (fewer of
    them), with the ROC-AUC they realised beside the one their probabilities expect; random folds when a
    Timestamp is missing."""
    name = "forward" if table[TIMESTAMP].notna().all() else "random"
    protocol = CtrProtocol(folds=HELD_OUT_FOLDS, repeats=1, seed=seed, name=name)
    folds = cross_validate(
        lambda: build_decision_model(params, seed, threshold),
        X,
        y,
        make_folds(table, protocol),
        _held_out,
        progress=False,
    )
    probability = np.concatenate([fold["probability"] for fold in folds])
    clicked = np.concatenate([fold["clicked"] for fold in folds])
    check = LabelFreeCheck(
        metric="ROC-AUC",
        realised=float(roc_auc_score(np.concatenate([fold["truth"] for fold in folds]), probability)),
        estimated=expected_score("ROC-AUC", np.column_stack([1.0 - probability, probability]), clicked),
    )
    why = "" if name == "forward" else ", random as some Timestamp is missing"
    text = f"{protocol.describe()} ({HELD_OUT_FOLDS}, not validate's default 5, to keep train quick{why}); clicked at "
    text += "each fold model's own threshold"
    return PredictionReference.of(clicked, text, check)


def train(
    data: str | Path = config.CTR_FILE,
    params_file: str | Path = PARAMS_FILE,
    model_file: str | Path = MODEL_FILE,
    seed: int = config.DEFAULT_SEED,
    **options: Any,
) -> dict[str, Any]:
    """:func:`fit` (``options``: its keyword arguments), then save the model with its metadata."""
    model, metadata = fit(data, params_file, seed, **options)
    save_trained(model_file, model, metadata, [data])
    return metadata


def predicted_rows(model: Any, input_file: str | Path, table: pd.DataFrame) -> pd.DataFrame:
    """The input's rows and columns, as written, plus ``click_probability`` and ``clicked`` (0/1 at the
    model's threshold); ``table`` is the file as :func:`features.ctr.load_impressions` reads it."""
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
) -> tuple[pd.DataFrame, GuardedRows]:
    """Predict ``input_file`` with the saved model and write :func:`predicted_rows` to ``output``, with each row's
    warnings from the model's training reference (and their summary, returned)."""
    model, metadata = load_model(model_file, task=TASK)
    table = load_impressions(input_file, labelled=False)
    rows = predicted_rows(model, input_file, table)
    guarded = guard_rows(InputReference.read(metadata), table)
    rows[WARNINGS_COLUMN] = guarded.messages
    write_csv(output, rows)
    return rows, guarded
