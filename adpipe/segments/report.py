"""The typed report of ``segment fit`` (``reports/segments_<source>.json``) and the saved model's metadata: what
the terminal, the dashboard and the service read. Field names are the JSON keys.

A segment's row keeps its outcome means under keys such as ``mean Conversion Rates`` (column names, which are
data), so the rows are dictionaries: ``segment``, ``size``, ``share``, ``mean <outcome>``..., ``description``. An
outcome mean is null when a segment has no value of that outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adpipe.reference import InputReference
from adpipe.reports import Headline, MeanStd, Report, read_report
from adpipe.segments.defaults import Source, report_path

# What a fit without real segment structure warns, on the terminal and beside every served answer.
WARNINGS = {
    "none": "no segment structure: the data cluster no better than their column-shuffled copies; "
    "the segments below are an arbitrary split of one population",
    "weak": "weak structure: better than shuffled data, but not well separated or not stable; "
    "use the segments as a convenient split, not as distinct populations",
}

SegmentRow = dict[str, int | float | str | None]


class KScores(Report):
    """One candidate k: silhouette (higher is better), Davies–Bouldin (lower), Calinski–Harabasz (higher), and
    the silhouette of the same k on column-shuffled copies."""

    k: int
    silhouette: float
    davies_bouldin: float
    calinski_harabasz: float
    shuffled_silhouette: MeanStd


class Stability(Report):
    """Adjusted Rand between the segments and those of refits on bootstrap samples."""

    adjusted_rand: MeanStd
    n_bootstraps: int
    method: str


class Shuffles(Report):
    """The null: how many column-shuffled copies, and the statistic taken on each."""

    n_shuffles: int
    statistic: str


class StructureVerdict(Report):
    """Clear, weak or none, with the rule and the figures that decided it."""

    structure: str
    rule: str
    silhouette: float
    shuffled_silhouette: MeanStd
    gap: float
    margin: float
    adjusted_rand: float


class SegmentsReport(Report):
    """``segment fit``: per-k scores, the chosen k, its stability, the structure verdict (its fields inline, as
    :class:`StructureVerdict`), and one row per segment."""

    source: str
    n_users: int
    features: list[str]
    seed: int
    n_init: int
    k_candidates: list[int]
    per_k: list[KScores]
    chosen_k: int
    chosen_by: str
    stability: Stability
    structure: str
    rule: str
    silhouette: float
    shuffled_silhouette: MeanStd
    gap: float
    margin: float
    adjusted_rand: float
    shuffles: Shuffles
    segments: list[SegmentRow]

    @property
    def outcome_columns(self) -> list[str]:
        """The ``mean <outcome>`` keys of the segment rows (none for ClickStream users)."""
        return [key for key in self.segments[0] if key.startswith("mean ")] if self.segments else []


class SegmentsModel(Report):
    """How a saved segmentation was made; stored beside it (as a dictionary) and read back by ``assign``."""

    task: str
    source: str
    k: int
    relabel: list[int]
    descriptions: dict[int, str]
    structure: str
    features: list[str]
    n_users: int
    seed: int
    # The inputs clustered and each training user's segment, for the guard and drift (adpipe.reference); None in
    # models saved before references were.
    reference: InputReference | None = None


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    """The served (profiles) segmentation's silhouette beside the same profiles with each column shuffled: k is
    chosen by the scores per k on these users, so the figure is descriptive, not a score on unseen users."""
    report = read_report(reports / report_path(Source.profiles).name, SegmentsReport)
    return Headline(
        metric="silhouette",
        model=MeanStd(mean=report.silhouette, std=0.0),
        baseline=report.shuffled_silhouette,
        baseline_name="the same profiles with each column shuffled",
        higher_is_better=True,
        protocol=f"k = {report.chosen_k} ({report.chosen_by}) on these users; stability (adjusted Rand over "
        f"{report.stability.n_bootstraps} bootstraps) {report.stability.adjusted_rand.mean:.2f}",
        note=WARNINGS.get(report.structure),
    )
