"""The planner: the ads of a :class:`PlanData` read through its mapping, each segment's curve and whether its
data pin it, the curves fitted once (:class:`FittedPlan`: ``roas plan`` fits it per command, the service once per
worker) and the plan of a :class:`PlanChoices` on them (:func:`plan_on`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.errors import DataError, OptionError
from adpipe.roas.defaults import PROTOCOL, TASK, Objective
from adpipe.roas.folds import fitted_folds
from adpipe.roas.plan.additive import AdditiveLevelCurves
from adpipe.roas.plan.backtest import (
    RANKING_SHUFFLES,
    ranking_signal,
)
from adpipe.roas.plan.curves import SEGMENT, SPEND, VALUE, SegmentResponse, plan_frame
from adpipe.roas.plan.options import PlanChoices, PlanData
from adpipe.roas.plan.report import (
    GainBacktest,
    Interval,
    PlannedSegment,
    PlanReport,
    PlanValidationReport,
    RankingBacktest,
    SegmentCurve,
)
from adpipe.roas.plan.solver import (
    DEFAULT_EXTRAPOLATION,
    allocate,
    extrapolation_factor,
    held,
    spend_bounds,
    within_data,
)
from adpipe.validation import Protocol
from features.campaigns import BUDGET, conversion_value, read_campaigns
from features.choices import GROUP
from features.tables.bad_rows import ReadingRecord

FAMILY = (
    "value = exp(alpha_s + beta_s * (log(spend + 1) - centre_s)), beta_s in [0, 1]; alpha_s additive per segment "
    "dimension at the segment's own centre; quasi-Poisson, log link, empirical Bayes per dimension"
)
PINNED_MIN_ADS, PINNED_MIN_RANGE, PINNED_MAX_EXPONENT_SD, PINNED_MAX_LEVEL_SD = 5, 3.0, 0.25, 0.5


def planner_curves(frame: pd.DataFrame, seed: int = PROTOCOL.seed) -> AdditiveLevelCurves:
    """The planner's curves fitted on every ad (the exponent mode chosen on inner folds)."""
    return AdditiveLevelCurves(seed=seed).fit(frame, frame[VALUE])


def group_column(data: PlanData) -> str:
    """The export's column of campaigns, whose rows the folds keep on one side (the reference file's own without
    a mapping)."""
    mapping = data.mapping
    if mapping is not None and not mapping.built_in and mapping.group is None:
        raise OptionError("the plan is validated on held-out campaigns: map one with group=NAME", option="--column")
    return mapping.group if mapping is not None and mapping.group is not None else GROUP


def read_export(data: PlanData) -> tuple[pd.DataFrame, str, ReadingRecord]:
    """The export read through ``data``'s mapping (the reference file's own layout without one) and policy, its
    group column, and how it was read."""
    group = group_column(data)
    read = read_campaigns(data.data, data.mapping, data.policy)
    return read.table, group, read.reading


def read_ads(data: PlanData) -> tuple[pd.DataFrame, ReadingRecord]:
    """One row per ad: its segment, spend and conversion value (at ``data``'s values), and its group; and how the
    export was read."""
    table, group, reading = read_export(data)
    frame = plan_frame(table, conversion_value(table, data.value_enquiry, data.value_sale), data.by, group)
    return frame, reading


def segments_with_spend(frame: pd.DataFrame, data: str | Path) -> tuple[list[str], list[str]]:
    """Segments with spend, and those without any (excluded: no curve can be read from them)."""
    spent = frame.groupby(SEGMENT)[SPEND].sum()
    names, excluded = sorted(spent.index[spent > 0]), sorted(spent.index[spent <= 0])
    if not names:
        raise DataError("no segment has any spend: there is nothing to plan", path=data, column=BUDGET)
    return names, excluded


def segment_curves(frame: pd.DataFrame, curves: AdditiveLevelCurves, names: Sequence[str]) -> list[SegmentCurve]:
    """Each segment's curve, and whether its data pin it: enough ads, a wide enough range of spend, a precise
    enough level and exponent."""
    response = SegmentResponse.from_ads(curves, frame, names)
    marginal = response.marginal(response.today)
    segments = []
    for k, name in enumerate(names):
        ads = frame[frame[SEGMENT] == name]
        spent = ads.loc[ads[SPEND] > 0, SPEND]
        exponent_sd = float(np.sqrt(response.coef_cov[k, 1, 1]))
        level_sd = float(np.sqrt(response.coef_cov[k, 0, 0]))
        exponent = float(response.coef[k, 1])
        pinned = bool(
            len(spent) >= PINNED_MIN_ADS
            and spent.max() >= PINNED_MIN_RANGE * spent.min()
            and exponent_sd <= PINNED_MAX_EXPONENT_SD
            and level_sd <= PINNED_MAX_LEVEL_SD
        )
        segments.append(
            SegmentCurve(
                segment=name,
                n_ads=len(ads),
                n_ads_with_spend=len(spent),
                spend_range=Interval(low=float(spent.min()), high=float(spent.max())),
                spend=float(spent.sum()),
                value=float(ads[VALUE].sum()),
                alpha=float(response.coef[k, 0]),
                alpha_sd=level_sd,
                centre=float(np.broadcast_to(response.center, (len(names),))[k]),
                exponent=exponent,
                exponent_interval=Interval(
                    low=max(0.0, exponent - 1.2816 * exponent_sd), high=min(1.0, exponent + 1.2816 * exponent_sd)
                ),
                roas=float(ads.loc[ads[SPEND] > 0, VALUE].sum() / spent.sum()),
                marginal_roas=float(marginal[k]),
                pinned=pinned,
            )
        )
    return segments


def matching_validation(validation: PlanValidationReport | None, data: PlanData) -> PlanValidationReport | None:
    """``validation`` when it was made on the same data, segment level and conversion values as a plan: its
    back-tested gain is then the plan's, else None."""
    if validation is None or validation.data != str(data.data) or validation.by != list(data.by):
        return None
    return validation if (validation.values.enquiry, validation.values.sale) == data.values else None


def same_ranking(validation: PlanValidationReport | None, protocol: Protocol) -> RankingBacktest | None:
    """A matching validation's ranking back-test when it is the one the plan would run (same folds, repeats,
    seed and shuffles as :func:`ranking_signal`): read, not run again."""
    if validation is None:
        return None
    made = validation.protocol
    same = (made.folds, made.repeats, made.seed) == (protocol.folds, protocol.repeats, protocol.seed)
    return validation.ranking if same and validation.ranking.n_shuffles == RANKING_SHUFFLES else None


@dataclass(frozen=True)
class FittedPlan:
    """What a plan reads from the data, fitted once: the ads, their segments, the ranking back-test's verdict,
    the curves and each segment's response. ``roas plan`` fits it per command; the service once per worker."""

    data: str
    by: list[str]
    values: tuple[float, float]  # (enquiry, sale): the conversion values the curves are of
    frame: pd.DataFrame
    names: list[str]
    excluded: list[str]
    ranking: RankingBacktest
    curves: AdditiveLevelCurves
    response: SegmentResponse
    pinned: dict[str, bool]
    n_ads: np.ndarray
    lowest: np.ndarray
    highest: np.ndarray
    reading: ReadingRecord | None = None
    notes: tuple[str, ...] = ()  # how the ranking back-test's folds were fitted to the export (few groups)


def for_objective(data: PlanData, objective: Objective) -> PlanData:
    """The data whose curves an objective plans: their value, or enquiries alone (values 1, 0) for
    ``conversions``."""
    if objective == "conversions":  # the curves of enquiries (Total_Conversion) instead of their value
        if data.mapping is not None and not data.mapping.built_in:
            raise OptionError(
                "is for the reference file's enquiries; with a mapping, plan its value", option="--objective"
            )
        return replace(data, value_enquiry=1.0, value_sale=0.0)
    return data


def fit_plan(
    data: PlanData, protocol: Protocol = PROTOCOL, validation: PlanValidationReport | None = None
) -> FittedPlan:
    """Read the ads, run the ranking back-test at this level on ``protocol``'s folds fitted to the export's groups
    (read from a matching ``validation`` when it ran the same one: :func:`same_ranking`), fit the curves."""
    frame, reading = read_ads(data)
    names, excluded = segments_with_spend(frame, data.data)
    protocol, notes = fitted_folds(protocol, frame[GROUP].rename(group_column(data)))
    ranking = same_ranking(validation, protocol)
    ranking = ranking_signal(frame, protocol) if ranking is None else ranking
    curves = planner_curves(frame, protocol.seed)
    response = SegmentResponse.from_ads(curves, frame, names)
    ads = frame[frame[SPEND] > 0].groupby(SEGMENT)[SPEND]
    n_ads, lowest, highest = (ads.agg(f).reindex(names).to_numpy() for f in ("size", "min", "max"))
    return FittedPlan(
        data=str(data.data),
        by=list(data.by),
        values=data.values,
        frame=frame,
        names=names,
        excluded=excluded,
        ranking=ranking,
        curves=curves,
        response=response,
        pinned={s.segment: s.pinned for s in segment_curves(frame, curves, names)},
        n_ads=n_ads,
        lowest=lowest,
        highest=highest,
        reading=reading,
        notes=tuple(notes),
    )


def check_objective(objective: Objective, target_roas: float | None) -> None:
    """A target-ROAS plan needs its floor."""
    if objective == "target-roas" and target_roas is None:
        raise OptionError("--objective target-roas needs the ROAS floor", option="--target-roas")


def _fits(
    budget: float, bounds: tuple[np.ndarray, np.ndarray], narrowed: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The narrowed bounds of a default limit when their lowest spends fit the budget, else the bounds before."""
    return narrowed if narrowed[0].sum() <= budget * (1 + 1e-9) else bounds


def plan_on(
    fitted: FittedPlan, choices: PlanChoices, seed: int = PROTOCOL.seed, backtested: GainBacktest | None = None
) -> PlanReport:
    """The plan of ``choices`` on curves fitted once (:func:`fit_plan`): milliseconds, no data read."""
    budget, limits, objective, target_roas = choices.budget, choices.limits, choices.objective, choices.target_roas
    check_objective(objective, target_roas)
    names, ranking, response = fitted.names, fitted.ranking, fitted.response
    notes = [*fitted.notes]
    notes += [f"segment {name} has no spend today: excluded, its spend stays 0" for name in fitted.excluded]
    reallocate = ranking.signal or choices.force
    signal = ranking.verdict + ("" if ranking.signal or not choices.force else "; reallocated anyway (--force)")
    if fitted.curves.fallback_:
        notes.append("no saturation identifiable: the curves are constant ROAS, the plan goes to the best ROAS")
    today = response.today
    budget = float(today.sum()) if budget is None else budget
    if not np.isfinite(budget) or budget <= 0:
        raise OptionError(f"must be a positive amount, got {budget:g}", option="--budget")
    low, high = spend_bounds(names, today, budget, limits, equality=target_roas is None)
    if not choices.allow_extrapolation:
        low, high = _fits(
            budget,
            (low, high),
            within_data(low, high, fitted.n_ads, (fitted.lowest, fitted.highest), DEFAULT_EXTRAPOLATION),
        )
    loose = [n for n in names if not fitted.pinned[n]]
    if loose and reallocate and not choices.force:
        keep = np.array([not fitted.pinned[n] for n in names])
        low, high = _fits(budget, (low, high), held(low, high, keep, today / today.sum() * budget))
        notes.append(
            f"{len(loose)} segment(s) whose curve is not pinned keep today's split ({loose[0]}, ...): "
            "--force moves them too"
        )
    floor = target_roas if objective == "target-roas" else None
    allocation = allocate(response, budget, low, high, floor, reallocate, seed)
    if not reallocate:
        notes.append("today's split kept (scaled to the budget): " + ranking.verdict)
    unspent = budget - float(allocation.planned.sum())
    if floor is None and unspent > 1e-6 * budget:
        notes.append(
            f"{unspent:,.2f} of the budget stays unspent: every segment is at its limit (spend per ad at "
            f"most {DEFAULT_EXTRAPOLATION:g}x its observed range; --allow-extrapolation lifts it)"
        )
    factor = extrapolation_factor(allocation.planned, fitted.n_ads, fitted.lowest, fitted.highest)
    promised = allocation.gain / max(float(response.value(allocation.baseline).sum()), 1e-12)
    if backtested is not None and promised > 2 * max(backtested.headline.mean, 0.0):
        notes.append(
            f"this plan promises {promised:+.1%}, more than twice the back-tested headline realised gain "
            f"({backtested.headline.mean:+.1%}, {backtested.headline_judge}): expect about the latter"
        )
    return PlanReport(
        task=TASK,
        data=fitted.data,
        by=fitted.by,
        objective=objective,
        target_roas=target_roas,
        budget=budget,
        limits=limits.described(),
        signal=signal,
        reallocated=reallocate,
        expected_value_today=float(response.value(allocation.baseline).sum()),
        expected_value_planned=float(allocation.value.sum()),
        expected_gain=allocation.gain,
        expected_gain_interval=Interval(low=allocation.gain_interval[0], high=allocation.gain_interval[1]),
        solve_seconds=allocation.seconds,
        backtested_gain=backtested,
        notes=notes,
        segments=[
            PlannedSegment(
                segment=name,
                today=float(today[k]),
                planned=float(allocation.planned[k]),
                expected_value=float(allocation.value[k]),
                expected_value_interval=Interval(
                    low=float(allocation.value_interval[k, 0]), high=float(allocation.value_interval[k, 1])
                ),
                marginal_roas=float(allocation.marginal[k]),
                extrapolation_factor=float(factor[k]),
                curve_pinned=fitted.pinned[name],
            )
            for k, name in enumerate(names)
        ],
        reading=fitted.reading,
    )
