"""What a table file must hold: a :class:`TableSchema` (its delimiter, formats and columns) of :class:`Column`
(each one's kind and value rules), and the row checks a loader adds once the file is read.

A column declares its kind and its rules: a closed set, a range, whether it may be empty, whether values
are unique. Numbers are always finite. Reading a file against a schema (any format) is :mod:`features.tables`'
work; a loader's own rules across columns (clicks within impressions, say) use :func:`check_rows` and
:func:`check_unique`, whose messages name the file, column and line as the readers' do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from adpipe.errors import DataError

Kind = Literal["str", "int", "float", "bool", "category", "datetime"]
Format = Literal["csv", "parquet", "xlsx"]

# Offset from a 0-based data row to the file's 1-based line number (the header is line 1).
_HEADER_LINES = 2
# Columns every checked scan adds: the row's 0-based position in its file, and whether it breaks a rule.
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
    """A table's layout: its CSV delimiter, its columns, and the file formats it may come in (the first is the one
    a file of any other suffix is read as). An ``export`` (a platform's report) is read as one arrives
    (:mod:`features.tables.export_text`): any common encoding and delimiter, title lines and totals or summary
    rows skipped (``labels``: the columns that name a row, empty on a summary row), number text as numbers."""

    name: str
    sep: str
    columns: tuple[Column, ...]
    allow_empty: bool = False
    formats: tuple[Format, ...] = ("csv",)
    export: bool = False
    labels: tuple[str, ...] = ()


def line_of(row_position: int) -> int:
    """The 1-based line in the file of a 0-based data row (the header is line 1)."""
    return int(row_position) + _HEADER_LINES


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
