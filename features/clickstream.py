"""ClickStream per-user features: each one a named Polars expression, with its group, in one list.

A ``sessions`` feature aggregates one user's sessions (the typed columns of
:data:`features.clickstream_loaders.SESSIONS_SCHEMA`); a ``derived`` one combines that user's other
features; a ``user`` one reads the user's own row. Users without sessions keep their row: counts 0
(``zero`` below), every other statistic NaN. The groups are what tuning switches on and off
(adpipe.clickstream's FeatureGroupSelector, params/clickstream.json). docs/features.md lists them all.

Polars computes the session features and the loaders' value checks in one pass over the sessions
(:func:`aggregate_per_user`); which engine runs that pass (in memory, streaming in chunks, or per partition
of users on a Dask cluster) is the main task's choice: adpipe/clickstream/engines.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import polars as pl

from features.clickstream_loaders import AT, BROWSERS, DEVICE_TYPES, OPERATING_SYSTEMS, USER_CATEGORIES
from features.schema import BAD


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


MEDIAN = re.compile(r"\.(median|quantile)\(")  # in an expression's text: it needs all of a group's values


def aggregate_per_user(sessions: pl.LazyFrame) -> pl.LazyFrame:
    """One row per user_id of ``sessions``: the session and derived features, and the checks' columns.

    ``sessions`` carries AT (where each row came from) and BAD (the row breaks a value rule): the
    first bad row and each user's first row are kept for the error messages.
    """
    values = sessions.with_columns(value.alias(name) for name, value in SESSION_VALUES.items())
    by_user = [f for f in FEATURES if f.source == "sessions"]
    # A median needs all of a group's values, which pushes every aggregate of its group_by off the
    # streaming engine's running-total path: medians go in a second group_by over the same scan (read
    # once), joined back; at 10^7 sessions this saves a quarter of the aggregation's CPU time.
    medians = [f.expr.alias(f.name) for f in by_user if MEDIAN.search(str(f.expr))]
    per_user = values.group_by("user_id").agg(
        *(f.expr.alias(f.name) for f in by_user if not MEDIAN.search(str(f.expr))),
        pl.col(AT).filter(pl.col(BAD)).min().alias("_first_bad"),
        pl.col(AT).min().alias(AT),
    )
    if medians:
        per_user = per_user.join(values.group_by("user_id").agg(medians), on="user_id")
    return per_user.with_columns(f.expr.alias(f.name) for f in FEATURES if f.source == "derived")


POSITION = "_position"  # a per-user row's position in the user file


def placed(users: pd.DataFrame, per_user: pl.DataFrame) -> pl.DataFrame:
    """``per_user`` with POSITION, each row's position in ``users`` (null for a user not in it)."""
    positions = pl.DataFrame(users[["user_id"]]).with_row_index(POSITION)
    # Only the key is joined, and its positions put beside per_user's columns, which are not copied: at 10^8
    # sessions on Dask the gathered per-user rows are 5 GB.
    found = per_user.select("user_id").join(positions, on="user_id", how="left", maintain_order="left")
    return per_user.with_columns(found[POSITION])


def feature_table(users: pd.DataFrame, placed: pl.DataFrame) -> pd.DataFrame:
    """The model's input: FEATURE_COLUMNS as float64, one row per user in the user file's order.

    ``placed`` holds the users' session and derived features, each row at its user's POSITION.
    """
    own = pl.DataFrame(users[["age", "abandoned_cart", "user_category"]]).select(_USER_FLOATS)
    # Each session column is gathered into the user file's order and written into pandas' one float64 block, one
    # column at a time: a copy of every column at once was the peak of a Dask client at 10^8 sessions.
    source = np.full(len(users), -1, dtype=np.intp)  # each user's row in ``placed``; -1 for none
    source[placed[POSITION].to_numpy()] = np.arange(placed.height)
    without_sessions = source < 0
    source[without_sessions] = 0
    columns = np.empty((len(users), len(FEATURES)), order="F")  # column-major: the block pandas keeps
    for at, feature in enumerate(FEATURES):
        if feature.source == "user":
            columns[:, at] = own[feature.name].to_numpy()
        else:
            np.take(placed[feature.name].cast(pl.Float64).to_numpy(), source, out=columns[:, at])  # null: NaN
            columns[without_sessions, at] = 0.0 if feature.zero else np.nan
    index = pd.Index(users["user_id"], name="user_id")
    return pd.DataFrame(columns, index=index, columns=list(FEATURE_COLUMNS), copy=False)


_USER_FLOATS = [f.expr.cast(pl.Float64).alias(f.name) for f in FEATURES if f.source == "user"]  # built once
