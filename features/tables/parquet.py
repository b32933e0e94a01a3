"""A Parquet file read against the same :class:`~features.schema.TableSchema` as its CSV, without parsing text.

Parquet keeps each column typed, so the values are read as they are stored: a column's type must be able
to hold its schema kind (see ``_HOLDS``: an integer or float column for a number, a timestamp, a date or
text in the declared format for a date-time, text or integers for an identifier, ...), or the file is
refused with one line naming it and the column. The value rules are the CSV reader's (non-empty, finite,
ranges, whole numbers, closed sets) with the same wording. Parquet has no lines: an error names the
row, counting the file's data rows from 1. Values are not stripped of whitespace, as a CSV field is: in
Parquet a space is part of the value. An export's totals and summary rows are found by the rule every format
shares (:meth:`~features.tables.reader.TableReader.skipped_rows`, on the values as text) and left out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import polars as pl

from adpipe.errors import DataError, first_line
from features.schema import BAD, ROW, Column, Kind
from features.tables.reader import TableReader
from features.tables.rules import Broken, Field, broken_rules, checked_typed, is_text, typed_rules, with_typed_values


def _datetime(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.Datetime) or dtype == pl.Date


# What each kind accepts, and how the message names it.
_HOLDS: dict[Kind, tuple[Callable[[pl.DataType], bool], str]] = {
    "int": (lambda t: t.is_integer() or t.is_float(), "an integer or float column"),
    "float": (lambda t: t.is_integer() or t.is_float(), "an integer or float column"),
    "bool": (lambda t: t == pl.Boolean or t == pl.String, "a boolean column, or text TRUE/FALSE"),
    "datetime": (lambda t: _datetime(t) or t == pl.String, "a timestamp or date column, or text"),
    "category": (is_text, "a text or categorical column"),
    "str": (lambda t: is_text(t) or t.is_integer(), "a text, categorical or integer column"),
}


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str | int | float | bool) else str(value)


class ParquetReader(TableReader):
    """Parquet: each column read as stored, its type checked against its kind."""

    format = "parquet"
    expected = "a Parquet file"
    no_rows = "file has no data rows"
    place = "row"

    def _columns(self) -> list[tuple[str, pl.DataType]]:
        try:
            return list(pl.read_parquet_schema(self.path).items())
        except (OSError, pl.exceptions.PolarsError) as error:
            raise DataError(f"is not a readable Parquet file ({first_line(error)})", path=self.path) from error

    def _check_file(self) -> None:
        """Nothing more: Parquet's footer, read for the columns, holds every row's place."""

    def _field(self, column: Column, stored_as: str, dtype: pl.DataType) -> Field:
        holds, accepted = _HOLDS[column.kind]
        if not holds(dtype):
            raise DataError(
                f"is {dtype} in this Parquet file, which cannot hold {self.schema.name} {column.kind} values "
                f"(expected {accepted})",
                path=self.path,
                column=column.name,
            )
        return Field(column, stored_as, dtype)

    def _stored(self, fields: Sequence[Field]) -> pl.LazyFrame:
        """ROW and each field's stored column under its canonical name; an export's totals and summary rows left
        out."""
        stored = pl.scan_parquet(self.path, row_index_name=ROW).select(
            pl.col(ROW), *(pl.col(f.stored_as).alias(f.column.name) for f in fields)
        )
        skipped = self.skipped_rows()
        return stored.filter(~pl.col(ROW).is_in(skipped.tolist())) if len(skipped) else stored

    def _text_scan(self) -> pl.LazyFrame:
        names = [self.rename.get(name, f"_field_{i}") for i, name in enumerate(self.header)]
        return pl.scan_parquet(self.path, row_index_name=ROW).select(
            pl.col(ROW),
            *(pl.col(name).cast(pl.String).alias(as_text) for name, as_text in zip(self.header, names, strict=True)),
        )

    def scan(self, fields: Sequence[Field]) -> pl.LazyFrame:
        return checked_typed(self._stored(fields), fields)

    def problem(self, fields: Sequence[Field], row: int) -> DataError:
        typed = with_typed_values(self._stored(fields), fields)
        found = typed.filter(pl.col(ROW) == row).collect()
        where = f"in row {row + 1}"
        for field in fields:
            for condition, problem in typed_rules(field):
                if found.select(condition.fill_null(False)).item():
                    count = typed.select(condition.fill_null(False).sum()).collect().item()
                    value = _shown(found[field.column.name].item())
                    said = (
                        f"value {value} {where} {problem}"
                        if problem != "is empty"
                        else f"no value {where} (it may not be empty)"
                    )
                    return DataError(
                        f"{said} ({count} bad value(s) in this column)", path=self.path, column=field.column.name
                    )
        raise AssertionError(f"row {row} of {self.path} breaks no rule")

    def line(self, row: int) -> int:
        """Parquet has no lines: a row is named by its number, counting data rows from 1."""
        return row + 1

    def broken(self, fields: Sequence[Field]) -> list[Broken]:
        typed = with_typed_values(self._stored(fields), fields)
        return broken_rules(typed, [(field.column.name, typed_rules(field)) for field in fields])

    def raw_rows(self, rows: np.ndarray) -> pd.DataFrame:
        found = pl.scan_parquet(self.path, row_index_name=ROW).filter(pl.col(ROW).is_in([int(r) for r in rows]))
        found = found.sort(ROW).drop(ROW).collect()
        return pd.DataFrame({name: found[name].cast(pl.String).to_list() for name in found.columns})

    def damage(self, fields: Sequence[Field]) -> DataError | None:
        """A page of ``fields`` Polars cannot read when it reads the whole file."""
        try:
            self.scan(fields).select(pl.col(BAD).sum()).collect()
        except pl.exceptions.PolarsError as error:
            return self.unreadable(error)
        return None

    def unreadable(self, error: pl.exceptions.PolarsError) -> DataError:
        """A damaged page, say: Polars' words."""
        return DataError(f"cannot be read as Parquet: {first_line(error)}", path=self.path)

    def row_error(self, message: str, row: int, column: str) -> DataError:
        return DataError(f"{message} in row {row + 1}", path=self.path, column=column)

    def _refuse_duplicates(self, frame: pl.DataFrame, table: pd.DataFrame, column: str) -> None:
        rows = frame[column].is_duplicated().arg_true()
        shown = ", ".join(str(r + 1) for r in rows[:4].to_list())
        raise DataError(
            f"duplicate {column} {_shown(frame[column][rows[0]])} in rows {shown} ({len(rows)} rows share a value)",
            path=self.path,
            column=column,
        )
