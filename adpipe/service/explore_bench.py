"""``python model.py loadtest-explore``: the latency of ``GET /api/v1/explore/<dataset>`` as a client sees it.

Like ``loadtest`` (same server, same ``hey``): it starts ``python model.py serve`` on 127.0.0.1 with the fact
files given, and per data set measures the requests a filter change on the page sends: the cards (a dimension
value and the last 30 days), the daily trend (grouped by date) and bars by the first two dimensions over the same
30 days (both of the chart's KPI), and the daily trend of distinct users where there are users. Each URL is warmed
(the worker's first request builds or reads the data set) before it is measured. The targets (issue 34): p95 <=
300 ms on a fact file (10^7 synthetic sessions), <= 50 ms on the reference data sets, no error.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from adpipe.cli_support import format_table
from adpipe.errors import DataError
from adpipe.reports import Report, write_report
from adpipe.service.explore import REFERENCE
from adpipe.service.explore_page_bench import PageBench, render_page, run_page_bench
from adpipe.service.loadtest import HOST, hey, loopback_server

CONCURRENCY = 2  # requests in flight: one per worker
WARM_UP = 10  # per URL, unmeasured: every worker has read the data set and run the query once
REFERENCE_TARGET_MS, FILE_TARGET_MS = 50.0, 300.0


class Query(Report):
    dataset: str
    kind: str  # cards, trend, bars, trend of users
    url: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    target_ms: float
    met: bool


class ExploreBench(Report):
    date: str
    load_average: list[float]  # 1-minute load average before and after: others' work shares the cores
    protocol: str
    queries: list[Query]
    page: PageBench | None = None  # the offline page at 10^5 rows (--no-page: not measured)


def queries(described: dict) -> dict[str, dict[str, list[str]]]:
    """The requests of a data set (its description: :func:`adpipe.explore.facts.describe`) a change on the page
    sends: the cards (every KPI), the trend and the bars of the chart's KPI (the first one, the page's default);
    and, where users are counted distinct, the trend of users (the costliest chart)."""
    first, second = (d["name"] for d in described["dimensions"][:2])
    charted = [described["kpis"][0]["name"]]
    where = {f"where.{first}": [described["values"][first][0]]}
    span = {}
    if described["dates"] and described["dates"][1]:
        last = date.fromisoformat(described["dates"][1])
        span = {"date_from": [(last - timedelta(days=29)).isoformat()], "date_to": [last.isoformat()]}
    out = {"cards": where | span, "bars": span | {"group_by": [first, second], "kpi": charted}}
    if span:
        out["trend"] = where | {"group_by": ["date"], "kpi": charted}
        users = [k["name"] for k in described["kpis"] if described["distinct"] == k["numerator"]]
        if users:
            out["trend of users"] = where | {"group_by": ["date"], "kpi": users[:1]}
    return out


def run_bench(
    files: dict[str, Path], requests: int, seconds: float, workers: int, report: Path, page: bool = True
) -> ExploreBench:
    """The offline page's load and redraw (``page``), then: serve the reference data sets and ``files``, measure each
    one's requests, stop the server."""
    from adpipe.explore.facts import fact_file_description
    from adpipe.service.explore import ExploreData

    load_before = os.getloadavg()[0]
    page_bench = run_page_bench() if page else None
    served = ExploreData(files)
    options = [a for name, path in files.items() for a in ("--explore-data", f"{name}={path}")]
    measured = []
    with loopback_server(workers, options) as (base, _):
        for name in served.sources:
            target = REFERENCE_TARGET_MS if name in REFERENCE else FILE_TARGET_MS
            described = fact_file_description(files[name]) if name in files else served.get(name)[1]
            for kind, params in queries(described).items():
                url = f"{base}/api/v1/explore/{name}?{urlencode(params, doseq=True)}"
                hey(url, None, WARM_UP, CONCURRENCY, seconds)
                results = hey(url, None, requests, CONCURRENCY, seconds)
                latency = np.array([r[0] for r in results] or [np.nan]) * 1000.0
                p50, p95, p99 = (float(np.percentile(latency, q)) for q in (50, 95, 99))
                errors = sum(status != 200 for _, status, _ in results) + (requests - len(results))
                percentiles = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "p99_ms": round(p99, 1)}
                measured.append(
                    Query(dataset=name, kind=kind, url=url.removeprefix(base), requests=len(results), **percentiles,
                          errors=errors, target_ms=target, met=bool(p95 <= target and errors == 0))
                )  # fmt: skip
    if not measured:
        raise DataError("no request was measured")
    result = ExploreBench(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],
        protocol=f"python model.py serve --workers {workers}; hey on {HOST}, {CONCURRENCY} in flight, {requests} "
        f"requests per URL after {WARM_UP} unmeasured (warm: the data set read, the query run once); "
        f"{os.cpu_count()} cores",
        queries=measured,
        page=page_bench,
    )
    write_report(report, result)
    return result


def render(bench: ExploreBench) -> str:
    """The table of a run."""
    header = ["dataset", "request", "requests", "p50 ms", "p95 ms", "p99 ms", "errors", "target", ""]
    rows = [
        [q.dataset, q.kind, q.requests, q.p50_ms, q.p95_ms, q.p99_ms, q.errors, f"p95 <= {q.target_ms:.0f} ms"]
        + ["met" if q.met else "NOT met"]
        for q in bench.queries
    ]
    page = f"\n{render_page(bench.page)}" if bench.page else ""
    return f"{bench.date}; load average {bench.load_average}; {bench.protocol}\n{format_table(header, rows)}{page}"
