"""ClickStream: the user and session loaders, and their join into one feature row per user.

Run on its own to write the feature tables for inspection::

    python -m features.clickstream --train-dir train --test-dir test --out-dir data/processed
    python -m features.clickstream --chunk-rows 1000000   # session files larger than memory
"""

from __future__ import annotations

import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import typer

from adpipe import config
from adpipe.errors import DataError
from features.schema import (
    Column,
    TableSchema,
    all_distinct,
    arrow_strings,
    check_unique,
    estimate_rows,
    iter_table,
    line_of,
    read_table,
)

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
        # Few distinct values each: read dictionary-encoded, returned as pandas categoricals.
        Column("device_type", "category"),
        Column("browser", "category"),
        Column("operating_system", "category"),
        Column("ip_address"),
        Column("country", "category"),
        Column("search_query", required=False, nullable=True),
        Column("page_views", "int"),
        Column("session_duration", "float"),
    ),
    allow_empty=True,
)
# search_query (free text) and session_id (a unique key) are checked in the header but not read:
# no feature uses them, and on a large export they are a third of the bytes.
SESSION_COLUMNS_USED = tuple(c.name for c in SESSIONS_SCHEMA.columns if c.name not in ("search_query", "session_id"))

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
    # Each session's row in ``users``: looked up once by the orphan check, reused by the features.
    session_users: np.ndarray | None = field(default=None, repr=False, compare=False)


def load_users(path: str | Path, split: Split) -> pd.DataFrame:
    """Read a ``;``-separated user file; the target (train) or ``test_id`` (test) is required."""
    path = Path(path)
    users = read_table(path, USERS_TRAIN_SCHEMA if split == "train" else USERS_TEST_SCHEMA)
    check_unique(path, users, "user_id")
    if split == "train":
        users[TARGET] = users[TARGET].astype("int64")
    else:
        check_unique(path, users, "test_id")
    users["abandoned_cart"] = users["abandoned_cart"].astype("bool")
    return users


def load_sessions(path: str | Path) -> pd.DataFrame:
    """Read a ``,``-separated session file (``search_query`` is not read)."""
    return read_table(path, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED)


def _orphan_error(path: Path, users_file: str, sessions: pd.DataFrame, owner: np.ndarray) -> DataError:
    orphans = owner < 0
    position = int(np.flatnonzero(orphans)[0])
    return DataError(
        f"{int(orphans.sum())} session(s) belong to users not in {users_file}, "
        f"first {sessions['user_id'].iloc[position]!r}",
        path=path,
        column="user_id",
        line=line_of(sessions.index[position]),
    )


def load_split(directory: str | Path, split: Split) -> ClickstreamSplit:
    """Load the user and session files of ``split`` from ``directory`` and check they agree."""
    directory = Path(directory)
    users_file, sessions_file = FILES[split]
    users_path, sessions_path = directory / users_file, directory / sessions_file
    users = load_users(users_path, split)
    sessions = load_sessions(sessions_path)
    owner = _user_positions(sessions["user_id"], users["user_id"])
    if (owner < 0).any():
        raise _orphan_error(sessions_path, users_file, sessions, owner)
    return ClickstreamSplit(users, sessions, users_path, sessions_path, owner)


# Feature groups: named so that tuning can switch whole groups off and reports can explain them. The
# user's own columns and the duration statistics are split finely: with 700 users, the search gains
# most from keeping age, category, cart and mean duration while dropping their noisier neighbours.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "age": ("age",),
    "cart": ("abandoned_cart",),
    "category": tuple(f"user_category_{c}" for c in USER_CATEGORIES),
    "volume": ("n_sessions", "page_views_sum", "session_duration_sum"),
    "depth": tuple(f"page_views_{s}" for s in ("mean", "std", "min", "max", "median")),
    "duration_mean": ("session_duration_mean",),
    "duration_spread": (*(f"session_duration_{s}" for s in ("std", "min", "max", "median")), "seconds_per_page"),
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


_SECONDS_PER_DAY = 86_400


def _positions(values: pa.ChunkedArray, vocabulary: pa.Array, missing: int) -> np.ndarray:
    """Position of each value in ``vocabulary`` (a hash lookup in C++); ``missing`` where absent."""
    found = pc.index_in(values, value_set=vocabulary)
    return pc.fill_null(found, missing).to_numpy().astype(np.int64)


def _vocabulary_positions(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Position of each value in ``vocabulary``, ``len(vocabulary)`` ("other") for anything else.

    A categorical column is looked up once per category, then mapped through its codes.
    """
    other = len(vocabulary)
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = arrow_strings(pd.Series(values.cat.categories)).combine_chunks()
        per_category = np.append(_positions(categories, pa.array(vocabulary), other), other)
        return per_category[values.cat.codes.to_numpy()]  # code -1 (missing) picks the appended "other"
    return _positions(arrow_strings(values), pa.array(vocabulary), other)


def _text_codes(values: pd.Series) -> pa.Array:
    """A text column for distinct counting: a categorical's codes as a dictionary array, else strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = arrow_strings(pd.Series(values.cat.categories)).combine_chunks()
        return pa.DictionaryArray.from_arrays(
            pa.array(values.cat.codes.to_numpy(), mask=values.isna().to_numpy()), categories
        )
    return arrow_strings(values)


def _user_positions(session_users: pd.Series, user_ids: pd.Series) -> np.ndarray:
    """Each session's row among ``user_ids`` (-1 if absent), by one hash lookup per session."""
    return _positions(arrow_strings(session_users), arrow_strings(pd.Series(user_ids)).combine_chunks(), -1)


def _epoch_seconds(timestamp: pd.Series) -> np.ndarray:
    """Whole seconds since 1970 (floored, like ``astype('datetime64[s]')``) of a datetime column."""
    if timestamp.isna().any():
        raise ValueError("sessions without a timestamp: load them with load_sessions")
    values = timestamp.to_numpy()
    unit, step = np.datetime_data(values.dtype)
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}.get(unit)
    if per_second is None or step != 1:
        return values.astype("datetime64[s]").astype(np.int64)
    return values.view(np.int64) // per_second


def session_columns(
    sessions: pd.DataFrame, user_ids: pd.Series | pd.Index, session_users: np.ndarray | None = None
) -> pa.Table:
    """The session columns the features need, as numbers: one row per session, in file order.

    ``user`` is the position of the session's user in ``user_ids`` (``session_users`` when already
    looked up); device, browser and system are positions in their vocabularies (the last one is
    "other"). Country and IP stay text: they are only compared with the same user's other sessions.
    """
    user = _user_positions(sessions["user_id"], pd.Series(user_ids)) if session_users is None else session_users
    if (user < 0).any():
        raise ValueError("sessions of users outside user_ids: check the split with load_split first")
    columns = {
        "user": user,
        "seconds": _epoch_seconds(sessions["timestamp"]),
        "page_views": sessions["page_views"].to_numpy(dtype=float),
        "session_duration": sessions["session_duration"].to_numpy(dtype=float),
    }
    for column, (_, vocabulary) in SESSION_VOCABULARIES.items():
        columns[column] = _vocabulary_positions(sessions[column], vocabulary).astype(np.int8)
    columns["country"] = _text_codes(sessions["country"])
    columns["ip_address"] = _text_codes(sessions["ip_address"])
    return pa.table(columns)


# Dotted IPv4 text, one 4-bit symbol per character (0 is the padding): a 16-character string packs
# exactly into 64 bits, so the addresses are compared as integers instead of hashed as text.
_IP_SYMBOLS = np.full(256, 15, dtype=np.uint8)
_IP_SYMBOLS[np.frombuffer(b"0123456789.", dtype=np.uint8)] = np.arange(1, 12, dtype=np.uint8)
_NIBBLE_ABOVE_11 = np.uint64(0x1111111111111111)
_PACK_BLOCK = 1 << 16


def _packed_ip_codes(values: pa.Array) -> np.ndarray | None:
    """Each string as the 64-bit number of its symbols, or None if a value is not short dotted digits.

    Injective: every symbol is 1-11, so the number's length in nibbles is the string's length.
    """
    if values.null_count or len(values) == 0:
        return None
    offsets_type = np.int64 if pa.types.is_large_string(values.type) else np.int32
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)[values.offset : values.offset + len(values) + 1]
    lengths = np.diff(offsets)
    if lengths.min() < 1 or lengths.max() > 16:
        return None
    symbols = _IP_SYMBOLS[np.frombuffer(data_buffer, dtype=np.uint8)]
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([symbols, np.zeros(16, np.uint8)]), 16)
    codes = np.empty(len(values), dtype=np.uint64)
    starts = offsets[:-1]
    for block in range(0, len(values), _PACK_BLOCK):
        window = windows[starts[block : block + _PACK_BLOCK]]
        packed = (window[:, 0::2] << 4) | window[:, 1::2]
        codes[block : block + len(window)] = packed.view(">u8").ravel()
    codes >>= (4 * (16 - lengths)).astype(np.uint64)
    if ((codes >> np.uint64(3)) & (codes >> np.uint64(2)) & _NIBBLE_ABOVE_11).any():
        return None  # a symbol outside digits and dots
    return codes


def _string_codes(values: pa.ChunkedArray, *, packable: bool = False) -> np.ndarray:
    """Integer codes, equal exactly for equal strings; -1 for a missing value.

    ``packable`` columns (IP addresses) try the 64-bit packing first: no hash table of millions of
    strings. Anything else is dictionary-encoded.
    """
    if pa.types.is_dictionary(values.type):
        values = pa.table({"values": values}).unify_dictionaries().column("values")
        indices = pa.chunked_array([chunk.indices for chunk in values.chunks], values.type.index_type)
        return pc.fill_null(indices, -1).to_numpy().astype(np.int64)
    combined = values.combine_chunks()
    if packable and (codes := _packed_ip_codes(combined)) is not None:
        return codes.view(np.int64)
    encoded = combined.dictionary_encode()
    return pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)


def _value_ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each value's rank among the distinct values, and the distinct values in ascending order."""
    low, high = (values.min(), values.max()) if len(values) else (0.0, 0.0)
    if high - low < 1 << 20 and np.array_equal(values, np.round(values)):
        return (values - low).astype(np.int64), np.arange(low, high + 1, dtype=float)
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), np.asarray(uniques, dtype=float)


def _sorted_keys(group: np.ndarray, rank: np.ndarray, width: int) -> np.ndarray:
    """``group * width + rank`` sorted: each group's values together, ascending.

    A stable sort (timsort) is nearly linear when the groups are already contiguous and in order.
    """
    dtype = np.int32 if (int(group.max(initial=0)) + 1) * width < 1 << 31 else np.int64
    keys = group.astype(dtype) * dtype(width) + rank.astype(dtype)
    return np.sort(keys, kind="stable")


def _order_statistics(group: np.ndarray, values: np.ndarray, count: np.ndarray) -> dict[str, np.ndarray]:
    """Per-group min, max and median (mean of the two middle values for an even count), exactly."""
    rank, distinct = _value_ranks(values)
    width = max(1, len(distinct))
    keys = _sorted_keys(group, rank, width)
    start = np.cumsum(count) - count
    has = count > 0
    value = {}
    for name, k in {"min": 0, "max": count - 1, "lo": (count - 1) // 2, "hi": count // 2}.items():
        at = np.minimum(start + np.maximum(k, 0), max(len(keys) - 1, 0))
        value[name] = np.where(has, distinct[keys[at] % width] if len(keys) else np.nan, np.nan)
    return {"min": value["min"], "max": value["max"], "median": (value["lo"] + value["hi"]) / 2}


def _distinct_counts(group: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, how many distinct codes (ignoring -1, missing) its sessions have; exact."""
    present = codes != -1
    group, codes = (group, codes) if present.all() else (group[present], codes[present])
    if len(codes) == 0:
        return np.zeros(n_groups, np.int64)
    low, high = int(codes.min()), int(codes.max())
    if low >= 0 and n_groups * (high + 1) < 1 << 62:
        keys = _sorted_keys(group, codes, high + 1)
        first = np.empty(len(keys), dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        return np.bincount(keys[first] // (high + 1), minlength=n_groups)
    # Wide codes: sort by (group, 32-bit hash of the code), then check that equal keys hold equal codes.
    hashed = (codes.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    order = np.argsort((group.astype(np.int64) << 32) | hashed.astype(np.int64), kind="stable")
    sorted_group, sorted_codes = group[order], codes[order]
    new_group = sorted_group[1:] != sorted_group[:-1]
    same_hash = ~new_group & (hashed[order][1:] == hashed[order][:-1])
    if (same_hash & (sorted_codes[1:] != sorted_codes[:-1])).any():
        order = np.lexsort((codes, group))  # a hash collision inside one group: sort the codes themselves
        sorted_group, sorted_codes = group[order], codes[order]
        new_group = sorted_group[1:] != sorted_group[:-1]
        same_hash = ~new_group
    first = np.concatenate([[True], ~(same_hash & (sorted_codes[1:] == sorted_codes[:-1]))])
    return np.bincount(sorted_group[first], minlength=n_groups)


def _contiguous_groups(user: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Number each user's sessions by group: runs of the file when every user's sessions are together.

    Returns each session's group, each group's user, and the start of each run (None if the
    sessions are not grouped by user: then the groups are the users themselves).
    """
    if len(user) == 0:
        return user, np.arange(n_users), None
    change = np.empty(len(user), dtype=bool)
    change[0] = True
    np.not_equal(user[1:], user[:-1], out=change[1:])
    run_user = user[change]
    if np.bincount(run_user, minlength=n_users).max() > 1:
        return user, np.arange(n_users), None
    return np.cumsum(change) - 1, run_user, np.flatnonzero(change)


def _std(group: np.ndarray, values: np.ndarray, count: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Per-group sample standard deviation (ddof=1; NaN below two values).

    Whole numbers whose sums of squares stay exact in float64 use one pass (n*sum(x^2) - sum(x)^2 is
    then computed without rounding); anything else takes the two-pass deviations from the mean.
    """
    n_groups = len(count)
    largest = float(np.abs(values).max(initial=0.0))
    exact = largest * largest * float(count.max(initial=0)) ** 2 < 2.0**52 and np.array_equal(values, np.round(values))
    with np.errstate(invalid="ignore", divide="ignore"):
        if exact:
            squares = np.bincount(group, weights=values * values, minlength=n_groups)
            variance = (count * squares - total * total) / (count * (count - 1.0))
        else:
            deviation = values - (total / np.maximum(count, 1))[group]
            variance = np.bincount(group, weights=deviation * deviation, minlength=n_groups) / (count - 1.0)
        return np.where(count > 1, np.sqrt(np.maximum(variance, 0.0)), np.nan)


def _small_distinct_counts(
    group: np.ndarray, codes: np.ndarray, n_groups: int, runs: np.ndarray | None
) -> np.ndarray | None:
    """Distinct counts of codes 0-63 by OR-ing one bit per code over each run; None when not applicable."""
    if runs is None or len(codes) == 0 or codes.min() < 0 or codes.max() > 63:
        return None
    bits = np.left_shift(np.uint64(1), codes.astype(np.uint64))
    return np.bitwise_count(np.bitwise_or.reduceat(bits, runs)).astype(np.int64)


def _group_aggregates(columns: pa.Table, group: np.ndarray, n_groups: int, runs: np.ndarray | None) -> dict:
    """Every per-group statistic; ``runs`` are the group starts when groups are contiguous runs.

    The distinct IP count (the costliest statistic) runs in a second thread meanwhile: numpy and
    pyarrow release the GIL in the heavy kernels, so the two cores share the work.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        ips = columns.column("ip_address")
        n_ips = pool.submit(lambda: _distinct_counts(group, _string_codes(ips, packable=True), n_groups))
        out = _group_aggregates_except_ips(columns, group, n_groups, runs)
        out["n_ips"] = n_ips.result()
    # Same column order as before the split into two threads.
    order = [*list(out)[: list(out).index("n_countries") + 1], "n_ips"]
    return {name: out[name] for name in [*order, *(n for n in out if n not in order)]}


def _group_aggregates_except_ips(columns: pa.Table, group: np.ndarray, n_groups: int, runs: np.ndarray | None) -> dict:
    """Every per-group statistic but the distinct IP count."""
    seconds = columns.column("seconds").to_numpy()
    count = np.bincount(group, minlength=n_groups)
    has = count > 0
    safe_count = np.maximum(count, 1)

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=weights, minlength=n_groups)

    def mean_of(totals: np.ndarray) -> np.ndarray:
        return np.where(has, totals / safe_count, np.nan)

    def counts_of(codes: np.ndarray, width: int) -> np.ndarray:
        return np.bincount(group * width + codes, minlength=n_groups * width).reshape(n_groups, width)

    # Calendar facts per day of the span, looked up per session instead of computed per session.
    day = seconds // _SECONDS_PER_DAY
    first_day = int(day.min(initial=0))
    day_offset = day - first_day
    calendar = np.arange(first_day, first_day + int(day_offset.max(initial=0)) + 1)
    months = calendar.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month_of_day = months - months.min(initial=0)
    weekday_counts = counts_of(((calendar + 3) % 7)[day_offset], 7)  # 1970-01-01 was a Thursday; Monday is 0
    hour = (seconds - day * _SECONDS_PER_DAY) // 3600
    out: dict[str, np.ndarray] = {"n_sessions": count}
    numbers = {name: columns.column(name).to_numpy() for name in ("page_views", "session_duration")}
    for name, values in numbers.items():
        out[f"{name}_sum"] = total(values)
    for name, values in numbers.items():
        out[f"{name}_mean"] = mean_of(out[f"{name}_sum"])
        out[f"{name}_std"] = _std(group, values, count, out[f"{name}_sum"])
        statistics = _order_statistics(group, values, count)
        for stat in ("min", "max", "median"):
            out[f"{name}_{stat}"] = statistics[stat]
    hour_total = total(hour)
    out["hour_mean"] = mean_of(hour_total)
    out["hour_std"] = _std(group, hour.astype(float), count, hour_total)
    part_counts = counts_of(hour // 6, 4)
    for position, part in enumerate(("night", "morning", "afternoon", "evening")):
        out[f"{part}_share"] = mean_of(part_counts[:, position])
    out["weekday_mean"] = mean_of(weekday_counts @ np.arange(7.0))
    out["weekend_share"] = mean_of(weekday_counts[:, 5:].sum(1))
    month_offset = month_of_day[day_offset]
    out["month_mean"] = mean_of(total(((months % 12 + 1).astype(float))[day_offset]))
    n_months = _small_distinct_counts(group, month_offset, n_groups, runs)
    out["n_months"] = _distinct_counts(group, month_offset, n_groups) if n_months is None else n_months
    if runs is not None:
        first_seconds, last_seconds = np.minimum.reduceat(seconds, runs), np.maximum.reduceat(seconds, runs)
    else:
        first_seconds = np.full(n_groups, np.iinfo(np.int64).max)
        last_seconds = np.full(n_groups, np.iinfo(np.int64).min)
        np.minimum.at(first_seconds, group, seconds)
        np.maximum.at(last_seconds, group, seconds)
    out["first_seconds"] = np.where(has, first_seconds, np.nan)
    out["last_seconds"] = np.where(has, last_seconds, np.nan)
    out["n_days"] = _distinct_counts(group, day_offset, n_groups)
    out["n_countries"] = _distinct_counts(group, _string_codes(columns.column("country")), n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        page_views_sum = out["page_views_sum"]
        out["seconds_per_page"] = np.where(page_views_sum > 0, out["session_duration_sum"] / page_views_sum, np.nan)
        out["span_days"] = (out["last_seconds"] - out["first_seconds"]) / _SECONDS_PER_DAY
        out["sessions_per_active_day"] = np.where(out["n_days"] > 0, count / np.maximum(out["n_days"], 1), np.nan)
    for column, (prefix, vocabulary) in SESSION_VOCABULARIES.items():
        counts = counts_of(columns.column(column).to_numpy().astype(np.int64), len(vocabulary) + 1)
        for position, value in enumerate((*vocabulary, "other")):
            out[f"{prefix}_{value}_count"] = counts[:, position]
            out[f"{prefix}_{value}_share"] = mean_of(counts[:, position])
    return out


def _is_count(name: str) -> bool:
    """Columns that are 0, not NaN, for a user without sessions."""
    return name.startswith("n_") or name.endswith(("_count", "_sum"))


def aggregate_sessions(columns: pa.Table, n_users: int) -> dict[str, np.ndarray]:
    """The per-user aggregates of :func:`session_columns` output: name -> one value per user position.

    Every statistic is exact per user (sums in file order, order statistics and distinct counts by
    sorting), so any split of the users into groups gives the same rows. When each user's sessions
    are together in the file (as in the challenge data and most exports) the sorts are nearly linear.
    Counts are int64 and 0 for a user without sessions; every other statistic is float64, NaN there.
    """
    user = columns.column("user").to_numpy()
    group, group_user, runs = _contiguous_groups(user, n_users)
    per_group = _group_aggregates(columns, group, len(group_user), runs)
    out = {}
    for name, values in per_group.items():
        integer = name == "n_sessions" or name.endswith("_count")
        full = np.zeros(n_users, np.int64 if integer else float) if _is_count(name) else np.full(n_users, np.nan)
        full[group_user] = values
        out[name] = full
    return out


def session_features(sessions: pd.DataFrame, user_ids: pd.Series) -> pd.DataFrame:
    """One row per user in ``user_ids`` order: the aggregates of that user's sessions.

    Users without sessions get a row too: counts 0, statistics NaN. Vectorised: a hash lookup per
    text column, then one counting pass per statistic (no per-row or per-user Python).
    """
    index = pd.Index(user_ids, name="user_id")
    if not all_distinct(index):
        raise ValueError("user_ids must be unique")
    return pd.DataFrame(aggregate_sessions(session_columns(sessions, index.to_series()), len(index)), index=index)


def feature_table(users: pd.DataFrame, per_user: dict[str, np.ndarray]) -> pd.DataFrame:
    """The model's input from the users and their session aggregates: FEATURE_COLUMNS, float64."""
    index = pd.Index(users["user_id"], name="user_id")
    if not all_distinct(index):
        raise ValueError("user_ids must be unique")
    category = _positions(arrow_strings(users["user_category"]), pa.array(USER_CATEGORIES), -1)
    own = {
        "age": users["age"].to_numpy(dtype=float),
        "abandoned_cart": users["abandoned_cart"].to_numpy(dtype=float),
        **{f"user_category_{c}": (category == i).astype(float) for i, c in enumerate(USER_CATEGORIES)},
    }
    # Filled column by column and handed to pandas as its one float64 block, without a copy.
    columns = np.empty((len(FEATURE_COLUMNS), len(index)))
    for position, name in enumerate(FEATURE_COLUMNS):
        columns[position] = own[name] if name in own else per_user[name]
    return pd.DataFrame(columns.T, index=index, columns=list(FEATURE_COLUMNS), copy=False)


def user_features(users: pd.DataFrame, sessions: pd.DataFrame, session_users: np.ndarray | None = None) -> pd.DataFrame:
    """The model's input: one row per user (in the user file's order), every column numeric.

    ``session_users`` is each session's row in ``users`` when the caller has it (see load_split).
    """
    columns = session_columns(sessions, users["user_id"], session_users)
    return feature_table(users, aggregate_sessions(columns, len(users)))


def build_features(split: ClickstreamSplit) -> pd.DataFrame:
    """Feature table of a loaded split, with the target or test_id kept beside the features."""
    table = user_features(split.users, split.sessions, split.session_users)
    key = TARGET if TARGET in split.users else "test_id"
    table.insert(0, key, split.users[key].to_numpy())
    return table


# At most this many spill files are open at once in the chunked path.
MAX_PARTS = 256
_SPILL_SCHEMA = pa.schema(
    [
        ("user", pa.int64()),
        ("seconds", pa.int64()),
        ("page_views", pa.float64()),
        ("session_duration", pa.float64()),
        *((column, pa.int8()) for column in SESSION_VOCABULARIES),
        ("country", pa.string()),
        ("ip_address", pa.large_string()),
    ]
)


def build_features_chunked(
    directory: str | Path, split: Split, chunk_rows: int, spill_dir: str | Path | None = None
) -> pd.DataFrame:
    """``build_features(load_split(directory, split))`` for session files larger than memory.

    The session file is read in blocks of about ``chunk_rows`` rows. Each block's rows go to one of
    P spill files (Arrow IPC, in a temporary folder) by the position of their user: P ranges of about
    n_users / P users, P = estimated rows / ``chunk_rows`` (at most MAX_PARTS). Every user's sessions
    thus end up in one spill file, in file order, and each spill file is aggregated whole: sums,
    means, standard deviations, medians, minima, maxima and distinct counts are computed on all of a
    user's sessions at once, exactly as in memory (no partial medians or distinct counts to merge).
    Memory holds the users, one block and one spill file, not the session file.
    """
    directory = Path(directory)
    users_file, sessions_file = FILES[split]
    users_path, sessions_path = directory / users_file, directory / sessions_file
    users = load_users(users_path, split)
    n_users = len(users)
    user_index = pd.Index(users["user_id"].to_numpy(dtype=object))
    rows = estimate_rows(sessions_path)
    n_parts = max(1, min(MAX_PARTS, math.ceil(rows / max(1, chunk_rows)), n_users))
    users_per_part = math.ceil(n_users / n_parts)
    block_bytes = max(1 << 16, int(chunk_rows * sessions_path.stat().st_size / max(1, rows)))
    per_part: list[dict[str, np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="clickstream-chunks-", dir=spill_dir) as temporary:
        spill = [Path(temporary) / f"part-{p:03d}.arrow" for p in range(n_parts)]
        writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
        schema = None
        try:
            for block in iter_table(
                sessions_path, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED, block_bytes=block_bytes
            ):
                owner = user_index.get_indexer(block["user_id"].to_numpy(dtype=object))
                if (owner < 0).any():
                    raise _orphan_error(sessions_path, users_file, block, owner)
                columns = session_columns(block, users["user_id"], owner)
                # Per-block categories differ: spill the country as text, one dictionary per part file.
                columns = columns.set_column(
                    columns.schema.get_field_index("country"), "country", columns.column("country").cast(pa.string())
                )
                schema = columns.schema
                part = owner // users_per_part
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(n_parts + 1))
                for p in np.flatnonzero(np.diff(bounds)):
                    if p not in writers:
                        writers[p] = pa.ipc.new_file(spill[p], schema)
                    writers[p].write_table(columns.take(order[bounds[p] : bounds[p + 1]]))
        finally:
            for writer in writers.values():
                writer.close()
        for p in range(n_parts):
            first, last = p * users_per_part, min(n_users, (p + 1) * users_per_part)
            if first >= last:
                continue
            if p in writers:
                with pa.OSFile(str(spill[p])) as source:
                    columns = pa.ipc.open_file(source).read_all()
                columns = columns.set_column(0, "user", pc.subtract(columns.column("user"), first))
            else:
                columns = (schema or _SPILL_SCHEMA).empty_table()
            per_part.append(aggregate_sessions(columns, last - first))
    per_user = {name: np.concatenate([part[name] for part in per_part]) for name in per_part[0]}
    table = feature_table(users, per_user)
    key = TARGET if TARGET in users else "test_id"
    table.insert(0, key, users[key].to_numpy())
    return table


cli = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=False)


@cli.command()
def main(
    train_dir: Path = typer.Option(config.TRAIN_DIR, help="Folder with user_train.csv and session_train.csv."),
    test_dir: Path = typer.Option(config.TEST_DIR, help="Folder with user_test.csv and session_test.csv."),
    out_dir: Path = typer.Option(config.PROCESSED_DIR, help="Where the feature tables are written."),
    chunk_rows: int = typer.Option(
        0, "--chunk-rows", help="Read the session files in blocks of about this many rows (0: all at once)."
    ),
) -> None:
    """Write the per-user feature tables of the train and test splits as CSV for inspection."""
    from adpipe.io import write_csv

    try:
        for split, directory in (("train", train_dir), ("test", test_dir)):
            if chunk_rows > 0:
                table = build_features_chunked(directory, split, chunk_rows)
            else:
                table = build_features(load_split(directory, split))
            path = write_csv(out_dir / f"clickstream_{split}_features.csv", table, index=True)
            typer.echo(f"{split}: {len(table)} users x {table.shape[1]} columns -> {path}")
    except DataError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error


if __name__ == "__main__":
    cli()
