"""What every command shares: one error boundary, plain-text tables and the common options.

The boundary (:class:`ErrorBoundary`, the CLI's root group) runs every command with all-or-nothing
outputs and turns the project's own errors into one line on stderr and an exit code: ``DataError`` 1
(data, params, model files), ``OptionError`` 2, Ctrl-C 130; so are the two conditions of the machine
rather than the code, the file system (``OSError``) and input that is not UTF-8 (exit 1). Anything else,
a plain ``ValueError`` or a library's error included, is a bug: its traceback is shown with a line saying
so, and the exit code is 70. A user's mistake that a library would refuse is checked, or the library's
error re-raised as a ``DataError``, where the input is known. See docs/errors.md.
"""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import typer
from typer.core import TyperGroup

from adpipe import config, io
from adpipe.errors import DataError, OptionError

if TYPE_CHECKING:
    from features.tables.bad_rows import ReadingRecord, RowPolicy

BUG_EXIT_CODE = 70  # sysexits' EX_SOFTWARE: an internal error, not the user's input
_OS_HINTS = {
    errno.EACCES: ": check its permissions",
    errno.EPERM: ": check its permissions",
    errno.EROFS: ": choose a writable place",
    errno.ENOSPC: ": free some space",
    errno.EDQUOT: ": free some space",
}


def explain(error: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line for a failure the user can fix; None for a bug (any other exception).

    An error raised while a KeyboardInterrupt was being handled (a library's ``finally`` that Ctrl-C broke)
    is still the user's Ctrl-C.
    """
    if isinstance(error, KeyboardInterrupt) or isinstance(error.__context__, KeyboardInterrupt):
        return 130, "interrupted: outputs were left as they were"
    if isinstance(error, OptionError):
        return 2, f"{error} (see --help)"
    if isinstance(error, DataError):
        return 1, str(error)
    if isinstance(error, UnicodeDecodeError):
        return 1, f"an input is not UTF-8 text ({error.reason} at byte {error.start}): save it as UTF-8"
    if isinstance(error, OSError) and error.errno != errno.EPIPE:  # a closed pipe is Typer's (exit 1, silent)
        where = ", ".join(str(name) for name in (error.filename, error.filename2) if name is not None)
        what = f"{error.strerror or error}{_OS_HINTS.get(error.errno, '')}"
        return 1, f"{where}: {what}" if where else what
    return None


def _note(keeps: Path | None) -> str:
    if keeps is None:
        return ""
    if keeps.exists():
        return f" (the previous {keeps} was left untouched)"
    return f" (nothing was written to {keeps})"


@contextmanager
def exit_on_error(*, keeps: Path | None = None) -> Iterator[None]:
    """Turn a failure the user can fix (see :func:`explain`) into one line on stderr and its exit code.

    ``keeps`` names an output the command would have replaced: the line says it was left as it was. A bug
    goes on to the boundary, which shows its traceback.
    """
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):  # Typer's own exits and usage errors
        raise
    except (Exception, KeyboardInterrupt) as error:
        explained = explain(error)
        if explained is None:
            if keeps is not None:
                error.add_note(_note(keeps).strip(" ()"))
            raise
        code, message = explained
        typer.echo(f"error: {message}{_note(keeps)}", err=True)
        raise typer.Exit(code=code) from error


class ErrorBoundary(TyperGroup):
    """The root group of the CLI (``typer.Typer(cls=ErrorBoundary)``): every sub-command runs inside it."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            with exit_on_error(), io.all_or_nothing():
                return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except Exception as error:
            traceback.print_exception(error, file=sys.stderr)
            typer.echo(
                f"error: this is a bug in adpipe ({type(error).__name__}), not a problem with your input: "
                "please report it with the traceback above",
                err=True,
            )
            raise typer.Exit(code=BUG_EXIT_CODE) from error


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
    return typer.Option(config.DEFAULT_SEED, "--seed", min=0, max=2**32 - 1, help=help)


def data_option(default: Path, help: str) -> Any:
    return typer.Option(default, "--data", help=help)


def report_option(default: Path | None, help: str = "Where the JSON report goes.") -> Any:
    return typer.Option(default, "--report", help=help)


def model_option(default: Path | None, help: str = "Where the fitted model is saved / read.") -> Any:
    return typer.Option(default, "--model", help=help)


def version_option() -> Any:
    return typer.Option(
        None,
        "--version",
        help="Predict with a kept model version (`python model.py models list`), or 'promoted' [default: the last "
        "trained model, the --model file].",
    )


def params_option(default: Path, help: str = "Hyperparameters (JSON) written by `tune`.") -> Any:
    return typer.Option(default, "--params", help=help)


def trials_option() -> Any:
    return typer.Option(None, "--trials", min=1, help="Trials the study should hold (100 without --timeout).")


def timeout_option() -> Any:
    return typer.Option(None, "--timeout", min=1, help="Stop after this many seconds instead.")


def storage_option() -> Any:
    return typer.Option(config.DEFAULT_STORAGE, "--storage", help="Optuna RDB URL (sqlite, postgresql).")


def study_option(default: str, help: str = "Study name (resumed if it exists).") -> Any:
    return typer.Option(default, "--study", help=help)


def pruner_option() -> Any:
    return typer.Option("median", "--pruner", help="median, halving or none.")


# How an export is read, the same for every command that reads one (docs/roas.md, "Bad rows"): built into one
# features.tables.bad_rows.RowPolicy by row_policy(); every `roas` command that reads an export and `explore` take them.
BadRows = Literal["refuse", "skip"]
BadRowsOption = typer.Option(
    "refuse",
    "--bad-rows",
    help="Impossible rows (negative spend, clicks above impressions, ...): refuse the file naming every rule "
    "broken, or skip them into <report stem>.rejected.csv beside the report.",
)
MaxBadRows = typer.Option(
    "1%", "--max-bad-rows", help="With --bad-rows skip, refuse all the same above this many rows (N or P% of rows)."
)
DecimalMark = typer.Option(None, "--decimal", help="The export's decimal mark, . or , [default: from its numbers].")
Sheet = typer.Option(None, "--sheet", help="The sheet of an .xlsx export [default: the first].")


def row_policy(bad_rows: BadRows, max_bad_rows: str, decimal: str | None, sheet: str | None, beside: Path) -> RowPolicy:
    """The options' policy, its rejected rows going beside ``beside`` (the command's report or output)."""
    from features.tables.bad_rows import RowPolicy

    return RowPolicy.beside(beside, bad_rows=bad_rows, max_bad_rows=max_bad_rows, decimal=decimal, sheet=sheet)


def echo_reading(reading: ReadingRecord | None) -> None:
    """What the read skipped, set aside and warned of, before the figures."""
    for line in reading.lines() if reading is not None else ():
        typer.echo(line)
