"""The scale section: feature-build throughput and peak memory by input size, per engine, from
``reports/bench.json`` (``make bench``, about 15 minutes: never run by ``make report``).

The benchmark has no typed report yet, so its JSON is read as a plain mapping here; switch to its dataclass
when it lands.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import plotly.graph_objects as go

from adpipe.bench.run import BENCH_REPORT, ENGINES
from adpipe.sections.page import CLASS_COLOURS, Card, Missing, Panel, Section, figure
from adpipe.sections.sources import Sources


def _engines(report: dict[str, Any]) -> list[str]:
    return [e for e in ENGINES if any(e in size for size in report["sizes"])]


def _basis(report: dict[str, Any]) -> str:
    protocol, machine = report["protocol"], report["machine"]
    return (
        f"reports/bench.json: {protocol['statistic']} of up to {protocol['repeats']} runs; {protocol['timed']}; "
        f"{protocol['data']}; {report['cores']} cores ({machine.get('cpu', 'cpu unknown')}). Baseline: plain pandas."
    )


def _family(engine: str) -> str:
    """An engine without its input: one colour per family, dotted for Parquet."""
    return "read" if engine.startswith("read-") else engine.removesuffix("-parquet")


def by_size(report: dict[str, Any], key: str, title: str, y_title: str, caption: str) -> Panel:
    fig = go.Figure()
    engines = _engines(report)
    families = list(dict.fromkeys(_family(engine) for engine in engines))
    for engine in engines:
        sizes = [size for size in report["sizes"] if engine in size]
        colour = CLASS_COLOURS[families.index(_family(engine)) % len(CLASS_COLOURS)]
        fig.add_scatter(
            x=[size["sessions"] for size in sizes],
            y=[size[engine][key] for size in sizes],
            mode="lines+markers",
            name=engine,
            line={"color": colour, "dash": "dot" if engine.endswith("-parquet") else "solid"},
            hovertemplate="%{x:,} sessions: %{y:,.0f}<extra>" + engine + "</extra>",
        )
    fig.update_xaxes(type="log", dtick=1)
    fig.update_yaxes(type="log")
    return Panel(
        title=title,
        caption=caption,
        basis=_basis(report),
        figure=figure(fig, title, "sessions in the input (log scale)", y_title),
    )


def section(sources: Sources) -> tuple[Section, list[Card]]:
    """The scale section; no overview card (it measures speed, not a signal)."""
    report = sources.json(BENCH_REPORT, "Throughput and peak memory by input size", "make bench")
    intro = (
        "How the per-user feature build scales with the number of sessions, for each engine (log-log); dotted: "
        "from Parquet. read-csv and read-parquet are the parse floor: Polars reading the sessions whole, no feature."
    )
    if isinstance(report, Missing):
        absent = replace(
            report,
            reason=f"{report.reason}: make report never runs the benchmark, about 15 minutes of every core and "
            "several GB of memory at 10^7 sessions (docs/bench.md has the last measured figures, with their load)",
            shows="sessions per second and peak memory from 10^5 to 10^7 sessions for each engine, beside the parse "
            "floor (Polars reading the sessions whole)",
        )
        return Section("scale", "Scale", intro, [absent]), []
    panels: list[Panel | Missing] = [
        by_size(
            report,
            "sessions_per_s",
            "Feature-build throughput",
            "sessions per second (log scale)",
            "Higher is faster; a line that falls as the input grows does not scale linearly.",
        ),
        by_size(
            report,
            "peak_rss_mb",
            "Peak memory",
            "peak resident memory (MB, log scale)",
            "Lower is better; compare with the session CSV's size to see how much memory a row costs.",
        ),
    ]
    return Section("scale", "Scale", intro, panels), []
