"""Read a CSV against a declared schema; a bad file fails with one line naming the file, column and line.

A :class:`TableSchema` declares a file's delimiter and columns; each :class:`Column` declares its kind
and its value rules (a closed set, a range, whether it may be empty, whether values are unique).
Numbers are always finite. Polars parses the text and evaluates the rules as expressions, lazily
(:func:`scan_table`, for files larger than memory) or into pandas for the loaders (:func:`read_table`).
This module adds only what the library does not do: the one-line error with file, column and line;
wrong-delimiter and misspelling hints; refusing duplicated header names, a cut-short last row and any
encoding but UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import polars as pl

from adpipe.errors import DataError, first_line

Kind = Literal["str", "int", "float", "bool", "category", "datetime"]

TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")
_OTHER_SEPARATORS = (",", ";", "\t", "|")
# Offset from a 0-based data row to the file's 1-based line number (the header is line 1).
_HEADER_LINES = 2
_TAIL_BYTES = 1 << 16
# Columns every scan adds: the row's 0-based position in its file, and whether it breaks a rule.
ROW = "_row"
BAD = "_bad"


@dataclass(frozen=True)
class Column:
    """One column: its canonical name, its kind and its value rules."""

    name: str
    kind: Kind = "str"
    allowed: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    required: bool = True
    nullable: bool = False
    datetime_format: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    unique: bool = False


@dataclass(frozen=True)
class TableSchema:
    """A CSV layout: its delimiter and its columns."""

    name: str
    sep: str
    columns: tuple[Column, ...]
    allow_empty: bool = False


def line_of(row_position: int) -> int:
    """The 1-based line in the file of a 0-based data row (the header is line 1)."""
    return int(row_position) + _HEADER_LINES


# --- the value rules, as Polars expressions -----------------------------------------------------------------
# A scan strips each column's text once (under the column's name) and parses numbers and date-times
# once (under the name + _PARSED); the rules and the typed values read those.

_PARSED = "__parsed"


def _stripped(column: Column) -> pl.Expr:
    return pl.col(column.name).str.strip_chars().alias(column.name)


def _present(column: Column) -> pl.Expr:
    """A value is there: not an empty field, nor only whitespace (empty once stripped)."""
    return pl.col(column.name).is_not_null() & (pl.col(column.name) != "")


def _parse(column: Column) -> pl.Expr | None:
    text = pl.col(column.name)
    if column.kind in ("int", "float"):
        return text.cast(pl.Float64, strict=False).alias(column.name + _PARSED)
    if column.kind == "datetime":
        return text.str.strptime(pl.Datetime("us"), column.datetime_format, strict=False).alias(column.name + _PARSED)
    return None


def _prepared(raw: pl.LazyFrame, wanted: Sequence[Column]) -> pl.LazyFrame:
    """ROW and each of ``wanted`` stripped, then parsed: what :func:`rules` and :func:`_value` read."""
    parsed = [expr for column in wanted if (expr := _parse(column)) is not None]
    return raw.select(ROW, *(_stripped(column) for column in wanted)).with_columns(parsed)


def rules(column: Column) -> list[tuple[pl.Expr, str]]:
    """(true on a row that breaks the rule, what is wrong), in the order a message names them."""
    text, parsed = pl.col(column.name), pl.col(column.name + _PARSED)
    present = _present(column)
    out = [] if column.nullable else [(~present, "is empty")]
    if column.kind in ("int", "float"):
        out += [(present & parsed.is_null(), "is not a number"), (~parsed.is_finite(), "is not a finite number")]
        if column.minimum is not None:
            out += [(parsed < column.minimum, f"is below the minimum {column.minimum:g}")]
        if column.maximum is not None:
            out += [(parsed > column.maximum, f"is above the maximum {column.maximum:g}")]
        if column.kind == "int":
            out += [(parsed != parsed.round(), "is not a whole number")]
            out += [(parsed.abs() >= 2.0**63, "is beyond the 64-bit integer range")]
    elif column.kind == "bool":
        known = text.str.to_lowercase().is_in(TRUE_VALUES + FALSE_VALUES)
        out += [(present & ~known, "is not TRUE or FALSE")]
    elif column.kind == "datetime":
        expected = f"a date-time like {column.datetime_format}" if column.datetime_format else "an ISO date-time"
        out += [(present & parsed.is_null(), f"is not {expected}")]
    if column.allowed is not None:
        out += [(present & ~text.is_in(column.allowed), f"is not one of: {', '.join(column.allowed)}")]
    return out


def _value(column: Column) -> pl.Expr:
    """The column as its kind (null where empty); meaningful on rows that break none of its rules."""
    text, parsed = pl.col(column.name), pl.col(column.name + _PARSED)
    if column.kind == "int":
        return pl.coalesce(text.cast(pl.Int64, strict=False), parsed.cast(pl.Int64, strict=False))
    if column.kind in ("float", "datetime"):
        return parsed
    if column.kind == "bool":
        return pl.when(_present(column)).then(text.str.to_lowercase().is_in(TRUE_VALUES))
    if column.kind == "category":  # a few distinct values: 4-byte codes aggregate in less memory than text
        return text.cast(pl.Categorical)
    return text  # "" where only whitespace: the eager reader makes that missing, the rules refuse it


# --- the header: the thin layer Polars does not do ----------------------------------------------------------


def _read_header(path: Path, schema: TableSchema) -> list[str]:
    """The header's field names; refuses a missing, unreadable, empty or non-UTF-8 file."""
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a CSV file", path=path)
    try:
        with path.open("rb") as handle:
            start = handle.read(_TAIL_BYTES)
    except PermissionError as error:
        raise DataError("cannot be read (permission denied)", path=path) from error
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in start:
        kind = "UTF-16 text" if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "binary data"
        raise DataError(f"is {kind}, not a CSV file in UTF-8: save it as UTF-8 CSV", path=path)
    header = start.split(b"\n", 1)[0].removeprefix(codecs.BOM_UTF8).rstrip(b"\r")
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, 1, header, error) from error
    if not text.strip():
        raise DataError("file is empty (no header line)", path=path)
    return [name.strip().strip('"') for name in text.split(schema.sep)]


def _not_utf8(path: Path, line: int, raw: bytes, error: UnicodeDecodeError) -> DataError:
    byte = raw[error.start : error.start + 1].hex()
    return DataError(f"is not UTF-8 text (byte 0x{byte}): save it as UTF-8", path=path, line=line)


def _resolve_columns(path: Path, found: list[str], schema: TableSchema) -> dict[str, str]:
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


def _check_last_row(path: Path, schema: TableSchema, n_fields: int) -> None:
    """Refuse a file cut off inside its last row (fewer fields than the header)."""
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
        tail = handle.read()
    lines = tail.rstrip(b"\r\n").rsplit(b"\n", 1)
    if len(lines) < 2 or b'"' in lines[-1]:
        return  # the header is the only line, or the row may span lines: Polars' parse decides
    fields = next(csv.reader(io.StringIO(lines[-1].decode("utf-8", "replace")), delimiter=schema.sep), [])
    if 0 < len(fields) < n_fields:
        with path.open("rb") as handle:
            newlines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
        raise DataError(
            f"the last row has {len(fields)} of the header's {n_fields} fields: the file looks cut short",
            path=path,
            line=newlines if tail.endswith(b"\n") else newlines + 1,
        )


# --- scanning and diagnosing --------------------------------------------------------------------------------


def wanted_columns(path: str | Path, schema: TableSchema, columns: Sequence[str] | None = None) -> list[Column]:
    """Check ``path``'s header and last row against ``schema``; the schema's columns to read from it."""
    path = Path(path)
    found = _read_header(path, schema)
    rename = _resolve_columns(path, found, schema)
    _check_last_row(path, schema, len(found))
    present = set(rename.values())
    return [c for c in schema.columns if c.name in present and (columns is None or c.name in columns)]


def _raw_scan(path: Path, schema: TableSchema) -> pl.LazyFrame:
    """Every field as text under its canonical name, with the row's position in the file."""
    found = _read_header(path, schema)
    rename = _resolve_columns(path, found, schema)
    names = [rename.get(name, f"_field_{i}") for i, name in enumerate(found)]
    return pl.scan_csv(
        path, separator=schema.sep, new_columns=names, infer_schema=False, row_index_name=ROW, raise_if_empty=False
    )


def scan_table(path: str | Path, schema: TableSchema, wanted: Sequence[Column]) -> pl.LazyFrame:
    """``path`` as a lazy frame: ROW, each of ``wanted`` as its kind, and BAD (the row breaks a rule).

    Call :func:`wanted_columns` first (it checks the header); when a collected frame has a BAD row,
    :func:`first_problem` names it.
    """
    broken = [condition for column in wanted for condition, _ in rules(column)]
    return _prepared(_raw_scan(Path(path), schema), wanted).select(
        pl.col(ROW),
        *(_value(column).alias(column.name) for column in wanted),
        pl.any_horizontal(*broken).fill_null(False).alias(BAD) if broken else pl.lit(False).alias(BAD),
    )


def first_problem(path: str | Path, schema: TableSchema, wanted: Sequence[Column], row: int) -> DataError:
    """The error for data row ``row`` of ``path`` (a row that breaks a rule): its column, value and line."""
    path = Path(path)
    raw = _raw_scan(path, schema).select(ROW, *(column.name for column in wanted))
    scan = _prepared(raw, wanted)
    found = scan.filter(pl.col(ROW) == row).collect()
    for column in wanted:
        for condition, problem in rules(column):
            if found.select(condition.fill_null(False)).item():
                count = scan.select(condition.fill_null(False).sum()).collect().item()
                value = raw.filter(pl.col(ROW) == row).collect()[column.name].item()
                shown = f"value {value!r} {problem}" if problem != "is empty" else "no value (it may not be empty)"
                return DataError(
                    f"{shown} ({count} bad value(s) in this column)", path=path, column=column.name, line=line_of(row)
                )
    raise AssertionError(f"row {row} of {path} breaks no rule")


def bad_line(path: str | Path, schema: TableSchema) -> DataError | None:
    """The first line of ``path`` that is not UTF-8 or has more fields than the header (None if none is)."""
    path = Path(path)
    n_fields = len(_read_header(path, schema))
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return _not_utf8(path, number, raw, error)
            fields = next(csv.reader(io.StringIO(text), delimiter=schema.sep), [])
            if len(fields) > n_fields and '"' not in text:
                return DataError(f"the row has {len(fields)} fields, the header {n_fields}", path=path, line=number)
    return None


def diagnose(path: str | Path, schema: TableSchema, error: pl.exceptions.PolarsError) -> DataError:
    """One line for a file Polars could not parse: the first non-UTF-8 line or ragged row, else Polars' words."""
    found = bad_line(path, schema)
    if found is not None:
        return found
    return DataError(f"cannot be parsed as {schema.name}: {first_line(error)}", path=path)


def collect(path: str | Path, schema: TableSchema, frame: pl.LazyFrame, **options: object) -> pl.DataFrame:
    """``frame.collect(**options)``, a parse failure of ``path`` turned into a one-line DataError."""
    try:
        return frame.collect(**options)
    except pl.exceptions.PolarsError as error:
        raise diagnose(path, schema, error) from error


# --- the eager reader ------------------------------------------------------------------------------------


def _to_pandas(values: pl.Series, column: Column) -> pd.Series:
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


def read_table(path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` as ``schema``: canonical column names, declared kinds, or a :class:`DataError`.

    ``columns`` restricts the read to some of the schema's columns (for speed on large files).
    """
    path = Path(path)
    wanted = wanted_columns(path, schema, columns)
    frame = collect(path, schema, scan_table(path, schema, wanted))
    if frame[BAD].any():
        raise first_problem(path, schema, wanted, frame.filter(pl.col(BAD))[ROW][0])
    if frame.height == 0 and not schema.allow_empty:
        raise DataError("file has a header but no data rows", path=path)
    table = pd.DataFrame({column.name: _to_pandas(frame[column.name], column) for column in wanted})
    for column in wanted:
        # Polars counts a million ids in a tenth of the time pandas takes to mark its duplicates (0.1 against
        # 0.4-1.5 s); pandas names the repeated lines when there are some.
        if column.unique and frame[column.name].n_unique() < frame.height:
            check_unique(path, table, column.name)
    return table


def check_rows(
    path: str | Path, column: str, bad: pd.Series | np.ndarray, values: pd.Series, problem: str, first_row: int = 0
) -> None:
    """Refuse a column if any row is flagged ``bad``: one line naming the first such row's line and value."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        value = values.iloc[position]
        value = value.item() if isinstance(value, np.generic) else value  # 4, not np.int64(4)
        raise DataError(
            f"value {value!r} {problem} ({int(bad.sum())} bad value(s) in this column)",
            path=path,
            column=column,
            line=line_of(first_row + position),
        )


def check_unique(path: str | Path, frame: pd.DataFrame, column: str) -> None:
    """Refuse repeated values of a key column, naming the first lines that share one."""
    duplicated = frame[column].duplicated(keep=False)
    if duplicated.any():
        positions = np.flatnonzero(duplicated.to_numpy())
        lines = ", ".join(str(line_of(p)) for p in positions[:4])
        value = frame[column].iloc[positions[0]]
        value = value.item() if isinstance(value, np.generic) else value
        raise DataError(
            f"duplicate {column} {value!r} on lines {lines} ({int(duplicated.sum())} rows share a value)",
            path=path,
            column=column,
        )
