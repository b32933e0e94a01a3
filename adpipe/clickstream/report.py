"""The typed report of ``validate`` (``reports/validation.json``): what the terminal, the dashboard and the
service read. Field names are the JSON keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adpipe.reports import MeanStd, Report
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
