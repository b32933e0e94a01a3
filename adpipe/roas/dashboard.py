"""The ROAS and funnel section: where the spend returns most, and how well a model predicts it per ad.

Read from ``reports/roas_validation.json`` and ``reports/funnel_validation.json`` (typed reports of
:mod:`adpipe.roas.report`) and the ``roas summary`` tables (``reports/roas_summary_<by>.csv``); the budget plan's
panels are :mod:`adpipe.roas.plan.dashboard`'s. Computed here, because no report carries them: bootstrap
intervals of each group's ROAS (resampling its ads), the funnel sums per segment and the ROAS model's held-out
predictions (one repeat of the report's campaign-grouped folds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import bootstrap

from adpipe import config
from adpipe.roas import SPEC
from adpipe.roas.defaults import FUNNEL_REPORT, VALIDATION_REPORT, summary_path
from adpipe.roas.evaluation import grouping_splits
from adpipe.roas.models import BASELINES, LABELS, MEAN_BASELINE, roas_models
from adpipe.roas.plan import dashboard as plan_dashboard
from adpipe.roas.report import FunnelValidationReport, RoasValidationReport
from adpipe.sections.page import (
    BASELINE_COLOUR,
    CLASS_COLOURS,
    MODEL_COLOUR,
    REFERENCE_COLOUR,
    Card,
    Missing,
    Panel,
    Quote,
    Section,
    Table,
    figure,
    mean_std,
)
from adpipe.sections.sources import Sources
from adpipe.validation import Protocol
from features.campaigns import BUDGET, FEATURES, SUMMARY_KEYS, conversion_value, load_campaigns, model_inputs, roas_rows

BOOTSTRAP_RESAMPLES = 2000
# Each funnel step as the rate from the step before it.
FUNNEL_STEPS = {
    "Clicks": ("Impressions", 1000.0, "clicks / 1000 impr."),
    "Total_Conversion": ("Clicks", 100.0, "enquiries / 100 clicks"),
    "Approved_Conversion": ("Total_Conversion", 100.0, "approved / 100 enq."),
}


def _label(model: str) -> str:
    return LABELS.get(model, model)


def roas_interval(ads: pd.DataFrame, seed: int) -> tuple[float, float]:
    """95% percentile-bootstrap interval of a group's ROAS (sum of value / sum of spend), resampling its ads."""
    if len(ads) < 2:
        return float("nan"), float("nan")
    result = bootstrap(
        (ads["value"].to_numpy(), ads[BUDGET].to_numpy()),
        lambda value, spent, axis: value.sum(axis=axis) / spent.sum(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


# Groups the export names by a number only: labelled "<by> <code>" so a bar never reads as a quantity.
CODED = ("campaign", "interest")


def roas_by(by: str, summary: pd.DataFrame, ads: pd.DataFrame, report: RoasValidationReport) -> Panel:
    """ROAS per group as horizontal bars, best on top, every group labelled (interest has dozens of codes)."""
    key = SUMMARY_KEYS[by]
    summary = summary.sort_values("roas", ascending=True)  # plotly draws the first bar at the bottom
    intervals = [roas_interval(ads[ads[key] == group], report.protocol.seed) for group in summary[by]]
    low, high = np.array(intervals).T
    overall = ads["value"].sum() / ads[BUDGET].sum()
    labels = [f"{by} {v}" if by in CODED else str(v) for v in summary[by]]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=summary["roas"],
            orientation="h",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": high - summary["roas"],
                "arrayminus": summary["roas"] - low,
            },
            customdata=summary[["n_ads", "spent", "sales"]].to_numpy(),
            hovertemplate="%{y}: ROAS %{x:.2f} (%{customdata[0]} ads, spent %{customdata[1]:.0f}, "
            "%{customdata[2]} sales)<extra></extra>",
            marker_color=MODEL_COLOUR,
        )
    )
    fig.add_vline(x=overall, line_dash="dot", line_color=REFERENCE_COLOUR)
    fig.update_yaxes(type="category", dtick=1, automargin=True, tickfont={"size": 11})
    values = report.values
    coded = " The export names interests and campaigns by code only." if by in CODED else ""
    height = max(300, 120 + 18 * len(labels))
    return Panel(
        title=f"ROAS by {by}",
        caption=f"Return per unit spent by {by}, best on top; a group whose interval stays right of the dotted "
        f"overall ROAS ({overall:.2f}) earns more than the average ad.{coded}",
        basis=f"reports/roas_summary_{by}.csv (value = {values.enquiry:g} per enquiry + {values.sale:g} per sale, "
        f"ads with spend only); 95% bootstrap interval over each group's ads, computed here.",
        figure=figure(fig, f"ROAS by {by}", "ROAS (value / spend)", "", legend=False, height=height),
    )


def spend_vs_conversions(ads: pd.DataFrame) -> Panel:
    fig = go.Figure()
    for (campaign, group), colour in zip(ads.groupby("xyz_campaign_id"), CLASS_COLOURS, strict=False):
        fig.add_scatter(
            x=group[BUDGET],
            y=group["Approved_Conversion"],
            mode="markers",
            name=f"campaign {campaign}",
            marker={"color": colour, "opacity": 0.6, "size": 6},
            customdata=group["ad_id"],
            hovertemplate="ad %{customdata}: spent %{x:.2f}, %{y} approved<extra></extra>",
        )
    fig.update_xaxes(type="log", dtick=1)
    return Panel(
        title="Spend vs conversions",
        caption="Each ad's spend (log scale) against its approved conversions; sales grow far slower than spend, "
        "which is why the small campaigns show the best ROAS.",
        basis=f"All {len(ads)} ads with spend in the campaigns file; descriptive, no model.",
        figure=figure(fig, "Spend vs approved conversions per ad", "spend (currency, log scale)", "approved sales"),
    )


def predicted_vs_actual(report: RoasValidationReport, ads: pd.DataFrame) -> Panel:
    target = report.target
    rows = roas_rows(ads.drop(columns="value"), report.values.enquiry, report.values.sale)
    protocol = Protocol(folds=report.protocol.folds, repeats=1, seed=report.protocol.seed, stratify=False)
    X = model_inputs(rows.table, FEATURES[target.mode])
    predicted = np.empty(len(X))
    make = roas_models(protocol.seed)[target.model]
    for split in grouping_splits(rows, protocol)[target.grouping]:
        predicted[split.test] = (
            make().fit(X.iloc[split.train], rows.target.iloc[split.train]).predict(X.iloc[split.test])
        )
    actual = rows.target.to_numpy()
    shown = (actual > 0) & (predicted > 0)
    fig = go.Figure(
        go.Scatter(
            x=predicted[shown],
            y=actual[shown],
            mode="markers",
            marker={"color": MODEL_COLOUR, "opacity": 0.5, "size": 6},
            name=_label(target.model),
            hovertemplate="predicted %{x:.2f}, actual %{y:.2f}<extra></extra>",
        )
    )
    edge = [float(min(predicted[shown].min(), actual[shown].min())), float(max(predicted.max(), actual.max()))]
    fig.add_scatter(
        x=edge, y=edge, mode="lines", name="prediction = actual", line={"dash": "dot", "color": REFERENCE_COLOUR}
    )
    fig.update_xaxes(type="log", dtick=1)
    fig.update_yaxes(type="log", dtick=1)
    grouped = report.modes[target.mode].groupings()[target.grouping].models[target.model]
    return Panel(
        title="Predicted vs actual ROAS",
        caption=f"Held-out ROAS predictions per ad against the truth (log scales); the model ranks ads with "
        f"Spearman {mean_std(grouped.spearman)} over the report's folds. {int((~shown).sum())} ads with zero "
        "actual or predicted ROAS are not drawn.",
        basis=f"Computed here: {_label(target.model)}, {target.mode} inputs, one repeat of the report's "
        f"{target.grouping} folds ({report.protocol.groupings[target.grouping]}, {protocol.folds} folds, seed "
        f"{protocol.seed}); a constant baseline ranks nothing (Spearman 0).",
        figure=figure(fig, "Held-out predicted vs actual ROAS per ad", "predicted ROAS (log)", "actual ROAS (log)"),
    )


def baseline_comparison(report: RoasValidationReport) -> Panel:
    mode = report.modes[report.target.mode]
    fig = go.Figure()
    both = {"grouped": mode.grouped, "ungrouped": mode.ungrouped}  # a dated export's forward part: in the report
    for (grouping, part), colour in zip(both.items(), (MODEL_COLOUR, BASELINE_COLOUR), strict=True):
        names = list(part.models)
        fig.add_bar(
            name=f"{grouping} folds",
            x=[_label(n) for n in names],
            y=[part.models[n].mae.mean for n in names],
            error_y={"type": "data", "array": [part.models[n].mae.std for n in names]},
            marker_color=colour,
            customdata=[part.models[n].spearman.mean for n in names],
            hovertemplate="%{x}: MAE %{y:.3f}, Spearman %{customdata:.3f}<extra>" + grouping + "</extra>",
        )
    best_baseline = min(mode.grouped.models[b].mae.mean for b in BASELINES if b in mode.grouped.models)
    fig.add_hline(y=best_baseline, line_dash="dot", line_color=REFERENCE_COLOUR)
    p = report.protocol
    return Panel(
        title="Models vs baselines",
        caption=f"Held-out MAE of each ROAS model on the {report.target.mode} inputs; below the dotted best baseline "
        f"is better. {mode.grouped.verdict.text}",
        basis=f"{report.target.mode} inputs; repeated K-fold, {p.folds} folds x {p.repeats} repeats, seed {p.seed}, "
        f"{p.n_rows} ads, grouped by campaign ({p.n_groups} groups) and plain; baselines: mean and median ROAS.",
        figure=figure(fig, "Held-out MAE: models and baselines", "model", "MAE (ROAS units)"),
    )


def funnel(table: pd.DataFrame) -> Panel:
    segments = table.groupby(["age", "gender"], observed=True)[["Impressions", *FUNNEL_STEPS]].sum()
    fig = make_subplots(rows=1, cols=len(FUNNEL_STEPS), subplot_titles=[s[2] for s in FUNNEL_STEPS.values()])
    for column, (step, (before, per, _)) in enumerate(FUNNEL_STEPS.items(), start=1):
        for gender, colour in zip(("F", "M"), (CLASS_COLOURS[1], CLASS_COLOURS[0]), strict=True):
            part = segments.xs(gender, level="gender")
            fig.add_bar(
                x=list(part.index),
                y=per * part[step] / part[before],
                name=gender,
                marker_color=colour,
                legendgroup=gender,
                showlegend=column == 1,
                hovertemplate="age %{x}: %{y:.2f}<extra>" + gender + "</extra>",
                row=1,
                col=column,
            )
    return Panel(
        title="Funnel per segment",
        caption="Each step of impressions -> clicks -> enquiries -> approved as a rate of the step before, by age "
        "and gender: where each audience leaks.",
        basis=f"Sums over all {len(table)} ads of the campaigns file; descriptive, no model.",
        figure=figure(fig, "Funnel step rates by age and gender", "age band", "", subplot_titles=True).update_yaxes(
            title_text="rate (per 1000 or per 100 of the step before)", row=1, col=1
        ),
    )


def funnel_table(report: FunnelValidationReport) -> Panel:
    rows = []
    for mode_name, mode in report.modes.items():
        for target, verdict in mode.grouped.verdict.items():
            base = mode.grouped.models[MEAN_BASELINE][target]
            best = mode.grouped.models[verdict.best][target] if verdict.best else None
            rows.append(
                [
                    target,
                    mode_name,
                    _label(verdict.best) if verdict.best else "none beats the baseline",
                    mean_std(best.spearman, 3) if best else "-",
                    mean_std(best.mae, 4) if best else "-",
                    mean_std(base.mae, 4),
                ]
            )
    p = report.protocol
    return Panel(
        title="Funnel models vs the mean baseline",
        caption="Whether any model predicts an ad's sales per click or click drop-off better than their mean.",
        basis=f"Campaign-grouped repeated K-fold, {p.folds} folds x {p.repeats} repeats, seed {p.seed}, {p.n_rows} "
        f"ads with clicks; baseline: the training folds' mean.",
        table=Table(["target", "inputs", "best model", "Spearman", "MAE", "mean-baseline MAE"], rows),
    )


def cards(
    report: RoasValidationReport | Missing, funnel_report: FunnelValidationReport | Missing, quote: Quote | None
) -> list[Card]:
    """The served ROAS model's headline (its verdict: the ranking target, labelled), then the funnel's card."""
    result = []
    if isinstance(report, Missing) or quote is None:
        command = report.command if isinstance(report, Missing) else "make roas"
        result.append(Card("ROAS per ad", "not validated yet", "-", f"run {command}", None))
    else:
        target = report.target
        model = report.modes[target.mode].groupings()[target.grouping].models[target.model]
        verdict = (
            f"ranking target (Spearman ≥ {target.spearman_at_least}, {target.mode} inputs, {target.grouping} folds): "
            f"{mean_std(model.spearman, 3)}, {'reached' if target.reached else 'not reached'}"
        )
        better = quote.figure.model.mean <= quote.figure.baseline.mean
        result.append(
            Card.quoting("ROAS per ad", quote, verdict, model.spearman.mean - model.spearman.std > 0 and better)
        )
    if isinstance(funnel_report, Missing):
        result.append(Card("Funnel", "not validated yet", "-", f"run {funnel_report.command}", None))
    else:
        verdicts = funnel_report.modes["delivery"].grouped.verdict
        beaten = [t for t, v in verdicts.items() if v.best]
        result.append(
            Card(
                "Funnel",
                f"{len(beaten)} of {len(verdicts)} targets predicted better than the mean",
                "the training folds' mean per target",
                "; ".join(v.text for v in verdicts.values()),
                bool(beaten),
            )
        )
    return result


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The ROAS and funnel section and its overview cards."""
    panels: list[Panel | Missing] = []
    report = sources.report(VALIDATION_REPORT, RoasValidationReport, "ROAS validation", "make roas")
    funnel_report = sources.report(FUNNEL_REPORT, FunnelValidationReport, "Funnel validation", "make roas")
    data = sources.data(config.CAMPAIGNS_FILE)
    table = None if data is None else load_campaigns(data)
    if isinstance(report, Missing) or table is None:
        panels.append(report if isinstance(report, Missing) else Missing("ROAS", "make data", "no campaigns file"))
    else:
        ads = table[table[BUDGET] > 0].assign(
            value=lambda t: conversion_value(t, report.values.enquiry, report.values.sale)
        )
        for by in SUMMARY_KEYS:
            summary = sources.csv(summary_path(by), f"ROAS by {by}", "make roas")
            panels.append(summary if isinstance(summary, Missing) else roas_by(by, summary, ads, report))
        panels += [spend_vs_conversions(ads), baseline_comparison(report), predicted_vs_actual(report, ads)]
    plan_panels, plan_card = plan_dashboard.panels(sources)
    panels += plan_panels
    if table is not None:
        panels.append(funnel(table))
    panels.append(funnel_report if isinstance(funnel_report, Missing) else funnel_table(funnel_report))
    intro = (
        "Return on ad spend (conversion value / spend) by campaign and audience, a model that ranks ads by it, the "
        "budget plan (each segment's value-vs-spend curve, where the budget moves, and how such plans did on "
        "held-out campaigns), and the funnel from impressions to approved sales."
    )
    quote = sources.quote(SPEC)
    section = Section("roas", "ROAS and funnel", intro, panels, quote=quote)
    return section, [*cards(report, funnel_report, quote), plan_card]
