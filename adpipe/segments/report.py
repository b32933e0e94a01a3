"""The typed report of ``segment fit`` (``reports/segments_<source>.json``) and the saved model's metadata: what
the terminal, the dashboard and the service read. Field names are the JSON keys.

A segment's row keeps its outcome means under keys such as ``mean Conversion Rates`` (column names, which are
data), so the rows are dictionaries: ``segment``, ``size``, ``share``, ``mean <outcome>``..., ``description``. An
outcome mean is null when a segment has no value of that outcome.
"""

from __future__ import annotations

from adpipe.reference import InputReference
from adpipe.reports import MeanStd, Report

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
