"""The figure the CTR task quotes: ROC-AUC on nested forward windows (``ctr nested``), where each window's
params were chosen by a search on that window's past alone, beside the logistic baseline on the same windows.

Until ``ctr nested`` has run, the forward folds of ``ctr validate`` stand in, and the protocol says that they are
the windows that chose the params (optimistic). Every other CTR figure on the page is labelled as what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adpipe.ctr.defaults import NESTED_REPORT, VALIDATION_REPORT
from adpipe.ctr.report import NestedReport, ValidationReport
from adpipe.reports import Headline, read_report, read_typed

# The nested report's model names (adpipe.ctr.nested, adpipe.ctr.models.LOGISTIC_BASELINE) and the validation
# report's baseline key: literal here so that reading a figure needs no scikit-learn.
NESTED, NESTED_LOGISTIC, LOGISTIC = "nested search", "logistic baseline", "logistic"
BASELINE_NAME = "logistic regression on the four numbers"


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    """The nested figure when ``ctr nested`` ran, else the primary protocol's of ``ctr validate``, labelled."""
    searched = read_typed(reports / NESTED_REPORT.name, lambda path: read_report(path, NestedReport))
    if searched is not None and NESTED in searched.models and NESTED_LOGISTIC in searched.models:
        return Headline(
            metric="ROC-AUC",
            model=searched.models[NESTED].roc_auc,
            baseline=searched.models[NESTED_LOGISTIC].roc_auc,
            baseline_name=BASELINE_NAME,
            higher_is_better=True,
            protocol=f"nested forward validation: {searched.outer}; in each window a search of {searched.trials} "
            f"trials on its past alone ({searched.inner}) chose the params, so no choice saw the scored rows",
        )
    report = read_report(reports / VALIDATION_REPORT.name, ValidationReport)
    protocol = report.protocol
    return Headline(
        metric="ROC-AUC",
        model=report.model.roc_auc,
        baseline=report.baselines[LOGISTIC].roc_auc,
        baseline_name=BASELINE_NAME,
        higher_is_better=True,
        protocol=f"{protocol.name} folds, {protocol.folds} folds x {protocol.repeats} repeats, groups: "
        f"{protocol.groups}: the windows that chose the params (optimistic; `ctr nested` measures it on windows "
        "no choice saw)",
    )
