"""The typed report of ``validate`` (``reports/validation.json``): what the terminal, the dashboard and the
service read. Field names are the JSON keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adpipe.clickstream.defaults import VALIDATION_REPORT
from adpipe.reports import Headline, MeanStd, Report, read_report
from adpipe.validation import FoldMetrics


class ClassMetrics(Report):
    """One class's precision, recall and F1 over the folds."""

    precision: MeanStd
    recall: MeanStd
    f1: MeanStd


class ClassificationSummary(Report):
    """A classifier over the folds: mean ± std of each metric, per class, the confusion summed over folds
    (rows true, columns predicted, classes in label order) and each fold's macro-F1 in fold order."""

    macro_f1: MeanStd
    weighted_f1: MeanStd
    accuracy: MeanStd
    per_class: dict[str, ClassMetrics]
    confusion: list[list[int]]
    macro_f1_per_fold: list[float]

    @classmethod
    def from_folds(cls, results: Sequence[FoldMetrics], labels: Sequence[Any]) -> ClassificationSummary:
        per_class = {
            str(label): ClassMetrics(
                **{name: MeanStd.over([r[name][position] for r in results]) for name in ("precision", "recall", "f1")}
            )
            for position, label in enumerate(labels)
        }
        return cls(
            macro_f1=MeanStd.over([r["macro_f1"] for r in results]),
            weighted_f1=MeanStd.over([r["weighted_f1"] for r in results]),
            accuracy=MeanStd.over([r["accuracy"] for r in results]),
            per_class=per_class,
            confusion=np.sum([r["confusion"] for r in results], axis=0).astype(int).tolist(),
            macro_f1_per_fold=[float(r["macro_f1"]) for r in results],
        )


class ValidationProtocol(Report):
    folds: int
    repeats: int
    seed: int
    n_users: int


class ParamsUsed(Report):
    """Which params file was validated: where it came from and its main choices."""

    source: dict[str, Any]
    feature_groups: list[str]
    imbalance: str
    decision_rule: str


class DecisionRuleGain(Report):
    """The class-weight decision rule against plain arg-max of the same fitted models, fold by fold."""

    kind: str
    macro_f1: MeanStd
    argmax_macro_f1: MeanStd
    gain: MeanStd
    used: bool


class ValidationReport(Report):
    """Repeated stratified K-fold of the model, a majority baseline and variants, all on the same folds."""

    protocol: ValidationProtocol
    model: ClassificationSummary
    baseline: ClassificationSummary
    params: ParamsUsed
    variants: dict[str, ClassificationSummary]
    decision_rule: DecisionRuleGain


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    """Macro-F1 on the repeated stratified folds beside the majority class on the same folds. The task has no
    nested run: when the params came from a search, it scored its trials on these same folds, and the protocol
    says so (the figure is then optimistic)."""
    report = read_report(reports / VALIDATION_REPORT.name, ValidationReport)
    protocol, source = report.protocol, report.params.source
    chose = "default params (no search chose them)"
    if source.get("kind") == "optuna":
        chose = (
            f"params chosen by Optuna study {source.get('study')!r} (trial {source.get('trial')}) on folds of these "
            "same users: optimistic by the search's choice"
        )
    return Headline(
        metric="macro-F1",
        model=report.model.macro_f1,
        baseline=report.baseline.macro_f1,
        baseline_name="majority class",
        higher_is_better=True,
        protocol=f"repeated stratified K-fold, {protocol.folds} folds x {protocol.repeats} repeats, "
        f"{protocol.n_users} users; {chose}",
    )
