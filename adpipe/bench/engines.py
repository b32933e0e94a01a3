"""The benchmark's other engines: the same feature table from DuckDB SQL and from plain pandas, and the floor.

The two tables are written independently of features.clickstream's definitions, so the engine-equality tests
(tests/test_feature_engines.py) compare three implementations, and ``make bench`` times them:

- ``duckdb``: one SQL query, DuckDB reading the same CSV files in-process (what this machine can do);
- ``baseline``: the source notebooks' pandas approach: ``read_csv`` with defaults, merge users and
  sessions, then one ``groupby``;
- ``read-csv``, ``read-parquet``: the parse floor, no feature at all: Polars reading the session file (or
  the Parquet parts) whole into memory, every column — what any engine pays before its first aggregate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

from features.clickstream import FEATURE_COLUMNS
from features.clickstream_loaders import (
    FILES,
    SESSION_VOCABULARIES,
    TARGET,
    TIMESTAMP_FORMAT,
    USER_CATEGORIES,
    Split,
    session_parts,
    sessions_source,
)


def _duckdb_sql(users_path: Path, sessions_path: Path, key: str) -> str:
    """One query computing FEATURE_COLUMNS, reading both CSV files with their declared types."""
    share = "avg(CASE WHEN {} THEN 1.0 ELSE 0.0 END)"
    aggregates = {
        "n_sessions": "count(*)",
        "page_views_sum": "sum(page_views)",
        "session_duration_sum": "sum(session_duration)",
        **{
            f"{column}_{name}": f"{function}({column})"
            for column in ("page_views", "session_duration")
            for name, function in (
                ("mean", "avg"),
                ("std", "stddev_samp"),
                ("min", "min"),
                ("max", "max"),
                ("median", "median"),
            )
        },
        "hour_mean": "avg(hr)",
        "hour_std": "stddev_samp(hr)",
        "night_share": share.format("hr < 6"),
        "morning_share": share.format("hr >= 6 AND hr < 12"),
        "afternoon_share": share.format("hr >= 12 AND hr < 18"),
        "evening_share": share.format("hr >= 18"),
        "weekday_mean": "avg(wd)",
        "weekend_share": share.format("wd >= 5"),
        "month_mean": "avg(mo)",
        "n_months": "count(DISTINCT month_key)",
        "span_days": "(max(sec) - min(sec)) / 86400.0",
        "n_days": "count(DISTINCT day)",
        "n_countries": "count(DISTINCT country)",
        "n_ips": "count(DISTINCT ip_address)",
    }
    for column, (prefix, vocabulary) in SESSION_VOCABULARIES.items():
        for value in vocabulary:
            aggregates[f"{prefix}_{value}_count"] = f"count_if({column} = '{value}')"
        known = ", ".join(f"'{v}'" for v in vocabulary)
        aggregates[f"{prefix}_other_count"] = f"count_if({column} IS NULL OR {column} NOT IN ({known}))"
    selected = {
        "age": "u.age::DOUBLE",
        "abandoned_cart": "u.abandoned_cart::DOUBLE",
        **{f"user_category_{c}": f"(u.user_category = '{c}')::DOUBLE" for c in USER_CATEGORIES},
        "seconds_per_page": "a.session_duration_sum / nullif(a.page_views_sum, 0)",
        "sessions_per_active_day": "a.n_sessions / nullif(a.n_days, 0)",
    }
    vocabulary_shares = {f"{p}_{v}_share" for p, vocab in SESSION_VOCABULARIES.values() for v in (*vocab, "other")}
    for name in FEATURE_COLUMNS:
        if name in selected:
            continue
        if name in vocabulary_shares:
            selected[name] = f"a.{name[: -len('_share')]}_count / nullif(a.n_sessions, 0)"
        elif name.startswith("n_") or name.endswith(("_count", "_sum")):
            selected[name] = f"coalesce(a.{name}, 0)::DOUBLE"
        else:
            selected[name] = f"a.{name}::DOUBLE"
    session_types = (
        "{'user_id': 'VARCHAR', 'session_id': 'VARCHAR', 'timestamp': 'TIMESTAMP', 'device_type': 'VARCHAR', "
        "'browser': 'VARCHAR', 'operating_system': 'VARCHAR', 'ip_address': 'VARCHAR', 'country': 'VARCHAR', "
        "'search_query': 'VARCHAR', 'page_views': 'DOUBLE', 'session_duration': 'DOUBLE'}"
    )
    user_types = (
        "{'user_id': 'VARCHAR', 'age': 'INTEGER', 'abandoned_cart': 'BOOLEAN', 'user_category': 'VARCHAR', "
        f"'{key}': 'INTEGER'}}"
    )
    return f"""
        WITH users AS (
            SELECT *, row_number() OVER () AS position
            FROM read_csv('{users_path}', delim=';', header=true, columns={user_types})
        ), sessions AS (
            SELECT *, hour("timestamp") AS hr, isodow("timestamp") - 1 AS wd, month("timestamp") AS mo,
                   year("timestamp") * 12 + month("timestamp") AS month_key, CAST("timestamp" AS DATE) AS day,
                   epoch("timestamp") AS sec
            FROM read_csv('{sessions_path}', delim=',', header=true, columns={session_types},
                          timestampformat='{TIMESTAMP_FORMAT}')
        ), a AS (
            SELECT user_id, {", ".join(f"{sql} AS {name}" for name, sql in aggregates.items())}
            FROM sessions GROUP BY user_id
        )
        SELECT u.user_id, {", ".join(f"{selected[name]} AS {name}" for name in FEATURE_COLUMNS)}
        FROM users u LEFT JOIN a USING (user_id)
        ORDER BY u.position
    """


def reference_duckdb(directory: Path, split: Split = "test") -> pd.DataFrame:
    """The same table from DuckDB (in-process, all cores), reading the same CSV files."""
    import duckdb

    users_file, sessions_file = FILES[split]
    sql = _duckdb_sql(directory / users_file, directory / sessions_file, TARGET if split == "train" else "test_id")
    with duckdb.connect() as connection:
        table = connection.execute(sql).df()
    return table.set_index("user_id")[list(FEATURE_COLUMNS)].astype("float64")


def baseline_pandas(directory: Path, split: Split = "test") -> pd.DataFrame:
    """The notebooks' approach: read with defaults, merge users and sessions, group by user."""
    users_file, sessions_file = FILES[split]
    users = pd.read_csv(directory / users_file, sep=";")
    sessions = pd.read_csv(directory / sessions_file)
    df = users.merge(sessions, on="user_id", how="left")
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    has_session = df["session_id"].notna()
    df["hour"] = df["timestamp"].dt.hour
    df["weekday"] = df["timestamp"].dt.day_of_week
    df["month"] = df["timestamp"].dt.month
    df["month_key"] = df["timestamp"].dt.year * 12 + df["month"]
    df["day"] = df["timestamp"].dt.normalize()
    df["seconds"] = (df["timestamp"] - pd.Timestamp(0)).dt.total_seconds()
    for part, (low, high) in {"night": (0, 6), "morning": (6, 12), "afternoon": (12, 18), "evening": (18, 24)}.items():
        df[part] = ((df["hour"] >= low) & (df["hour"] < high)).astype(float).where(has_session)
    df["weekend"] = (df["weekday"] >= 5).astype(float).where(has_session)
    for column, (prefix, vocabulary) in SESSION_VOCABULARIES.items():
        for value in vocabulary:
            df[f"{prefix}_{value}_count"] = (df[column] == value).astype(int)
        df[f"{prefix}_other_count"] = (has_session & ~df[column].isin(vocabulary)).astype(int)
    counts = [c for c in df.columns if c.endswith("_count")]
    table = df.groupby("user_id", sort=False).agg(
        n_sessions=("session_id", "count"),
        page_views_sum=("page_views", "sum"),
        session_duration_sum=("session_duration", "sum"),
        **{
            f"{column}_{stat}": (column, stat)
            for column in ("page_views", "session_duration")
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
        n_ips=("ip_address", "nunique"),
        **{c: (c, "sum") for c in counts},
    )
    table["seconds_per_page"] = table["session_duration_sum"] / table["page_views_sum"].where(
        table["page_views_sum"] > 0
    )
    table["span_days"] = (table["last_seconds"] - table["first_seconds"]) / 86_400
    table["sessions_per_active_day"] = table["n_sessions"] / table["n_days"].where(table["n_days"] > 0)
    for c in counts:
        table[c.replace("_count", "_share")] = table[c] / table["n_sessions"].where(table["n_sessions"] > 0)
    table = table.reindex(users["user_id"])
    table["age"] = users["age"].to_numpy(dtype=float)
    table["abandoned_cart"] = users["abandoned_cart"].to_numpy(dtype=float)
    for category in USER_CATEGORIES:
        table[f"user_category_{category}"] = (users["user_category"] == category).to_numpy(dtype=float)
    return table[list(FEATURE_COLUMNS)].astype("float64")


def read_floor(directory: Path, split: Split = "test") -> pl.DataFrame:
    """The parse floor: the split's sessions (its CSV file, or its Parquet parts) read whole by Polars, every
    column, types as Polars infers them; no check, no feature."""
    parts = session_parts(sessions_source(directory, split))
    if parts[0].suffix == ".parquet":
        return pl.read_parquet(list(parts))
    return pl.concat([pl.read_csv(part) for part in parts])
