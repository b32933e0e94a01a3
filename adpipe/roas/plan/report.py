"""The typed reports of ``roas curves`` (``reports/roas_curves.json``), ``roas plan`` (``reports/roas_plan.json``)
and ``roas plan-validate`` (``reports/roas_plan_validation.json``). Field names are the JSON keys; segment and
model names, which are data, are dictionary keys or values."""

from __future__ import annotations

from adpipe.reports import MeanStd, Report
from adpipe.roas.report import CampaignProtocol, ConversionValues
from features.tables.bad_rows import ReadingRecord


class Interval(Report):
    """A central 80% interval."""

    low: float
    high: float


class SegmentCurve(Report):
    """One segment's curve: value = exp(alpha + exponent * (log(spend + 1) - centre)), alpha its level at its own
    centre of log spend."""

    segment: str
    n_ads: int
    n_ads_with_spend: int
    spend_range: Interval  # the spend of its ads with spend, lowest to highest
    spend: float
    value: float
    alpha: float
    alpha_sd: float  # the level's posterior sd (log scale)
    centre: float  # the log(spend + 1) the level is taken at: the mean of the segment's ads with spend
    exponent: float
    exponent_interval: Interval
    roas: float
    marginal_roas: float
    pinned: bool  # False: too few ads, too narrow a spend range, or a vague level or exponent


class CurvesReport(Report):
    """``roas curves``: the family, why, the pooling, and every segment's curve."""

    task: str
    data: str
    by: list[str]
    target: str
    values: ConversionValues
    family: str
    fallback_to_constant_roas: bool
    note: str
    global_alpha: float
    global_exponent: float
    exponent_mode: str  # what the exponent varies by (common, campaign, dimension, segment)
    exponent_mode_deviance: dict[str, float]  # each mode's inner-fold held-out deviance (empty: not chosen so)
    variance_components: dict[str, float]  # each random-effect block's variance (log scale)
    dispersion: float
    excluded: list[str]  # segments with no spend at all: no curve can be read from them
    segments: list[SegmentCurve]
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)


class PlannedSegment(Report):
    """One segment of a plan."""

    segment: str
    today: float
    planned: float
    expected_value: float
    expected_value_interval: Interval
    marginal_roas: float
    extrapolation_factor: float  # > 1: planned spend per ad outside the observed range by that factor
    curve_pinned: bool


class GainBacktest(Report):
    """A plan made on the training folds (each segment within [0.5x, 2x] of its held-out spend, same budget):
    the gain it promised, and the gain realised on the held-out fold under judges of different families fitted
    there (:mod:`adpipe.roas.plan.judges`), and two bounds; shares of today's value, mean and sd over folds."""

    promised: MeanStd
    judges: dict[str, MeanStd]
    headline_judge: str  # the judge with the lowest mean: the realised gain to expect
    judge_spread: float  # the highest judge's mean less the lowest's
    bounds: dict[str, MeanStd]  # one pooled curve (a floor), the held-out ROAS applied linearly (a ceiling)

    @property
    def headline(self) -> MeanStd:
        """The lowest judge's realised gain."""
        return self.judges[self.headline_judge]


class PlanReport(Report):
    """``roas plan``: the budget split, its expected gain over today's split of the same budget, and why."""

    task: str
    data: str
    by: list[str]
    objective: str
    target_roas: float | None
    budget: float
    limits: dict[str, str]
    signal: str  # the ranking back-test's verdict at this level, or why it was not consulted
    reallocated: bool
    expected_value_today: float
    expected_value_planned: float
    expected_gain: float
    expected_gain_interval: Interval
    solve_seconds: float
    # What plans at this segment level promised on training folds and realised on held-out campaigns (the plan
    # validation at the same data, level and values), as a share of today's value; None: not validated yet.
    backtested_gain: GainBacktest | None
    notes: list[str]
    segments: list[PlannedSegment]
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)

    @property
    def headline_gain(self) -> MeanStd | None:
        """The one realised gain the plan quotes (its card, its table and its caption read it), as a share of today's
        value: the lowest judge's; None: not back-tested yet (the promise alone is then shown, as an upper bound)."""
        return self.backtested_gain.headline if self.backtested_gain is not None else None


class ValueAccuracy(Report):
    """Held-out value per ad at its actual spend, one model over the folds."""

    deviance: MeanStd  # mean Poisson deviance per held-out ad with spend: the loss the curves estimate (the mean)
    mae: MeanStd  # a median's metric: it rewards the median of a heavy-tailed value, not its mean
    rmse: MeanStd
    coverage_80: MeanStd | None  # the share of held-out ads inside their 80% interval (curves only)


class RankingBacktest(Report):
    """Segments ordered on the training folds against the realised ROAS of the held-out campaigns (Spearman)."""

    marginal_roas_curves: MeanStd
    shuffled: MeanStd  # the fold-mean Spearman of a random order, over the shuffles
    average_roas_history: MeanStd
    n_shuffles: int
    verdict: str
    signal: bool


class WithinCampaignRanking(Report):
    """Within each campaign, segments ordered by their training marginal ROAS against their held-out marginal
    response (each identified held-out segment's own exponent x its held-out ROAS), Spearman per campaign and
    fold with >= 3 identified segments; beside the same order shuffled within the campaign."""

    marginal_roas_curves: MeanStd | None  # None: no campaign with 3 identified held-out segments in any fold
    shuffled: MeanStd | None
    n_campaign_folds: int
    n_shuffles: int
    signal: bool


class Target(Report):
    """One of the issue's targets, hit or missed."""

    name: str
    wanted: str
    measured: str
    met: bool


class ForwardWindow(Report):
    """One expanding window forward in time: the periods (dates, first to last) it trains on, then scores."""

    train_first: str
    train_last: str
    test_first: str
    test_last: str
    n_train: int  # rows
    n_test: int


class ForwardValidation(Report):
    """The same measurements forward in time (an export with a date): curves and baselines fitted on the earlier
    periods, scored on the next block; the ranking and gain back-tests from the past to the next period."""

    protocol: str
    date: str  # the export's column of the date role
    n_periods: int  # distinct dates
    n_windows: int
    training_precedes_test: bool  # every window's last training date is before its first test date
    windows: list[ForwardWindow]
    value_accuracy: dict[str, ValueAccuracy]
    ranking: RankingBacktest
    gain: GainBacktest
    seconds: float


class PlanValidationReport(Report):
    """``roas plan-validate``: the curves, the constant-ROAS and LightGBM baselines, and the plan back-tests; the
    same forward in time when the export has a date (``forward``, None without one). The targets read the grouped
    part."""

    task: str
    data: str
    by: list[str]
    n_segments: int
    values: ConversionValues
    protocol: CampaignProtocol
    baselines: dict[str, str]
    value_accuracy: dict[str, ValueAccuracy]
    ranking: RankingBacktest
    within_campaign_ranking: WithinCampaignRanking
    gain: GainBacktest
    headline_realised: MeanStd  # THE plan's realised gain: the lowest judge's (gain.headline_judge) mean and sd
    exponent_modes: dict[str, int]  # the exponent mode the training folds chose, and how many folds chose it
    targets: list[Target]
    seconds: dict[str, float]
    forward: ForwardValidation | None = None  # a report written before forward validation has no such key
    reading: ReadingRecord | None = None  # how the export was read: rows set aside, warnings (None: before)
