"""A web request's records as the tables the readers of :mod:`features.tables` give for their CSV, without
writing or parsing one: the service's records path.

Each record has already been checked field by field against the schema's columns (pydantic types derived
from them: kinds, closed sets, ranges), so what is left is what a CSV round trip would do to the values
(strip text, "" is missing, a date-time at the precision its format writes) and the rules across rows
(unique keys). tests/test_schema_reader.py checks :func:`records_table` against ``read_table`` on the same
rows; tests/test_service_records.py checks the answers against the same rows uploaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import polars as pl

from adpipe.errors import DataError
from features.schema import Column, TableSchema, check_unique
from features.tables import to_pandas

_POLARS_KINDS = {
    "int": pl.Int64,
    "float": pl.Float64,
    "bool": pl.Boolean,
    "datetime": pl.Datetime("us"),
    "category": pl.Categorical,
}


def _as_read(value: object, column: Column) -> object:
    """One value as the reader would have it after a CSV round trip: text stripped ("" missing), a date-time
    at the precision its format writes."""
    if value is None:
        return None
    if column.kind == "datetime":
        text_format = column.datetime_format or "%Y-%m-%d %H:%M:%S"
        return datetime.strptime(value.strftime(text_format), text_format)  # type: ignore[attr-defined]
    if column.kind in ("str", "category"):
        return str(value).strip() or None
    return value


def records_frame(rows: Sequence[dict[str, object]], columns: Sequence[Column]) -> pl.DataFrame:
    """Rows already checked one by one against ``columns`` (a web request's records: kinds, closed sets and
    ranges) as Polars columns of the types a reader's scan (:meth:`features.tables.TableReader.scan`) gives for
    their CSV, without writing or parsing it."""
    return pl.DataFrame(
        [
            pl.Series(
                column.name,
                [_as_read(row.get(column.name), column) for row in rows],
                dtype=_POLARS_KINDS.get(column.kind, pl.String),
            )
            for column in columns
        ]
    )


def records_table(rows: Sequence[dict[str, object]], schema: TableSchema, *, path: str | Path) -> pd.DataFrame:
    """Rows already checked one by one against ``schema``'s columns (a web request's records: kinds, closed sets
    and ranges), as the frame :func:`read_table` gives for the CSV of those rows, without writing or parsing it.

    Present are the required columns and those some row sets; the table-level rule (unique keys) is checked
    here, naming ``path``. tests/test_schema_reader.py checks it against :func:`read_table` on the same rows.
    """
    present = {key for row in rows for key, value in row.items() if value is not None}
    wanted = [c for c in schema.columns if c.name in present or c.required]
    frame = records_frame(rows, wanted)
    table = pd.DataFrame({column.name: to_pandas(frame[column.name], column) for column in wanted})
    if table.empty and not schema.allow_empty:
        raise DataError("file has a header but no data rows", path=Path(path))
    for column in wanted:
        if column.unique:
            check_unique(path, table, column.name)
    return table
