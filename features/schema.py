"""Read a CSV against a declared schema, failing with one line that names the file, column and line.

Every data set of the project is read through :func:`read_table`, so every loader gives the same
kind of error for the same kind of mistake (missing file, wrong delimiter, misspelled column,
non-numeric value, value outside a closed set, empty file).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from adpipe.errors import DataError

Kind = Literal["str", "int", "float", "bool", "category", "datetime"]

TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")
_OTHER_SEPARATORS = (",", ";", "\t", "|")
# Offset from a 0-based data row to the file's 1-based line number (the header is line 1).
_HEADER_LINES = 2


@dataclass(frozen=True)
class Column:
    """One column of a table: its canonical name, its kind and, for closed sets, the allowed values."""

    name: str
    kind: Kind = "str"
    allowed: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()
    required: bool = True
    nullable: bool = False
    datetime_format: str | None = None


@dataclass(frozen=True)
class TableSchema:
    """A CSV layout: its delimiter and its columns."""

    name: str
    sep: str
    columns: tuple[Column, ...]
    allow_empty: bool = False
    keep_extra_columns: bool = False
    encoding: str = "utf-8-sig"
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def line_of(row_position: int) -> int:
    """The 1-based line in the file of a 0-based data row (the header is line 1)."""
    return int(row_position) + _HEADER_LINES


def _read_header(path: Path, encoding: str) -> str:
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a CSV file", path=path)
    with path.open("r", encoding=encoding, newline="") as handle:
        header = handle.readline().rstrip("\r\n")
    if not header.strip():
        raise DataError("file is empty (no header line)", path=path)
    return header


def _resolve_columns(path: Path, header: str, schema: TableSchema) -> dict[str, str]:
    """Map each file column to its canonical name; raise on a wrong delimiter or a missing column."""
    found = [name.strip().strip('"') for name in header.split(schema.sep)]
    rename: dict[str, str] = {}
    missing: list[Column] = []
    for column in schema.columns:
        candidates = (column.name, *column.aliases)
        hit = next((name for name in candidates if name in found), None)
        if hit is None:
            if column.required:
                missing.append(column)
            continue
        rename[hit] = column.name
    if not missing:
        return rename

    for other in _OTHER_SEPARATORS:
        if other == schema.sep:
            continue
        other_names = {name.strip().strip('"') for name in header.split(other)}
        if all(any(n in other_names for n in (c.name, *c.aliases)) for c in missing):
            raise DataError(
                f"columns are separated by {other!r}, but {schema.name} files use {schema.sep!r}",
                path=path,
            )
    column = missing[0]
    close = difflib.get_close_matches(column.name, found, n=1, cutoff=0.75)
    hint = f" (found '{close[0]}': misspelled?)" if close else f" (found: {', '.join(found)})"
    names = ", ".join(f"'{c.name}'" for c in missing)
    raise DataError(f"missing column {names}{hint}", path=path, column=column.name)


def _fail_at(path: Path, column: str, mask: pd.Series, raw: pd.Series, expected: str) -> None:
    if mask.any():
        position = int(mask.to_numpy().nonzero()[0][0])
        value = raw.iloc[position]
        raise DataError(
            f"value {value!r} is not {expected} ({int(mask.sum())} bad value(s) in this column)",
            path=path,
            column=column,
            line=line_of(position),
        )


def _check_nulls(path: Path, column: Column, values: pd.Series) -> None:
    if not column.nullable:
        _fail_at(path, column.name, values.isna(), values, "allowed to be empty")


def _convert(path: Path, column: Column, raw: pd.Series) -> pd.Series:
    """Convert one column read as text to its declared kind, naming the first bad line."""
    present = raw.notna() & (raw.astype("str").str.strip() != "")
    text = raw.where(present)
    if column.kind in ("int", "float"):
        values = pd.to_numeric(text.str.strip(), errors="coerce")
        _fail_at(path, column.name, present & values.isna(), raw, "a number")
        _check_nulls(path, column, values)
        if column.kind == "int":
            _fail_at(path, column.name, values.notna() & (values != values.round()), raw, "a whole number")
            if values.notna().all():
                return values.astype("int64")
        return values.astype("float64")
    if column.kind == "bool":
        lowered = text.str.strip().str.lower()
        known = lowered.isin(TRUE_VALUES + FALSE_VALUES)
        _fail_at(path, column.name, present & ~known, raw, "TRUE or FALSE")
        _check_nulls(path, column, text)
        return lowered.isin(TRUE_VALUES).where(present)
    if column.kind == "datetime":
        values = pd.to_datetime(text, format=column.datetime_format, errors="coerce")
        expected = f"a date-time like {column.datetime_format}" if column.datetime_format else "a date-time"
        _fail_at(path, column.name, present & values.isna(), raw, expected)
        _check_nulls(path, column, values)
        return values
    values = text.str.strip()
    if column.allowed is not None:
        allowed = ", ".join(column.allowed)
        _fail_at(path, column.name, present & ~values.isin(column.allowed), raw, f"one of: {allowed}")
    _check_nulls(path, column, values)
    return values.astype("category") if column.kind == "category" else values


def read_table(path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` as ``schema``: canonical column names, declared kinds, or a :class:`DataError`.

    ``columns`` restricts the read to some of the schema's columns (for speed on large files).
    """
    path = Path(path)
    header = _read_header(path, schema.encoding)
    rename = _resolve_columns(path, header, schema)
    wanted = [c for c in schema.columns if c.name in rename.values() and (columns is None or c.name in columns)]
    source_of = {canonical: source for source, canonical in rename.items()}
    usecols = [source_of[c.name] for c in wanted]
    try:
        raw = pd.read_csv(
            path,
            sep=schema.sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding=schema.encoding,
            usecols=None if schema.keep_extra_columns else usecols,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"cannot be parsed as {schema.name}: {first_line}", path=path) from error
    raw.columns = [name.strip() for name in raw.columns]
    raw = raw.rename(columns=rename)
    if raw.empty and not schema.allow_empty:
        raise DataError("file has a header but no data rows", path=path)
    table = raw.copy() if schema.keep_extra_columns else pd.DataFrame(index=raw.index)
    for column in wanted:
        table[column.name] = _convert(path, column, raw[column.name])
    return table
