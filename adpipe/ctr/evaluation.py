"""Validation of the CTR model: both protocols, the baselines on the same folds, and the audit, as one
typed :class:`~adpipe.ctr.report.ValidationReport`.

The primary protocol (forward in time by default) fills the report's original keys; both protocols fill
``protocols`` side by side. :func:`cross_validate_params` with ``decide=False`` is what the tuner calls.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import accuracy_score, average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier, TunedThresholdClassifierCV, train_test_split

from adpipe import config
from adpipe.ctr.audit import audit
from adpipe.ctr.defaults import PARAMS_FILE, SEED_APPROACH_REPORT, VALIDATION_REPORT
from adpipe.ctr.folds import PROTOCOLS, CtrProtocol, make_folds, n_groups
from adpipe.ctr.models import (
    SEED_FEATURES,
    ClickModel,
    base_rate,
    build_decision_model,
    decision_threshold,
    logistic_baseline,
    seed_forest,
    threshold_rule,
)
from adpipe.ctr.options import ValidationOptions
from adpipe.ctr.params import load_params
from adpipe.ctr.report import (
    AuditRow,
    BinarySummary,
    HonestSummary,
    LeakyScore,
    ModelSummary,
    ProbabilityFigures,
    ProtocolFigures,
    SeedApproachReport,
    ValidationProtocol,
    ValidationReport,
)
from adpipe.errors import OptionError
from adpipe.params import lightgbm_refusal
from adpipe.reports import write_report
from adpipe.validation import (
    Evaluate,
    FoldMetrics,
    Protocol,
    Split,
    binary_evaluator,
    cross_validate,
    mean_std,
    require_trainable,
)
from features.ctr import (
    FEATURE_GROUPS,
    OPT_IN_GROUPS,
    TARGET,
    build_features,
    count_duplicates,
    load_impressions,
    with_new_values,
)

SEED_TEST_SHARE = 0.2
BASELINES: dict[str, Callable[[], Any]] = {"base_rate": base_rate, "logistic": logistic_baseline}
# The model's figures compared between the protocols (random minus forward).
COMPARED = ("roc_auc", "pr_auc", "log_loss", "normalized_entropy", "brier")


def labelled_data(path: str | Path) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Model inputs, target and the loaded table of a labelled impressions file."""
    table = load_impressions(path, labelled=True)
    require_trainable(table[TARGET], path, TARGET, classes=True)
    return build_features(table), table[TARGET], table


def probability_evaluator() -> Evaluate:
    """:func:`adpipe.validation.binary_evaluator`'s figures, plus log-loss, Brier and PR-AUC of the click
    probability, the held-out probabilities themselves (for the reliability table) and a decision model's
    threshold."""
    yes_no = binary_evaluator()

    def evaluate(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
        metrics = yes_no(model, X, y)
        probability = model.predict_proba(X)[:, list(model.classes_).index(1)]
        truth = y.to_numpy()
        metrics.update(
            log_loss=log_loss(truth, probability, labels=[0, 1]),
            brier=brier_score_loss(truth, probability),
            pr_auc=average_precision_score(truth, probability),
            probability=probability,
            truth=truth,
        )
        if isinstance(model, TunedThresholdClassifierCV | FixedThresholdClassifier):
            metrics["threshold"] = decision_threshold(model)
        return metrics

    return evaluate


def training_rates(y: pd.Series, splits: list[Split]) -> list[float]:
    """Each split's training click rate: the background of its fold's normalized entropy."""
    return [float(y.iloc[split.train].mean()) for split in splits]


def cross_validate_params(
    params: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    splits: list[Split],
    seed: int = config.DEFAULT_SEED,
    *,
    threshold: float | None = None,
    decide: bool = True,
    on_fold: Callable[[int, FoldMetrics], None] | None = None,
    progress: bool = True,
) -> list[FoldMetrics]:
    """The model ``params`` describe, through ``splits`` (shared by validate and the tuner).

    ``decide=False`` skips the threshold layer: the probabilities are the same at a quarter of the cost,
    but the yes/no figures are then at 0.5.
    """

    def make_model() -> Any:
        return build_decision_model(params, seed, threshold) if decide else ClickModel.from_params(params, seed)

    return cross_validate(
        make_model, X, y, splits, probability_evaluator(), description="click model", on_fold=on_fold, progress=progress
    )


def feature_warnings(features: list[str], audit_rows: list[AuditRow] | None) -> list[str]:
    """One line per opt-in group the model uses: what the audit said of it (or, without an audit, why it is opt-in)."""
    flagged = {row.group: row.reason for row in audit_rows or [] if row.flagged}
    lines = []
    for group in features:
        if group in flagged:
            lines.append(f"warning: feature group '{group}' is flagged by the audit ({flagged[group]})")
        elif audit_rows is None and group in OPT_IN_GROUPS:
            lines.append(f"warning: feature group '{group}' is opt-in: it scores only where this file's values recur")
    if lines:
        lines.append("warning: such figures hold inside this file, where its calendar and values recur; not beyond it")
    return lines


def validate(
    data: str | Path = config.CTR_FILE,
    options: ValidationOptions = ValidationOptions(),
    params_file: str | Path = PARAMS_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> ValidationReport:
    """Both protocols (``options.primary`` fills the report's original keys), the baselines on the same folds and
    the audit; writes the JSON report."""
    primary, folds, repeats, gap, seed = options.primary, options.folds, options.repeats, options.gap, options.seed
    group_by, threshold = options.group_by, options.threshold
    if primary not in PROTOCOLS:
        raise OptionError(f"must be one of {', '.join(PROTOCOLS)}, got {primary!r}", option="--protocol")
    params = load_params(
        params_file, imbalance=options.imbalance, features=options.features, calibration=options.calibration
    )
    X, y, table = labelled_data(data)
    protocols = {
        "forward": CtrProtocol(folds=folds, repeats=1, seed=seed, name="forward", gap=gap),
        "random": CtrProtocol(folds=folds, repeats=repeats, seed=seed, name="random"),
    }
    splits = {name: make_folds(table, protocol, group_by, data) for name, protocol in protocols.items()}
    results: dict[str, dict[str, list[FoldMetrics]]] = {}
    for name in PROTOCOLS:
        with lightgbm_refusal(params_file):
            model = cross_validate_params(params, X, y, splits[name], seed, threshold=threshold, progress=progress)
        results[name] = {"model": model}
        for baseline, make in BASELINES.items():
            results[name][baseline] = cross_validate(make, X, y, splits[name], probability_evaluator(), progress=False)
    figures = {}
    for name in PROTOCOLS:
        rates = training_rates(y, splits[name])
        figures[name] = ProtocolFigures(
            description=protocols[name].describe(group_by),
            model=ProbabilityFigures.from_folds(results[name]["model"], rates),
            baselines={b: ProbabilityFigures.from_folds(results[name][b], rates) for b in BASELINES},
        )
    audit_rows, audit_all = None, None
    if options.audit:
        audit_rows, audit_all = audit(
            FEATURE_GROUPS,
            X,
            build_features(with_new_values(table)),
            y,
            splits["forward"],
            [split for split in splits["random"] if split.repeat == 0],
            lightgbm=params["lightgbm"],
            seed=seed,
            progress=progress,
        )
    chosen, main = protocols[primary], results[primary]
    report = ValidationReport(
        protocol=ValidationProtocol(
            **chosen.as_dict(),
            stratified=chosen.name == "random",
            groups=chosen.describe(group_by),
            n_groups=n_groups(table, chosen, group_by),
            n_rows=len(y),
            clicked_share=float(y.mean()),
            threshold=threshold_rule(threshold),
            data=str(data),
        ),
        model=ModelSummary.from_folds(
            main["model"],
            threshold=mean_std([f["threshold"] for f in main["model"]]),
            features=params["features"],
            imbalance=params["imbalance"],
            calibration=params["calibration"],
            params_source=params["source"],
            blend=params["blend"],
        ),
        baselines={
            "majority": BinarySummary.from_folds(main["base_rate"]),
            "logistic": BinarySummary.from_folds(main["logistic"]),
        },
        duplicates_found=count_duplicates(table),
        primary=primary,
        protocols=figures,
        random_minus_forward={
            name: getattr(figures["random"].model, name).mean - getattr(figures["forward"].model, name).mean
            for name in COMPARED
        },
        audit=audit_rows or [],
        audit_all_groups=audit_all,
        warnings=feature_warnings(params["features"], audit_rows),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report


def seed_approach(
    data: str | Path = config.CTR_FILE,
    protocol: Protocol = Protocol(folds=5, repeats=3),
    report_file: str | Path | None = SEED_APPROACH_REPORT,
    progress: bool = True,
) -> SeedApproachReport:
    """The seed project's random forest, scored its way (fit on all rows, scored on 20% of them) and honestly."""
    X, y, table = labelled_data(data)
    everything = seed_forest(protocol.seed).fit(X, y)
    _, X_part, _, y_part = train_test_split(X, y, test_size=SEED_TEST_SHARE, random_state=protocol.seed)
    splits = make_folds(table, CtrProtocol(protocol.folds, protocol.repeats, protocol.seed, name="random"))
    honest = cross_validate(
        lambda: seed_forest(protocol.seed), X, y, splits, binary_evaluator(), description="forest", progress=progress
    )
    report = SeedApproachReport(
        features=list(SEED_FEATURES),
        leaky=LeakyScore(
            how=f"fit on all {len(y)} rows, scored on a {SEED_TEST_SHARE:.0%} split of the same rows",
            accuracy=float(accuracy_score(y_part, everything.predict(X_part))),
            roc_auc=float(roc_auc_score(y_part, everything.predict_proba(X_part)[:, 1])),
        ),
        honest=HonestSummary.from_folds(honest, protocol=protocol.as_dict(), groups="identical rows"),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
