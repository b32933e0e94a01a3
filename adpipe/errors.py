"""The failures a user can fix, so the CLI can print one line and exit non-zero (see docs/errors.md).

``DataError`` is bad input (a file, column, line, params key or model file): exit code 1.
``OptionError`` is a bad command-line option value that Typer's own types and ranges cannot check
(a choice that depends on the data, a rule between two options): a usage error, exit code 2.
"""

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
        self.message = message
        where = []
        if self.path is not None:
            where.append(str(self.path))
        if column is not None:
            where.append(f"column '{column}'")
        if line is not None:
            where.append(f"line {line}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class OptionError(DataError):
    """A command-line option with a value the command cannot use: ``--alpha: must be below 1, got 2.0``."""

    def __init__(self, message: str, *, option: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


def first_line(error: BaseException) -> str:
    """A library's error in one line, for a message of ours: its first line, or its type when it says nothing."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
