"""The one CSV reader (features.tables): declared kinds and value rules, and one line naming file, column and line."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adpipe.errors import DataError
from features.schema import Column, TableSchema, check_rows
from features.tables import read_table

SCHEMA = TableSchema(
    "test",
    ";",
    (
        Column("id", unique=True),
        Column("count", "int", aliases=("n",), minimum=0),
        Column("price", "float", nullable=True, maximum=100),
        Column("flag", "bool"),
        Column("maybe", "bool", nullable=True, required=False),
        Column("colour", "category", allowed=("blue", "red")),
        Column("when", "datetime", datetime_format="%Y-%m-%d %H:%M:%S"),
    ),
)
HEADER = "id;count;price;flag;maybe;colour;when"
ROWS = ["a;1;2.5;TRUE;;red;2023-01-02 10:00:00", "b;2;;no;yes;blue;2023-01-03 11:30:00"]


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "table.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def error_of(path: Path, schema: TableSchema = SCHEMA) -> str:
    with pytest.raises(DataError) as caught:
        read_table(path, schema)
    message = str(caught.value)
    assert "\n" not in message and "np." not in message and str(path) in message
    return message


def test_kinds_as_the_loaders_use_them(tmp_path: Path) -> None:
    table = read_table(write(tmp_path, *ROWS), SCHEMA)
    assert list(table.columns) == ["id", "count", "price", "flag", "maybe", "colour", "when"]
    assert isinstance(table.index, pd.RangeIndex)
    assert table["count"].dtype == "int64" and table["price"].dtype == "float64" and np.isnan(table["price"][1])
    assert table["flag"].dtype == bool and list(table["flag"]) == [True, False]
    assert table["maybe"].dtype == object and np.isnan(table["maybe"][0]) and table["maybe"][1] is True
    assert list(table["colour"].cat.categories) == ["blue", "red"] and table["id"].dtype == "str"
    assert table["when"].dtype == "datetime64[us]" and table["when"][1] == pd.Timestamp("2023-01-03 11:30:00")


def test_whitespace_aliases_and_whole_floats(tmp_path: Path) -> None:
    path = write(
        tmp_path, " a ;5.0; 2 ; true ;;\u00a0red ; 2023-01-02 10:00:00", header="id;n;price;flag;maybe;colour;when"
    )
    table = read_table(path, SCHEMA)
    assert table.loc[0, "id"] == "a" and table.loc[0, "count"] == 5 and table.loc[0, "colour"] == "red"
    assert table.loc[0, "price"] == 2.0 and table.loc[0, "flag"]


@pytest.mark.parametrize(
    ("row", "column", "expected"),
    [
        ("c;-1;2;TRUE;;red;2023-01-02 10:00:00", "count", "value '-1' is below the minimum 0"),
        ("c;1.5;2;TRUE;;red;2023-01-02 10:00:00", "count", "value '1.5' is not a whole number"),
        ("c;1e30;2;TRUE;;red;2023-01-02 10:00:00", "count", "value '1e30' is beyond the 64-bit integer range"),
        ("c;x;2;TRUE;;red;2023-01-02 10:00:00", "count", "value 'x' is not a number"),
        ("c;;2;TRUE;;red;2023-01-02 10:00:00", "count", "no value (it may not be empty)"),
        ("c;1;inf;TRUE;;red;2023-01-02 10:00:00", "price", "value 'inf' is not a finite number"),
        ("c;1;nan;TRUE;;red;2023-01-02 10:00:00", "price", "value 'nan' is not a finite number"),
        ("c;1;101;TRUE;;red;2023-01-02 10:00:00", "price", "value '101' is above the maximum 100"),
        ("c;1;2;maybe;;red;2023-01-02 10:00:00", "flag", "value 'maybe' is not TRUE or FALSE"),
        ("c;1;2;TRUE;;green;2023-01-02 10:00:00", "colour", "value 'green' is not one of: blue, red"),
        ("c;1;2;TRUE;;red;yesterday", "when", "value 'yesterday' is not a date-time like %Y-%m-%d %H:%M:%S"),
        ("a;1;2;TRUE;;red;2023-01-02 10:00:00", "id", "duplicate id 'a' on lines 2, 4"),
    ],
)
def test_value_rules(tmp_path: Path, row: str, column: str, expected: str) -> None:
    message = error_of(write(tmp_path, *ROWS, row))
    assert f"column '{column}'" in message and expected in message
    assert "line 4" in message or "lines 2, 4" in message


def test_the_first_bad_line_is_named_with_the_column_count(tmp_path: Path) -> None:
    bad = "c;-1;2;TRUE;;red;2023-01-02 10:00:00"
    message = error_of(write(tmp_path, ROWS[0], bad, ROWS[1], bad.replace("c;", "d;").replace("red", "pink")))
    assert "column 'count', line 3" in message and "(2 bad value(s) in this column)" in message


def test_header_problems(tmp_path: Path) -> None:
    assert "separated by ','" in error_of(write(tmp_path, ROWS[0].replace(";", ","), header=HEADER.replace(";", ",")))
    message = error_of(write(tmp_path, *ROWS, header=HEADER.replace("colour", "color")))
    assert "missing column 'colour'" in message and "'color': misspelled?" in message
    message = error_of(write(tmp_path, ROWS[0] + ";3", header=HEADER + ";count"))
    assert "column 'count'" in message and "twice (fields 2, 8)" in message


def test_files_that_are_not_a_complete_utf8_table(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    for content, expected in [
        (b"", "empty"),
        ("\n".join([HEADER, *ROWS]).encode("utf-16"), "UTF-16"),
        ("\n".join([HEADER, ROWS[0].replace("a;", "\u00e9;")]).encode("latin-1"), "line 2: is not UTF-8"),
        (np.random.default_rng(0).bytes(3000), "not a CSV file in UTF-8"),
        (("\n".join([HEADER, *ROWS]) + "\nc;4").encode(), "line 4: the last row has 2 of the header's 7 fields"),
        (("\n".join([HEADER, ROWS[0] + ";x", ROWS[1]]) + "\n").encode(), "line 2: the row has 8 fields"),
        ((HEADER + "\n").encode(), "header but no data rows"),
    ]:
        path.write_bytes(content)
        assert expected in error_of(path), expected


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert "file not found" in error_of(tmp_path / "table.csv")
    (tmp_path / "table.csv").mkdir()
    assert "is a directory" in error_of(tmp_path / "table.csv")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, *ROWS)
    path.chmod(0)
    assert "permission denied" in error_of(path)


def test_check_rows_prints_plain_values() -> None:
    values = pd.Series([3, -4], dtype="int64")
    with pytest.raises(DataError) as caught:
        check_rows("x.csv", "n", values < 0, values, "is negative")
    assert str(caught.value) == "x.csv, column 'n', line 3: value -4 is negative (1 bad value(s) in this column)"


def test_records_give_the_table_their_csv_gives(tmp_path: Path) -> None:
    """A web request's records (values already typed) and the CSV of the same rows read the same."""
    from datetime import datetime

    from features.schema_records import records_table

    rows = [
        {"id": " a ", "count": 1, "price": 2.5, "flag": True, "maybe": None, "colour": "red",
         "when": datetime(2023, 1, 2, 10, 0, 0, 999)},
        {"id": "b", "count": 2, "price": None, "flag": False, "maybe": True, "colour": "blue",
         "when": datetime(2023, 1, 3, 11, 30)},
    ]  # fmt: skip
    expected = read_table(write(tmp_path, *ROWS), SCHEMA)
    pd.testing.assert_frame_equal(records_table(rows, SCHEMA, path="table.csv"), expected)
    # A column no record sets is absent, as it is from a CSV without it; a required one is there (empty).
    without = [{**row, "maybe": None} for row in rows]
    assert "maybe" not in records_table(without, SCHEMA, path="t.csv")
    with pytest.raises(DataError, match="duplicate id 'b' on lines 2, 3"):
        records_table([rows[1], rows[1]], SCHEMA, path="t.csv")
