"""What a dashboard section is made of: panels, notes, overview cards, and the page's look for a figure.

A section is a list of panels. A panel is a plotly figure or a table, always with a title, a one-line caption
saying what to read in it and the protocol and baseline behind its numbers; or a note saying which command fills
it (and, for an input ``make report`` never makes, what it would show and why it is absent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from adpipe.reports import Headline, MeanStd

# One colour per role, the same in every figure: the model, its baseline, a reference (shuffled data, chance).
MODEL_COLOUR = "#1f77b4"
BASELINE_COLOUR = "#7f7f7f"
REFERENCE_COLOUR = "#d62728"
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class Table:
    """A small table; numbers are formatted by the section that builds it."""

    header: Sequence[str]
    rows: Sequence[Sequence[object]]


@dataclass(frozen=True)
class Panel:
    """One figure or table with what a reader needs to trust it."""

    title: str
    caption: str
    basis: str
    figure: go.Figure | None = None
    table: Table | None = None
    wide: bool = False  # spans the page's full width (small multiples, long tables)

    def __post_init__(self) -> None:
        if (self.figure is None) == (self.table is None):
            raise ValueError(f"panel {self.title!r} needs exactly one of a figure and a table")


@dataclass(frozen=True)
class Missing:
    """A panel whose input does not exist yet: why, the command that produces it, and (for an input `make report`
    never makes) what the panel would show, so a reader knows what is absent and why."""

    title: str
    command: str
    reason: str = "its input has not been produced yet"
    shows: str = ""  # what the panel would show, as a phrase after "It would show"


@dataclass(frozen=True)
class Quote:
    """A task's headline figure (:class:`~adpipe.reports.Headline`) where the page shows it: marked with the task's
    name, so a test can check that every place quotes the same figure."""

    task: str
    figure: Headline


@dataclass(frozen=True)
class Card:
    """An overview card: a task's headline figure beside its baseline and the verdict on its signal. A card that
    quotes the task's headline carries it as ``quote`` (its ``headline`` and ``baseline`` are then its words)."""

    task: str
    headline: str
    baseline: str
    verdict: str
    real: bool | None  # True: signal beats its reference; False: it does not; None: no verdict yet
    quote: Quote | None = None

    @classmethod
    def quoting(cls, title: str, quote: Quote, verdict: str, real: bool | None) -> Card:
        """The card of a task's headline figure, beside its baseline on the same folds."""
        return cls(title, quote.figure.text, quote.figure.against, verdict, real, quote)


@dataclass(frozen=True)
class Section:
    """One part of the page: the anchor ``key`` (also the browser test's handle), panels, overview cards."""

    key: str
    title: str
    intro: str
    panels: Sequence[Panel | Missing] = ()
    cards: Sequence[Card] = ()
    explorer: str = ""  # an Explore section's explorer (HTML from adpipe.explore.page.explorer), after the panels
    quote: Quote | None = None  # the task's headline figure, shown under the section's title
    how: str = ""  # how the section's figures are measured, in a "How this was measured" detail under the intro


def figure(
    fig: go.Figure,
    title: str,
    x_title: str,
    y_title: str,
    *,
    height: int = 420,
    legend: bool = True,
    legend_rows: int = 1,
    subplot_titles: bool = False,
) -> go.Figure:
    """The page's look for a plotly figure: its title, both axis titles (with units), the legend in rows
    between the title and the plot (above the subplot titles, if any), a height that leaves the plot its room."""
    rows = legend_rows if legend else 0
    extra = 24 * max(rows - 1, 0) + (26 if subplot_titles else 0)
    total = height + extra
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 1 - 12 / total, "yanchor": "top"},
        template="plotly_white",
        height=total,
        margin={"l": 70, "r": 30, "t": 50 + 26 * rows + (26 if subplot_titles else 0), "b": 60},
        showlegend=legend,
        legend={"orientation": "h", "yref": "container", "yanchor": "top", "y": 1 - 44 / total, "x": 0.0},
        font={"size": 13},
    )
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def mean_std(value: MeanStd, digits: int = 4) -> str:
    """A figure over folds as the page prints it everywhere: mean ± std."""
    return f"{value.mean:.{digits}f} ± {value.std:.{digits}f}"
