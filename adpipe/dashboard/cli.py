"""The ``report`` command. It imports the page builder only when it runs: ``model.py`` loads this module for
every command, and the builder pulls in plotly, Optuna's plots and every task's code."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error
from adpipe.io import current_path

REPORT_FILE = config.REPORTS_DIR / "index.html"


def report_command(
    output: Path = typer.Option(REPORT_FILE, "--output", help="The HTML page to write."),
    storage: str = cli_support.storage_option(),
    study: str = cli_support.study_option(config.DEFAULT_STUDY, "The tuning study whose history the page shows."),
) -> None:
    """Write one self-contained HTML page (opens offline) of every task's saved results and models."""
    started = time.perf_counter()
    from adpipe.dashboard.build import build

    with exit_on_error(keeps=output):
        path = build(output, storage=storage, study=study)
    size = current_path(path).stat().st_size / 1e6  # the CLI renames outputs into place when the command ends
    typer.echo(f"report -> {path} ({size:.1f} MB, built in {time.perf_counter() - started:.1f} s)")
