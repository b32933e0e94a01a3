"""A schema's value rules as Polars expressions, worded once: on text (a CSV field, stripped and parsed) and on
typed values (a Parquet column, or a CSV column Polars parsed itself).

Each rule is (true on a row that breaks it, what is wrong); a reader's BAD column is any of them, and its
one-line error names the first broken rule in this order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from features.schema import BAD, ROW, Column
from features.tables.export_text import none_as_empty, number_text

TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")
# A text scan strips each column once (under its name) and parses numbers and date-times once (under the name +
# _PARSED); a typed scan puts each column's value beside its stored one (the name + _VALUE).
_PARSED = "__parsed"
_VALUE = "__value"

Rule = tuple[pl.Expr, str]


@dataclass(frozen=True)
class Field:
    """A schema column as one file holds it: its name there and its type (text for a CSV field read as text)."""

    column: Column
    stored_as: str
    dtype: pl.DataType


@dataclass(frozen=True)
class Broken:
    """A rule broken on some rows: the column, what is wrong, the 0-based data rows (in the file) that break it."""

    column: str
    problem: str
    rows: np.ndarray

    @property
    def text(self) -> str:
        return f"'{self.column}' {self.problem}"


def rule_flags(rules: Sequence[tuple[str, Sequence[Rule]]]) -> tuple[list[pl.Expr], list[tuple[str, str]]]:
    """One flag per (column, rule): true where the row breaks it and no earlier rule of that column (so a row is
    counted once per column), with each flag's (column, problem)."""
    flags, keys = [], []
    for column, column_rules in rules:
        earlier = pl.lit(False)
        for condition, problem in column_rules:
            broken = condition.fill_null(False)
            flags.append((broken & ~earlier).alias(f"__rule_{len(flags)}"))
            keys.append((column, problem))
            earlier = earlier | broken
    return flags, keys


def broken_rules(scan: pl.LazyFrame, rules: Sequence[tuple[str, Sequence[Rule]]]) -> list[Broken]:
    """Every rule of ``rules`` broken on ``scan`` (ROW and what the rules read), with the rows breaking it."""
    flags, keys = rule_flags(rules)
    found = scan.select(pl.col(ROW), *flags).collect()
    rows = found[ROW].to_numpy()
    out = []
    for i, (column, problem) in enumerate(keys):
        hit = found[f"__rule_{i}"].to_numpy()
        if hit.any():
            out.append(Broken(column, problem, rows[hit].astype(np.int64)))
    return out


def with_bad(columns: Sequence[pl.Expr], broken: Sequence[pl.Expr]) -> list[pl.Expr]:
    """ROW, ``columns`` and BAD (any of ``broken``): what a checked scan selects."""
    bad = pl.any_horizontal(*broken).fill_null(False) if broken else pl.lit(False)
    return [pl.col(ROW), *columns, bad.alias(BAD)]


# --- on text ------------------------------------------------------------------------------------------------


def _present(column: Column) -> pl.Expr:
    """A value is there: not an empty field, nor only whitespace (empty once stripped)."""
    return pl.col(column.name).is_not_null() & (pl.col(column.name) != "")


def _parse(column: Column, decimal: Mapping[str, str] | None) -> pl.Expr | None:
    text = pl.col(column.name)
    if column.kind in ("int", "float"):
        mark = (decimal or {}).get(column.name)
        number = text.cast(pl.Float64, strict=False) if mark is None else number_text(text, mark)
        return number.alias(column.name + _PARSED)
    if column.kind == "datetime":
        return text.str.strptime(pl.Datetime("us"), column.datetime_format, strict=False).alias(column.name + _PARSED)
    return None


def prepared_text(
    raw: pl.LazyFrame, wanted: Sequence[Column], decimal: Mapping[str, str] | None = None
) -> pl.LazyFrame:
    """ROW and each of ``wanted`` stripped, then parsed: what :func:`text_rules` and the text values read. With
    ``decimal`` the text is a platform's export: ``--`` is empty, and the number columns it names (with their
    decimal mark) are number text (:func:`~features.tables.export_text.number_text`)."""
    parsed = [expr for column in wanted if (expr := _parse(column, decimal)) is not None]
    stripped = [pl.col(column.name).str.strip_chars() for column in wanted]
    if decimal is not None:
        stripped = [none_as_empty(text) for text in stripped]
    stripped = [text.alias(column.name) for text, column in zip(stripped, wanted, strict=True)]
    return raw.select(ROW, *stripped).with_columns(parsed)


def text_rules(column: Column) -> list[Rule]:
    """The rules of a column read as text, in the order a message names them."""
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


def _text_value(column: Column) -> pl.Expr:
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


def checked_text(raw: pl.LazyFrame, wanted: Sequence[Column], decimal: Mapping[str, str] | None = None) -> pl.LazyFrame:
    """ROW, each of ``wanted`` as its kind and BAD, from ``raw``: ROW and every field as text, canonically named
    (``decimal``: see :func:`prepared_text`)."""
    broken = [condition for column in wanted for condition, _ in text_rules(column)]
    values = [_text_value(column).alias(column.name) for column in wanted]
    return prepared_text(raw, wanted, decimal).select(with_bad(values, broken))


# --- on typed values ----------------------------------------------------------------------------------------


def is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def _typed_value(field: Field) -> pl.Expr:
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


def typed_rules(field: Field) -> list[Rule]:
    """The rules of a typed column, worded as :func:`text_rules` words them."""
    column, dtype = field.column, field.dtype
    stored, value = pl.col(column.name), pl.col(column.name + _VALUE)
    text = stored if dtype == pl.String else stored.cast(pl.String)
    empty = stored.is_null() | (text == "") if is_text(dtype) else stored.is_null()
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


def with_typed_values(stored: pl.LazyFrame, fields: Sequence[Field]) -> pl.LazyFrame:
    """``stored`` and, beside each field's stored column, its typed value (what :func:`typed_rules` read)."""
    return stored.with_columns(_typed_value(f).alias(f.column.name + _VALUE) for f in fields)


def checked_typed(stored: pl.LazyFrame, fields: Sequence[Field], also_bad: Sequence[pl.Expr] = ()) -> pl.LazyFrame:
    """ROW, each field as its kind, and BAD (the row breaks a rule, or one of ``also_bad`` is true), from
    ``stored``: ROW and each field's stored column under its canonical name, typed as ``fields`` say."""
    broken = [condition for field in fields for condition, _ in typed_rules(field)] + list(also_bad)
    values = [pl.col(f.column.name + _VALUE).alias(f.column.name) for f in fields]
    return with_typed_values(stored, fields).select(with_bad(values, broken))
