"""What every command shares: one-line errors with a non-zero exit, and plain-text tables."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from adpipe import config
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


# The options several commands share, declared once. Each factory returns a fresh ``typer.Option``
# (Typer reads them from the command's signature); ranges are checked by Typer before any work starts.


def folds_option(default: int = 5, help: str = "K of the K-fold.") -> Any:
    return typer.Option(default, "--folds", min=2, help=help)


def repeats_option(default: int = 5, help: str = "How many times the K-fold is redrawn.") -> Any:
    return typer.Option(default, "--repeats", min=1, help=help)


def seed_option(help: str = "Seed of the folds and the models.") -> Any:
    return typer.Option(config.DEFAULT_SEED, "--seed", help=help)


def data_option(default: Path, help: str) -> Any:
    return typer.Option(default, "--data", help=help)


def report_option(default: Path | None, help: str = "Where the JSON report goes.") -> Any:
    return typer.Option(default, "--report", help=help)


def model_option(default: Path | None, help: str = "Where the fitted model is saved / read.") -> Any:
    return typer.Option(default, "--model", help=help)


def params_option(default: Path, help: str = "Hyperparameters (JSON) written by `tune`.") -> Any:
    return typer.Option(default, "--params", help=help)


def trials_option() -> Any:
    return typer.Option(None, "--trials", help="Trials the study should hold (100 without --timeout).")


def timeout_option() -> Any:
    return typer.Option(None, "--timeout", help="Stop after this many seconds instead.")


def storage_option() -> Any:
    return typer.Option(config.DEFAULT_STORAGE, "--storage", help="Optuna RDB URL (sqlite, postgresql).")


def study_option(default: str) -> Any:
    return typer.Option(default, "--study", help="Study name (resumed if it exists).")


def pruner_option() -> Any:
    return typer.Option("median", "--pruner", help="median, halving or none.")
