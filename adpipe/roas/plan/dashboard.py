"""The budget plan's panels in the ROAS section: each segment's response curve with today's and the planned spend,
the plan, its back-test on held-out campaigns, and its overview card.

Read from ``reports/roas_curves.json``, ``reports/roas_plan.json`` and ``reports/roas_plan_validation.json``
(typed reports of :mod:`adpipe.roas.plan.report`). Computed here, because no report carries it: each segment's
curve of expected value against its total spend, drawn with the project's own :class:`SegmentResponse` (its ads'
spends scaled in proportion, ads without spend keeping their base value) on the report's parameters, and its 80%
band from the plan's draws of those parameters.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adpipe import config
from adpipe.reports import MeanStd
from adpipe.roas.defaults import CURVES_REPORT, PLAN_REPORT, PLAN_VALIDATION_REPORT, PROTOCOL
from adpipe.roas.plan.backtest import CONSTANT_ROAS, CURVES, LIGHTGBM
from adpipe.roas.plan.curves import SEGMENT_SEPARATOR, SegmentResponse
from adpipe.roas.plan.options import PlanData
from adpipe.roas.plan.planner import planner_curves, read_ads
from adpipe.roas.plan.report import (
    CurvesReport,
    GainBacktest,
    PlannedSegment,
    PlanReport,
    PlanValidationReport,
)
from adpipe.roas.plan.solver import N_DRAWS
from adpipe.roas.plan.views import judge_range
from adpipe.sections.page import (
    BASELINE_COLOUR,
    MODEL_COLOUR,
    REFERENCE_COLOUR,
    Card,
    Missing,
    Panel,
    Table,
    figure,
)
from adpipe.sections.sources import Sources

COMMAND = "make roas"
COLUMNS = 6  # small multiples per row
GRID = 61  # points per curve
PLANNED_COLOUR = "#ff7f0e"
BAND_COLOUR = "rgba(31, 119, 180, 0.18)"
MODEL_NAMES = {CURVES: "pooled curves", CONSTANT_ROAS: "constant ROAS", LIGHTGBM: "LightGBM ROAS x spend"}
MODEL_COLOURS = {CURVES: MODEL_COLOUR, CONSTANT_ROAS: BASELINE_COLOUR, LIGHTGBM: "#bcbd22"}


def money(amount: float) -> str:
    """An amount as a marketer reads it: whole units from 100 up, cents below."""
    return f"{amount:,.0f}" if abs(amount) >= 100 else f"{amount:,.2f}"


def share(value: MeanStd) -> str:
    """A gain over folds as a share of today's value: +7.6% ± 5.4%."""
    return f"{value.mean:+.1%} ± {value.std:.1%}"


def headline(plan: PlanReport) -> str:
    """The plan's gains, the back-tested one first: what plans at this level realised on held-out campaigns."""
    promise = (
        f"this plan promises {plan.expected_gain:+,.0f} ({plan.expected_gain / plan.expected_value_today:+.1%}; "
        f"80% interval {plan.expected_gain_interval.low:+,.0f} to {plan.expected_gain_interval.high:+,.0f}) over "
        f"today's split of the budget {money(plan.budget)}"
    )
    back, gain = plan.backtested_gain, plan.headline_gain
    if back is None or gain is None:
        return f"Not back-tested at this segment level yet (run {COMMAND}); {promise}: read it as an upper bound"
    return (
        f"Back-tested: plans at this level realised {share(gain)} of today's value on held-out campaigns "
        f"under the lowest of {len(back.judges)} judges ({judge_range(back)}), where they promised "
        f"{share(back.promised)}; {promise}: expect about the realised share"
    )


def segment_response(curves: CurvesReport, sources: Sources) -> SegmentResponse | Missing:
    """The segments' responses on the report's parameters, from the ads of the campaigns file; a note when the
    page's file is not the one the report was fitted on (another export, or since changed)."""
    title = "Response curves per segment"
    data = sources.data(config.CAMPAIGNS_FILE)
    if data is None:
        return Missing(title, "make data", "no campaigns file: the curves need its ads")
    frame, _ = read_ads(PlanData(data, curves.by, curves.values.enquiry, curves.values.sale))
    names = [s.segment for s in curves.segments]
    fitted = planner_curves(frame)
    response = SegmentResponse.from_ads(fitted, frame, names)
    coef = np.array([[s.alpha, s.exponent] for s in curves.segments])
    if not np.allclose(response.coef, coef, rtol=1e-4, atol=1e-6):
        return Missing(title, COMMAND, f"its report was fitted on other ads ({curves.data}) than {data.name}")
    return replace(response, coef=coef)


def _band(response: SegmentResponse, grid: np.ndarray) -> np.ndarray:
    """The 10th and 90th percentiles of each segment's expected value on ``grid`` (points x segments), over the
    plan's draws of the curve parameters (the same draws as the plan's intervals)."""
    draws = response.draws(N_DRAWS, PROTOCOL.seed)
    drawn = np.array([[response.value(spend, d) for d in draws] for spend in grid])  # points x draws x segments
    return np.quantile(drawn, [0.1, 0.9], axis=1)


def response_curves(curves: CurvesReport, plan: PlanReport | Missing, sources: Sources) -> Panel | Missing:
    response = segment_response(curves, sources)
    if isinstance(response, Missing):
        return response
    segments = sorted(curves.segments, key=lambda s: -s.marginal_roas)
    order = [response.names.index(s.segment) for s in segments]
    planned_by = {}
    if not isinstance(plan, Missing) and plan.by == curves.by:
        planned_by = {s.segment: s for s in plan.segments}
    planned = np.array([planned_by[n].planned if n in planned_by else math.nan for n in response.names])
    top = np.fmax(2.0 * response.today, 1.15 * np.nan_to_num(planned))
    grid = np.linspace(0.0, 1.0, GRID)[:, None] * top  # points x segments
    values = np.array([response.value(spend) for spend in grid])
    low, high = _band(response, grid)
    today_value = response.value(response.today)
    planned_value = response.value(np.nan_to_num(planned))
    rows = math.ceil(len(segments) / COLUMNS)
    titles = [
        f"{s.segment}{'' if s.pinned else ' · not pinned'}<br>marginal ROAS today {s.marginal_roas:.2f}"
        for s in segments
    ]
    fig = make_subplots(
        rows=rows,
        cols=COLUMNS,
        subplot_titles=titles,
        horizontal_spacing=0.045,
        vertical_spacing=0.5 / rows,
        x_title="total spend of the segment (currency)",
        y_title="expected value (currency)",
    )
    shown: set[str] = set()

    def legend(name: str) -> bool:
        first = name not in shown
        shown.add(name)
        return first

    for position, (segment, k) in enumerate(zip(segments, order, strict=True)):
        row, col = divmod(position, COLUMNS)
        at = {"row": row + 1, "col": col + 1}
        x = grid[:, k]
        hover = "spend %{x:,.0f}: value %{y:,.0f}<extra>" + segment.segment + "</extra>"
        fig.add_scatter(x=x, y=high[:, k], mode="lines", line={"width": 0}, showlegend=False,
                        legendgroup="band", hoverinfo="skip", **at)  # fmt: skip
        fig.add_scatter(x=x, y=low[:, k], mode="lines", line={"width": 0}, fill="tonexty", fillcolor=BAND_COLOUR,
                        name="80% band of the expected value", legendgroup="band", legendrank=3,
                        showlegend=legend("band"), hoverinfo="skip", **at)  # fmt: skip
        name = "expected value" if segment.pinned else "expected value, curve not pinned (dashed)"
        fig.add_scatter(x=x, y=values[:, k], mode="lines", name=name, legendgroup=name, showlegend=legend(name),
                        legendrank=1 if segment.pinned else 2,
                        line={"color": MODEL_COLOUR, "width": 2, "dash": "solid" if segment.pinned else "dash"},
                        hovertemplate=hover, **at)  # fmt: skip
        fig.add_scatter(x=[response.today[k]], y=[today_value[k]], mode="markers", name="today's spend",
                        legendgroup="today", showlegend=legend("today"), legendrank=4,
                        marker={"color": "#222", "size": 8}, hovertemplate="today: " + hover, **at)  # fmt: skip
        if not math.isnan(planned[k]):
            fig.add_scatter(x=[planned[k]], y=[planned_value[k]], mode="markers", name="planned spend",
                            legendgroup="planned", showlegend=legend("planned"), legendrank=5,
                            marker={"color": PLANNED_COLOUR, "size": 10, "symbol": "diamond"},
                            hovertemplate="planned: " + hover, **at)  # fmt: skip
    title = f"Expected value against spend per segment ({SEGMENT_SEPARATOR.join(curves.by)}), best marginal ROAS first"
    figure(fig, title, "", "",
           height=140 + 190 * rows, subplot_titles=True)  # fmt: skip
    fig.update_xaxes(tickformat="~s", rangemode="tozero", nticks=4)
    fig.update_yaxes(tickformat="~s", rangemode="tozero", nticks=4)
    fig.update_annotations(font_size=11)
    for annotation in fig.layout.annotations:
        if annotation.text in ("total spend of the segment (currency)", "expected value (currency)"):
            annotation.font.size = 13
    unpinned = sum(not s.pinned for s in segments)
    plan_note = (
        "the orange diamond is the plan's spend"
        if planned_by
        else "no plan at this segment level to mark (run make roas)"
    )
    return Panel(
        title="Response curves per segment",
        caption="Where the next dollar earns most: compare the marginal ROAS in each title, the value of the next "
        "dollar at today's spend (black dot; each segment has its own scales, so compare those numbers, not slopes); "
        f"{plan_note}. Read the {unpinned} dashed curve(s) loosely: their own ads do not pin them.",
        basis=f"reports/roas_curves.json ({curves.family}; {curves.note}), by {', '.join(curves.by)}, value = "
        f"{curves.values.enquiry:g} per enquiry + {curves.values.sale:g} per sale. A segment's total scales its "
        f"ads' spends in proportion (computed here from the campaigns file); band: 10th-90th percentile over "
        f"{N_DRAWS} draws of the curve parameters, as the plan's intervals. Dashed: fewer than 5 ads with spend, a "
        "spend range under 3x or a vague exponent, so the curve leans on the pooled fit. Baseline: today's spend.",
        figure=fig,
        wide=True,
    )


def _flags(segment: PlannedSegment) -> str:
    flags = []
    if not segment.curve_pinned:
        flags.append("curve not pinned")
    if segment.extrapolation_factor > 1.0:
        flags.append(f"spend per ad {segment.extrapolation_factor:.1f}x beyond observed")
    return "; ".join(flags) or "-"


def plan_table(plan: PlanReport) -> Panel:
    segments = sorted(plan.segments, key=lambda s: -(s.planned / s.today if s.today > 0 else math.inf))
    rows = [
        [
            s.segment,
            money(s.today),
            money(s.planned),
            f"{s.planned / s.today - 1:+.0%}" if s.today > 0 else "new",
            f"{money(s.expected_value)} ({money(s.expected_value_interval.low)}–"
            f"{money(s.expected_value_interval.high)})",
            f"{s.marginal_roas:.2f}",
            _flags(s),
        ]
        for s in segments
    ]
    rows.append(
        [
            "total",
            money(sum(s.today for s in plan.segments)),
            money(plan.budget),
            "",
            f"{money(plan.expected_value_planned)} (today's split: {money(plan.expected_value_today)})",
            "",
            "",
        ]
    )
    limits = ", ".join(f"{k} {v}" for k, v in plan.limits.items()) or "none"
    promised = f"this plan promises {plan.expected_gain / plan.expected_value_today:+.1%}"
    gain = plan.headline_gain
    title = "The budget plan per segment, largest increase first: " + (
        f"back-tested gain {share(gain)}, {promised}" if gain else promised
    )
    kept = "." if plan.reallocated else ". Today's split kept: the ranking back-test found no signal."
    return Panel(
        title=title,
        caption=headline(plan) + kept,
        basis=f"reports/roas_plan.json: objective {plan.objective}, by {', '.join(plan.by)}, limits: {limits}; "
        f"{plan.signal}. Expected value with its 80% interval over the curves' parameter draws; marginal ROAS: the "
        "value of the next dollar at the planned spend. Baseline: today's split of the same budget."
        + (" Notes: " + "; ".join(plan.notes) if plan.notes else ""),
        table=Table(
            [
                "segment",
                "today's spend",
                "planned spend",
                "change",
                "expected value (80% interval)",
                "marginal ROAS at plan",
                "flags",
            ],  # fmt: skip
            rows,
        ),
        wide=True,
    )


def _bar(fig: go.Figure, names: list[str], values: list[MeanStd], colours: list[str], col: int, fmt: str) -> None:
    fig.add_bar(
        x=[f"{name}<br><b>{v.mean:{fmt}} ± {v.std:{fmt}}</b>" for name, v in zip(names, values, strict=True)],
        y=[v.mean for v in values],
        error_y={"type": "data", "array": [v.std for v in values]},
        marker_color=colours,
        hovertemplate="%{x}<extra></extra>",
        showlegend=False,
        row=1,
        col=col,
    )


def backtest(validation: PlanValidationReport) -> Panel:
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=[
            "error of the held-out value per ad",
            "ranking of segments vs held-out ROAS",
            "gain of a plan over today's split",
        ],
        horizontal_spacing=0.08,
    )
    for model, accuracy in validation.value_accuracy.items():
        metrics = [accuracy.deviance, accuracy.rmse, accuracy.mae]
        fig.add_bar(
            x=["Poisson deviance", "RMSE", "MAE (a median's)"],
            y=[m.mean for m in metrics],
            error_y={"type": "data", "array": [m.std for m in metrics]},
            name=MODEL_NAMES.get(model, model),
            marker_color=MODEL_COLOURS.get(model, BASELINE_COLOUR),
            hovertemplate="%{x}: %{y:.1f}<extra>" + MODEL_NAMES.get(model, model) + "</extra>",
            row=1,
            col=1,
        )
    ranking, within = validation.ranking, validation.within_campaign_ranking
    inside = [] if within.marginal_roas_curves is None else [within.marginal_roas_curves]
    labels = ["curves'<br>order", "average-ROAS<br>order", "shuffled<br>(band ± 2 sd)", "within<br>campaign"]
    _bar(fig, labels[:3 + len(inside)],
         [ranking.marginal_roas_curves, ranking.average_roas_history, ranking.shuffled, *inside],
         [MODEL_COLOUR, BASELINE_COLOUR, REFERENCE_COLOUR, PLANNED_COLOUR][:3 + len(inside)], 2, ".2f")  # fmt: skip
    bar = ranking.shuffled.mean + 2 * ranking.shuffled.std
    fig.add_hrect(y0=ranking.shuffled.mean - 2 * ranking.shuffled.std, y1=bar, fillcolor=REFERENCE_COLOUR,
                  opacity=0.12, line_width=0, layer="below", row=1, col=2)  # fmt: skip
    fig.add_hline(y=0.4, line_dash="dot", line_color="#222", row=1, col=2,
                  annotation_text="target 0.4", annotation_position="top right", annotation_font_size=11)  # fmt: skip
    gain = validation.gain
    judged = [*gain.judges, *gain.bounds]
    _bar(fig, ["promised<br>(training)", *[name.replace("_", " ") for name in judged]],
         [gain.promised, *gain.judges.values(), *gain.bounds.values()],
         ["#aec7e8"] + [MODEL_COLOUR if n == gain.headline_judge else BASELINE_COLOUR for n in gain.judges]
         + [REFERENCE_COLOUR] * len(gain.bounds), 3, ".1%")  # fmt: skip
    figure(fig, "Plan back-test on held-out campaigns", "", "", height=440, subplot_titles=True)
    fig.update_xaxes(tickangle=0)
    fig.update_layout(margin_b=90)
    fig.update_yaxes(title_text="value per ad (currency)", row=1, col=1)
    fig.update_yaxes(title_text="Spearman (fold mean ± std)", row=1, col=2)
    fig.update_yaxes(title_text="gain, share of today's value", tickformat=".0%", row=1, col=3)
    p = validation.protocol
    met = sum(t.met for t in validation.targets)
    return Panel(
        title="Plan back-test on held-out campaigns",
        caption="Left: the curves' held-out error against the constant-ROAS and LightGBM baselines (lower is "
        "better). Middle: the curves' order of segments must clear the shuffled band (red) and the 0.4 target. "
        f"Right: the realised gain under each judge; the headline is the lowest, {validation.gain.headline_judge} "
        f"{share(validation.headline_realised)}, and the red bars are a floor and a ceiling. {met} of "
        f"{len(validation.targets)} targets met (table below).",
        basis=f"reports/roas_plan_validation.json: {p.folds} folds x {p.repeats} repeats, "
        f"{p.groupings.get('grouped', 'grouped by campaign')}, seed {p.seed}, {p.n_rows} ads, "
        f"{validation.n_segments} segments by {', '.join(validation.by)}; plans within [0.5x, 2x] of each held-out "
        "spend. Left: the Poisson deviance is the loss the curves estimate; MAE rewards a median. Middle: the order "
        "by marginal ROAS against held-out average ROAS, the band the mean ± 2 sd of "
        f"{ranking.n_shuffles} shuffles; within campaign, against the held-out marginal response. Right: the floor "
        "is one pooled curve, the ceiling the held-out ROAS applied linearly; the gain the plan quotes (its card and "
        "table) is its own back-test's. Baselines: "
        + "; ".join(f"{MODEL_NAMES.get(k, k)}: {v}" for k, v in validation.baselines.items()),
        figure=fig,
        wide=True,
    )


def targets(validation: PlanValidationReport) -> Panel:
    rows = [[t.name, t.wanted, t.measured, "met" if t.met else "MISSED"] for t in validation.targets]
    return Panel(
        title="The plan's targets",
        caption=f"{validation.ranking.verdict}.",
        basis="reports/roas_plan_validation.json: the issue's targets, measured on the held-out campaigns above.",
        table=Table(["target", "wanted", "measured", "result"], rows),
    )


def card(plan: PlanReport | Missing, validation: PlanValidationReport | Missing) -> Card:
    """The overview card: the back-tested gain, against today's split, with the ranking signal as the verdict."""
    if isinstance(plan, Missing):
        return Card("Budget plan", "not planned yet", "-", f"run {plan.command}", None)
    back: GainBacktest | None = plan.backtested_gain
    gain = plan.headline_gain
    signal = validation.ranking if not isinstance(validation, Missing) and validation.by == plan.by else None
    return Card(
        "Budget plan",
        f"back-tested gain {share(gain)} (lowest of {len(back.judges)} judges, {judge_range(back)}; "
        f"promised {share(back.promised)})"
        if back and gain
        else f"promised {plan.expected_gain / plan.expected_value_today:+.1%}, not back-tested yet",
        f"today's split of the budget {money(plan.budget)}: expected value {money(plan.expected_value_today)}",
        signal.verdict if signal else plan.signal,
        signal.signal if signal else None,
    )


def panels(sources: Sources) -> tuple[list[Panel | Missing], Card]:
    """The plan's panels, in reading order, and its overview card."""
    curves = sources.report(CURVES_REPORT, CurvesReport, "Response curves per segment", COMMAND)
    plan = sources.report(PLAN_REPORT, PlanReport, "The budget plan", COMMAND)
    validation = sources.report(PLAN_VALIDATION_REPORT, PlanValidationReport, "Plan back-test", COMMAND)
    result: list[Panel | Missing] = [curves if isinstance(curves, Missing) else response_curves(curves, plan, sources)]
    result.append(plan if isinstance(plan, Missing) else plan_table(plan))
    if isinstance(validation, Missing):
        result.append(validation)
    else:
        result += [backtest(validation), targets(validation)]
    return result, card(plan, validation)
