"""The conversion section: does anything predict a user's conversion rate better than its mean?

Read from ``reports/conversion_validation.json`` (:class:`~adpipe.conversion.report.ConversionReport`): each
model's R² gain over the mean baseline with the real target beside the shuffled targets' null.
"""

from __future__ import annotations

import plotly.graph_objects as go

from adpipe.conversion import SPEC
from adpipe.conversion.defaults import VALIDATION_REPORT
from adpipe.conversion.report import ConversionReport
from adpipe.sections.page import (
    BASELINE_COLOUR,
    MODEL_COLOUR,
    REFERENCE_COLOUR,
    Card,
    Missing,
    Panel,
    Quote,
    Section,
    figure,
)
from adpipe.sections.sources import Sources


def permutation_test(report: ConversionReport) -> Panel:
    test = report.permutation_test
    names = list(test.models)
    models = list(test.models.values())
    fig = go.Figure()
    fig.add_scatter(
        x=names,
        y=[m.null_r2_gain.mean for m in models],
        error_y={"type": "data", "array": [2 * m.null_r2_gain.std for m in models]},
        mode="markers",
        name="shuffled target (mean ± 2 std)",
        marker={"color": REFERENCE_COLOUR, "size": 10, "symbol": "line-ew-open", "line": {"width": 3}},
    )
    fig.add_scatter(
        x=names,
        y=[m.r2_gain for m in models],
        mode="markers",
        name="real target",
        marker={"color": MODEL_COLOUR, "size": 12},
        customdata=[[m.p_value, m.p_value_adjusted] for m in models],
        hovertemplate="%{x}: gain %{y:.4f}, p %{customdata[0]:.3f}, adjusted %{customdata[1]:.3f}<extra></extra>",
    )
    fig.add_hline(y=0, line_color=BASELINE_COLOUR)
    return Panel(
        title="Conversion: permutation test",
        caption=f"Each model's R² gain over the mean baseline with the real conversion rates against shuffled ones; "
        f"a real dot inside the null's band is no signal. {report.verdict}",
        basis=f"{test.statistic}; {test.n_permutations} shuffles, seed {test.seed}; {test.method}. "
        "The report keeps the null's mean and std, not each shuffle, so no histogram is drawn.",
        figure=figure(fig, "R² gain over the mean baseline: real vs shuffled target", "model", "R² gain (R² points)"),
    )


def card(conversion_report: ConversionReport | Missing, quote: Quote | None) -> Card:
    if isinstance(conversion_report, Missing) or quote is None:
        command = conversion_report.command if isinstance(conversion_report, Missing) else "make conversion"
        return Card("Conversion rate", "not validated yet", "-", f"run {command}", None)
    verdict = f"saved: {conversion_report.chosen}. {conversion_report.verdict}"
    return Card.quoting("Conversion rate", quote, verdict, conversion_report.signal)


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The conversion section and its overview card."""
    report = sources.report(VALIDATION_REPORT, ConversionReport, "Conversion: permutation test", "make conversion")
    panels = [report if isinstance(report, Missing) else permutation_test(report)]
    intro = "Does any model predict a user's conversion rate better than its mean, beyond what shuffled targets give?"
    quote = sources.quote(SPEC)
    return Section("conversion", "Conversion rate", intro, panels, quote=quote), [card(report, quote)]
