"""What every table reader does, whatever the format: the :class:`TableReader` interface, the one place a file's
column names are resolved against a schema (:meth:`TableReader.fields`), and the eager read into pandas
(:meth:`TableReader.read`: the value rules, an empty table, unique keys, the loaders' dtypes).

A format is one subclass: it says which columns its file holds (and refuses a file it cannot be), scans the
chosen ones into a checked lazy frame (ROW, each column as its kind, BAD) and words its own errors (a CSV
names lines, Parquet rows). Defining it registers it under its format; :func:`reader_for` picks it from the file.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import polars as pl

from adpipe.errors import DataError
from features.schema import BAD, ROW, Column, Format, TableSchema, line_of
from features.tables.export_text import summary_rows
from features.tables.rules import Broken, Field

_OTHER_SEPARATORS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class ReadOptions:
    """How to read an export where its file does not say: its decimal mark (None: told from the numbers) and its
    sheet (None: the first)."""

    decimal: str | None = None
    sheet: str | None = None


# Every reader, by its format and whether it is a scan's fast path: filled as each subclass is defined.
_READERS: dict[tuple[Format, bool], type[TableReader]] = {}


class TableReader(ABC):
    """One file read against one schema. :meth:`fields` checks the file's columns (call it first); :meth:`scan`
    and :meth:`read` read them; the error methods word what is wrong in one line."""

    format: ClassVar[Format]
    typed: ClassVar[bool] = False  # a shortcut for scans: its failures mean "scan by the format's own reader"
    expected: ClassVar[str]  # what the file should be, for "is a directory, expected ..."
    no_rows: ClassVar[str]  # the error for a table without data rows (unless the schema allows it)
    place: ClassVar[str] = "line"  # what names a row's place (:meth:`line`) in what the read skipped

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        _READERS[cls.format, cls.typed] = cls

    def __init__(self, path: str | Path, schema: TableSchema, options: ReadOptions | None = None) -> None:
        self.path = Path(path)
        self.schema = schema
        self.options = options or ReadOptions()
        self.header: list[str] = []  # the file's column names, in order: set by fields()
        self.rename: dict[str, str] = {}  # a file column -> its canonical name: set by fields()
        self.header_line = 0  # 0-based line (or sheet row) of the header: title lines above it push it down
        self._skipped: np.ndarray | None = None  # an export's totals and summary rows: set by skipped_rows()

    def line(self, row: int) -> int:
        """The 1-based line (a sheet's row number) of 0-based data row ``row``."""
        return line_of(row) + self.header_line

    def fields(self, columns: Sequence[str] | None = None) -> list[Field]:
        """Check the file's columns against the schema; the fields to read (all, or ``columns``)."""
        if not self.path.exists():
            raise DataError("file not found", path=self.path)
        if self.path.is_dir():
            raise DataError(f"is a directory, expected {self.expected}", path=self.path)
        stored = self._columns()
        self.header = [name for name, _ in stored]
        self.rename = resolve_columns(self.path, self.header, self.schema)
        self._check_file()
        by_canonical = {canonical: name for name, canonical in self.rename.items()}
        types = dict(stored)
        return [
            self._field(column, by_canonical[column.name], types[by_canonical[column.name]])
            for column in self.schema.columns
            if column.name in by_canonical and (columns is None or column.name in columns)
        ]

    @abstractmethod
    def _columns(self) -> list[tuple[str, pl.DataType]]:
        """The file's column names, in order, and their stored types; refuses a file that is not this format."""

    @abstractmethod
    def _check_file(self) -> None:
        """A whole-file check once the columns are known (a CSV's cut-short last row)."""

    def _field(self, column: Column, stored_as: str, dtype: pl.DataType) -> Field:
        """The field of ``column``, refusing a stored type that cannot hold its kind."""
        return Field(column, stored_as, dtype)

    @abstractmethod
    def scan(self, fields: Sequence[Field]) -> pl.LazyFrame:
        """The file as a lazy frame: ROW, each field as its kind, and BAD (the row breaks a rule)."""

    @abstractmethod
    def problem(self, fields: Sequence[Field], row: int) -> DataError:
        """The error for 0-based data row ``row`` (one that breaks a rule): its column, value and place."""

    @abstractmethod
    def damage(self, fields: Sequence[Field]) -> DataError | None:
        """The file's first place Polars cannot read for ``fields`` (a non-UTF-8 line, a damaged page), or None."""

    @abstractmethod
    def unreadable(self, error: pl.exceptions.PolarsError) -> DataError:
        """One line for this file when Polars could not read it."""

    @abstractmethod
    def row_error(self, message: str, row: int, column: str) -> DataError:
        """A one-line error about 0-based data row ``row``: its line (CSV) or row (Parquet)."""

    @abstractmethod
    def _refuse_duplicates(self, frame: pl.DataFrame, table: pd.DataFrame, column: str) -> None:
        """Raise the error for a unique column whose values repeat (as read, and as the loaders have it)."""

    @abstractmethod
    def broken(self, fields: Sequence[Field]) -> list[Broken]:
        """Every rule broken in ``fields``, with the rows breaking each."""

    @abstractmethod
    def raw_rows(self, rows: np.ndarray) -> pd.DataFrame:
        """0-based data rows ``rows`` as the file writes them, under its column names (for a rejected-rows file)."""

    @abstractmethod
    def _text_scan(self) -> pl.LazyFrame:
        """ROW and every column of the file as text, under its canonical name (an unknown one as ``_field_<i>``)."""

    def _numbers(self) -> list[str]:
        """The schema's number columns the file has."""
        found = set(self.rename.values())
        return [c.name for c in self.schema.columns if c.kind in ("int", "float") and c.name in found]

    def skipped_rows(self) -> np.ndarray:
        """An export's 0-based rows that are totals or summaries, found once by the one rule of every format
        (:func:`~features.tables.export_text.summary_rows`, on the file's text); none in a table that is no export."""
        if not self.schema.export:
            return np.empty(0, dtype=np.int64)
        if self._skipped is None:
            labels = [name for name in self.schema.labels if name in self.rename.values()]
            figures = self._numbers()
            first = self.rename.get(self.header[0], "_field_0")
            frame = self._text_scan().select(ROW, *dict.fromkeys((*labels, first, *figures))).collect()
            self._skipped = frame[ROW].to_numpy()[summary_rows(frame, labels, first, figures)]
        return self._skipped

    def skipped(self) -> list[str]:
        """What the read left out as not data (an export's totals and summary rows), each with its place and first
        words."""
        rows = self.skipped_rows()
        if not len(rows):
            return []
        found = self.raw_rows(rows)
        words = [next((str(v) for v in row if not pd.isna(v) and v != ""), "") for row in found.itertuples(index=False)]
        return [f"{self.place} {self.line(r)} {w[:40]!r}" for r, w in zip(rows, words, strict=True)]

    def read_rows(self, columns: Sequence[str] | None = None) -> RowsRead:
        """Every data row, indexed by its 0-based place in the file, each value as its kind (missing where it breaks
        a rule), with the rules broken: for a loader that refuses or sets aside bad rows as a policy says."""
        fields = self.fields(columns)
        try:
            frame = self.scan(fields).collect()
        except pl.exceptions.PolarsError as error:
            raise self.unreadable(error) from error
        if frame.height == 0 and not self.schema.allow_empty:
            raise DataError(self.no_rows, path=self.path)
        broken = self.broken(fields) if frame[BAD].any() else []
        index = pd.Index(frame[ROW].cast(pl.Int64).to_numpy())
        table = pd.DataFrame({f.column.name: to_pandas(frame[f.column.name], f.column) for f in fields})
        for field in fields:
            if field.column.unique and frame[field.column.name].drop_nulls().n_unique() < frame.height:
                self._refuse_duplicates(frame, table, field.column.name)
        whole = tuple(f.column.name for f in fields if f.column.kind == "int")
        return RowsRead(self.path, table.set_axis(index), broken, self.skipped(), whole, self)

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The file as ``schema`` says: canonical column names, declared kinds, or a :class:`DataError`.

        ``columns`` restricts the read to some of the schema's columns (for speed on large files).
        """
        fields = self.fields(columns)
        try:
            frame = self.scan(fields).collect()
        except pl.exceptions.PolarsError as error:
            raise self.unreadable(error) from error
        if frame[BAD].any():
            raise self.problem(fields, frame.filter(pl.col(BAD))[ROW][0])
        if frame.height == 0 and not self.schema.allow_empty:
            raise DataError(self.no_rows, path=self.path)
        table = pd.DataFrame({f.column.name: to_pandas(frame[f.column.name], f.column) for f in fields})
        for field in fields:
            # Polars counts a million ids in a tenth of the time pandas takes to mark its duplicates (0.1 against
            # 0.4-1.5 s); the format names the repeated rows when there are some.
            if field.column.unique and frame[field.column.name].n_unique() < frame.height:
                self._refuse_duplicates(frame, table, field.column.name)
        return table


@dataclass(frozen=True)
class RowsRead:
    """A file's rows as :meth:`TableReader.read_rows` reads them."""

    path: Path
    table: pd.DataFrame
    broken: list[Broken]
    skipped: list[str]
    whole: tuple[str, ...]  # the integer columns (float while some value is missing)
    reader: TableReader


def file_format(path: str | Path) -> Format:
    """A file's format, from its name: ``*.parquet`` is Parquet, ``*.xlsx`` Excel, anything else is read as CSV."""
    suffix = Path(path).suffix.lower()
    return "parquet" if suffix == ".parquet" else "xlsx" if suffix == ".xlsx" else "csv"


def reader_for(
    path: str | Path, schema: TableSchema, *, typed: bool = False, options: ReadOptions | None = None
) -> TableReader:
    """The reader of ``path`` as ``schema``: its format's, if the schema takes it, else the schema's first format's
    (whose error then says what the file is). ``typed`` takes a format's fast path for scans where it has one (CSV:
    :mod:`features.tables.csv_typed`; not for an export, whose numbers are text)."""
    found = file_format(path)
    chosen = found if found in schema.formats else schema.formats[0]
    typed = typed and not schema.export
    return _READERS.get((chosen, typed), _READERS[chosen, False])(path, schema, options)


def read_table(path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` as ``schema``: canonical column names, declared kinds, or a :class:`DataError`.

    ``columns`` restricts the read to some of the schema's columns (for speed on large files).
    """
    return reader_for(path, schema).read(columns)


def scan_table(
    path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None, typed: bool = False
) -> pl.LazyFrame:
    """``path`` as ``schema``, lazily: ROW, each column (all, or ``columns``) as its kind, and BAD (the row breaks a
    rule); the columns are checked now, the values when it is collected (:meth:`TableReader.problem` names a BAD
    row). ``typed``: see :func:`reader_for`."""
    reader = reader_for(path, schema, typed=typed)
    return reader.scan(reader.fields(columns))


def resolve_columns(path: Path, found: list[str], schema: TableSchema) -> dict[str, str]:
    """Map each file column to its canonical name; raise on a wrong delimiter, a missing or repeated column."""
    repeated = next((name for i, name in enumerate(found) if name in found[:i]), None)
    if repeated is not None:
        fields = [str(i + 1) for i, name in enumerate(found) if name == repeated]
        raise DataError(f"the header names this column twice (fields {', '.join(fields)})", path=path, column=repeated)
    rename: dict[str, str] = {}
    missing: list[Column] = []
    for column in schema.columns:
        hit = next((name for name in (column.name, *column.aliases) if name in found), None)
        if hit is not None:
            rename[hit] = column.name
        elif column.required:
            missing.append(column)
    if not missing:
        return rename
    header = schema.sep.join(found)
    for other in _OTHER_SEPARATORS:
        other_names = {name.strip().strip('"') for name in header.split(other)}
        if other != schema.sep and all(any(n in other_names for n in (c.name, *c.aliases)) for c in missing):
            raise DataError(
                f"columns are separated by {other!r}, but {schema.name} files use {schema.sep!r}", path=path
            )
    column = missing[0]
    close = difflib.get_close_matches(column.name, found, n=1, cutoff=0.75)
    hint = f" (found '{close[0]}': misspelled?)" if close else f" (found: {', '.join(found)})"
    names = ", ".join(f"'{c.name}'" for c in missing)
    raise DataError(f"missing column {names}{hint}", path=path, column=column.name)


def to_pandas(values: pl.Series, column: Column) -> pd.Series:
    """One column as the loaders have it: int64 (float64 if some are empty), bool (object if some are empty)."""
    if column.kind == "int" and values.null_count() == 0:
        return pd.Series(values.to_numpy(), dtype="int64")
    if column.kind in ("int", "float"):
        return pd.Series(values.cast(pl.Float64).to_numpy(), dtype="float64")
    if column.kind == "bool":
        if values.null_count() == 0:
            return pd.Series(values.to_numpy(), dtype=bool)
        return pd.Series([np.nan if v is None else v for v in values.to_list()], dtype=object)
    if column.kind == "datetime":
        return values.to_pandas()
    text = values.cast(pl.String)
    # Only whitespace (stripped to ""): missing. when/then, not replace: a tenth of a millisecond less per column,
    # which is most of a web request's one row.
    series = pl.select(pl.when(text != "").then(text).alias(text.name)).to_series().to_pandas()
    return series.astype("category") if column.kind == "category" else series
