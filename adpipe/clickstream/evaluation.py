"""Local validation of the main task: repeated stratified K-fold of the model that the params file
describes, a majority-class baseline and variants on the same folds, as a typed :class:`ValidationReport`.

The same folds score the untuned defaults (when the params are tuned), the params with every feature group
(when some are off) and with the class-weight decision rule (when it is off), so each choice of the params
file is measured against its alternative.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.metrics import f1_score

from adpipe import config
from adpipe.clickstream.decision_rule import MacroF1Weights
from adpipe.clickstream.defaults import VALIDATION_REPORT
from adpipe.clickstream.engine_options import Engine
from adpipe.clickstream.estimators import build_model
from adpipe.clickstream.params import DEFAULT_PARAMS, load_params
from adpipe.clickstream.pipeline import labelled_features
from adpipe.clickstream.report import (
    ClassificationSummary,
    DecisionRuleGain,
    ParamsUsed,
    ValidationProtocol,
    ValidationReport,
)
from adpipe.params import lightgbm_refusal
from adpipe.reports import MeanStd, write_report
from adpipe.validation import FoldMetrics, Protocol, classification_evaluator, cross_validate, make_splits
from features.clickstream import FEATURE_GROUPS
from features.clickstream_loaders import CLASSES


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


def decision_rule_gain(folds: list[FoldMetrics], used: bool) -> DecisionRuleGain:
    """What the class-weight decision rule was worth against plain arg-max of the same fitted models."""
    rule = [f["macro_f1"] for f in folds]
    argmax = [f["argmax_macro_f1"] for f in folds]
    return DecisionRuleGain(
        kind="class_weights",
        macro_f1=MeanStd.over(rule),
        argmax_macro_f1=MeanStd.over(argmax),
        gain=MeanStd.over([r - a for r, a in zip(rule, argmax, strict=True)]),
        used=used,
    )


_RULE_VARIANT = "same params, class-weight decision rule"


def validate(
    train_dir: str | Path = config.TRAIN_DIR,
    protocol: Protocol = Protocol(),
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
) -> ValidationReport:
    """Repeated stratified K-fold of the model and of a majority-class baseline on the same folds.

    The same folds also score the untuned defaults (when the params are tuned), the params with every
    feature group (when some are off) and with the class-weight decision rule (when it is off), as
    ``variants``; ``decision_rule`` gives the rule's gain over plain arg-max of the same fitted models.
    """
    params = load_params(params_file)
    X, y = labelled_features(train_dir, engine=engine, scheduler=scheduler)
    with lightgbm_refusal(params_file):
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
    rule_folds = model_folds if params["decision_rule"] == "class_weights" else variants[_RULE_VARIANT]
    report = ValidationReport(
        protocol=ValidationProtocol(**protocol.as_dict(), n_users=len(y)),
        model=ClassificationSummary.from_folds(model_folds, CLASSES),
        baseline=ClassificationSummary.from_folds(baseline_folds, CLASSES),
        params=ParamsUsed(
            source=params["source"],
            feature_groups=params["feature_groups"],
            imbalance=params["imbalance"],
            decision_rule=params["decision_rule"],
        ),
        variants={name: ClassificationSummary.from_folds(folds, CLASSES) for name, folds in variants.items()},
        decision_rule=decision_rule_gain(rule_folds, used=params["decision_rule"] == "class_weights"),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
