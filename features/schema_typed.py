"""A CSV file read the fast way: Polars parses its numbers itself, and the Parquet reader's typed rules check them.

:func:`features.schema.scan_table` reads every field as text, strips it and parses it: the path that accepts what
a person types (" 5", "5.0" in a whole-number column) and names a bad value's line. On a large session file that
costs about a third of the feature build (docs/bench.md). :func:`scan_typed_csv` reads int and float columns typed
and text as it is, and checks them with :func:`features.schema_parquet.checked`. It is only a shortcut: a value
Polars cannot parse (Polars raises), a row that breaks a rule, or text with whitespace around it (the text path
would strip it) all say "read this file by the text path", whose answer — the values or the one-line error — is
the one given. On a file with none of these both paths give the same values (tests/test_feature_engines.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from features.schema import ROW, Column, Kind, TableSchema, _read_header, _resolve_columns
from features.schema_parquet import Field, checked

# The kinds Polars' CSV reader parses itself; every other kind is read as text (dates by the schema's format).
_PARSED_BY_READER: dict[Kind, pl.DataType] = {"int": pl.Int64(), "float": pl.Float64()}


def scan_typed_csv(path: str | Path, schema: TableSchema, wanted: Sequence[Column]) -> pl.LazyFrame:
    """``path`` as :func:`features.schema.scan_table` returns it (ROW, each of ``wanted`` as its kind, BAD), with
    BAD also true where a text value has whitespace around it. Collecting it raises a Polars error where a number
    cannot be parsed. Call :func:`features.schema.wanted_columns` first (it checks the header and the last row)."""
    path = Path(path)
    found = _read_header(path, schema)
    rename = _resolve_columns(path, found, schema)
    names = [rename.get(name, f"_field_{i}") for i, name in enumerate(found)]
    dtypes = {column.name: _PARSED_BY_READER.get(column.kind, pl.String()) for column in wanted}
    stored = pl.scan_csv(
        path,
        separator=schema.sep,
        new_columns=names,
        schema_overrides=dtypes,
        infer_schema=False,
        row_index_name=ROW,
        raise_if_empty=False,
    ).select(ROW, *dtypes)
    fields = [Field(column, column.name, dtypes[column.name]) for column in wanted]
    text = [pl.col(name) for name, dtype in dtypes.items() if dtype == pl.String]
    return checked(stored, fields, [value != value.str.strip_chars() for value in text])
