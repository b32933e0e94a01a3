"""ClickStream: the user and session loaders, and their join into one feature row per user.

Run on its own to write the feature tables for inspection::

    python -m features.clickstream --train-dir train --test-dir test --out-dir data/processed
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import typer

from adpipe import config
from adpipe.errors import DataError
from features.schema import Column, TableSchema, line_of, read_table

Split = Literal["train", "test"]

TARGET = "marketing_target"
CLASSES = (1, 2, 3)
USER_CATEGORIES = ("new_user", "premium_subscriber", "recurring_user")
# Closed vocabularies of the session columns; any other value (a new browser in a user's own
# export, say) is counted under "other" instead of failing.
DEVICE_TYPES = ("desktop", "mobile", "tablet")
BROWSERS = ("Chrome", "Edge", "Firefox", "Safari")
OPERATING_SYSTEMS = ("Android", "Linux", "Windows", "iOS", "macOS")
SESSION_VOCABULARIES = {
    "device_type": ("device", DEVICE_TYPES),
    "browser": ("browser", BROWSERS),
    "operating_system": ("os", OPERATING_SYSTEMS),
}
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

_USER_COLUMNS = (
    Column("user_id"),
    Column("age", "int"),
    Column("abandoned_cart", "bool"),
    Column("user_category", "str", allowed=USER_CATEGORIES),
)
USERS_TRAIN_SCHEMA = TableSchema(
    "ClickStream user",
    ";",
    (*_USER_COLUMNS, Column(TARGET, "str", allowed=tuple(str(c) for c in CLASSES))),
)
USERS_TEST_SCHEMA = TableSchema("ClickStream user", ";", (*_USER_COLUMNS, Column("test_id", "int")))
SESSIONS_SCHEMA = TableSchema(
    "ClickStream session",
    ",",
    (
        Column("user_id"),
        Column("session_id"),
        Column("timestamp", "datetime", datetime_format=TIMESTAMP_FORMAT),
        Column("device_type"),
        Column("browser"),
        Column("operating_system"),
        Column("ip_address"),
        Column("country"),
        Column("search_query", required=False, nullable=True),
        Column("page_views", "int"),
        Column("session_duration", "float"),
    ),
    allow_empty=True,
)
# search_query is free text the features do not use: not reading it saves time and memory.
SESSION_COLUMNS_USED = tuple(c.name for c in SESSIONS_SCHEMA.columns if c.name != "search_query")

FILES: dict[Split, tuple[str, str]] = {
    "train": (config.USERS_TRAIN_FILE, config.SESSIONS_TRAIN_FILE),
    "test": (config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE),
}


@dataclass(frozen=True)
class ClickstreamSplit:
    """The users and sessions of one split, checked against each other."""

    users: pd.DataFrame
    sessions: pd.DataFrame
    users_path: Path
    sessions_path: Path


def _check_unique(path: Path, frame: pd.DataFrame, column: str) -> None:
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        positions = np.flatnonzero(duplicated.to_numpy())
        lines = ", ".join(str(line_of(p)) for p in positions[:4])
        value = frame[column].iloc[positions[0]]
        raise DataError(
            f"duplicate {column} {value!r} on lines {lines} ({int(duplicated.sum())} rows share a value)",
            path=path,
            column=column,
        )


def load_users(path: str | Path, split: Split) -> pd.DataFrame:
    """Read a ``;``-separated user file; the target (train) or ``test_id`` (test) is required."""
    path = Path(path)
    users = read_table(path, USERS_TRAIN_SCHEMA if split == "train" else USERS_TEST_SCHEMA)
    _check_unique(path, users, "user_id")
    if split == "train":
        users[TARGET] = users[TARGET].astype("int64")
    else:
        _check_unique(path, users, "test_id")
    users["abandoned_cart"] = users["abandoned_cart"].astype("bool")
    return users


def load_sessions(path: str | Path) -> pd.DataFrame:
    """Read a ``,``-separated session file (``search_query`` is not read)."""
    return read_table(path, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED)


def load_split(directory: str | Path, split: Split) -> ClickstreamSplit:
    """Load the user and session files of ``split`` from ``directory`` and check they agree."""
    directory = Path(directory)
    users_file, sessions_file = FILES[split]
    users_path, sessions_path = directory / users_file, directory / sessions_file
    users = load_users(users_path, split)
    sessions = load_sessions(sessions_path)
    orphans = ~sessions["user_id"].isin(users["user_id"])
    if orphans.any():
        position = int(np.flatnonzero(orphans.to_numpy())[0])
        raise DataError(
            f"{int(orphans.sum())} session(s) belong to users not in {users_file}, "
            f"first {sessions['user_id'].iloc[position]!r}",
            path=sessions_path,
            column="user_id",
            line=line_of(position),
        )
    return ClickstreamSplit(users, sessions, users_path, sessions_path)


# Feature groups: named so that tuning can switch whole groups off and reports can explain them.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "user": ("age", "abandoned_cart", *(f"user_category_{c}" for c in USER_CATEGORIES)),
    "volume": ("n_sessions", "page_views_sum", "session_duration_sum"),
    "depth": tuple(f"page_views_{s}" for s in ("mean", "std", "min", "max", "median")),
    "duration": (*(f"session_duration_{s}" for s in ("mean", "std", "min", "max", "median")), "seconds_per_page"),
    "devices": tuple(
        f"{kind}_{v}_{m}" for kind, v in (("device", d) for d in (*DEVICE_TYPES, "other")) for m in ("count", "share")
    ),
    "browsers": tuple(
        f"{kind}_{v}_{m}" for kind, v in (("browser", b) for b in (*BROWSERS, "other")) for m in ("count", "share")
    ),
    "systems": tuple(
        f"{kind}_{v}_{m}" for kind, v in (("os", o) for o in (*OPERATING_SYSTEMS, "other")) for m in ("count", "share")
    ),
    "time": (
        "hour_mean",
        "hour_std",
        "night_share",
        "morning_share",
        "afternoon_share",
        "evening_share",
        "weekday_mean",
        "weekend_share",
        "month_mean",
        "n_months",
        "span_days",
        "sessions_per_active_day",
    ),
    "geography": ("n_countries", "n_ips"),
}
FEATURE_COLUMNS: tuple[str, ...] = tuple(name for group in FEATURE_GROUPS.values() for name in group)


def _vocabulary_counts(codes: np.ndarray, n_users: int, values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Counts per user of each vocabulary value, unknown values in a last 'other' column."""
    category = pd.Index(vocabulary).get_indexer(values).astype(np.int64)
    category[category < 0] = len(vocabulary)
    width = len(vocabulary) + 1
    flat = np.bincount(codes * width + category, minlength=n_users * width)
    return flat.reshape(n_users, width)


def session_features(sessions: pd.DataFrame, user_ids: pd.Series) -> pd.DataFrame:
    """One row per user in ``user_ids`` order: the aggregates of that user's sessions.

    Users without sessions get a row too: counts 0, statistics NaN.
    """
    index = pd.Index(user_ids, name="user_id")
    codes = index.get_indexer(sessions["user_id"])
    if (codes < 0).any():
        raise ValueError("sessions of users outside user_ids: check the split with load_split first")
    n_users = len(index)
    out: dict[str, np.ndarray | pd.Series] = {}

    timestamp = sessions["timestamp"]
    hour = timestamp.dt.hour.to_numpy()
    weekday = timestamp.dt.day_of_week.to_numpy()
    frame = pd.DataFrame(
        {
            "user": codes,
            "page_views": sessions["page_views"].to_numpy(dtype=float),
            "session_duration": sessions["session_duration"].to_numpy(dtype=float),
            "hour": hour,
            "night": hour < 6,
            "morning": (hour >= 6) & (hour < 12),
            "afternoon": (hour >= 12) & (hour < 18),
            "evening": hour >= 18,
            "weekday": weekday,
            "weekend": weekday >= 5,
            "month": timestamp.dt.month.to_numpy(),
            "month_key": timestamp.dt.year.to_numpy() * 12 + timestamp.dt.month.to_numpy(),
            "day": timestamp.dt.floor("D").to_numpy(),
            "seconds": timestamp.to_numpy().astype("datetime64[s]").astype(np.int64),
            "country": sessions["country"].to_numpy(),
            "ip": sessions["ip_address"].to_numpy(),
        }
    )
    grouped = frame.groupby("user", sort=True)
    stats = grouped.agg(
        n_sessions=("page_views", "size"),
        page_views_sum=("page_views", "sum"),
        session_duration_sum=("session_duration", "sum"),
        **{
            f"{col}_{stat}": (col, stat)
            for col in ("page_views", "session_duration")
            for stat in ("mean", "std", "min", "max", "median")
        },
        hour_mean=("hour", "mean"),
        hour_std=("hour", "std"),
        night_share=("night", "mean"),
        morning_share=("morning", "mean"),
        afternoon_share=("afternoon", "mean"),
        evening_share=("evening", "mean"),
        weekday_mean=("weekday", "mean"),
        weekend_share=("weekend", "mean"),
        month_mean=("month", "mean"),
        n_months=("month_key", "nunique"),
        first_seconds=("seconds", "min"),
        last_seconds=("seconds", "max"),
        n_days=("day", "nunique"),
        n_countries=("country", "nunique"),
        n_ips=("ip", "nunique"),
    ).reindex(range(n_users))
    stats["n_sessions"] = stats["n_sessions"].fillna(0).astype("int64")
    for column in ("page_views_sum", "session_duration_sum", "n_months", "n_days", "n_countries", "n_ips"):
        stats[column] = stats[column].fillna(0)
    stats["seconds_per_page"] = stats["session_duration_sum"] / stats["page_views_sum"].where(
        stats["page_views_sum"] > 0
    )
    stats["span_days"] = (stats["last_seconds"] - stats["first_seconds"]) / 86_400
    stats["sessions_per_active_day"] = stats["n_sessions"] / stats["n_days"].where(stats["n_days"] > 0)
    for column, (prefix, vocabulary) in SESSION_VOCABULARIES.items():
        counts = _vocabulary_counts(codes, n_users, sessions[column], vocabulary)
        totals = counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
        for position, value in enumerate((*vocabulary, "other")):
            out[f"{prefix}_{value}_count"] = counts[:, position]
            out[f"{prefix}_{value}_share"] = shares[:, position]
    result = pd.concat([stats.reset_index(drop=True), pd.DataFrame(out)], axis=1)
    result.index = index
    return result


def user_features(users: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The model's input: one row per user (in the user file's order), every column numeric."""
    own = pd.DataFrame(index=pd.Index(users["user_id"], name="user_id"))
    own["age"] = users["age"].to_numpy(dtype=float)
    own["abandoned_cart"] = users["abandoned_cart"].to_numpy(dtype=float)
    for category in USER_CATEGORIES:
        own[f"user_category_{category}"] = (users["user_category"] == category).to_numpy(dtype=float)
    table = pd.concat([own, session_features(sessions, users["user_id"])], axis=1)
    return table[list(FEATURE_COLUMNS)].astype("float64")


def build_features(split: ClickstreamSplit) -> pd.DataFrame:
    """Feature table of a loaded split, with the target or test_id kept beside the features."""
    table = user_features(split.users, split.sessions)
    key = TARGET if TARGET in split.users else "test_id"
    table.insert(0, key, split.users[key].to_numpy())
    return table


cli = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=False)


@cli.command()
def main(
    train_dir: Path = typer.Option(config.TRAIN_DIR, help="Folder with user_train.csv and session_train.csv."),
    test_dir: Path = typer.Option(config.TEST_DIR, help="Folder with user_test.csv and session_test.csv."),
    out_dir: Path = typer.Option(config.PROCESSED_DIR, help="Where the feature tables are written."),
) -> None:
    """Write the per-user feature tables of the train and test splits as CSV for inspection."""
    from adpipe.io import write_csv

    try:
        for split, directory in (("train", train_dir), ("test", test_dir)):
            table = build_features(load_split(directory, split))
            path = write_csv(out_dir / f"clickstream_{split}_features.csv", table, index=True)
            typer.echo(f"{split}: {len(table)} users x {table.shape[1]} columns -> {path}")
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error


if __name__ == "__main__":
    cli()
