"""What every command shares: one-line errors with a non-zero exit, and plain-text tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import typer

from adpipe.errors import DataError


@contextmanager
def exit_on_error(*, keeps: Path | None = None) -> Iterator[None]:
    """Turn bad input into one line on stderr and exit code 1.

    ``keeps`` names an output the command would have replaced: the message says it was left as it was.
    """
    try:
        yield
    except (DataError, ValueError, FileNotFoundError) as error:
        message = f"error: {error}"
        if keeps is not None and keeps.exists():
            message += f" (the previous {keeps} was left untouched)"
        elif keeps is not None:
            message += f" (nothing was written to {keeps})"
        typer.echo(message, err=True)
        raise typer.Exit(code=1) from error


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A fixed-width text table: numbers right-aligned with 4 decimals, text left-aligned."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line([str(h) for h in header]), line(["-" * w for w in widths]), *(line(r) for r in cells)])
