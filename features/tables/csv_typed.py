"""A CSV file read the fast way: Polars parses its numbers itself, and the typed rules check them.

:class:`~features.tables.csv_text.CsvReader` reads every field as text, strips it and parses it: the path that
accepts what a person types (" 5", "5.0" in a whole-number column) and names a bad value's line. On a large
session file that costs about a third of the feature build (docs/bench.md). :class:`TypedCsvReader` reads int and
float columns typed and text as it is, and checks them with the rules Parquet's typed columns get. It is only a
shortcut for scans: a value Polars cannot parse (Polars raises), a row that breaks a rule, or text with whitespace
around it (the text path would strip it) all say "read this file by the text path", whose answer — the values or
the one-line error — is the one given. On a file with none of these both paths give the same values
(tests/test_feature_engines.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import polars as pl

from features.schema import ROW, Kind
from features.tables.csv_text import CsvReader
from features.tables.rules import Field, checked_typed

# The kinds Polars' CSV reader parses itself; every other kind is read as text (dates by the schema's format).
_PARSED_BY_READER: dict[Kind, pl.DataType] = {"int": pl.Int64(), "float": pl.Float64()}


class TypedCsvReader(CsvReader):
    """The CSV fast path: :meth:`scan` as the text path's (ROW, each field as its kind, BAD), with BAD also true
    where a text value has whitespace around it; collecting it raises a Polars error where a number cannot be
    parsed. Its errors and its eager :meth:`read` are the text path's."""

    typed = True

    def scan(self, fields: Sequence[Field]) -> pl.LazyFrame:
        dtypes = {field.column.name: _PARSED_BY_READER.get(field.column.kind, pl.String()) for field in fields}
        stored = self._scan_csv(schema_overrides=dtypes).select(ROW, *dtypes)
        typed = [Field(field.column, field.column.name, dtypes[field.column.name]) for field in fields]
        text = [pl.col(name) for name, dtype in dtypes.items() if dtype == pl.String]
        return checked_typed(stored, typed, [value != value.str.strip_chars() for value in text])

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return CsvReader(self.path, self.schema).read(columns)
