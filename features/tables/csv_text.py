"""A CSV file read as text: every field stripped and parsed against the schema, a bad value named by its line.

Polars parses the text and evaluates the rules (:mod:`features.tables.rules`) as expressions, lazily. This
module adds only what the library does not do: the one-line error with file, column and line; refusing
duplicated header names, a cut-short last row and any encoding but UTF-8.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from adpipe.errors import DataError, first_line
from features.schema import ROW, TableSchema, check_unique
from features.tables.export_text import Layout, find_layout, guess_decimal, plain_columns, utf8_source
from features.tables.reader import ReadOptions, TableReader
from features.tables.rules import Broken, Field, broken_rules, checked_text, prepared_text, text_rules

_TAIL_BYTES = 1 << 16


class CsvReader(TableReader):
    """The text path: what a person types is accepted (" 5", "5.0" in a whole-number column)."""

    format = "csv"
    expected = "a CSV file"
    no_rows = "file has a header but no data rows"

    def __init__(self, path: str | Path, schema: TableSchema, options: ReadOptions | None = None) -> None:
        super().__init__(path, schema, options)
        self.layout: Layout | None = None  # an export's encoding, delimiter and title lines: set by fields()
        self._source: Path | bytes | None = None
        self._decimal: dict[str, str] | None = None

    def _columns(self) -> list[tuple[str, pl.DataType]]:
        """The header's field names (all text); refuses an unreadable, empty or non-UTF-8 file (an export: any
        common encoding and delimiter, its header below any title lines)."""
        path = self.path
        if self.schema.export:
            return self._export_columns()
        try:
            with path.open("rb") as handle:
                start = handle.read(_TAIL_BYTES)
        except PermissionError as error:
            raise DataError("cannot be read (permission denied)", path=path) from error
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in start:
            kind = "UTF-16 text" if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "binary data"
            raise DataError(f"is {kind}, not a CSV file in UTF-8: save it as UTF-8 CSV", path=path)
        header = start.split(b"\n", 1)[0].removeprefix(codecs.BOM_UTF8).rstrip(b"\r")
        try:
            text = header.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _not_utf8(path, 1, header, error) from error
        if not text.strip():
            raise DataError("file is empty (no header line)", path=path)
        return [(name.strip().strip('"'), pl.String()) for name in text.split(self.schema.sep)]

    def _export_columns(self) -> list[tuple[str, pl.DataType]]:
        try:
            self.layout = find_layout(self.path, schema_names(self.schema))
        except PermissionError as error:
            raise DataError("cannot be read (permission denied)", path=self.path) from error
        if not any(self.layout.header):
            raise DataError("file is empty (no header line)", path=self.path)
        self.header_line = self.layout.header_line
        return [(name, pl.String()) for name in self.layout.header]

    def _check_file(self) -> None:
        """Refuse a file cut off inside its last row (fewer fields than the header)."""
        if self.schema.export and not self.layout.encoding.startswith("utf-8"):
            return  # UTF-16: Polars' parse of the re-encoded text decides
        path, n_fields = self.path, len(self.header)
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            tail = handle.read()
        lines = tail.rstrip(b"\r\n").rsplit(b"\n", 1)
        if len(lines) < 2 or b'"' in lines[-1]:
            return  # the header is the only line, or the row may span lines: Polars' parse decides
        fields = next(csv.reader(io.StringIO(lines[-1].decode("utf-8", "replace")), delimiter=self.sep), [])
        if 0 < len(fields) < n_fields:
            with path.open("rb") as handle:
                newlines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 24), b""))
            raise DataError(
                f"the last row has {len(fields)} of the header's {n_fields} fields: the file looks cut short",
                path=path,
                line=newlines if tail.endswith(b"\n") else newlines + 1,
            )

    @property
    def sep(self) -> str:
        return self.layout.sep if self.schema.export else self.schema.sep

    def _scan_csv(self, **options: object) -> pl.LazyFrame:
        """Every field under its canonical name (unknown ones as ``_field_<i>``), with ROW."""
        names = [self.rename.get(name, f"_field_{i}") for i, name in enumerate(self.header)]
        if self.schema.export:
            if self._source is None:
                self._source = utf8_source(self.path, self.layout)
            options |= {"skip_lines": self.layout.header_line, "truncate_ragged_lines": True}
        return pl.scan_csv(
            self._source or self.path,
            separator=self.sep,
            new_columns=names,
            infer_schema=False,
            row_index_name=ROW,
            raise_if_empty=False,
            **options,
        )

    def _text_scan(self) -> pl.LazyFrame:
        return self._scan_csv()

    def _raw(self) -> pl.LazyFrame:
        """ROW and every field as text; an export's totals and summary rows left out."""
        if not self.schema.export:
            return self._scan_csv()
        return self._scan_csv().filter(~pl.col(ROW).is_in(self.skipped_rows().tolist()))

    def decimal(self) -> dict[str, str] | None:
        """An export's number columns that need number text rules, with the decimal mark (the option's, else told
        from the numbers); None for a plain CSV. A column of plain numbers only ("1234", "117.27") is cast as it
        is, a third of the read time saved on a large export, unless its dots may be thousands marks."""
        if not self.schema.export:
            return None
        if self._decimal is None:
            numbers = self._numbers()
            plain = plain_columns(self._raw(), numbers)
            mark = self.options.decimal or guess_decimal(self._raw(), numbers, plain, self.sep, self.path)
            needs_rules = {n for n in numbers if plain[n] == "text" or (mark == "," and plain[n] == "dots")}
            self._decimal = {n: mark for n in needs_rules}
        return self._decimal

    def scan(self, fields: Sequence[Field]) -> pl.LazyFrame:
        return checked_text(self._raw(), [field.column for field in fields], self.decimal())

    def problem(self, fields: Sequence[Field], row: int) -> DataError:
        wanted = [field.column for field in fields]
        raw = self._raw().select(ROW, *(column.name for column in wanted))
        scan = prepared_text(raw, wanted, self.decimal())
        found = scan.filter(pl.col(ROW) == row).collect()
        for column in wanted:
            for condition, problem in text_rules(column):
                if found.select(condition.fill_null(False)).item():
                    count = scan.select(condition.fill_null(False).sum()).collect().item()
                    value = raw.filter(pl.col(ROW) == row).collect()[column.name].item()
                    shown = f"value {value!r} {problem}" if problem != "is empty" else "no value (it may not be empty)"
                    return DataError(
                        f"{shown} ({count} bad value(s) in this column)",
                        path=self.path,
                        column=column.name,
                        line=self.line(row),
                    )
        raise AssertionError(f"row {row} of {self.path} breaks no rule")

    def broken(self, fields: Sequence[Field]) -> list[Broken]:
        wanted = [field.column for field in fields]
        scan = prepared_text(self._raw().select(ROW, *(column.name for column in wanted)), wanted, self.decimal())
        return broken_rules(scan, [(column.name, text_rules(column)) for column in wanted])

    def raw_rows(self, rows: np.ndarray) -> pd.DataFrame:
        names = [self.rename.get(name, f"_field_{i}") for i, name in enumerate(self.header)]
        found = self._scan_csv().filter(pl.col(ROW).is_in([int(r) for r in rows])).sort(ROW).collect()
        return pd.DataFrame({shown: found[name].to_list() for name, shown in zip(names, self.header, strict=True)})

    def skipped(self) -> list[str]:
        """An export's title lines, then its totals or summary rows, each with its line and first words."""
        if not self.schema.export:
            return []
        return [f"line {i + 1} {text[:40]!r}" for i, text in enumerate(self.layout.titles) if text] + super().skipped()

    def damage(self, fields: Sequence[Field] = ()) -> DataError | None:
        """The first line that is not UTF-8 or has more fields than the header (None if none is): a line is read
        whole, whichever ``fields`` are wanted."""
        n_fields = len(self._columns())
        if self.schema.export and not self.layout.encoding.startswith("utf-8"):
            return None  # re-encoded from UTF-16: Polars' words
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    return _not_utf8(self.path, number, raw, error)
                fields = next(csv.reader(io.StringIO(text), delimiter=self.sep), [])
                if len(fields) > n_fields and '"' not in text:
                    return DataError(
                        f"the row has {len(fields)} fields, the header {n_fields}", path=self.path, line=number
                    )
        return None

    def unreadable(self, error: pl.exceptions.PolarsError) -> DataError:
        """The first non-UTF-8 line or ragged row, else Polars' words."""
        found = self.damage()
        if found is not None:
            return found
        return DataError(f"cannot be parsed as {self.schema.name}: {first_line(error)}", path=self.path)

    def row_error(self, message: str, row: int, column: str) -> DataError:
        return DataError(message, path=self.path, column=column, line=self.line(row))

    def _refuse_duplicates(self, frame: pl.DataFrame, table: pd.DataFrame, column: str) -> None:
        check_unique(self.path, table, column)


def schema_names(schema: TableSchema) -> set[str]:
    """Every name a schema's column may have in a file: what an export's header line is found by."""
    return {name for column in schema.columns for name in (column.name, *column.aliases)}


def _not_utf8(path: Path, line: int, raw: bytes, error: UnicodeDecodeError) -> DataError:
    byte = raw[error.start : error.start + 1].hex()
    return DataError(f"is not UTF-8 text (byte 0x{byte}): save it as UTF-8", path=path, line=line)
