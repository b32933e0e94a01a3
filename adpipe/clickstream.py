"""The main task: LightGBM for ClickStream ``marketing_target`` (1/2/3) under macro-F1.

Hyperparameters come from a params file (``params/clickstream.json``) that ``make tune`` overwrites;
``train``, ``predict`` and ``validate`` all build the same estimator from it: the chosen feature groups,
the class-imbalance strategy (resampling inside an imbalanced-learn pipeline, so it only ever touches
training rows), LightGBM, and the decision rule (plain arg-max or macro-F1 class weights).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.metrics import f1_score

from adpipe import config
from adpipe.decision_rule import MacroF1Weights
from adpipe.errors import DataError
from adpipe.io import dumps_json, load_model, read_json, save_model, write_bytes_atomic, write_json
from adpipe.params import LIGHTGBM_FIXED, check_params_file, lightgbm_keys
from adpipe.validation import (
    FoldMetrics,
    Protocol,
    classification_evaluator,
    cross_validate,
    make_splits,
    mean_std,
    summarize_classification,
)
from features.clickstream import CLASSES, FEATURE_GROUPS, TARGET, build_features, load_split

TASK = "clickstream"
MODEL_FILE = config.MODELS_DIR / "clickstream.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "validation.json"

# Fixed for reproducibility, not searched: one thread order, one seed.
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
        # LightGBM's own behaviour, spelled out within the search's ranges (7 leaves never reach depth 8,
        # 0.001 is as good as no penalty), so a new study can start from exactly these defaults.
        "max_depth": 8,
        "reg_alpha": 0.001,
        "reg_lambda": 0.001,
        "extra_trees": False,
    },
    "imbalance": "class_weight",
    "decision_rule": "argmax",
    "feature_groups": list(FEATURE_GROUPS),
    "source": {"kind": "default", "note": "hand-set defaults; `make tune` replaces this file"},
}
# none: as is; class_weight: LightGBM's balanced class weights; oversample / smote: imbalanced-learn
# resamplers, which a Pipeline applies in fit only, so held-out rows are never resampled.
IMBALANCE_STRATEGIES = ("none", "class_weight", "oversample", "smote")
# argmax: the most probable class; class_weights: see adpipe.decision_rule.MacroF1Weights.
DECISION_RULES = ("argmax", "class_weights")
DECISION_RULE_INNER_FOLDS = 3
# class_weight is the "imbalance" key's business, objective is fixed to multiclass.
_LIGHTGBM_KEYS = lightgbm_keys(managed={"class_weight", "objective"}, extra={"extra_trees", "path_smooth"})


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
    params = check_params_file(
        params,
        source,
        task=TASK,
        defaults=DEFAULT_PARAMS,
        allowed_lightgbm=_LIGHTGBM_KEYS,
        choices={"imbalance": IMBALANCE_STRATEGIES, "decision_rule": DECISION_RULES},
        lightgbm_hints={"class_weight": "set class imbalance with the 'imbalance' key"},
    )
    groups = params.get("feature_groups", list(FEATURE_GROUPS))
    if not isinstance(groups, list) or not groups or set(groups) - set(FEATURE_GROUPS):
        raise DataError(
            f"'feature_groups' must be a non-empty subset of {list(FEATURE_GROUPS)}, got {groups}", path=source
        )
    return {**params, "feature_groups": list(groups)}


def load_params(path: str | Path = config.CLICKSTREAM_PARAMS_FILE) -> dict[str, Any]:
    """The params file, checked; the defaults when it does not exist yet."""
    path = Path(path)
    if not path.exists():
        return dict(DEFAULT_PARAMS)
    return check_params(read_json(path), path)


def build_model(params: dict[str, Any], seed: int = config.DEFAULT_SEED) -> Pipeline | MacroF1Weights:
    """A fresh, unfitted estimator: feature groups, imbalance handling, LightGBM, decision rule."""
    imbalance = params["imbalance"]
    steps: list[tuple[str, Any]] = [("select", FeatureGroupSelector(tuple(params["feature_groups"])))]
    if imbalance == "oversample":
        steps.append(("resample", RandomOverSampler(random_state=seed)))
    elif imbalance == "smote":
        # SMOTE interpolates between neighbours, so it needs complete rows (users without sessions have NaNs).
        steps.append(("impute", SimpleImputer(strategy="median").set_output(transform="pandas")))
        steps.append(("resample", SMOTE(random_state=seed)))
    class_weight = "balanced" if imbalance == "class_weight" else None
    lightgbm = LGBMClassifier(
        objective="multiclass", class_weight=class_weight, random_state=seed, **LIGHTGBM_FIXED, **params["lightgbm"]
    )
    pipeline = Pipeline([*steps, ("lightgbm", lightgbm)])
    if params["decision_rule"] == "class_weights":
        return MacroF1Weights(pipeline, inner_folds=DECISION_RULE_INNER_FOLDS, seed=seed)
    return pipeline


def fitted_pipeline(model: Pipeline | MacroF1Weights) -> Pipeline:
    """The fitted feature-to-probability pipeline, with or without the decision rule around it."""
    return model.estimator_ if isinstance(model, MacroF1Weights) else model


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
        "features": list(fitted_pipeline(model).named_steps["select"].columns_),
    }
    save_model(model_file, model, metadata)
    return metadata


def predictions_payload(test_ids: pd.Series, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """The submission: ``{"target": {"<test_id>": 1|2|3}}`` in test_id order, checked before writing."""
    if len(test_ids) == 0:
        raise DataError("no test users to predict")
    if len(predicted) != len(test_ids):
        raise DataError(f"{len(predicted)} predictions for {len(test_ids)} test users")
    predicted = np.asarray(predicted)
    unknown = set(np.unique(predicted).tolist()) - set(CLASSES)
    if unknown:
        raise DataError(f"predicted classes {sorted(unknown)} outside {list(CLASSES)}")
    order = np.argsort(test_ids.to_numpy(), kind="stable")
    ids, classes = test_ids.to_numpy()[order].astype(np.int64), predicted[order].astype(np.int64)
    return {"target": dict(zip(map(str, ids.tolist()), classes.tolist(), strict=True))}


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


def evaluate_with_argmax(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
    """The classification metrics, plus the macro-F1 that plain arg-max would have had (decision rule only)."""
    metrics = classification_evaluator(CLASSES)(model, X, y)
    if isinstance(model, MacroF1Weights):
        argmax = model.predict_argmax(X)
        metrics["argmax_macro_f1"] = f1_score(y, argmax, labels=list(CLASSES), average="macro", zero_division=0)
    return metrics


def cross_validate_params(
    params: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    protocol: Protocol,
    *,
    description: str = "LightGBM",
    on_fold: Callable[[int, FoldMetrics], None] | None = None,
    progress: bool = True,
) -> list[FoldMetrics]:
    """The model that ``params`` describe, through the folds of ``protocol`` (shared by validate and tune)."""
    return cross_validate(
        lambda: build_model(params, protocol.seed),
        X,
        y,
        make_splits(y, protocol),
        evaluate_with_argmax,
        description=description,
        on_fold=on_fold,
        progress=progress,
    )


def decision_rule_report(folds: list[FoldMetrics]) -> dict[str, Any]:
    """What the class-weight decision rule was worth against plain arg-max of the same fitted models."""
    rule = [f["macro_f1"] for f in folds]
    argmax = [f["argmax_macro_f1"] for f in folds]
    return {
        "kind": "class_weights",
        "macro_f1": mean_std(rule),
        "argmax_macro_f1": mean_std(argmax),
        "gain": mean_std([r - a for r, a in zip(rule, argmax, strict=True)]),
    }


_RULE_VARIANT = "same params, class-weight decision rule"


def validate(
    train_dir: str | Path = config.TRAIN_DIR,
    protocol: Protocol = Protocol(),
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """Repeated stratified K-fold of the model and of a majority-class baseline on the same folds.

    The same folds also score the untuned defaults (when the params are tuned), the params with every
    feature group (when some are off) and with the class-weight decision rule (when it is off), as
    ``variants``; ``decision_rule`` gives the rule's gain over plain arg-max of the same fitted models.
    """
    params = load_params(params_file)
    X, y = labelled_features(train_dir)
    model_folds = cross_validate_params(params, X, y, protocol, progress=progress)
    baseline_folds = cross_validate(
        lambda: DummyClassifier(strategy="most_frequent"),
        X,
        y,
        make_splits(y, protocol),
        classification_evaluator(CLASSES),
        progress=False,
    )
    variants = {}
    if set(params["feature_groups"]) != set(FEATURE_GROUPS):
        all_groups = {**params, "feature_groups": list(FEATURE_GROUPS)}
        variants["same params, all feature groups"] = cross_validate_params(
            all_groups, X, y, protocol, description="all groups", progress=progress
        )
    if params["decision_rule"] == "argmax":  # its gain is measured on the same models, with the rule around them
        variants[_RULE_VARIANT] = cross_validate_params(
            {**params, "decision_rule": "class_weights"}, X, y, protocol, description="decision rule", progress=progress
        )
    if params["source"].get("kind") != "default":
        variants["untuned defaults"] = cross_validate_params(
            DEFAULT_PARAMS, X, y, protocol, description="defaults", progress=progress
        )
    report = {
        "protocol": {**protocol.as_dict(), "n_users": len(y)},
        "model": summarize_classification(model_folds, CLASSES),
        "baseline": summarize_classification(baseline_folds, CLASSES),
        "params": {
            "source": params["source"],
            "feature_groups": params["feature_groups"],
            "imbalance": params["imbalance"],
            "decision_rule": params["decision_rule"],
        },
        "variants": {name: summarize_classification(folds, CLASSES) for name, folds in variants.items()},
    }
    rule_folds = model_folds if params["decision_rule"] == "class_weights" else variants[_RULE_VARIANT]
    report["decision_rule"] = {**decision_rule_report(rule_folds), "used": params["decision_rule"] == "class_weights"}
    if report_file is not None:
        write_json(report_file, report)
    return report
