"""The typed reports of ``roas validate`` (``reports/roas_validation.json``), ``roas funnel``
(``reports/funnel_validation.json``) and ``roas train`` (the saved model's metadata): what the terminal, the
dashboard and the service read. Field names are the JSON keys; model, mode, grouping and target names,
which are data rather than identifiers, are dictionary keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adpipe.reference import InputReference
from adpipe.reports import Headline, MeanStd, Report, read_report
from adpipe.roas.defaults import VALIDATION_REPORT
from adpipe.validation import FoldMetrics
from features.choices import Mode
from features.tables.bad_rows import ReadingRecord

METRICS = ("r2", "mae", "spearman")
GROUPINGS = ("grouped", "ungrouped")


class RegressionSummary(Report):
    """One model (or one output of a multi-output model) over the folds: mean ± std of each metric."""

    r2: MeanStd
    mae: MeanStd
    spearman: MeanStd

    @classmethod
    def from_folds(cls, results: Sequence[FoldMetrics]) -> RegressionSummary:
        return cls(**{m: MeanStd.over([r[m] for r in results]) for m in METRICS})

    def metric(self, name: str) -> MeanStd:
        """One of :data:`METRICS` by name (the tables walk them in order)."""
        return getattr(self, name)


class RoasModelSummary(RegressionSummary):
    """A ROAS model over the folds, and on how many folds its MAE was worse than the median baseline's."""

    folds_mae_worse_than_median: int


class Verdict(Report):
    """The best model by the task's rule (``None`` when no model beats the baselines), in one sentence."""

    best: str | None
    text: str


class ConversionValues(Report):
    """What one enquiry (``Total_Conversion``) and one sale (``Approved_Conversion``) are worth."""

    enquiry: float
    sale: float


class SetAside(Report):
    """Ads the target is undefined on, left out of every fit and figure, and why."""

    rows: int
    reason: str


class CampaignProtocol(Report):
    """The folds (``groupings`` maps each grouping to its splitter) and the data they were drawn on."""

    folds: int
    repeats: int
    seed: int
    groupings: dict[str, str]
    n_rows: int
    n_groups: int
    spearman_of_a_constant_prediction: float = 0.0  # the convention of adpipe.validation.spearman
    notes: list[str] = []  # fewer folds than asked (few groups), the natural protocol of an export with a date
    windows: int | None = None  # `roas validate` on an export with a date: its forward windows (None: none run)


class RoasGrouping(Report):
    """Every ROAS model on the folds of one grouping, and the verdict."""

    grouping: str
    models: dict[str, RoasModelSummary]
    verdict: Verdict


class RoasMode(Report):
    """One input mode (planned or delivery): its features, both groupings and, on an export with a date, the
    forward protocol (expanding windows in date order; None without a date)."""

    features: list[str]
    grouped: RoasGrouping
    ungrouped: RoasGrouping
    forward: RoasGrouping | None = None

    def groupings(self) -> dict[str, RoasGrouping]:
        both = {"grouped": self.grouped, "ungrouped": self.ungrouped}
        return both if self.forward is None else {**both, "forward": self.forward}


class SpearmanTarget(Report):
    """The issue's target (Spearman ≥ 0.60, delivery inputs, grouped folds) and whether the model reached it."""

    spearman_at_least: float
    mode: Mode
    grouping: str
    model: str
    spearman: float
    reached: bool
    mae_not_worse_than_median_baseline: bool
    folds_mae_worse_than_median: int


class RoasValidationReport(Report):
    """``roas validate``: the ROAS models in both modes, grouped and plain folds, beside the baselines."""

    task: str
    data: str
    values: ConversionValues
    set_aside: SetAside
    protocol: CampaignProtocol
    modes: dict[str, RoasMode]
    target: SpearmanTarget
    value: str | None = None  # a mapped export's value per row (its conversions or revenue); None: ``values``
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)


class FunnelGrouping(Report):
    """Every funnel model on the folds of one grouping: figures and verdict per target."""

    grouping: str
    models: dict[str, dict[str, RegressionSummary]]
    verdict: dict[str, Verdict]


class FunnelMode(Report):
    """One input mode of the funnel report: its features and both groupings."""

    features: list[str]
    grouped: FunnelGrouping
    ungrouped: FunnelGrouping

    def groupings(self) -> dict[str, FunnelGrouping]:
        return {"grouped": self.grouped, "ungrouped": self.ungrouped}


class FunnelValidationReport(Report):
    """``roas funnel``: sales per click and click drop-off, each model on both groupings and modes."""

    task: str
    data: str
    targets: dict[str, str]
    set_aside: SetAside
    protocol: CampaignProtocol
    modes: dict[str, FunnelMode]
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)


class TrainedModel(Report):
    """How a saved ROAS model was made; stored beside it (as a dictionary) and read back by ``predict``."""

    task: str
    model: str
    mode: Mode
    features: list[str]
    values: ConversionValues
    seed: int
    lightgbm: dict[str, Any]
    n_ads: int
    set_aside: SetAside
    categories: dict[str, list[str]] = {}  # a mapped export's text segments, as trained on
    # The inputs as read and the held-out predicted ROAS, for the guard and drift (adpipe.reference); None in
    # models saved before references were.
    reference: InputReference | None = None
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    """The served ROAS model's MAE on campaign-grouped folds (each fold's campaigns unseen in training), in the
    input mode it was trained on (``roas train``'s default when unknown), beside the training median's on the
    same folds; its ranking (Spearman) goes in the protocol."""
    from adpipe.roas.models import MEDIAN_BASELINE, ROAS_MODEL

    report = read_report(reports / VALIDATION_REPORT.name, RoasValidationReport)
    mode = model.get("mode", "planned")
    grouped = report.modes[mode].grouped
    figures = grouped.models[ROAS_MODEL]
    protocol = report.protocol
    return Headline(
        metric="MAE",
        model=figures.mae,
        baseline=grouped.models[MEDIAN_BASELINE].mae,
        baseline_name="the training median",
        higher_is_better=False,
        protocol=f"{grouped.grouping}, {protocol.folds} folds x {protocol.repeats} repeats, {mode} inputs; "
        f"Spearman {figures.spearman.mean:.2f}; interval: prediction ± the cross-validated MAE",
    )
