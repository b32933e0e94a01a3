"""The monitoring section: each task's last ``model.py monitor`` report (a batch file against the model's
training reference), and the figure the service's ``/monitor`` page draws for a worker's served window.

A marketer reads the bars: the training data's share in each bin beside the new rows' share; a drifted input's
title says so. The table beside it gives PSI and the test's p-value against the threshold that keeps false alarms
at ``alpha`` (docs/monitor.md says how it was calibrated).
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adpipe import config
from adpipe.drift import DriftReport, InputDrift
from adpipe.sections.page import BASELINE_COLOUR, MODEL_COLOUR, REFERENCE_COLOUR, Card, Missing, Panel, Section, Table
from adpipe.sections.page import figure as styled
from adpipe.sections.sources import Sources

COLUMNS = 3


def _title(drift: InputDrift, judged: bool) -> str:
    """The input's name, with its PSI and p-value once there are enough rows to judge it."""
    if not judged:
        return drift.field
    flag = "DRIFT " if drift.drifted else ""
    return f"{flag}{drift.field}<br>PSI {drift.psi:.3f}, p {drift.p_value:.2g}"  # a long name keeps its own line


def drift_figure(report: DriftReport) -> go.Figure:
    """Small multiples, one per input and the predictions: training share vs new rows' share per bin."""
    compared = report.compared
    rows = max(1, math.ceil(len(compared) / COLUMNS))
    fig = make_subplots(
        rows=rows,
        cols=COLUMNS,
        subplot_titles=[_title(d, report.judged) for d in compared],
        vertical_spacing=0.6 / rows,
    )
    for number, drift in enumerate(compared):
        where = {"row": number // COLUMNS + 1, "col": number % COLUMNS + 1}
        window = REFERENCE_COLOUR if drift.drifted else MODEL_COLOUR
        for name, shares, colour in (
            ("training", drift.reference, BASELINE_COLOUR),
            ("new rows", drift.window, window),
        ):
            fig.add_bar(
                x=drift.bins,
                y=shares,
                name=name,
                marker_color=colour,
                showlegend=number == 0,
                legendgroup=name,
                hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>",
                **where,
            )
    fig.update_yaxes(tickformat=".0%")
    title = f"{report.task}: {report.verdict}"
    fig.update_xaxes(tickangle=-45, tickfont={"size": 10})
    styled(fig, title, "", "share of rows", height=330 * rows, subplot_titles=True)
    for column in range(2, COLUMNS + 1):  # the value axis titled once per row, not on every small multiple
        fig.update_yaxes(title_text="", col=column)
    fig.update_annotations(font_size=13)
    return fig.update_layout(margin_t=fig.layout.margin.t + 18)  # the subplot titles' second line, under the legend


def drift_table(report: DriftReport) -> Table:
    """One row per test; below the minimum of rows, the inputs without their statistics (no verdict yet)."""
    compared = report.compared
    if not report.judged:
        wait = f"judged from {report.min_rows} rows"
        return Table(["input", "test", "verdict"], [[d.field, d.test, wait] for d in compared])
    rows = [
        [d.field, d.test, f"{d.psi:.3f}", f"{d.statistic:.3g}", f"{d.p_value:.3g}", "drift" if d.drifted else "–"]
        for d in compared
    ]
    verdict = f"verdict (p < {report.threshold:.2g}, PSI ≥ {report.min_psi:g})"
    return Table(["input", "test", "PSI", "statistic", "p-value", verdict], rows)


def label_free_line(report: DriftReport) -> str:
    """The classifier's label-free score beside what its held-out folds realised, in one line (or empty)."""
    estimate = report.label_free
    if estimate is None:
        return ""
    if estimate.estimated is None:
        return f"{estimate.metric} expected from the model's probabilities: {estimate.why}."
    parts = [f"{estimate.metric} expected from the model's probabilities: {estimate.estimated:.3f}"]
    if estimate.heldout_realised is not None and estimate.heldout_estimated is not None:
        parts.append(
            f"on its held-out folds the same estimate said {estimate.heldout_estimated:.3f} and the labels "
            f"{estimate.heldout_realised:.3f}"
        )
    if estimate.validation is not None:
        parts.append(f"validation report {estimate.validation:.3f}")
    return "; ".join(parts) + "."


def guard_line(report: DriftReport) -> str:
    if not report.rows:
        return ""
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(report.guarded.items()) if kind != "any")
    share = report.guarded.get("any", 0) / report.rows
    return f"{share:.1%} of the rows had a guard warning" + (f" ({kinds})." if kinds else ".")


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """One table and one figure per task that has a monitor report; a note naming the command otherwise."""
    from adpipe.tasks import TASKS

    intro = (
        "New rows (a month's export, the test split) against what each model was trained on: an input whose new "
        "rows fall in other bins than the training data's has drifted (red), and the model's validation figures "
        "may not hold for them."
    )
    how = (
        "An input drifts when its test says so at a threshold that calls at most 5% of windows of the training data "
        "itself drifted and its PSI is at least 0.1, a moderate shift (false-alarm and detection rates measured by "
        "model.py monitor-calibrate: docs/monitor.md)."
    )
    panels: list[Panel | Missing] = []
    for task in TASKS:
        path = config.monitor_report(task.name)
        if not sources.path(path).exists():
            continue
        report = sources.report(path, DriftReport, f"{task.name}: drift", f"python model.py monitor --task {task.name}")
        if isinstance(report, Missing):
            panels.append(report)
            continue
        basis = f"reports/{path.name}: {report.source}, {report.rows} rows vs {report.reference_rows} "
        basis += f"training rows; {guard_line(report)} {label_free_line(report)}"
        caption = "Grey: the training data's share in each bin; blue: the new rows' (red where the input drifted)."
        panels.append(
            Panel(f"{task.name}: inputs and predictions", caption, basis, figure=drift_figure(report), wide=True)
        )
        panels.append(
            Panel(
                f"{task.name}: drift tests",
                "One test per input; PSI is the effect size.",
                basis,
                table=drift_table(report),
            )
        )
    if not panels:
        panels.append(
            Missing(
                "Drift of new data",
                "python model.py monitor --task TASK --input FILE",
                "no monitor report yet (make report checks the ClickStream test users against train; other new "
                "data is yours to bring, e.g. this month's export)",
                shows="each input's share per bin in the new rows beside the training data's, with a drift verdict "
                "per input",
            )
        )
    return Section("monitor", "Monitoring", intro, panels, how=how), []
