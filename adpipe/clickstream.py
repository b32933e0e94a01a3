"""The main task: LightGBM for ClickStream ``marketing_target`` (1/2/3) under macro-F1.

Hyperparameters come from a params file (``params/clickstream.json``) that ``make tune`` overwrites;
``train``, ``predict`` and ``validate`` all build the same estimator from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import dumps_json, load_model, read_json, save_model, write_bytes_atomic, write_json
from adpipe.validation import (
    Protocol,
    classification_evaluator,
    cross_validate,
    make_splits,
    summarize_classification,
)
from features.clickstream import CLASSES, FEATURE_GROUPS, TARGET, build_features, load_split

TASK = "clickstream"
MODEL_FILE = config.MODELS_DIR / "clickstream.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "validation.json"

# Fixed for reproducibility, not searched: one thread order, one seed.
LIGHTGBM_FIXED = {"verbose": -1, "deterministic": True, "force_row_wise": True, "n_jobs": 1}
DEFAULT_PARAMS: dict[str, Any] = {
    "task": TASK,
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 7,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.7,
        "class_weight": "balanced",
    },
    "feature_groups": list(FEATURE_GROUPS),
    "source": {"kind": "default", "note": "hand-set defaults; `make tune` replaces this file"},
}
_PARAM_KEYS = {"task", "lightgbm", "feature_groups", "source"}
_LIGHTGBM_KEYS = set(LGBMClassifier().get_params()) - set(LIGHTGBM_FIXED) - {"random_state"}


class FeatureGroupSelector(BaseEstimator, TransformerMixin):
    """Keep the columns of the named feature groups (so a search can switch groups off)."""

    def __init__(self, groups: tuple[str, ...] = tuple(FEATURE_GROUPS)) -> None:
        self.groups = groups

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureGroupSelector:
        self.columns_ = [c for g in self.groups for c in FEATURE_GROUPS[g] if c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[self.columns_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.columns_, dtype=object)


def check_params(params: Any, source: str | Path = "params") -> dict[str, Any]:
    """Refuse a params mapping with unknown keys, unknown LightGBM parameters or unknown groups."""
    if not isinstance(params, dict):
        raise DataError("must hold a JSON object", path=source)
    unknown = set(params) - _PARAM_KEYS
    if unknown:
        raise DataError(f"unknown key(s) {sorted(unknown)}; known: {sorted(_PARAM_KEYS)}", path=source)
    if params.get("task", TASK) != TASK:
        raise DataError(f"is for task {params['task']!r}, not {TASK!r}", path=source)
    lightgbm = params.get("lightgbm", {})
    if not isinstance(lightgbm, dict):
        raise DataError("'lightgbm' must be an object of LightGBM parameters", path=source)
    bad = set(lightgbm) - _LIGHTGBM_KEYS
    if bad:
        raise DataError(f"unknown LightGBM parameter(s) {sorted(bad)}", path=source)
    groups = params.get("feature_groups", list(FEATURE_GROUPS))
    if not groups or set(groups) - set(FEATURE_GROUPS):
        raise DataError(
            f"'feature_groups' must be a non-empty subset of {list(FEATURE_GROUPS)}, got {groups}", path=source
        )
    return {**DEFAULT_PARAMS, **params, "lightgbm": lightgbm, "feature_groups": list(groups)}


def load_params(path: str | Path = config.CLICKSTREAM_PARAMS_FILE) -> dict[str, Any]:
    """The params file, checked; the defaults when it does not exist yet."""
    path = Path(path)
    if not path.exists():
        return dict(DEFAULT_PARAMS)
    return check_params(read_json(path), path)


def build_model(params: dict[str, Any], seed: int = config.DEFAULT_SEED) -> Pipeline:
    """A fresh, unfitted estimator: feature-group selection then LightGBM multiclass."""
    return Pipeline(
        [
            ("select", FeatureGroupSelector(tuple(params["feature_groups"]))),
            (
                "lightgbm",
                LGBMClassifier(objective="multiclass", random_state=seed, **LIGHTGBM_FIXED, **params["lightgbm"]),
            ),
        ]
    )


def labelled_features(train_dir: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of the labelled users in ``train_dir``."""
    table = build_features(load_split(train_dir, "train"))
    return table.drop(columns=[TARGET]), table[TARGET]


def train(
    train_dir: str | Path = config.TRAIN_DIR,
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    model_file: str | Path = MODEL_FILE,
    seed: int = config.DEFAULT_SEED,
) -> dict[str, Any]:
    """Fit on every labelled user and save the model with how it was made."""
    params = load_params(params_file)
    X, y = labelled_features(train_dir)
    model = build_model(params, seed).fit(X, y)
    metadata = {
        "task": TASK,
        "params": params,
        "seed": seed,
        "n_users": len(y),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().sort_index().items()},
        "features": list(model.named_steps["select"].columns_),
    }
    save_model(model_file, model, metadata)
    return metadata


def predictions_payload(test_ids: pd.Series, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """The submission: ``{"target": {"<test_id>": 1|2|3}}`` in test_id order, checked before writing."""
    if len(test_ids) == 0:
        raise DataError("no test users to predict")
    if len(predicted) != len(test_ids):
        raise DataError(f"{len(predicted)} predictions for {len(test_ids)} test users")
    order = np.argsort(test_ids.to_numpy(), kind="stable")
    target = {str(int(test_ids.iloc[i])): int(predicted[i]) for i in order}
    unknown = set(target.values()) - set(CLASSES)
    if unknown:
        raise DataError(f"predicted classes {sorted(unknown)} outside {list(CLASSES)}")
    return {"target": target}


def predict(
    test_dir: str | Path = config.TEST_DIR,
    output: str | Path = config.PREDICTIONS_FILE,
    model_file: str | Path = MODEL_FILE,
) -> dict[str, dict[str, int]]:
    """Predict every test user with the saved model and write the predictions file atomically."""
    model, _ = load_model(model_file, task=TASK)
    table = build_features(load_split(test_dir, "test"))
    test_ids = table.pop("test_id")
    payload = predictions_payload(test_ids, model.predict(table))
    write_bytes_atomic(output, dumps_json(payload))
    return payload


def validate(
    train_dir: str | Path = config.TRAIN_DIR,
    protocol: Protocol = Protocol(),
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """Repeated stratified K-fold of the model and of a majority-class baseline on the same folds."""
    params = load_params(params_file)
    X, y = labelled_features(train_dir)
    splits = make_splits(y, protocol)
    evaluate = classification_evaluator(CLASSES)
    model_folds = cross_validate(
        lambda: build_model(params, protocol.seed), X, y, splits, evaluate, description="LightGBM", progress=progress
    )
    baseline_folds = cross_validate(
        lambda: DummyClassifier(strategy="most_frequent"), X, y, splits, evaluate, progress=False
    )
    report = {
        "protocol": {**protocol.as_dict(), "n_users": len(y)},
        "model": summarize_classification(model_folds, CLASSES),
        "baseline": summarize_classification(baseline_folds, CLASSES),
        "params": {"source": params["source"], "feature_groups": params["feature_groups"]},
    }
    if report_file is not None:
        write_json(report_file, report)
    return report
