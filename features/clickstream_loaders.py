"""ClickStream files: the user and session schemas, with their value rules, and the strict loaders.

Users are read whole, with :func:`features.schema.read_table`. Sessions are scanned lazily
(:func:`scan_sessions`) from one CSV file, or from CSV parts (a folder or a glob), each part checked
against the same schema; the features module aggregates the scan in one streaming pass and reports the
first bad row with :meth:`SessionScan.problem`, naming the part, column and line.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import polars as pl

from adpipe import config
from adpipe.errors import DataError
from features.schema import (
    ROW,
    Column,
    TableSchema,
    bad_line,
    diagnose,
    first_problem,
    read_table,
    scan_table,
    wanted_columns,
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
    Column("user_id", unique=True),
    Column("age", "int", minimum=0, maximum=150),
    Column("abandoned_cart", "bool"),
    Column("user_category", "str", allowed=USER_CATEGORIES),
)
USERS_TRAIN_SCHEMA = TableSchema(
    "ClickStream user",
    ";",
    (*_USER_COLUMNS, Column(TARGET, "str", allowed=tuple(str(c) for c in CLASSES))),
)
USERS_TEST_SCHEMA = TableSchema(
    "ClickStream user", ";", (*_USER_COLUMNS, Column("test_id", "int", minimum=0, unique=True))
)
SESSIONS_SCHEMA = TableSchema(
    "ClickStream session",
    ",",
    (
        Column("user_id"),
        Column("session_id"),
        Column("timestamp", "datetime", datetime_format=TIMESTAMP_FORMAT),
        Column("device_type", "category"),
        Column("browser", "category"),
        Column("operating_system", "category"),
        Column("ip_address"),
        Column("country", "category"),
        Column("search_query", required=False, nullable=True),
        Column("page_views", "int", minimum=0),
        Column("session_duration", "float", minimum=0, maximum=86_400),  # seconds: a session is under a day
    ),
    allow_empty=True,
)
# search_query (free text) and session_id are checked in the header but not read: no feature uses
# them, and on a large export they are a third of the bytes.
SESSION_COLUMNS_USED = tuple(c.name for c in SESSIONS_SCHEMA.columns if c.name not in ("search_query", "session_id"))

FILES: dict[Split, tuple[str, str]] = {
    "train": (config.USERS_TRAIN_FILE, config.SESSIONS_TRAIN_FILE),
    "test": (config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE),
}
# Where a scanned row came from: its part's position in SessionScan.parts, times 2^40, plus its row.
AT = "_at"
_PART_SHIFT = 40


def load_users(path: str | Path, split: Split) -> pd.DataFrame:
    """Read a ``;``-separated user file; the target (train) or a unique ``test_id`` (test) is required."""
    users = read_table(path, USERS_TRAIN_SCHEMA if split == "train" else USERS_TEST_SCHEMA)
    if split == "train":
        users[TARGET] = users[TARGET].astype("int64")
    return users


def load_sessions(path: str | Path) -> pd.DataFrame:
    """Read one ``,``-separated session file whole (``search_query`` and ``session_id`` are not read)."""
    return read_table(path, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED)


@dataclass(frozen=True)
class SessionScan:
    """The session rows of one or more CSV parts, typed, with AT (where each came from) and BAD."""

    parts: tuple[Path, ...]
    frame: pl.LazyFrame

    def where(self, at: int) -> tuple[Path, int]:
        """The part and the 0-based data row of an AT value."""
        return self.parts[at >> _PART_SHIFT], at & ((1 << _PART_SHIFT) - 1)

    def problem(self, at: int) -> DataError:
        """The one-line error for the bad row at ``at``."""
        part, row = self.where(at)
        return first_problem(part, SESSIONS_SCHEMA, _wanted(part), row)

    def collect(self, query: pl.LazyFrame) -> pl.DataFrame:
        """``query`` (over :attr:`frame`), run streaming; a part Polars cannot parse becomes a one-line error."""
        try:
            return query.collect(engine="streaming")
        except pl.exceptions.PolarsError as error:
            for part in self.parts:
                if (found := bad_line(part, SESSIONS_SCHEMA)) is not None:
                    raise found from error
            raise diagnose(self.parts[0], SESSIONS_SCHEMA, error) from error


def _wanted(part: Path) -> list[Column]:
    return wanted_columns(part, SESSIONS_SCHEMA, SESSION_COLUMNS_USED)


def session_parts(source: str | Path) -> tuple[Path, ...]:
    """The CSV files of a session source: the file itself, a folder's ``*.csv`` files, or a glob's matches."""
    text = str(source)
    if glob.has_magic(text):
        parts = sorted(Path(p) for p in glob.glob(text))
    elif Path(text).is_dir() and not Path(text).name.endswith(".csv"):
        parts = sorted(Path(text).glob("*.csv"))
    else:
        return (Path(text),)
    if not parts:
        raise DataError("no session files (*.csv) found", path=text)
    return tuple(parts)


def scan_sessions(source: str | Path) -> SessionScan:
    """The session rows of ``source`` (one CSV file, a folder or a glob of parts), lazily, headers checked."""
    parts = session_parts(source)
    frames = [
        scan_table(part, SESSIONS_SCHEMA, _wanted(part))
        .with_columns((pl.col(ROW).cast(pl.Int64) + (position << _PART_SHIFT)).alias(AT))
        .drop(ROW)
        for position, part in enumerate(parts)
    ]
    return SessionScan(parts, pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0])
