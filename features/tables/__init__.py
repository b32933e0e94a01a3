"""The one table-reading layer: a file read against a :class:`~features.schema.TableSchema` into a checked frame.

A format is one :class:`TableReader` (:mod:`features.tables.reader`): CSV read as text
(:mod:`~features.tables.csv_text`), CSV with Polars parsing the numbers, a shortcut for scans
(:mod:`~features.tables.csv_typed`), Parquet (:mod:`~features.tables.parquet`) and an Excel sheet
(:mod:`~features.tables.xlsx`); a schema marked ``export`` is read as a platform's report arrives
(:mod:`~features.tables.export_text`). :func:`reader_for` picks it
from the file, among the formats the schema takes; the reader resolves the columns (:meth:`TableReader.fields`)
and applies the schema's rules (:mod:`features.tables.rules`), lazily (:func:`scan_table`) or into pandas
(:meth:`TableReader.read`, :func:`read_table`). A new format is one more reader module, imported here.
"""

from __future__ import annotations

from features.tables import csv_text, csv_typed, parquet, xlsx  # noqa: F401 (defining a reader registers it)
from features.tables.reader import (
    ReadOptions,
    TableReader,
    file_format,
    read_table,
    reader_for,
    scan_table,
    to_pandas,
)
from features.tables.rules import Field

__all__ = ["Field", "ReadOptions", "TableReader", "file_format", "read_table", "reader_for", "scan_table", "to_pandas"]
