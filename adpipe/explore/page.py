"""The offline Explore page: one self-contained HTML file (plotly.js inline, our :data:`SCRIPTS`, the facts as a
columnar JSON payload) whose slicers, KPI cards, trend and bars recompute in the browser. An explorer
(:func:`explorer`: ``explorer.html.j2``) is self-contained, so a host page (``make report``) can hold several, with
:func:`assets` (the scripts and style) and plotly.js once. The service's live page (:func:`render_live`) holds one
explorer of the same template and scripts whose payload names the API answering its aggregates instead of rows.

The payload is the facts column by column: each dimension as its values (the strings the options carry) and one
integer code per row, the date as a day number (days since 1970-01-01), the measures as numbers, the distinct key
as codes. Facts beyond :data:`EMBED_ROWS` are embedded as their cube (:func:`adpipe.explore.facts.cube`).
"""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from pathlib import Path

import jinja2
import polars as pl
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from adpipe.explore.facts import DATE, NO_DATE, ROWS, Facts, cube
from adpipe.explore.plan import Plan, mismatch, plan_payload
from adpipe.io import write_bytes_atomic

SCRIPTS = ("explore_compute.js", "explore_live.js", "explore.js", "explore_plan.js")  # the explorers', in order
EMBED_ROWS = 300_000  # above this many facts the page embeds the cube of additive measures, never raw rows
NO_DAY = -(2**31)  # a fact without a date: outside every date range
_EPOCH = date(1970, 1, 1)


def _day(iso: str) -> int:
    return (date.fromisoformat(iso) - _EPOCH).days


def _natural(values: list[str]) -> list[str]:
    """Numbers by value (campaign ids, interests), then text."""
    return sorted(values, key=lambda v: (0, float(v), v) if v.replace(".", "", 1).isdigit() else (1, 0.0, v))


def _ordered(present: list[str], order: tuple[str, ...] | None) -> list[str]:
    """A dimension's values in the options' order: its natural order first where it has one, then by value."""
    if not order:
        return _natural(present)
    return [v for v in order if v in present] + _natural([v for v in present if v not in order])


def _codes(column: pl.Series, order: tuple[str, ...] | None) -> tuple[list[str], list[int]]:
    values = _ordered(column.unique().to_list(), order)
    index = pl.DataFrame({"value": values, "code": range(len(values))})
    codes = pl.DataFrame({"value": column}).join(index, on="value", how="left", maintain_order="left")["code"]
    return values, codes.to_list()


def payload(facts: Facts, plan: Plan | None = None) -> dict[str, object]:
    """What the page's script reads: the facts column by column, the KPIs' definitions, the notes, and the plan
    when its segments are the facts' (otherwise a note says why it is not shown)."""
    if facts.frame.height > EMBED_ROWS:
        facts = cube(facts)
    frame = facts.frame
    dimensions = []
    for dimension in facts.dimensions:
        values, codes = _codes(frame[dimension.name], dimension.order)
        ordered = dimension.order is not None
        dimensions.append(
            {"name": dimension.name, "label": dimension.label, "ordered": ordered, "values": values, "codes": codes}
        )
    data: dict[str, object] = {
        "name": facts.name,
        "title": facts.title,
        "notes": list(facts.notes),
        "rows": frame.height,
        "dimensions": dimensions,
        "measures": {m: frame[m].to_list() for m in facts.measures},
        "kpis": [k.__dict__ for k in facts.kpis],
        "date": None,
        "distinct": None,
        "plan": None,
    }
    if plan is not None:
        values = {d["name"]: d["values"] for d in dimensions}
        reason = mismatch(plan, values)  # type: ignore[arg-type]
        if reason is None:
            data["plan"] = plan_payload(plan, values)  # type: ignore[arg-type]
        else:
            data["notes"] = [*facts.notes, f"No budget plan beside the KPIs: {reason}."]
    if facts.has_date:
        days = [NO_DAY if d is None else _day(d) for d in frame[DATE].to_list()]
        known = [d for d in days if d != NO_DAY]
        data["date"] = {"days": days, "missing": NO_DAY, "min": min(known, default=0), "max": max(known, default=0)}
    if facts.distinct is not None:
        values, codes = _codes(frame[facts.distinct], None)
        data["distinct"] = {"name": facts.distinct, "values": values, "codes": codes}
    return data


def asset(name: str) -> str:
    """A file shipped with the page (:data:`SCRIPTS`, ``explore.css``)."""
    return files("adpipe.explore").joinpath(name).read_text(encoding="utf-8")


def live_payload(described: dict, api: str) -> dict[str, object]:
    """What the live page's script reads (``/explore/<dataset>`` in the service): the description of the facts
    (:func:`adpipe.explore.facts.describe`) and the URL answering their aggregates, no row."""
    dimensions = [
        {"name": d["name"], "label": d["label"], "ordered": d["order"] is not None}
        | {"values": _ordered(described["values"][d["name"]], tuple(d["order"]) if d["order"] else None)}
        for d in described["dimensions"]
    ]
    dates = described["dates"]
    return {
        "name": described["name"],
        "title": described["title"],
        "notes": described["notes"],
        "rows": described["rows"],
        "dimensions": dimensions,
        "kpis": described["kpis"],
        "date": {"min": _day(dates[0]) if dates[0] else 0, "max": _day(dates[1]) if dates[1] else 0} if dates else None,
        "distinct": None,
        "plan": None,
        "api": {"url": api, "measures": described["measures"]},
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("adpipe.explore", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def assets() -> tuple[Markup, Markup]:
    """The explorers' style and scripts (:data:`SCRIPTS` in order), once per page after every explorer: the
    script finds them all."""
    return Markup(asset("explore.css")), Markup("\n".join(asset(name) for name in SCRIPTS))


def _explorer(data: dict[str, object], measured: list[str], prefix: str = "", live: bool = False) -> Markup:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    dates = data["date"]
    return Markup(
        _environment()
        .get_template("explorer.html.j2")
        .render(
            data=data,
            prefix=prefix,
            dates={"min": _iso(dates["min"]), "max": _iso(dates["max"])} if dates else None,  # type: ignore[index]
            measured=measured,
            payload=Markup(text),
            live=live,
            no_date=NO_DATE,
        )
    )


def explorer(facts: Facts, *, prefix: str = "", plan: Plan | None = None) -> Markup:
    """One explorer's HTML. ``prefix`` keys its filters in the URL fragment (several explorers on one page)."""
    return _explorer(payload(facts, plan), [m for m in facts.measures if m != ROWS], prefix)


def render(facts: Facts, plan: Plan | None = None) -> str:
    """The whole offline page as one HTML string."""
    style, script = assets()
    return _page(facts.title, explorer(facts, plan=plan), style, script=script, plotly=Markup(get_plotlyjs()))


def render_live(described: dict, api: str, script_urls: list[str], plotly_url: str) -> str:
    """The live page: the same explorer and scripts (loaded from ``script_urls``, :data:`SCRIPTS` in order), the
    aggregates asked of ``api``."""
    measured = [m for m in described["measures"] if m != ROWS]
    live = {"api": api, "scripts": script_urls, "plotly": plotly_url}
    explorer_html = _explorer(live_payload(described, api), measured, live=True)
    return _page(described["title"], explorer_html, Markup(asset("explore.css")), live=live)


def _page(
    title: str, explorer_html: Markup, style: Markup, script: str = "", plotly: str = "", live: dict | None = None
) -> str:
    """The host page of one explorer: its scripts and plotly.js inline, or (``live``) their URLs."""
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            title=title,
            explorer=explorer_html,
            style=style,
            script=Markup(script),
            plotlyjs=Markup(plotly),
            live=live,
        )
    )


def _iso(day: int) -> str:
    return date.fromordinal(_EPOCH.toordinal() + day).isoformat()


def write_page(facts: Facts, output: str | Path, plan: Plan | None = None) -> Path:
    """Write the page atomically (a failed build leaves the previous file as it was)."""
    return write_bytes_atomic(Path(output), render(facts, plan).encode("utf-8"))
