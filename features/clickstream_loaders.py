"""ClickStream files: the user and session schemas, with their value rules, and the strict loaders.

Users are read whole, from CSV or Parquet (:func:`features.tables.read_table`). Sessions are scanned lazily
(:func:`scan_sessions`) from one file, a folder or a glob of parts, all CSV or all Parquet, each part checked
against the same schema by its format's reader (:func:`features.tables.reader_for`); the engines aggregate the
scan and report the first bad row with :meth:`SessionScan.problem`, naming the part, column and line (CSV) or
row (Parquet).
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
from features.schema import ROW, Column, TableSchema
from features.tables import TableReader, file_format, read_table, reader_for, scan_table

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
    formats=("csv", "parquet"),
)
USERS_TEST_SCHEMA = TableSchema(
    "ClickStream user",
    ";",
    (*_USER_COLUMNS, Column("test_id", "int", minimum=0, unique=True)),
    formats=("csv", "parquet"),
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
    formats=("csv", "parquet"),
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
    """Read a user file (``;``-separated CSV, or Parquet); the target (train) or a unique ``test_id`` (test)."""
    schema = USERS_TRAIN_SCHEMA if split == "train" else USERS_TEST_SCHEMA
    users = read_table(path, schema)
    if split == "train":
        users[TARGET] = users[TARGET].astype("int64")
    return users


def load_sessions(path: str | Path) -> pd.DataFrame:
    """Read one session file whole, CSV or Parquet (``search_query`` and ``session_id`` are not read)."""
    return read_table(path, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED)


def users_file(directory: str | Path, split: Split) -> Path:
    """A split folder's user file: ``user_<split>.csv`` or ``user_<split>.parquet``."""
    csv = Path(directory) / FILES[split][0]
    return _the_one(Path(directory), (csv, csv.with_suffix(".parquet")))


def sessions_source(directory: str | Path, split: Split) -> Path:
    """A split folder's sessions: ``session_<split>.csv``, ``session_<split>.parquet`` (a file, or a folder
    of parts as Spark and Dask write it) or a folder ``session_<split>/`` of CSV or Parquet parts."""
    csv = Path(directory) / FILES[split][1]
    return _the_one(Path(directory), (csv, csv.with_suffix(".parquet"), csv.with_suffix("")))


def split_sessions(directory: str | Path, split: Split, sessions: str | Path | None = None) -> tuple[Path, ...]:
    """The session parts of a split: of ``sessions`` (a file, a folder or a glob) if given, else of the folder's."""
    return session_parts(Path(sessions) if sessions is not None else sessions_source(directory, split))


@dataclass(frozen=True)
class SplitFiles:
    """A split's files: its user file read (whole) and its session source's parts listed (scanned later)."""

    users_path: Path
    users: pd.DataFrame
    sessions_path: Path
    parts: tuple[Path, ...]


def read_split_files(directory: str | Path, split: Split, sessions: str | Path | None = None) -> SplitFiles:
    """The user file of ``directory`` read as ``split``'s, and the parts of its sessions (``sessions`` replaces the
    folder's): both paths are resolved before either is read, the users read before the parts are listed."""
    users_path = users_file(directory, split)
    sessions_path = Path(sessions) if sessions is not None else sessions_source(directory, split)
    users = load_users(users_path, split)
    return SplitFiles(users_path, users, sessions_path, session_parts(sessions_path))


def _the_one(directory: Path, candidates: tuple[Path, ...]) -> Path:
    """The candidate that exists; two side by side is an error (which is meant?); none gives the CSV's name,
    for the reader's "file not found"."""
    found = [path for path in candidates if path.exists()]
    if len(found) > 1:
        raise DataError(f"holds both {' and '.join(path.name for path in found)}: keep one of them", path=directory)
    return found[0] if found else candidates[0]


@dataclass(frozen=True)
class SessionScan:
    """The session rows of one or more CSV or Parquet parts, typed, with AT (where each came from) and BAD.

    ``typed``: the CSV parts are read the fast way (:mod:`features.tables.csv_typed`), a shortcut whose failure or BAD
    row means "read them again by the text path" (:meth:`as_text`), whose answer is the one given.
    """

    parts: tuple[Path, ...]
    frame: pl.LazyFrame
    typed: bool = False

    def where(self, at: int) -> tuple[Path, int]:
        """The part and the 0-based data row of an AT value."""
        return self.parts[at >> _PART_SHIFT], at & ((1 << _PART_SHIFT) - 1)

    def problem(self, at: int) -> DataError:
        """The one-line error for the bad row at ``at``."""
        part, row = self.where(at)
        reader = _reader(part)
        return reader.problem(reader.fields(SESSION_COLUMNS_USED), row)

    def error(self, at: int, message: str, column: str) -> DataError:
        """A one-line error about the row at ``at``: its part and line (CSV) or row (Parquet, from 1)."""
        part, row = self.where(at)
        return _reader(part).row_error(message, row, column)

    def collect(self, query: pl.LazyFrame, engine: Literal["memory", "chunked"] = "chunked") -> pl.DataFrame:
        """``query`` (over :attr:`frame`) run by Polars' in-memory or streaming engine; a part Polars cannot
        read becomes a one-line error (:class:`TextScanNeeded` for a typed scan)."""
        try:
            return query.collect(engine="in-memory" if engine == "memory" else "streaming")
        except pl.exceptions.PolarsError as error:
            if self.typed:
                raise TextScanNeeded(str(error)) from error
            raise self._unreadable(error) from error

    def as_text(self) -> SessionScan:
        """The same parts read by the text path (what a typed scan falls back to)."""
        return scan_parts(self.parts, typed=False)

    def _unreadable(self, error: pl.exceptions.PolarsError) -> DataError:
        """The first part that cannot be read, said in one line."""
        for part in self.parts:
            reader = _reader(part)
            if (found := reader.damage(reader.fields(SESSION_COLUMNS_USED))) is not None:
                return found
        return _reader(self.parts[0]).unreadable(error)


def _reader(part: Path) -> TableReader:
    return reader_for(part, SESSIONS_SCHEMA)


def session_parts(source: str | Path) -> tuple[Path, ...]:
    """The files of a session source: the file itself, a folder's ``*.csv`` or ``*.parquet`` parts, or a
    glob's matches (``**`` included); the parts of one source are all CSV or all Parquet."""
    text = str(source)
    if glob.has_magic(text):
        parts = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not parts:
            raise DataError("no session files match this pattern", path=text)
    elif Path(text).is_dir() and Path(text).suffix != ".csv":
        found = {kind: sorted(Path(text).glob(f"*.{kind}")) for kind in ("csv", "parquet")}
        if found["csv"] and found["parquet"]:
            raise DataError(
                f"holds both CSV ({len(found['csv'])}) and Parquet ({len(found['parquet'])}) session parts: "
                "keep one format in a folder",
                path=text,
            )
        parts = found["csv"] or found["parquet"]
        if not parts:
            raise DataError("no session files (*.csv or *.parquet) found", path=text)
    else:
        return (Path(text),)
    if len({file_format(part) for part in parts}) > 1:
        raise DataError("matches both CSV and Parquet session parts: keep one format", path=text)
    return tuple(parts)


class TextScanNeeded(Exception):
    """A typed scan met a value Polars could not parse: read the parts by the text path."""


def scan_part(part: Path, position: int = 0, typed: bool = False) -> pl.LazyFrame:
    """One part's checked rows (columns and types checked now), AT counting from ``position``'s block; ``typed``
    reads a CSV part the fast way (:mod:`features.tables.csv_typed`)."""
    frame = scan_table(part, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED, typed=typed)
    return frame.with_columns((pl.col(ROW).cast(pl.Int64) + (position << _PART_SHIFT)).alias(AT)).drop(ROW)


def scan_sessions(source: str | Path, typed: bool = False) -> SessionScan:
    """The session rows of ``source`` (one file, a folder or a glob of parts, CSV or Parquet), lazily; ``typed``:
    see :class:`SessionScan`."""
    return scan_parts(session_parts(source), typed)


def scan_parts(parts: tuple[Path, ...], typed: bool = False) -> SessionScan:
    """The session rows of ``parts`` (:func:`session_parts`), lazily; ``typed``: see :class:`SessionScan`."""
    frames = [scan_part(part, position, typed) for position, part in enumerate(parts)]
    typed = typed and file_format(parts[0]) == "csv"
    return SessionScan(parts, pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0], typed)
