"""ClickStream per-user features: each one a named Polars expression, with its group, in one list.

A ``sessions`` feature aggregates one user's sessions (the typed columns of
:data:`features.clickstream_loaders.SESSIONS_SCHEMA`); a ``derived`` one combines that user's other
features; a ``user`` one reads the user's own row. Users without sessions keep their row: counts 0
(``zero`` below), every other statistic NaN. The groups are what tuning switches on and off
(adpipe.clickstream's FeatureGroupSelector, params/clickstream.json). docs/features.md lists them all.

Polars computes the session features and the loaders' value checks in one pass over the sessions (one
CSV or Parquet file, or parts), read once, with the engine :func:`load_split` is given: in memory, in
chunks (streaming, for sessions larger than memory) or on a Dask cluster (features/clickstream_dask.py,
which applies the same ``_per_user`` to each partition of users)::

    python model.py features        # data/processed/clickstream_{train,test}_features.csv
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import polars as pl

from adpipe.errors import DataError
from features.clickstream_loaders import (
    AT,
    BROWSERS,
    CLASSES,
    DEVICE_TYPES,
    OPERATING_SYSTEMS,
    SESSION_COLUMNS_USED,
    SESSION_VOCABULARIES,
    SESSIONS_SCHEMA,
    TARGET,
    TIMESTAMP_FORMAT,
    USER_CATEGORIES,
    USERS_TEST_SCHEMA,
    USERS_TRAIN_SCHEMA,
    Engine,
    EngineChoice,
    SessionScan,
    Split,
    choose_engine,
    load_sessions,
    load_users,
    scan_sessions,
    session_parts,
    sessions_source,
    users_file,
)
from features.schema import BAD

__all__ = [  # the loaders' names are importable from here too, as before the split
    "BROWSERS",
    "CLASSES",
    "DEVICE_TYPES",
    "FEATURE_COLUMNS",
    "FEATURE_GROUPS",
    "FEATURES",
    "OPERATING_SYSTEMS",
    "SESSION_COLUMNS_USED",
    "SESSION_VOCABULARIES",
    "SESSIONS_SCHEMA",
    "TARGET",
    "TIMESTAMP_FORMAT",
    "USER_CATEGORIES",
    "USERS_TEST_SCHEMA",
    "USERS_TRAIN_SCHEMA",
    "ClickstreamSplit",
    "Engine",
    "EngineChoice",
    "Feature",
    "build_features",
    "choose_engine",
    "load_sessions",
    "load_split",
    "load_users",
    "records_split",
    "split_engine",
    "write_feature_tables",
]


@dataclass(frozen=True)
class Feature:
    """One feature column: its name, its group, what it is computed from, and the expression."""

    name: str
    group: str
    source: Literal["user", "sessions", "derived"]
    expr: pl.Expr
    zero: bool = False  # 0 rather than NaN for a user without sessions (a count or a sum)


def user(name: str, group: str, expr: pl.Expr) -> Feature:
    return Feature(name, group, "user", expr)


def count(name: str, group: str, expr: pl.Expr) -> Feature:
    return Feature(name, group, "sessions", expr, zero=True)


def stat(name: str, group: str, expr: pl.Expr) -> Feature:
    return Feature(name, group, "sessions", expr)


def derived(name: str, group: str, expr: pl.Expr) -> Feature:
    return Feature(name, group, "derived", expr)


# What a session feature may aggregate: the loaded columns, and these values of each session.
when = pl.col("timestamp")
SESSION_VALUES: dict[str, pl.Expr] = {
    "hour": when.dt.hour(),
    "weekday": when.dt.weekday() - 1,  # Monday 0 ... Sunday 6
    "month": when.dt.month(),
    "calendar_month": when.dt.year() * 12 + when.dt.month(),
    "day": when.dt.date(),
}
pages, seconds, hour, weekday = pl.col("page_views"), pl.col("session_duration"), pl.col("hour"), pl.col("weekday")


def _vocabulary(group: str, column: str, prefix: str, values: tuple[str, ...]) -> list[Feature]:
    """Count and share of each known value of ``column``, then of any other value."""
    features = []
    for value, match in [*((v, pl.col(column) == v) for v in values), ("other", ~pl.col(column).is_in(values))]:
        features += [
            count(f"{prefix}_{value}_count", group, match.sum()),
            derived(f"{prefix}_{value}_share", group, pl.col(f"{prefix}_{value}_count") / pl.col("n_sessions")),
        ]
    return features


FEATURES: tuple[Feature, ...] = (
    user("age", "age", pl.col("age")),
    user("abandoned_cart", "cart", pl.col("abandoned_cart")),
    *(user(f"user_category_{c}", "category", pl.col("user_category") == c) for c in USER_CATEGORIES),
    count("n_sessions", "volume", pl.len()),
    count("page_views_sum", "volume", pages.sum()),
    count("session_duration_sum", "volume", seconds.sum()),
    stat("page_views_mean", "depth", pages.mean()),
    stat("page_views_std", "depth", pages.std()),  # sample standard deviation; NaN below two sessions
    stat("page_views_min", "depth", pages.min()),
    stat("page_views_max", "depth", pages.max()),
    stat("page_views_median", "depth", pages.median()),
    stat("session_duration_mean", "duration_mean", seconds.mean()),
    stat("session_duration_std", "duration_spread", seconds.std()),
    stat("session_duration_min", "duration_spread", seconds.min()),
    stat("session_duration_max", "duration_spread", seconds.max()),
    stat("session_duration_median", "duration_spread", seconds.median()),
    derived(
        "seconds_per_page",
        "duration_spread",
        pl.when(pl.col("page_views_sum") > 0).then(pl.col("session_duration_sum") / pl.col("page_views_sum")),
    ),
    *_vocabulary("devices", "device_type", "device", DEVICE_TYPES),
    *_vocabulary("browsers", "browser", "browser", BROWSERS),
    *_vocabulary("systems", "operating_system", "os", OPERATING_SYSTEMS),
    stat("hour_mean", "time", hour.mean()),
    stat("hour_std", "time", hour.std()),
    stat("night_share", "time", (hour < 6).mean()),
    stat("morning_share", "time", hour.is_between(6, 12, closed="left").mean()),
    stat("afternoon_share", "time", hour.is_between(12, 18, closed="left").mean()),
    stat("evening_share", "time", (hour >= 18).mean()),
    stat("weekday_mean", "time", weekday.mean()),
    stat("weekend_share", "time", (weekday >= 5).mean()),
    stat("month_mean", "time", pl.col("month").mean()),
    count("n_months", "time", pl.col("calendar_month").n_unique()),
    stat("span_days", "time", (when.max() - when.min()).dt.total_seconds() / 86_400),
    stat("sessions_per_active_day", "time", pl.len() / pl.col("day").n_unique()),
    count("n_countries", "geography", pl.col("country").n_unique()),
    count("n_ips", "geography", pl.col("ip_address").n_unique()),
)

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(f.name for f in FEATURES if f.group == group) for group in dict.fromkeys(f.group for f in FEATURES)
}
FEATURE_COLUMNS: tuple[str, ...] = tuple(feature.name for feature in FEATURES)


# --- evaluating the list ----------------------------------------------------------------------------------


_MEDIAN = re.compile(r"\.(median|quantile)\(")  # in an expression's text: it needs all of a group's values


def _per_user(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """One row per user_id of ``sessions``: the session and derived features, and the checks' columns.

    ``sessions`` carries AT (where each row came from) and BAD (the row breaks a value rule): the
    first bad row and each user's first row are kept for the error messages.
    """
    values = sessions.with_columns(value.alias(name) for name, value in SESSION_VALUES.items())
    by_user = [f for f in FEATURES if f.source == "sessions"]
    # A median needs all of a group's values, which pushes every aggregate of its group_by off the
    # streaming engine's running-total path: medians go in a second group_by over the same scan (read
    # once), joined back; at 10^7 sessions this saves a quarter of the aggregation's CPU time.
    medians = [f.expr.alias(f.name) for f in by_user if _MEDIAN.search(str(f.expr))]
    per_user = values.group_by("user_id").agg(
        *(f.expr.alias(f.name) for f in by_user if not _MEDIAN.search(str(f.expr))),
        pl.col(AT).filter(pl.col(BAD)).min().alias("_first_bad"),
        pl.col(AT).min().alias(AT),
    )
    if medians:
        per_user = per_user.join(values.group_by("user_id").agg(medians), on="user_id")
    return per_user.with_columns(f.expr.alias(f.name) for f in FEATURES if f.source == "derived")


POSITION = "_position"  # a per-user row's position in the user file


def _placed(users: pd.DataFrame, per_user: pl.DataFrame) -> pl.DataFrame:
    """``per_user`` with POSITION, each row's position in ``users`` (null for a user not in it)."""
    positions = pl.from_pandas(users[["user_id"]]).with_row_index(POSITION)
    return per_user.join(positions, on="user_id", how="left", maintain_order="left")


def feature_table(users: pd.DataFrame, placed: pl.DataFrame) -> pd.DataFrame:
    """The model's input: FEATURE_COLUMNS as float64, one row per user in the user file's order.

    ``placed`` holds the users' session and derived features, each row at its user's POSITION.
    """
    own = pl.from_pandas(users[["age", "abandoned_cart", "user_category"]])
    own = own.select(f.expr.cast(pl.Float64).alias(f.name) for f in FEATURES if f.source == "user")
    position = placed[POSITION].to_numpy()
    # One select for every session feature (a Polars call per column costs more than the work on a web
    # request's one user), then filled column by column into pandas' one float64 block, without a copy.
    session = [f.name for f in FEATURES if f.source != "user"]
    values = placed.select(pl.col(name).cast(pl.Float64).fill_null(np.nan) for name in session)
    columns = np.empty((len(FEATURES), len(users)))
    for row, feature in enumerate(FEATURES):
        if feature.source == "user":
            columns[row] = own[feature.name].to_numpy()
        else:
            columns[row] = 0.0 if feature.zero else np.nan
            columns[row, position] = values[feature.name].to_numpy()
    index = pd.Index(users["user_id"], name="user_id")
    return pd.DataFrame(columns.T, index=index, columns=list(FEATURE_COLUMNS), copy=False)


@dataclass(frozen=True)
class ClickstreamSplit:
    """The users of one split and their sessions' aggregates, checked against each other."""

    users: pd.DataFrame
    per_user: pl.DataFrame  # one row per user with sessions: the session and derived features, POSITION
    users_path: Path
    sessions_path: Path
    engine: EngineChoice  # which engine aggregated the sessions, and why


def _sessions(directory: str | Path, split: Split, sessions: str | Path | None) -> Path:
    return Path(sessions) if sessions is not None else sessions_source(directory, split)


def split_engine(
    directory: str | Path, split: Split, engine: Engine = "auto", sessions: str | Path | None = None
) -> EngineChoice:
    """The engine :func:`load_split` uses for these sessions, and why: what a command prints before loading."""
    return choose_engine(session_parts(_sessions(directory, split, sessions)), engine)


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
    users_path, sessions_path = users_file(directory, split), _sessions(directory, split, sessions)
    users = load_users(users_path, split)
    scan = scan_sessions(sessions_path)
    return _aggregated(users, users_path, scan, sessions_path, choose_engine(scan.parts, engine), scheduler)


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
    if choice.engine == "dask":
        from features.clickstream_dask import aggregate  # dask is imported only when asked for

        per_user = aggregate(scan, scheduler)
    else:
        per_user = scan.collect(_per_user(scan.frame), choice.engine)
    first_bad = per_user["_first_bad"].min()
    if first_bad is not None:
        raise scan.problem(int(first_bad))
    placed = _placed(users, per_user)
    orphans = placed.filter(pl.col(POSITION).is_null())
    if orphans.height:
        raise unknown_users(scan, users_path, orphans)
    return ClickstreamSplit(users, placed, users_path, sessions_path, choice)


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


def features_markdown() -> str:
    """docs/features.md, generated from FEATURES (tests/test_clickstream_features.py keeps the two equal)."""

    def code(expr: pl.Expr) -> str:
        return "`" + re.sub(r"dyn (int|float): ", "", str(expr)).replace("|", "\\|") + "`"

    over = {"user": "the user's row", "sessions": "the user's sessions", "derived": "the user's other features"}
    lines = [
        "# ClickStream features",
        "",
        "Generated from `features/clickstream.py` (`FEATURES`) by `features_markdown()`: do not edit by hand.",
        f"{len(FEATURES)} columns in {len(FEATURE_GROUPS)} groups, in the model's column order; the groups are what",
        "tuning switches on and off. A user without sessions keeps a row: 0 where marked, NaN for every other",
        "session or derived feature. Each expression is evaluated per user by Polars (`python model.py features`),",
        "once, whatever the input (one CSV or Parquet file, or parts) and the engine (`--engine memory`, `chunked`",
        'or `dask`): the engines give the same table to float rounding (clickstream.md, "Engines").',
        "",
        "Values of each session that the session features aggregate, besides its loaded columns:",
        "",
        "| value | expression |",
        "|---|---|",
        *(f"| `{name}` | {code(value)} |" for name, value in SESSION_VALUES.items()),
    ]
    for group, names in FEATURE_GROUPS.items():
        lines += ["", f"## `{group}`", "", "| feature | computed over | Polars expression |", "|---|---|---|"]
        for feature in (f for f in FEATURES if f.name in names):
            zero = " (0 without sessions)" if feature.zero else ""
            lines.append(f"| `{feature.name}` | {over[feature.source]}{zero} | {code(feature.expr)} |")
    return "\n".join(lines) + "\n"
