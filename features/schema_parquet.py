"""Read a Parquet file against the same :class:`~features.schema.TableSchema` as its CSV, without parsing text.

Parquet keeps each column typed, so the values are read as they are stored: a column's type must be able
to hold its schema kind (see ``_HOLDS``: an integer or float column for a number, a timestamp, a date or
text in the declared format for a date-time, text or integers for an identifier, ...), or the file is
refused with one line naming it and the column. The value rules are the CSV reader's (non-empty, finite,
ranges, whole numbers, closed sets) with the same wording. Parquet has no lines: an error names the
row, counting the file's data rows from 1. Values are not stripped of whitespace, as a CSV field is: in
Parquet a space is part of the value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl

from adpipe.errors import DataError, first_line
from features.schema import BAD, FALSE_VALUES, ROW, TRUE_VALUES, Column, Kind, TableSchema, _resolve_columns, _to_pandas

_VALUE = "__value"  # a column's typed value, beside its stored one, while the rules are evaluated


def _text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _datetime(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) or dtype == pl.Date


# What each kind accepts, and how the message names it.
_HOLDS: dict[Kind, tuple[Callable[[pl.DataType], bool], str]] = {
    "int": (lambda t: t.is_integer() or t.is_float(), "an integer or float column"),
    "float": (lambda t: t.is_integer() or t.is_float(), "an integer or float column"),
    "bool": (lambda t: t == pl.Boolean or t == pl.String, "a boolean column, or text TRUE/FALSE"),
    "datetime": (lambda t: _datetime(t) or t == pl.String, "a timestamp or date column, or text"),
    "category": (_text, "a text or categorical column"),
    "str": (lambda t: _text(t) or t.is_integer(), "a text, categorical or integer column"),
}


@dataclass(frozen=True)
class Field:
    """A schema column as stored in one Parquet file: its name there and its type."""

    column: Column
    stored_as: str
    dtype: pl.DataType


def parquet_fields(path: str | Path, schema: TableSchema, columns: Sequence[str] | None = None) -> list[Field]:
    """Check ``path``'s columns and their types against ``schema``; the fields to read (all, or ``columns``)."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a Parquet file", path=path)
    try:
        stored = pl.read_parquet_schema(path)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise DataError(f"is not a readable Parquet file ({first_line(error)})", path=path) from error
    rename = {canonical: name for name, canonical in _resolve_columns(path, list(stored), schema).items()}
    fields = []
    for column in schema.columns:
        if column.name not in rename or (columns is not None and column.name not in columns):
            continue
        dtype = stored[rename[column.name]]
        holds, accepted = _HOLDS[column.kind]
        if not holds(dtype):
            raise DataError(
                f"is {dtype} in this Parquet file, which cannot hold {schema.name} {column.kind} values "
                f"(expected {accepted})",
                path=path,
                column=column.name,
            )
        fields.append(Field(column, rename[column.name], dtype))
    return fields


def _value(field: Field) -> pl.Expr:
    """The stored column as its kind (null where empty or unreadable; meaningful where no rule is broken)."""
    column, dtype, stored = field.column, field.dtype, pl.col(field.column.name)
    if column.kind == "int":
        return stored.cast(pl.Int64, strict=False)
    if column.kind == "float":
        return stored.cast(pl.Float64)
    if column.kind == "datetime":
        if dtype == pl.String:
            return stored.str.strptime(pl.Datetime("us"), column.datetime_format, strict=False)
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
            stored = stored.dt.replace_time_zone(None)  # the wall-clock time where it was recorded
        return stored.cast(pl.Datetime("us"))
    if column.kind == "bool":
        if dtype == pl.Boolean:
            return stored
        return pl.when(stored != "").then(stored.str.to_lowercase().is_in(TRUE_VALUES))
    if column.kind == "category":
        return stored if isinstance(dtype, pl.Categorical) else stored.cast(pl.String).cast(pl.Categorical)
    return stored if dtype == pl.String else stored.cast(pl.String)


def rules(field: Field) -> list[tuple[pl.Expr, str]]:
    """(true on a row that breaks the rule, what is wrong), worded as features.schema.rules words them."""
    column, dtype = field.column, field.dtype
    stored, value = pl.col(column.name), pl.col(column.name + _VALUE)
    text = stored if dtype == pl.String else stored.cast(pl.String)
    empty = stored.is_null() | (text == "") if _text(dtype) else stored.is_null()
    out = [] if column.nullable else [(empty, "is empty")]
    if column.kind in ("int", "float"):
        if dtype.is_float():
            out += [(~stored.is_finite(), "is not a finite number")]
        if column.minimum is not None:
            out += [(stored < column.minimum, f"is below the minimum {column.minimum:g}")]
        if column.maximum is not None:
            out += [(stored > column.maximum, f"is above the maximum {column.maximum:g}")]
        if column.kind == "int" and dtype.is_float():
            out += [(stored != stored.round(), "is not a whole number")]
        if column.kind == "int" and (dtype.is_float() or dtype == pl.UInt64):
            out += [(stored.cast(pl.Float64).abs() >= 2.0**63, "is beyond the 64-bit integer range")]
    elif column.kind == "bool" and dtype == pl.String:
        out += [(~empty & ~text.str.to_lowercase().is_in(TRUE_VALUES + FALSE_VALUES), "is not TRUE or FALSE")]
    elif column.kind == "datetime" and dtype == pl.String:
        out += [(~empty & value.is_null(), f"is not a date-time like {column.datetime_format}")]
    if column.allowed is not None:
        out += [(~empty & ~text.is_in(column.allowed), f"is not one of: {', '.join(column.allowed)}")]
    return out


def _stored(path: Path, fields: Sequence[Field]) -> pl.LazyFrame:
    """ROW and each field's stored column under its canonical name."""
    return pl.scan_parquet(path, row_index_name=ROW).select(
        pl.col(ROW), *(pl.col(f.stored_as).alias(f.column.name) for f in fields)
    )


def _with_values(stored: pl.LazyFrame, fields: Sequence[Field]) -> pl.LazyFrame:
    """``stored`` and, beside each field's stored column, its typed value."""
    return stored.with_columns(_value(f).alias(f.column.name + _VALUE) for f in fields)


def _typed(path: Path, fields: Sequence[Field]) -> pl.LazyFrame:
    return _with_values(_stored(path, fields), fields)


def checked(stored: pl.LazyFrame, fields: Sequence[Field], also_bad: Sequence[pl.Expr] = ()) -> pl.LazyFrame:
    """ROW, each field as its kind, and BAD (the row breaks a rule, or one of ``also_bad`` is true), from
    ``stored``: ROW and each field's stored column under its canonical name, typed as ``fields`` say."""
    broken = [condition for field in fields for condition, _ in rules(field)] + list(also_bad)
    return _with_values(stored, fields).select(
        pl.col(ROW),
        *(pl.col(f.column.name + _VALUE).alias(f.column.name) for f in fields),
        pl.any_horizontal(*broken).fill_null(False).alias(BAD) if broken else pl.lit(False).alias(BAD),
    )


def scan_parquet_table(path: str | Path, fields: Sequence[Field]) -> pl.LazyFrame:
    """``path`` as a lazy frame: ROW, each field as its kind, and BAD (the row breaks a rule).

    Call :func:`parquet_fields` first (it checks the columns and their types); :func:`first_problem`
    names a BAD row.
    """
    return checked(_stored(Path(path), fields), fields)


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) else str(value)


def first_problem(path: str | Path, fields: Sequence[Field], row: int) -> DataError:
    """The error for 0-based data row ``row`` of ``path`` (a row that breaks a rule): its column, value and row."""
    path = Path(path)
    typed = _typed(path, fields)
    found = typed.filter(pl.col(ROW) == row).collect()
    where = f"in row {row + 1}"
    for field in fields:
        for condition, problem in rules(field):
            if found.select(condition.fill_null(False)).item():
                count = typed.select(condition.fill_null(False).sum()).collect().item()
                value = _shown(found[field.column.name].item())
                said = (
                    f"value {value} {where} {problem}"
                    if problem != "is empty"
                    else f"no value {where} (it may not be empty)"
                )
                return DataError(f"{said} ({count} bad value(s) in this column)", path=path, column=field.column.name)
    raise AssertionError(f"row {row} of {path} breaks no rule")


def unreadable(path: str | Path, error: pl.exceptions.PolarsError) -> DataError:
    """One line for a Parquet file Polars could not read (a damaged page, say)."""
    return DataError(f"cannot be read as Parquet: {first_line(error)}", path=path)


def read_parquet_table(path: str | Path, schema: TableSchema, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read ``path`` as ``schema`` into pandas, as :func:`features.schema.read_table` reads the CSV."""
    path = Path(path)
    fields = parquet_fields(path, schema, columns)
    try:
        frame = scan_parquet_table(path, fields).collect()
    except pl.exceptions.PolarsError as error:
        raise unreadable(path, error) from error
    if frame[BAD].any():
        raise first_problem(path, fields, frame.filter(pl.col(BAD))[ROW][0])
    if frame.height == 0 and not schema.allow_empty:
        raise DataError("file has no data rows", path=path)
    for field in fields:
        name = field.column.name
        if field.column.unique and (repeated := frame[name].is_duplicated()).any():
            rows = repeated.arg_true()
            shown = ", ".join(str(r + 1) for r in rows[:4].to_list())
            raise DataError(
                f"duplicate {name} {_shown(frame[name][rows[0]])} in rows {shown} ({len(rows)} rows share a value)",
                path=path,
                column=name,
            )
    return pd.DataFrame({f.column.name: _to_pandas(frame[f.column.name], f.column) for f in fields})
