"""The toy task's one command: ``model.py toy train`` saves its model and writes its report."""

from __future__ import annotations

from pathlib import Path

import typer

from adpipe import cli_support
from tests.toy import defaults

app = typer.Typer()


@app.command("train")
def train_command(
    model: Path = cli_support.model_option(defaults.MODEL_FILE),
    report: Path = cli_support.report_option(defaults.VALIDATION_REPORT),
) -> None:
    """Save the toy model (x times a factor) and its report."""
    from adpipe.io import save_model
    from adpipe.reports import write_report
    from tests.toy.report import ToyReport

    save_model(model, {"factor": defaults.FACTOR}, {"task": defaults.TASK})
    write_report(report, ToyReport(model_mae=0.5, baseline_mae=1.5))
    typer.echo(f"model -> {model}\nreport -> {report}")
