"""The CTR section: will an impression be clicked?

Figures come from ``reports/ctr_validation.json`` (:class:`adpipe.ctr.report.ValidationReport`: both protocols,
the reliability tables, the feature-group audit) and the saved ``models/ctr.joblib``. The ROC and
precision-recall curves need each held-out probability, which the report does not keep: they are computed here
with the task's own :func:`~adpipe.ctr.evaluation.cross_validate_params` on the report's primary folds (a fresh
model per fold, seconds), beside the logistic baseline on the same folds. Click rates by hour and age are plain
counts of the data file with Wilson intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy.stats import binomtest
from sklearn.metrics import auc, precision_recall_curve, roc_curve

from adpipe import config
from adpipe.ctr import SPEC
from adpipe.ctr.defaults import MODEL_FILE, NESTED_REPORT, TASK, VALIDATION_REPORT
from adpipe.ctr.evaluation import BASELINES, cross_validate_params, labelled_data, probability_evaluator
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.report import NestedReport, ProbabilityFigures, ValidationReport
from adpipe.reports import HEADLINE_DIGITS
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
    figure,
    mean_std,
)
from adpipe.sections.sources import Sources
from adpipe.validation import cross_validate
from features.ctr import TARGET

TOP_FEATURES = 20
AGE_BANDS = (18, 25, 35, 45, 55, 65)
COLOURS = {"model": MODEL_COLOUR, "logistic": CLASS_COLOURS[1], "base_rate": BASELINE_COLOUR}
NAMES = {"model": "the model", "logistic": "logistic baseline", "base_rate": "base-rate baseline"}

HeldOut = dict[str, tuple[np.ndarray, np.ndarray]]


def primary(report: ValidationReport) -> str:
    """The primary protocol in words, for every figure measured on it."""
    p = report.protocol
    return f"{report.protocols[report.primary].description}; {p.n_rows} impressions"


def out_of_fold(report: ValidationReport, params: dict[str, Any], data: Any) -> HeldOut:
    """Held-out (truth, click probability) of the model ``params`` describe and of the logistic baseline, on the
    report's primary folds."""
    X, y, table = labelled_data(data)
    p = report.protocol
    repeats = 1 if p.name == "forward" else p.repeats
    splits = make_folds(table, CtrProtocol(folds=p.folds, repeats=repeats, seed=p.seed, name=p.name, gap=p.gap))
    splits = [split for split in splits if split.repeat == 0]
    folds = {
        "model": cross_validate_params(params, X, y, splits, p.seed, decide=False, progress=False),
        "logistic": cross_validate(BASELINES["logistic"], X, y, splits, probability_evaluator(), progress=False),
    }
    return {
        name: (np.concatenate([f["truth"] for f in runs]), np.concatenate([f["probability"] for f in runs]))
        for name, runs in folds.items()
    }


def _basis(report: ValidationReport) -> str:
    return f"Computed here: held-out probabilities, {primary(report)} (one pass); baseline: logistic regression."


def roc(report: ValidationReport, held_out: HeldOut) -> Panel:
    fig = go.Figure()
    for name, (y, p) in held_out.items():
        fpr, tpr, _ = roc_curve(y, p)
        fig.add_scatter(x=fpr, y=tpr, name=f"{NAMES[name]} (AUC {auc(fpr, tpr):.3f})", line={"color": COLOURS[name]})
    fig.add_scatter(x=[0, 1], y=[0, 1], name="chance", line={"dash": "dot", "color": REFERENCE_COLOUR})
    return Panel(
        title="ROC curve",
        caption="How many clicks the model finds (up) for how many non-clicks it flags (right); the further "
        "above the logistic baseline, the better the ranking.",
        basis=_basis(report),
        figure=figure(fig, "ROC curve, held-out impressions", "false positive rate (0-1)", "true positive rate (0-1)"),
    )


def precision_recall(report: ValidationReport, held_out: HeldOut) -> Panel:
    fig = go.Figure()
    for name, (y, p) in held_out.items():
        precision, recall, _ = precision_recall_curve(y, p)
        fig.add_scatter(x=recall, y=precision, name=NAMES[name], line={"color": COLOURS[name]})
    fig.add_hline(y=report.protocol.clicked_share, line_dash="dot", line_color=REFERENCE_COLOUR)
    return Panel(
        title="Precision-recall curve",
        caption="Of the impressions flagged as clicks, how many were (up), as more clicks are found (right); the "
        f"dotted line is the click rate {report.protocol.clicked_share:.1%}, what a random flag achieves.",
        basis=_basis(report),
        figure=figure(fig, "Precision-recall, held-out impressions", "recall (0-1)", "precision (0-1)"),
    )


def reliability(report: ValidationReport) -> Panel:
    figures = report.protocols[report.primary]
    fig = go.Figure()
    for name, part in {"model": figures.model, **figures.baselines}.items():
        fig.add_scatter(
            x=[b.predicted for b in part.reliability],
            y=[b.observed for b in part.reliability],
            customdata=[b.n for b in part.reliability],
            name=f"{NAMES.get(name, name)} (ECE {part.ece:.3f})",
            mode="lines+markers",
            line={"color": COLOURS.get(name)},
            hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (%{customdata} impressions)<extra></extra>",
        )
    fig.add_scatter(x=[0, 1], y=[0, 1], name="perfectly calibrated", line={"dash": "dot", "color": REFERENCE_COLOUR})
    return Panel(
        title="Reliability curve",
        caption="Mean predicted click probability against the observed click rate in 10 bins; on the diagonal, "
        "a 30% prediction is clicked 30% of the time (ECE: the bins' average gap).",
        basis=f"reports/ctr_validation.json, pooled held-out predictions, {primary(report)}.",
        figure=figure(
            fig, "Calibration, held-out impressions", "mean predicted probability", "observed click rate", legend_rows=2
        ),
    )


def protocols(report: ValidationReport) -> Panel:
    metrics = (("roc_auc", "ROC-AUC (higher: better)"), ("log_loss", "log-loss (lower: better)"))
    if report.protocols["forward"].model.normalized_entropy is not None:  # reports written before it have none
        metrics += (("normalized_entropy", "normalized entropy (< 1: beats the rate)"),)
    fig = make_subplots(
        rows=1, cols=len(metrics), subplot_titles=[title for _, title in metrics], horizontal_spacing=0.07
    )
    for column, (metric, _) in enumerate(metrics, start=1):
        for protocol, colour in zip(report.protocols, (MODEL_COLOUR, CLASS_COLOURS[1]), strict=False):
            figures = report.protocols[protocol]
            parts: dict[str, ProbabilityFigures] = {"model": figures.model, **figures.baselines}
            values = [getattr(part, metric) for part in parts.values()]
            fig.add_bar(
                name=f"{protocol} folds",
                x=[NAMES.get(n, n).replace(" baseline", "<br>baseline") for n in parts],  # no overlap at 1000 px
                y=[v.mean for v in values],
                error_y={"type": "data", "array": [v.std for v in values]},
                marker_color=colour,
                legendgroup=protocol,
                showlegend=column == 1,
                hovertemplate="%{x}: %{y:.4f}<extra>" + protocol + "</extra>",
                row=1,
                col=column,
            )
    forward, random = (report.protocols[name].model.roc_auc.mean for name in ("forward", "random"))
    return Panel(
        title="Protocols side by side",
        caption=f"Trust the forward bars: ROC-AUC {forward:.3f} forward vs {random:.3f} random; the gap is what "
        "memorisation buys, since random folds score rows of the same file and forward folds tomorrow's impressions.",
        basis="; ".join(f"{name}: {figures.description}" for name, figures in report.protocols.items())
        + ". Baselines on the same folds: the training window's click rate and logistic regression.",
        figure=_side_by_side(figure(fig, "Model and baselines under both protocols", "", "", subplot_titles=True)),
        wide=True,
    )


def _side_by_side(fig: go.Figure) -> go.Figure:
    """Small multiples that read at a glance: the value axis titled once, the models' names flat under the bars
    (each subplot's title names its metric), and room below for them."""
    fig.update_yaxes(title_text="mean over folds (± std)", row=1, col=1)
    fig.update_xaxes(tickangle=0, tickfont={"size": 11}, automargin=True)
    fig.update_annotations(font_size=13)
    return fig


def audit(report: ValidationReport) -> Panel:
    rows = report.audit
    fig = go.Figure()
    for key, name, colour in (("forward_auc", "forward", MODEL_COLOUR), ("random_auc", "random", CLASS_COLOURS[1])):
        fig.add_bar(
            name=f"group alone, {name} folds",
            x=[row.group + (" (flagged)" if row.flagged else "") for row in rows],
            y=[getattr(row, key) for row in rows],
            marker_color=colour,
            customdata=[row.reason for row in rows],
            hovertemplate="%{x}: AUC %{y:.3f}<br>%{customdata}<extra>" + name + "</extra>",
        )
    fig.add_hline(y=0.5, line_dash="dot", line_color=REFERENCE_COLOUR)
    return Panel(
        title="Feature-group audit",
        caption="Each feature group alone under both protocols; a group far better on random than forward folds "
        "memorises values or leaks time (flagged, left out of the default model).",
        basis=f"reports/ctr_validation.json audit; {primary(report)}; reference: AUC 0.5 (chance).",
        figure=figure(fig, "Feature groups alone: forward vs random ROC-AUC", "feature group", "ROC-AUC (0-1)"),
    )


def gain_importance(model: Any, metadata: dict[str, Any]) -> Panel:
    pipeline = model.estimator_.pipeline_
    names = [n.split("__", 1)[-1] for n in pipeline.named_steps["encode"].get_feature_names_out()]
    classifier = pipeline.named_steps["lightgbm"]
    # Calibrated: one LightGBM per calibration fold, their gains averaged.
    fitted = [c.estimator for c in getattr(classifier, "calibrated_classifiers_", [])] or [classifier]
    gain = np.mean([f.booster_.feature_importance("gain") for f in fitted], axis=0)
    top = sorted(zip(names, gain, strict=True), key=lambda item: item[1])[-TOP_FEATURES:]
    fig = go.Figure(go.Bar(x=[v for _, v in top], y=[k for k, _ in top], orientation="h", marker_color=MODEL_COLOUR))
    blend = model.estimator_.blend if getattr(model.estimator_, "logistic_", None) is not None else 0.0
    blended = (
        f" Its trees make {1 - blend:.0%} of the click probability; the logistic baseline on the four numeric "
        f"columns makes the other {blend:.0%}."
        if blend
        else ""
    )
    return Panel(
        title="Feature importance (gain)",
        caption="Loss reduction per input in the saved model's trees: what they lean on (the audit says which groups "
        f"hold on tomorrow's impressions).{blended}",
        basis=f"The saved model, fitted on all {metadata['n_rows']} impressions (no held-out data, no baseline).",
        figure=figure(
            fig,
            "Gain importance in the saved CTR model",
            "total gain (loss reduction)",
            "input",
            legend=False,
            height=max(420, 140 + 22 * len(top)),
        ),
    )


def click_rate_by(table: pd.DataFrame, by: pd.Series, title: str, x_title: str, caption: str) -> Panel:
    grouped = table[TARGET].groupby(by, observed=True).agg(["sum", "count"])
    intervals = [binomtest(int(k), int(n)).proportion_ci(method="wilson") for k, n in grouped.to_numpy()]
    low, high = np.array([i.low for i in intervals]), np.array([i.high for i in intervals])
    rate = (grouped["sum"] / grouped["count"]).to_numpy()
    fig = go.Figure(
        go.Bar(
            x=[str(i) for i in grouped.index],
            y=100 * rate,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": 100 * (high - rate),
                "arrayminus": 100 * (rate - low),
            },
            customdata=grouped["count"],
            hovertemplate="%{x}: %{y:.1f}% of %{customdata} impressions<extra></extra>",
            marker_color=MODEL_COLOUR,
        )
    )
    overall = table[TARGET].mean()
    fig.add_hline(y=100 * overall, line_dash="dot", line_color=REFERENCE_COLOUR)
    return Panel(
        title=title,
        caption=caption + f" Dotted: the overall click rate {overall:.1%}.",
        basis=f"Counts of the {len(table)} labelled impressions with Wilson 95% intervals; descriptive, no model.",
        figure=figure(fig, title, x_title, "click rate (%)", legend=False),
    )


def nested(report: NestedReport) -> Panel:
    """Each outer window's ROC-AUC: the search run on its past alone, the params file, the logistic baseline."""
    fig = go.Figure()
    colours = (MODEL_COLOUR, BASELINE_COLOUR, CLASS_COLOURS[1])
    for name, colour in zip(report.models, colours, strict=False):
        fig.add_bar(
            name=name,
            x=[f"window {w.fold + 1}" for w in report.windows],
            y=[w.scores[name].roc_auc for w in report.windows],
            marker_color=colour,
            hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>",
        )
    summary = "; ".join(
        f"{name} {mean_std(s.roc_auc, HEADLINE_DIGITS)} (NE {s.normalized_entropy.mean:.3f})"
        for name, s in report.models.items()
    )
    return Panel(
        title="Nested forward validation",
        caption=f"ROC-AUC per forward window, {summary}. The params file's bars are optimistic: it was chosen on "
        "these same windows.",
        basis=f"reports/ctr_nested.json: {report.outer}; inner: {report.inner}; {report.trials} trials per window, "
        "each window's search on that window's past alone.",
        figure=figure(fig, "A search scored on windows it never saw", "outer forward window", "ROC-AUC").update_yaxes(
            range=[0.5, 1.0]  # 0.5: a ranking by chance
        ),
    )


def card(report: ValidationReport | Missing, searched: NestedReport | Missing, quote: Quote | None) -> Card:
    """The task's headline (nested forward once ``ctr nested`` ran) beside the logistic baseline on the same
    windows; the verdict also weighs the log-loss against the baselines' best."""
    if isinstance(report, Missing) or quote is None:
        command = report.command if isinstance(report, Missing) else "make ctr"
        return Card("Click-through (CTR)", "not validated yet", "-", f"run {command}", None)
    figures = report.protocols[report.primary]
    log_loss = figures.model.log_loss.mean
    if not isinstance(searched, Missing):
        log_loss = searched.models["nested search"].log_loss.mean
    best_log_loss = min(b.log_loss.mean for b in figures.baselines.values())
    headline = quote.figure
    verdict = (
        f"{headline.model.mean - headline.baseline.mean:+.3f} AUC over the logistic baseline on the same windows; "
        f"log-loss {log_loss:.3f} vs the baselines' best {best_log_loss:.3f}"
    )
    if not isinstance(searched, Missing):
        verdict += f" (ROC-AUC {mean_std(figures.model.roc_auc, 3)} on the windows that chose the params)"
    return Card.quoting(
        "Click-through (CTR)", quote, verdict, headline.model.mean > headline.baseline.mean and log_loss < best_log_loss
    )


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The CTR section and its overview card."""
    panels: list[Panel | Missing] = []
    report = sources.report(VALIDATION_REPORT, ValidationReport, "Validation: protocols and baselines", "make ctr")
    searched = sources.report(NESTED_REPORT, NestedReport, "Nested forward validation", "make ctr")
    saved = sources.model(MODEL_FILE, TASK, "Feature importance", "make ctr")
    data = sources.data(config.CTR_FILE)
    if isinstance(report, Missing):
        panels.append(report)
    else:
        panels += [protocols(report), reliability(report)]
        if isinstance(saved, Missing) or data is None:
            panels.append(Missing("ROC and precision-recall curves", "make ctr", "needs the saved model and data"))
        else:
            held_out = out_of_fold(report, saved[1]["params"], data)
            panels += [roc(report, held_out), precision_recall(report, held_out)]
        if report.audit:
            panels.append(audit(report))
    panels.append(searched if isinstance(searched, Missing) else nested(searched))
    panels.append(saved if isinstance(saved, Missing) else gain_importance(*saved))
    if data is None:
        panels.append(Missing("Click rate by hour and age", "make data", f"{config.CTR_FILE.name} does not exist"))
    else:
        _, _, table = labelled_data(data)
        panels.append(
            click_rate_by(
                table,
                table["Timestamp"].dt.hour.rename("hour"),
                "Click rate by hour of day",
                "hour of day (0-23)",
                "When in the day impressions get clicked.",
            )
        )
        edges = [*AGE_BANDS, 120]
        bands = [f"{low}-{high - 1}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
        age = pd.cut(table["Age"], bins=edges, right=False, labels=bands)
        panels.append(click_rate_by(table, age, "Click rate by age band", "age band (years)", "Which ages click."))
    intro = (
        "Probability that an ad impression is clicked, validated forward in time (train on the past, score the next "
        "block) as the model is used, beside random folds and two baselines."
    )
    quote = sources.quote(SPEC)
    return Section("ctr", "Click-through (CTR)", intro, panels, quote=quote), [card(report, searched, quote)]
