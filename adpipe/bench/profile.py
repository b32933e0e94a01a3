"""``python model.py bench profile``: where the in-memory and chunked engines spend a feature build's time.

The build is cut into cumulative stages — the raw read (every field as text), the typed and checked scan (the
fast path the engines try first, :mod:`features.tables.csv_typed`), the per-user aggregates without the distinct
counts and medians, then with the distinct counts, then with the medians (the whole of
:func:`features.clickstream.aggregate_per_user`), the join onto the user table, and the conversion to the pandas
feature table. Each stage's query is run from scratch by the chosen Polars engine, in
this one process with the files in the page cache, ``--repeats`` times (the median); a stage's own cost is its
time minus the previous stage's. The two reading stages end in each column's maximum, so every value is produced
without holding the whole table. A subtractive profile: Polars may fuse work across stages, so the parts are
what adding a stage costs, not a trace.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import polars as pl

from features.clickstream import FEATURES, MEDIAN, SESSION_VALUES, aggregate_per_user, feature_table, placed
from features.clickstream_loaders import (
    AT,
    SESSIONS_SCHEMA,
    file_format,
    load_users,
    scan_sessions,
    session_parts,
    sessions_source,
    users_file,
)
from features.schema import BAD

_DISTINCT = re.compile(r"\.n_unique\(")


def _aggregates(sessions: pl.LazyFrame, *, distinct: bool) -> pl.LazyFrame:
    """The per-user aggregates of the stages before the medians: without (or with) the distinct counts."""
    values = sessions.with_columns(value.alias(name) for name, value in SESSION_VALUES.items())
    kept = [
        f.expr.alias(f.name)
        for f in FEATURES
        if f.source == "sessions" and not MEDIAN.search(str(f.expr)) and (distinct or not _DISTINCT.search(str(f.expr)))
    ]
    return values.group_by("user_id").agg(*kept, pl.col(AT).filter(pl.col(BAD)).min().alias("_first_bad"))


def stages(directory: Path, engine: Literal["memory", "chunked"]) -> dict[str, Callable[[], Any]]:
    """Each cumulative stage of the test split's feature build in ``directory``, as a call that runs it."""
    polars_engine = "in-memory" if engine == "memory" else "streaming"
    source = sessions_source(directory, "test")
    users = load_users(users_file(directory, "test"), "test")

    def raw() -> Any:
        scans = [
            pl.scan_parquet(part)
            if file_format(part) == "parquet"
            else pl.scan_csv(part, separator=SESSIONS_SCHEMA.sep, infer_schema=False)
            for part in session_parts(source)
        ]
        return pl.concat(scans).select(pl.all().max()).collect(engine=polars_engine)

    def sessions() -> pl.LazyFrame:  # the checked scan the engines try first (each stage plans it afresh)
        return scan_sessions(source, typed=True).frame

    def checked() -> Any:
        return sessions().select(pl.all().max()).collect(engine=polars_engine)

    def aggregated(distinct: bool) -> Callable[[], Any]:
        return lambda: _aggregates(sessions(), distinct=distinct).collect(engine=polars_engine)

    def per_user() -> pl.DataFrame:
        return aggregate_per_user(sessions()).collect(engine=polars_engine)

    return {
        "read every field (CSV: as text)": raw,
        "+ types and value checks": checked,
        "+ per-user sums, means, spreads, counts": aggregated(False),
        "+ distinct counts (months, days, countries, IPs)": aggregated(True),
        "+ medians (second group_by, joined back)": per_user,
        "+ join onto the user table": lambda: placed(users, per_user()),
        "+ pandas feature table": lambda: feature_table(users, placed(users, per_user())),
    }


def profile(directory: Path, engine: Literal["memory", "chunked"], repeats: int = 3) -> list[dict[str, Any]]:
    """Each stage's median wall time over ``repeats`` runs and its own cost (the difference to the previous)."""
    rows, previous = [], 0.0
    for name, run in stages(directory, engine).items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows.append({"stage": name, "cumulative_s": median, "own_s": median - previous, "runs": times})
        previous = median
    return rows
