"""How the main task's sessions become per-user rows: the engine that aggregates them (Polars in memory, Polars
streaming in chunks, or a Dask cluster: :mod:`adpipe.clickstream.engine_dask`), chosen by size, and the split
they make with their users.

The features themselves are :data:`features.clickstream.FEATURES`, one definition whatever the engine: each
engine applies :func:`features.clickstream.per_user` to its sessions (all of them, a stream, or one partition
of users at a time), and the loaders' value checks travel in the same pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import polars as pl
import psutil

from adpipe.clickstream.engine_options import Engine
from adpipe.errors import DataError
from features.clickstream import POSITION, aggregate_per_user, feature_table, placed
from features.clickstream_loaders import (
    AT,
    TARGET,
    SessionScan,
    Split,
    TextScanNeeded,
    file_format,
    read_split_files,
    scan_parts,
    split_sessions,
)
from features.schema import BAD, Format

# Measured on this project's 2-core machine (Polars 2.1, synthetic sessions, fresh process per run, median of
# 2-4 runs under a shared load; docs/clickstream.md, "Engines"): the in-memory engine is up to 10% faster up
# to about 3*10^5 sessions (55 MB of CSV, 13 MB of Parquet); from 10^6 sessions the streaming engine is
# faster (10^7 sessions of CSV: 9-10 s against 17-28 s) and needs less memory (3.3 GB against 4.8 GB).
# So "auto" takes the in-memory engine only for inputs below these sizes on disk, and only if they fit.
IN_MEMORY_FASTER_UP_TO: dict[Format, int] = {"csv": 48 << 20, "parquet": 16 << 20}
# Peak resident memory of the in-memory engine per byte of sessions on disk, imports excluded: at 10^7
# sessions 4.8 GB for 1.84 GB of CSV (2.7) and 3.0 GB for 0.42 GB of zstd Parquet (7.0); at 10^6 fixed costs
# weigh more (3.9 and 10.8), which the headroom below covers.
MEMORY_PER_DISK_BYTE: dict[Format, float] = {"csv": 2.7, "parquet": 7.0}
# ... and the estimate must be within this share of the memory available now (psutil).
MEMORY_SHARE = 0.5
# Peak resident memory of the chunked (streaming) engine per byte on disk, quiet run of 2026-12-01 at 10^7
# sessions: 3.5 GB for 1.75 GB of CSV (2.0) and 3.0 GB for 0.40 GB of Parquet (7.5). Its group_by keeps every
# user's values for the medians and distinct counts, so it grows with the input: at 10^8 sessions (17.5 GB of
# CSV) the kernel killed it at 23.5 GB. When even it would not fit, "auto" runs a local Dask cluster, whose
# workers hold one partition at a time (10^8 sessions: 2.4 GB per worker; docs/bench.md).
CHUNKED_MEMORY_PER_DISK_BYTE: dict[Format, float] = {"csv": 2.0, "parquet": 7.5}


@dataclass(frozen=True)
class EngineChoice:
    """The engine that aggregates a split's sessions, and why (what the commands print)."""

    engine: Literal["memory", "chunked", "dask"]
    reason: str


def choose_engine(parts: Sequence[Path], requested: Engine = "auto") -> EngineChoice:
    """``requested``; for "auto" the in-memory engine on a small input that fits in memory, else the chunked one,
    or a local Dask cluster when the chunked one would not fit either.

    Small is below :data:`IN_MEMORY_FASTER_UP_TO` on disk; fits is the size on disk times
    :data:`MEMORY_PER_DISK_BYTE` (:data:`CHUNKED_MEMORY_PER_DISK_BYTE`) within :data:`MEMORY_SHARE` of
    psutil's available memory.
    """
    if requested != "auto":
        return EngineChoice(requested, f"{requested} engine (--engine {requested})")
    kind = file_format(parts[0])
    on_disk = sum(part.stat().st_size for part in parts if part.is_file())
    needed, available = on_disk * MEMORY_PER_DISK_BYTE[kind], psutil.virtual_memory().available
    sizes = f"{len(parts)} {kind} part(s), {on_disk / 2**20:,.0f} MB"
    limit = IN_MEMORY_FASTER_UP_TO[kind] >> 20
    free = f"{MEMORY_SHARE:.0%} of {available / 2**20:,.0f} MB available"
    streamed = on_disk * CHUNKED_MEMORY_PER_DISK_BYTE[kind]
    if streamed > MEMORY_SHARE * available:
        return EngineChoice(
            "dask", f"dask engine, local cluster: {sizes} need about {streamed / 2**20:,.0f} MB streamed, over {free}"
        )
    if on_disk > IN_MEMORY_FASTER_UP_TO[kind]:
        return EngineChoice("chunked", f"chunked engine: {sizes} (above {limit} MB streaming is faster than in memory)")
    if needed > MEMORY_SHARE * available:
        return EngineChoice("chunked", f"chunked engine: {sizes} need about {needed / 2**20:,.0f} MB, over {free}")
    return EngineChoice("memory", f"memory engine: {sizes} (up to {limit} MB it is faster)")


@dataclass(frozen=True)
class ClickstreamSplit:
    """The users of one split and their sessions' aggregates, checked against each other."""

    users: pd.DataFrame
    per_user: pl.DataFrame  # one row per user with sessions: the session and derived features, POSITION
    users_path: Path
    sessions_path: Path
    engine: EngineChoice  # which engine aggregated the sessions, and why


def split_engine(
    directory: str | Path, split: Split, engine: Engine = "auto", sessions: str | Path | None = None
) -> EngineChoice:
    """The engine :func:`load_split` uses for these sessions, and why: what a command prints before loading."""
    return choose_engine(split_sessions(directory, split, sessions), engine)


def load_split(
    directory: str | Path,
    split: Split,
    sessions: str | Path | None = None,
    engine: Engine = "auto",
    scheduler: str | None = None,
) -> ClickstreamSplit:
    """Load ``split``'s user file from ``directory`` and aggregate its sessions, checking every value.

    The folder holds ``user_<split>.csv`` or ``.parquet`` and the sessions as ``session_<split>.csv``,
    ``session_<split>.parquet`` or a folder ``session_<split>/`` of parts; ``sessions`` (a file, a folder
    or a glob of CSV or Parquet parts) replaces the latter. ``engine`` aggregates them (:func:`choose_engine`;
    ``scheduler`` is the Dask cluster's address, None for a local one). A bad value, an unreadable part or
    a session whose user is not in the user file raises a :class:`DataError` naming the file, column and
    line (or row).
    """
    files = read_split_files(directory, split, sessions)
    choice = choose_engine(files.parts, engine)
    # Polars' own number parsing first (the text path only if that fails or finds a bad row); Dask workers read
    # their slices by the text path.
    scan = scan_parts(files.parts, typed=choice.engine != "dask")
    return _aggregated(files.users, files.users_path, scan, files.sessions_path, choice, scheduler)


def records_split(
    users: pd.DataFrame, sessions: pl.DataFrame, users_path: Path, sessions_path: Path
) -> ClickstreamSplit:
    """The split of a web request's records, without writing or parsing a file: ``users`` as the user file's
    reader gives them and ``sessions`` as the session scan's typed columns (features.schema_records' ``records_table``
    and ``records_frame``; each value already checked). Errors name the files as ``users_path`` and
    ``sessions_path``, the lines as in the records' CSV.
    """
    rows = sessions.lazy().with_row_index(AT).with_columns(pl.col(AT).cast(pl.Int64), pl.lit(False).alias(BAD))
    choice = EngineChoice("memory", "a request's records, in memory")
    return _aggregated(users, users_path, SessionScan((sessions_path,), rows), sessions_path, choice)


def _aggregated(
    users: pd.DataFrame,
    users_path: Path,
    scan: SessionScan,
    sessions_path: Path,
    choice: EngineChoice,
    scheduler: str | None = None,
) -> ClickstreamSplit:
    """``scan``'s sessions aggregated per user by ``choice``'s engine and placed against ``users``."""
    per_user = _per_user(scan, choice, scheduler)
    if per_user is None:  # the typed scan's shortcut did not hold: the text path's answer is the one given
        scan = scan.as_text()
        per_user = _per_user(scan, choice, scheduler)
    assert per_user is not None  # a text scan's problems are errors
    first_bad = per_user["_first_bad"].min()
    if first_bad is not None:
        raise scan.problem(int(first_bad))
    rows = placed(users, per_user)
    orphans = rows.filter(pl.col(POSITION).is_null())
    if orphans.height:
        raise unknown_users(scan, users_path, orphans)
    return ClickstreamSplit(users, rows, users_path, sessions_path, choice)


def _per_user(scan: SessionScan, choice: EngineChoice, scheduler: str | None) -> pl.DataFrame | None:
    """``aggregate_per_user`` of ``scan`` by ``choice``'s engine; None when a typed scan met a value it could not
    parse or a row breaking a rule (the text path then reads the parts again)."""
    if choice.engine == "dask":
        from adpipe.clickstream.engine_dask import aggregate  # dask is imported only when asked for

        return aggregate(scan, scheduler)
    try:
        per_user = scan.collect(aggregate_per_user(scan.frame), choice.engine)
    except TextScanNeeded:
        return None
    return None if scan.typed and per_user["_first_bad"].min() is not None else per_user


def unknown_users(scan: SessionScan, users_path: Path, orphans: pl.DataFrame) -> DataError:
    """The one-line error for per-user rows (user_id, AT, n_sessions) whose user is not in the user file."""
    first = orphans.sort(AT).row(0, named=True)
    message = f"{orphans['n_sessions'].sum()} session(s) belong to users not in {users_path.name}"
    return scan.error(first[AT], f"{message}, first {first['user_id']!r}", "user_id")


def build_features(split: ClickstreamSplit) -> pd.DataFrame:
    """Feature table of a loaded split, with the target or test_id kept beside the features."""
    table = feature_table(split.users, split.per_user)
    key = TARGET if TARGET in split.users else "test_id"
    table.insert(0, key, split.users[key].to_numpy())
    return table


def write_feature_tables(
    train_dir: Path, test_dir: Path, out_dir: Path, *, engine: Engine = "auto", scheduler: str | None = None
) -> dict[str, Path]:
    """Write the train and test feature tables as CSV for inspection; the paths written, by split."""
    from adpipe.io import write_csv

    written = {}
    for split, directory in (("train", train_dir), ("test", test_dir)):
        table = build_features(load_split(directory, split, engine=engine, scheduler=scheduler))
        written[split] = write_csv(out_dir / f"clickstream_{split}_features.csv", table, index=True)
    return written
