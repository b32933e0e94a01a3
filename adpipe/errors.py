"""One exception type for bad input, so the CLI can print one line and exit non-zero."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """Bad input: says which file, and which column or row, was wrong."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        column: str | None = None,
        line: int | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.column = column
        self.line = line
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if column is not None:
            where.append(f"column '{column}'")
        if line is not None:
            where.append(f"line {line}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)
