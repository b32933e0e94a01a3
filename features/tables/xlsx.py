"""An Excel workbook (``.xlsx``): one sheet read as the text of its cells, then as an export's CSV text is read.

fastexcel (calamine, in Rust) loads the sheet into Arrow with every cell as text: a number cell is written as
its value ("1234.5"), a text cell as typed ("€1,234.50"), so the number rules of
:mod:`features.tables.export_text` read both. Measured against pandas with openpyxl or python-calamine, it is the
fastest reader here (docs/roas.md, "Formats"). Title rows above the header and totals rows are found as in a CSV
export; a row's "line" is the sheet's row number.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from adpipe.errors import DataError, first_line
from features.schema import ROW, TableSchema
from features.tables.csv_text import CsvReader, schema_names
from features.tables.export_text import Layout, find_header
from features.tables.reader import ReadOptions
from features.tables.rules import Field


class XlsxReader(CsvReader):
    """The first sheet of a workbook (or the one ``options.sheet`` names), read as an export's text."""

    format = "xlsx"
    expected = "an Excel workbook (.xlsx)"
    no_rows = "sheet has a header but no data rows"

    @property
    def sep(self) -> str:
        return ","  # no delimiter: what the decimal mark is told from when the numbers do not say

    def __init__(self, path: str | Path, schema: TableSchema, options: ReadOptions | None = None) -> None:
        super().__init__(path, schema, options)
        self.layout = Layout("xlsx", ",", 0, (), ())  # set by _columns
        self._cells = pl.DataFrame()
        self._header: list[tuple[str, pl.DataType]] | None = None  # the sheet is loaded once: set by _columns

    def _columns(self) -> list[tuple[str, pl.DataType]]:
        """The header's cells; the sheet is loaded the first time only (a reader's fields are asked for more than
        once, and loading the sheet is most of reading a workbook: docs/roas.md, "Formats")."""
        if self._header is None:
            self._header = self._load()
        return self._header

    def _load(self) -> list[tuple[str, pl.DataType]]:
        import fastexcel  # its Rust module loads with the first workbook read, not with every command

        sheet = self.options.sheet
        try:
            book = fastexcel.read_excel(self.path)
        except (OSError, fastexcel.FastExcelError) as error:
            raise DataError(f"is not a readable Excel workbook ({first_line(error)})", path=self.path) from error
        if sheet is not None and sheet not in book.sheet_names:
            raise DataError(f"has no sheet {sheet!r} (--sheet; sheets: {', '.join(book.sheet_names)})", path=self.path)
        try:
            cells = book.load_sheet(sheet if sheet is not None else 0, header_row=None, dtypes="string").to_polars()
        except fastexcel.FastExcelError as error:
            raise DataError(f"cannot be read as a workbook: {first_line(error)}", path=self.path) from error
        if cells.height == 0:
            raise DataError("sheet is empty (no header row)", path=self.path)
        head = [[(v or "").strip() for v in row] for row in cells.head(50).iter_rows()]
        self.header_line = find_header(head, schema_names(self.schema))
        header = head[self.header_line]
        titles = tuple(" ".join(v for v in row if v) for row in head[: self.header_line])
        self.layout = Layout("xlsx", ",", self.header_line, titles, tuple(header))
        self._cells = cells.slice(self.header_line + 1)
        return [(name or f"(column {i + 1})", pl.String()) for i, name in enumerate(header)]

    def _check_file(self) -> None:
        """Nothing more: a sheet has no cut-short last line."""

    def _scan_csv(self, **options: object) -> pl.LazyFrame:
        names = [self.rename.get(name, f"_field_{i}") for i, name in enumerate(self.header)]
        return self._cells.rename(dict(zip(self._cells.columns, names, strict=True))).with_row_index(ROW).lazy()

    def damage(self, fields: list[Field] | tuple[Field, ...] = ()) -> DataError | None:
        return None  # a workbook that loads has no undecodable line

    def unreadable(self, error: pl.exceptions.PolarsError) -> DataError:
        return DataError(f"cannot be read as a workbook: {first_line(error)}", path=self.path)
