"""The main task's section: ClickStream ``marketing_target`` (1/2/3) under macro-F1.

Read from ``reports/validation.json`` (:class:`ValidationReport`), the saved model and its predictions, and the
Optuna study when ``make tune`` has run; the permutation and SHAP importances are computed out of fold by
:func:`adpipe.clickstream.explain.explain` (seconds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import plotly.graph_objects as go
from optuna.visualization import plot_optimization_history, plot_param_importances

from adpipe import config
from adpipe.clickstream import SPEC
from adpipe.clickstream.defaults import MODEL_FILE, VALIDATION_REPORT
from adpipe.clickstream.estimators import fitted_pipeline
from adpipe.clickstream.explain import PERMUTATION_REPEATS, Explanation, explain
from adpipe.clickstream.params import load_params
from adpipe.clickstream.report import ValidationReport
from adpipe.errors import DataError
from adpipe.reports import HEADLINE_DIGITS
from adpipe.sections.page import (
    BASELINE_COLOUR,
    CLASS_COLOURS,
    MODEL_COLOUR,
    Card,
    Missing,
    Panel,
    Quote,
    Section,
    figure,
    mean_std,
)
from adpipe.sections.sources import Sources
from features.clickstream_loaders import CLASSES

CLASS_NAMES = {"1": "1 (low)", "2": "2 (medium)", "3": "3 (high)"}
TOP_FEATURES = 20


def protocol_text(report: ValidationReport) -> str:
    p = report.protocol
    return (
        f"Repeated stratified K-fold, {p.folds} folds x {p.repeats} repeats, seed {p.seed}, {p.n_users} labelled "
        f"users; baseline: majority class on the same folds (macro-F1 {mean_std(report.baseline.macro_f1)})."
    )


def class_balance(metadata: dict[str, Any], predictions: dict[str, Any]) -> Panel:
    train = {c: metadata["class_counts"].get(c, 0) for c in CLASS_NAMES}
    predicted = [str(v) for v in predictions["target"].values()]
    test = {c: predicted.count(c) for c in CLASS_NAMES}
    fig = go.Figure()
    for name, counts, colour in (
        ("train (true labels)", train, BASELINE_COLOUR),
        ("test (predicted)", test, MODEL_COLOUR),
    ):
        total = sum(counts.values())
        fig.add_bar(
            name=name,
            x=[CLASS_NAMES[c] for c in counts],
            y=[100 * n / total for n in counts.values()],
            customdata=list(counts.values()),
            hovertemplate="%{x}: %{y:.1f}% (%{customdata} users)<extra>" + name + "</extra>",
            marker_color=colour,
        )
    return Panel(
        title="Class balance",
        caption="If the predicted test shares drift far from the training shares, the model over- or "
        "under-calls a class on new users.",
        basis=f"Train: the {sum(train.values())} users the saved model was fitted on; test: its predictions for "
        f"the {sum(test.values())} test users (their labels are hidden).",
        figure=figure(fig, "Class balance: train vs predicted test", "marketing_target", "share of users (%)"),
    )


def per_fold(report: ValidationReport) -> Panel:
    folds = report.protocol.folds
    scores = report.model.macro_f1_per_fold
    x = [f"r{i // folds + 1} f{i % folds + 1}" for i in range(len(scores))]
    fig = go.Figure()
    series = [("LightGBM (params file)", report.model, MODEL_COLOUR, True)]
    series += [(f"LightGBM, {name}", summary, None, "legendonly") for name, summary in report.variants.items()]
    series.append(("majority baseline", report.baseline, BASELINE_COLOUR, True))
    for name, summary, colour, visible in series:
        fig.add_scatter(
            name=f"{name} ({summary.macro_f1.mean:.3f})",
            x=x,
            y=summary.macro_f1_per_fold,
            mode="lines+markers",
            line={"color": colour} if colour else {},
            visible=visible,
            hovertemplate="%{x}: %{y:.4f}<extra>" + name + "</extra>",
        )
    fig.add_hline(y=report.model.macro_f1.mean, line_dash="dot", line_color=MODEL_COLOUR)
    return Panel(
        title="Macro-F1 per fold",
        caption=f"Each point is one held-out fold; the model's {mean_std(report.model.macro_f1, HEADLINE_DIGITS)} "
        f"against the baseline's {report.baseline.macro_f1.mean:.{HEADLINE_DIGITS}f}. Click the legend to show the "
        "variants (same folds).",
        basis=protocol_text(report),
        figure=figure(
            fig, "Macro-F1 on each held-out fold", "repeat r, fold f", "macro-F1 (0-1)", legend_rows=len(series)
        ),
    )


def confusion(report: ValidationReport) -> Panel:
    counts = np.asarray(report.model.confusion)
    share = counts / counts.sum(axis=1, keepdims=True)
    labels = [CLASS_NAMES[str(c)] for c in CLASSES]
    fig = go.Figure(
        go.Heatmap(
            z=share * 100,
            x=labels,
            y=labels,
            customdata=counts,
            text=[
                [f"{n}<br>{s:.0%}" for n, s in zip(row_n, row_s, strict=True)]
                for row_n, row_s in zip(counts, share, strict=True)
            ],
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "% of row"},
            hovertemplate="true %{y}, predicted %{x}: %{customdata} (%{z:.1f}% of the true class)<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return Panel(
        title="Confusion matrix",
        caption="The diagonal is what the model gets right; the share of each true class it calls 1 (low) "
        "is the engagement it misses.",
        basis=protocol_text(report) + " Counts summed over every held-out fold.",
        figure=figure(fig, "Confusion matrix (summed over folds)", "predicted class", "true class", legend=False),
    )


def per_class(report: ValidationReport) -> Panel:
    fig = go.Figure()
    labels = [CLASS_NAMES[c] for c in report.model.per_class]
    for metric, colour in (("precision", CLASS_COLOURS[0]), ("recall", CLASS_COLOURS[1]), ("f1", CLASS_COLOURS[2])):
        values = [getattr(m, metric) for m in report.model.per_class.values()]
        fig.add_bar(
            name=metric,
            x=labels,
            y=[v.mean for v in values],
            error_y={"type": "data", "array": [v.std for v in values]},
            marker_color=colour,
            hovertemplate="%{x}: %{y:.3f}<extra>" + metric + "</extra>",
        )
    fig.add_scatter(
        name="baseline F1",
        x=labels,
        y=[m.f1.mean for m in report.baseline.per_class.values()],
        mode="markers",
        marker={"symbol": "line-ew-open", "size": 30, "color": BASELINE_COLOUR, "line": {"width": 3}},
    )
    return Panel(
        title="Per-class precision and recall",
        caption="The rare classes 2 and 3 carry macro-F1: their bars (mean ± std over folds) are where a better "
        "model would gain.",
        basis=protocol_text(report),
        figure=figure(fig, "Precision, recall and F1 per class", "marketing_target", "score (0-1)"),
    )


def gain_importance(model: Any, metadata: dict[str, Any]) -> Panel:
    booster = fitted_pipeline(model).named_steps["lightgbm"].booster_
    gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    top = sorted(gain.items(), key=lambda item: item[1])[-TOP_FEATURES:]
    fig = go.Figure(go.Bar(x=[v for _, v in top], y=[k for k, _ in top], orientation="h", marker_color=MODEL_COLOUR))
    return Panel(
        title="Feature importance (gain)",
        caption="Total loss reduction of the splits on each input in the saved model; large is used a lot, "
        "not necessarily generalising (compare the held-out permutation importance).",
        basis=f"The saved model, fitted on all {metadata['n_users']} labelled users (no held-out data, no baseline).",
        figure=figure(
            fig,
            "Gain importance in the saved model",
            "total gain (loss reduction)",
            "input",
            legend=False,
            height=max(420, 140 + 22 * len(top)),
        ),
    )


def permutation(explanation: Explanation) -> Panel:
    items = sorted(explanation.permutation.items(), key=lambda item: item[1].mean)[-TOP_FEATURES:]
    fig = go.Figure(
        go.Bar(
            x=[v.mean for _, v in items],
            y=[k for k, _ in items],
            orientation="h",
            error_x={"type": "data", "array": [v.std for _, v in items]},
            marker_color=MODEL_COLOUR,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color=BASELINE_COLOUR)
    p = explanation.protocol
    return Panel(
        title="Permutation importance on held-out folds",
        caption="How much held-out macro-F1 drops when one input is shuffled; a bar whose error crosses zero "
        "is not shown to matter.",
        basis=f"Computed here: a fresh model per fold (stratified K-fold, {p.folds} folds x {p.repeats} repeat, "
        f"seed {p.seed}), each input shuffled {PERMUTATION_REPEATS} times on the held-out part; reference: 0 "
        "(no drop).",
        figure=figure(fig, "Drop in held-out macro-F1 when shuffled", "macro-F1 drop (0-1)", "input", legend=False),
    )


def shap_summary(explanation: Explanation) -> Panel:
    mean_abs = explanation.mean_abs_contribution()
    order = sorted(explanation.features, key=lambda f: sum(m[f] for m in mean_abs.values()))[-TOP_FEATURES:]
    fig = go.Figure()
    for (label, values), colour in zip(mean_abs.items(), CLASS_COLOURS, strict=False):
        fig.add_bar(
            name=f"class {CLASS_NAMES[label]}",
            y=order,
            x=[values[f] for f in order],
            orientation="h",
            marker_color=colour,
            hovertemplate="%{y}: %{x:.3f}<extra>class " + CLASS_NAMES[label] + "</extra>",
        )
    fig.update_layout(barmode="group")
    p = explanation.protocol
    return Panel(
        title="Per-class SHAP summary",
        caption="Which inputs move each class's score, for users the model never saw; an input can matter for "
        "high engagement (3) and not for low (1).",
        basis=f"Computed here: LightGBM pred_contrib on the held-out part of {p.folds} stratified folds (seed "
        f"{p.seed}), {len(explanation.values)} users each explained once; mean |contribution| per class.",
        figure=figure(
            fig, "Mean |SHAP| per class, held-out users", "mean |contribution| (raw score)", "input", legend_rows=2
        ),
    )


def _no_study(reason: str, report: ValidationReport | Missing) -> Missing:
    """The tuning panels' one note: what they would show, why there is no study to show, and where the params in
    use came from (`make report` never searches: a search replaces the params every figure above measured)."""
    try:  # the params the figures above were measured with; before any validation, the params file's
        source = load_params().get("source", {}) if isinstance(report, Missing) else report.params.source
    except DataError:
        source = {}
    if source.get("kind") == "optuna":
        origin = (
            f"the params in use came from Optuna study {source.get('study')!r} (trial {source.get('trial')}), whose "
            "storage is not part of the project (optuna.db stays out of git)"
        )
    elif source.get("kind") == "default":
        origin = "the params in use are the hand-set defaults: no search has chosen them"
    else:
        origin = "the params file says no search chose its params"
    return Missing(
        "Tuning: optimisation history and parameter importances",
        "make tune",
        f"{reason}; {origin}. make report never runs the search: it would replace the params that every figure "
        "above was measured with",
        shows="each trial's cross-validated macro-F1 with the best so far, and which search choices explained it",
    )


def study_panels(
    storage: str, study_name: str, sources: Sources, report: ValidationReport | Missing
) -> list[Panel | Missing]:
    database = storage.removeprefix("sqlite:///")
    if database != storage and not Path(database).exists():  # load_study would create an empty database
        return [_no_study(f"{database} does not exist", report)]
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        studies = ", ".join(optuna.get_all_study_names(storage)) or "none"
        reason = f"no study {study_name!r} in {storage} (studies there: {studies}; choose one with --study)"
        return [_no_study(reason, report)]
    except (ValueError, ImportError, optuna.exceptions.StorageInternalError) as error:
        return [_no_study(f"{storage} could not be opened ({type(error).__name__}: {error})", report)]
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(finished) < 2:
        return [_no_study(f"study {study_name!r} has {len(finished)} finished trial(s)", report)]
    sources.note(f"{storage} (study {study_name})")
    basis = (
        f"Optuna study {study_name!r}: {len(finished)} finished of {len(study.trials)} trials, each scored by "
        "macro-F1 on the repeated stratified folds (optimistic: the best is chosen on those same folds)."
    )
    history = plot_optimization_history(study)
    importances = plot_param_importances(study)
    return [
        Panel(
            title="Optimisation history",
            caption="Each trial's cross-validated macro-F1 and the best so far; a flat best line means more "
            "trials would buy little.",
            basis=basis,
            figure=figure(history, "Optuna optimisation history", "trial number", "macro-F1 (0-1)"),
        ),
        Panel(
            title="Parameter importances",
            caption="Which search choices explained the trials' macro-F1 (fANOVA); tune those first.",
            basis=basis,
            figure=figure(
                importances, "Hyperparameter importances", "importance for macro-F1 (share)", "parameter", legend=False
            ),
        ),
    ]


def card(report: ValidationReport | Missing, quote: Quote | None) -> Card:
    if isinstance(report, Missing) or quote is None:
        command = report.command if isinstance(report, Missing) else "make validate"
        return Card("Engagement (main task)", "not validated yet", "-", f"run {command}", None)
    wins = sum(m > b for m, b in zip(report.model.macro_f1_per_fold, report.baseline.macro_f1_per_fold, strict=True))
    n = len(report.model.macro_f1_per_fold)
    return Card.quoting(
        "Engagement (main task)", quote, f"beats the baseline on {wins} of {n} held-out folds", wins == n
    )


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The main task's section and its overview card (the tuning history from ``sources``' study)."""
    panels: list[Panel | Missing] = []
    report = sources.report(VALIDATION_REPORT, ValidationReport, "Macro-F1, confusion, per class", "make validate")
    saved = sources.model(MODEL_FILE, "clickstream", "Feature importance", "make train")
    predictions = sources.json(config.PREDICTIONS_FILE, "Class balance", "make predict")
    if isinstance(saved, Missing) or isinstance(predictions, Missing):
        panels.append(Missing("Class balance", "make predict", "needs the saved model and its predictions"))
    else:
        panels.append(class_balance(saved[1], predictions))
    panels += [report] if isinstance(report, Missing) else [per_fold(report), confusion(report), per_class(report)]
    train_dir = sources.data(config.TRAIN_DIR)
    if isinstance(saved, Missing) or train_dir is None:
        panels.append(Missing("Feature importance", "make train", "needs the saved model and train/"))
    else:
        explanation = explain(train_dir, saved[1]["params"])
        panels += [gain_importance(*saved), permutation(explanation), shap_summary(explanation)]
    panels += study_panels(sources.storage, sources.study or config.DEFAULT_STUDY, sources, report)
    intro = (
        "Engagement class (1 low, 2 medium, 3 high) of each user from their sessions, scored by macro-F1, so the "
        "rare high-engagement users count as much as the many low ones."
    )
    quote = sources.quote(SPEC)
    return Section("main", "Main task: engagement", intro, panels, quote=quote), [card(report, quote)]
