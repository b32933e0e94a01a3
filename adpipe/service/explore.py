"""Explore live (issue 34, docs/explore.md "In the service"): ``/explore/<dataset>``, the Explore page with the
same script as the offline file, asking ``GET /api/v1/explore/<dataset>`` for each visual's aggregates.

The answer is :func:`adpipe.explore.facts.aggregate` (Polars) over the data set's facts, for a filter given in
the query: stateless, so any worker answers any request. Each worker builds or opens a data set at its first
request and keeps it: the reference ones (campaigns, CTR, ClickStream) are built from their files; a fact file
(``serve --explore-data NAME=FILE.parquet``, :func:`adpipe.explore.facts.write_facts`) is read whole into memory:
scanning the Parquet file at every request was 5-7 times slower at 10^7 facts (docs/explore.md). Under
``/api/``, so the API keys guard it like every other route.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.explore.facts import DATE, ROWS, WEEK, Facts, Filter, aggregate, describe, fact_file_description
from adpipe.service.api import VERSION
from adpipe.service.echo import elide

EXPLORE_DATA_ENV = "ADPIPE_EXPLORE_DATA"  # NAME=FILE.parquet[,NAME=FILE.parquet...]: the fact files served
MAX_GROUP_BY = 2  # columns one answer groups by (device x user category; a trend by date and one dimension)
WHERE = "where."  # where.<column>=<value>, once per value kept
DATE_FROM, DATE_TO, GROUP_BY, KPI = "date_from", "date_to", "group_by", "kpi"
PAGE = "/explore"
ASSETS = f"{PAGE}/assets"  # the page's scripts (adpipe.explore.page.SCRIPTS) and plotly.js
PLOTLY = f"{ASSETS}/plotly.js"
REFERENCE = ("campaigns", "ctr", "clickstream")  # names tasks: explore's reference data sets, not the task list


def _reference() -> dict[str, Callable[[], Facts]]:
    """The builders of the :data:`REFERENCE` data sets, from the project's files."""
    from adpipe.explore import datasets

    return {
        "campaigns": lambda: datasets.campaign_facts(config.CAMPAIGNS_FILE),
        "ctr": lambda: datasets.ctr_facts(config.CTR_FILE),
        "clickstream": lambda: datasets.clickstream_facts({"train": config.TRAIN_DIR, "test": config.TEST_DIR}),
    }


def parse_explore_data(specs: list[str], environ: dict[str, str] | None = None) -> dict[str, Path]:
    """``NAME=FILE`` pairs (``serve --explore-data``, else :data:`EXPLORE_DATA_ENV` comma-separated): each file a
    fact file (``python model.py explore ... --output FILE.parquet``), checked now, read at its first request."""
    if not specs:
        text = (environ if environ is not None else dict(os.environ)).get(EXPLORE_DATA_ENV, "")
        specs = [s for s in text.split(",") if s.strip()]
    files: dict[str, Path] = {}
    for spec in specs:
        name, _, path = spec.strip().partition("=")
        if not name or not path or not name.replace("-", "").replace("_", "").isalnum():
            raise OptionError(f"{spec!r} is not NAME=FILE (NAME: letters, digits, - and _)", option="--explore-data")
        if name in REFERENCE or name in files:
            raise OptionError(f"the data set name {name!r} is taken", option="--explore-data")
        fact_file_description(path)  # not a fact file: a one-line error naming it
        files[name] = Path(path)
    return files


class ExploreData:
    """The data sets a worker serves, each built or opened at its first request and kept."""

    def __init__(self, files: dict[str, Path] | None = None) -> None:
        from adpipe.explore.facts import read_facts

        self.sources: dict[str, Callable[[], tuple[Facts, dict]]] = {
            name: (lambda build=build: self._in_memory(build())) for name, build in _reference().items()
        }
        self.sources |= {name: (lambda path=path: read_facts(path)) for name, path in (files or {}).items()}
        self._held: dict[str, tuple[Facts, dict]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _in_memory(facts: Facts) -> tuple[Facts, dict]:
        return facts, describe(facts)

    def get(self, name: str) -> tuple[Facts, dict]:
        """The data set's facts and description (:func:`adpipe.explore.facts.describe`); 422 for an unknown one."""
        if name not in self.sources:
            raise Refused(["path", "dataset"], f"unknown data set {name!r}: one of {', '.join(self.sources)}")
        held = self._held.get(name)
        if held is None:
            with self._lock:  # concurrent first requests build it once
                held = self._held.get(name) or self.sources[name]()
                self._held[name] = held
        return held


class Refused(Exception):
    """A request the API answers 422, naming the parameter (``loc``, FastAPI's validation-error shape)."""

    def __init__(self, loc: list[str], message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message

    def http(self) -> HTTPException:
        return HTTPException(422, [{"loc": self.loc, "msg": self.message, "type": "value_error"}])


def _day(parameter: str, text: str) -> str:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise Refused(["query", parameter], f"{elide(text)!r} is not a date as YYYY-MM-DD") from None


def parse_query(
    items: list[tuple[str, str]], facts: Facts, described: dict
) -> tuple[Filter, list[str], list[str] | None]:
    """The filter, grouping and KPIs (None: all) of a query string's ``(name, value)`` pairs; a :class:`Refused`
    naming the first bad parameter: an unknown one, column, value or KPI, a date that is not one, an inverted
    range, too many groups."""
    values: dict[str, list[str]] = {}
    dates: dict[str, str] = {}
    by: list[str] = []
    kpis: list[str] = []
    known_kpis = [k.name for k in facts.kpis]
    groupable = [*facts.dimension_names, *([DATE, WEEK] if facts.has_date else [])]
    for parameter, value in items:
        if parameter.startswith(WHERE):
            column = parameter[len(WHERE) :]
            if column not in described["values"]:
                raise Refused(["query", parameter], f"unknown column {elide(column)!r} of {facts.name}")
            if value not in described["values"][column]:
                raise Refused(["query", parameter], f"{elide(value)!r} is not a value of {column!r}")
            values.setdefault(column, []).append(value)
        elif parameter in (DATE_FROM, DATE_TO):
            if not facts.has_date:
                raise Refused(["query", parameter], f"{facts.name} has no date")
            if parameter in dates:
                raise Refused(["query", parameter], f"{parameter} given twice")
            dates[parameter] = _day(parameter, value)
        elif parameter == GROUP_BY:
            if value not in groupable:
                raise Refused(["query", GROUP_BY], f"cannot group by {elide(value)!r}: one of {', '.join(groupable)}")
            if value in by:
                raise Refused(["query", GROUP_BY], f"{value!r} given twice")
            by.append(value)
        elif parameter == KPI:
            if value not in known_kpis:
                raise Refused(["query", KPI], f"unknown KPI {elide(value)!r}: one of {', '.join(known_kpis)}")
            kpis.append(value)
        else:
            raise Refused(["query", elide(parameter)], f"unknown parameter: use {WHERE}<column>, {DATE_FROM}, "
                          f"{DATE_TO}, {GROUP_BY}, {KPI}")  # fmt: skip
    if len(by) > MAX_GROUP_BY:
        raise Refused(["query", GROUP_BY], f"{len(by)} group_by columns: at most {MAX_GROUP_BY}")
    if DATE_FROM in dates and DATE_TO in dates and dates[DATE_FROM] > dates[DATE_TO]:
        raise Refused(["query", DATE_FROM], f"{DATE_FROM} {dates[DATE_FROM]} is after {DATE_TO} {dates[DATE_TO]}")
    return Filter(values, dates.get(DATE_FROM), dates.get(DATE_TO)), by, kpis or None


def answer(facts: Facts, where: Filter, by: list[str], kpis: list[str] | None = None) -> dict[str, Any]:
    """The JSON answer: one group per value of ``by`` (one, keyed ``{}``, without it), each with its totals (the
    measures' sums, the distinct count: those the KPIs use) and KPIs (``kpis``, or all; null when no fact matched or
    the denominator is 0); ``no_rows`` when the filter kept no fact."""
    table = aggregate(facts, where, by, kpis).with_columns(pl.col(name).cast(pl.String) for name in by)  # Enum, Date
    totals = [name for name in (*facts.measures, facts.distinct) if name is not None and name in table.columns]
    chosen = [kpi.name for kpi in facts.kpis if kpi.name in (kpis or [kpi.name])]
    groups = [
        {
            "key": {name: row[name] for name in by},
            # a KPI named like its measure (sessions: the sum, scale 1) takes the measure's column: 0 when no row
            "totals": {name: row[name] if row[ROWS] else 0.0 for name in totals},
            "kpis": {name: row[name] for name in chosen},
        }
        for row in table.iter_rows(named=True)
    ]
    matched = sum(g["totals"][ROWS] for g in groups)
    filtered = {
        "where": {k: list(v) for k, v in where.values.items()},
        DATE_FROM: where.date_from,
        DATE_TO: where.date_to,
    }
    return {"dataset": facts.name, "filter": filtered, GROUP_BY: by, "no_rows": matched == 0, "groups": groups}


def _served(request: Request, dataset: str) -> tuple[Facts, dict]:
    """The data set, or a 422 (unknown) or 503 (its files cannot be read: the worker says which)."""
    try:
        return request.app.state.explore.get(dataset)
    except Refused as refused:
        raise refused.http() from None
    except DataError as error:
        raise HTTPException(503, f"cannot read the data set {dataset!r}: {error}") from None


@cache
def _plotly() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def explore_router() -> APIRouter:
    """``GET /api/v1/explore/<dataset>`` (the aggregates), ``/explore`` (the data sets), ``/explore/<dataset>``
    (the page) and its scripts."""
    from adpipe.explore.page import SCRIPTS, asset, render_live

    router = APIRouter()
    api = f"/api/{VERSION}/explore"
    cached = {"Cache-Control": "public, max-age=3600"}

    @router.get(f"{api}/{{dataset}}", tags=["explore"], summary="Explore: the totals and KPIs of a filter")
    def aggregates(request: Request, dataset: str) -> Response:
        """The totals and KPIs of the facts a filter keeps, optionally grouped: ``where.<column>=<value>`` (once per
        kept value), ``date_from``/``date_to`` (YYYY-MM-DD, inclusive), ``group_by`` (a column, ``date`` or
        ``week``; at most two), ``kpi`` (only these KPIs; default all). A bad parameter is a 422 naming it
        (docs/explore.md)."""
        facts, described = _served(request, dataset)
        try:
            where, by, kpis = parse_query(request.query_params.multi_items(), facts, described)
        except Refused as refused:
            raise refused.http() from None
        return JSONResponse(answer(facts, where, by, kpis))

    @router.get(f"{ASSETS}/{{name}}", include_in_schema=False)
    def script(name: str) -> Response:
        if name not in (*SCRIPTS, Path(PLOTLY).name):
            raise HTTPException(404, f"no script {elide(name)!r}")
        text = asset(name) if name in SCRIPTS else _plotly()
        return Response(text, media_type="text/javascript", headers=cached)

    @router.get(PAGE, include_in_schema=False, response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        links = "".join(f'<li><a href="{PAGE}/{name}">{name}</a></li>' for name in request.app.state.explore.sources)
        return HTMLResponse(f"<!DOCTYPE html><title>Explore</title><h1>Explore</h1><ul>{links}</ul>")

    @router.get(f"{PAGE}/{{dataset}}", include_in_schema=False, response_class=HTMLResponse)
    def page(request: Request, dataset: str) -> HTMLResponse:
        if dataset not in request.app.state.explore.sources:
            raise HTTPException(404, f"unknown data set {dataset!r}")
        _, described = _served(request, dataset)
        return HTMLResponse(render_live(described, f"{api}/{dataset}", [f"{ASSETS}/{n}" for n in SCRIPTS], PLOTLY))

    return router
