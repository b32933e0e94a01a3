"""The offline Explore page: one self-contained HTML file (plotly.js inline, our ``explore.js``, the facts as a
columnar JSON payload) whose slicers, KPI cards, trend and bars recompute in the browser. An explorer
(:func:`explorer`: ``explorer.html.j2``) is self-contained, so a host page (``make report``) can hold several, with
:func:`assets` (the script and style) and plotly.js once.

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

from adpipe.explore.facts import DATE, ROWS, Facts, cube
from adpipe.explore.plan import Plan, mismatch, plan_payload
from adpipe.io import write_bytes_atomic

EMBED_ROWS = 300_000  # above this many facts the page embeds the cube of additive measures, never raw rows
NO_DAY = -(2**31)  # a fact without a date: outside every date range
_EPOCH = date(1970, 1, 1)


def _day(iso: str) -> int:
    return (date.fromisoformat(iso) - _EPOCH).days


def _natural(values: list[str]) -> list[str]:
    """Numbers by value (campaign ids, interests), then text."""
    return sorted(values, key=lambda v: (0, float(v), v) if v.replace(".", "", 1).isdigit() else (1, 0.0, v))


def _codes(column: pl.Series, order: tuple[str, ...] | None) -> tuple[list[str], list[int]]:
    present = column.unique().to_list()
    values = (
        [v for v in order if v in present] + _natural([v for v in present if v not in order])
        if order
        else (_natural(present))
    )
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


def _asset(name: str) -> str:
    return files("adpipe.explore").joinpath(name).read_text(encoding="utf-8")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("adpipe.explore", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def assets() -> tuple[Markup, Markup]:
    """The explorers' style and script, once per page (after every explorer: the script finds them all)."""
    return Markup(_asset("explore.css")), Markup(_asset("explore.js"))


def explorer(facts: Facts, *, prefix: str = "", plan: Plan | None = None) -> Markup:
    """One explorer's HTML. ``prefix`` keys its filters in the URL fragment (several explorers on one page)."""
    data = payload(facts, plan)
    script = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    dates = data["date"]
    return Markup(
        _environment()
        .get_template("explorer.html.j2")
        .render(
            data=data,
            prefix=prefix,
            dates={"min": _iso(dates["min"]), "max": _iso(dates["max"])} if dates else None,  # type: ignore[index]
            measured=[m for m in facts.measures if m != ROWS],
            payload=Markup(script),
        )
    )


def render(facts: Facts, plan: Plan | None = None) -> str:
    """The whole page as one HTML string."""
    style, script = assets()
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            title=facts.title,
            explorer=explorer(facts, plan=plan),
            plotlyjs=Markup(get_plotlyjs()),
            script=script,
            style=style,
        )
    )


def _iso(day: int) -> str:
    return date.fromordinal(_EPOCH.toordinal() + day).isoformat()


def write_page(facts: Facts, output: str | Path, plan: Plan | None = None) -> Path:
    """Write the page atomically (a failed build leaves the previous file as it was)."""
    return write_bytes_atomic(Path(output), render(facts, plan).encode("utf-8"))
