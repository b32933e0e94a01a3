"""``python model.py monitor`` (a batch file against a model's training reference) and ``monitor-calibrate``
(how often that verdict cries wolf and how often it finds a known shift, on the task's own data).

Both read the file the way the service reads an upload: the task's loader, then the saved model's guarded
answers (adpipe.serving.adapter ``Task.batch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.errors import DataError, OptionError

if TYPE_CHECKING:
    from adpipe.serving.adapter import Task

TaskName = typer.Option(..., "--task", help="The task whose model and reference to use (python model.py tasks list).")
MIN_WINDOW = 20  # rows: below this a chi-square test has almost no expected count per bin
Models = typer.Option(config.MODELS_DIR, "--models", help="Folder of the saved models.")


def _served(task_name: str, models: Path, reports: Path) -> Task:
    """The task's service adapter with its saved model (and report figure) loaded, or a one-line error."""
    from adpipe.service.registry import all_tasks, load_models

    tasks = all_tasks()
    if task_name not in tasks:
        raise OptionError(f"{task_name!r} is not a task; choose one of: {', '.join(tasks)}", option="--task")
    task = tasks[task_name]
    status = load_models({task_name: task}, models, reports)[task_name]
    if not status.loaded:
        raise DataError(status.missing or "not loaded", path=Path(status.file))
    return task


def monitor_command(
    task_name: str = TaskName,
    input_path: Path = typer.Option(..., "--input", help="A file (a folder for clickstream) the task's loader reads."),
    models: Path = Models,
    reports: Path = typer.Option(config.REPORTS_DIR, "--reports", help="Folder of the validation reports."),
    output: Path | None = typer.Option(None, "--output", help="Where the report goes [reports/monitor_<task>.json]."),
) -> None:
    """Drift of a batch file (e.g. this month's export) against what the task's model was trained on."""
    from adpipe.dashboard.monitor import drift_table, guard_line, label_free_line
    from adpipe.reports import write_report
    from adpipe.service.monitor import batch_report

    target = output or reports / config.monitor_report(task_name).name
    with exit_on_error(keeps=target):
        task = _served(task_name, models, reports)
        report = batch_report(task, input_path)
        if report is None:
            raise DataError(f"the {task_name} model has no training reference: retrain it", path=models)
        write_report(target, report)
    table = drift_table(report)
    typer.echo(
        f"{task_name}: {report.verdict}; {report.rows} rows of {input_path} vs {report.reference_rows} training rows"
    )
    typer.echo(format_table(table.header, table.rows))
    for line in (guard_line(report), label_free_line(report)):
        if line:
            typer.echo(line)
    typer.echo(f"report -> {target}")


def calibrate_command(
    task_name: str = TaskName,
    data: Path = typer.Option(..., "--data", help="The task's training data (a folder for clickstream)."),
    models: Path = Models,
    windows: int = typer.Option(200, "--windows", min=20, max=10_000, help="Windows drawn per size."),
    sizes: str = typer.Option("100,500,2000", "--sizes", help="Window sizes (rows), comma-separated."),
    seed: int = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the halves and the windows."),
    output: Path | None = typer.Option(
        None, "--output", help="Where the report goes [reports/monitor_calibration_<task>.json]."
    ),
) -> None:
    """False-alarm and detection rates of the drift verdict on the task's own data (docs/monitor.md)."""
    from adpipe.drift_calibration import calibrate
    from adpipe.reports import write_report
    from adpipe.service.monitor import observed

    target = output or config.REPORTS_DIR / f"monitor_calibration_{task_name}.json"
    with exit_on_error(keeps=target):
        try:
            window_sizes = [int(size) for size in sizes.split(",")]
        except ValueError:
            raise OptionError(
                f"{sizes!r}: give whole numbers separated by commas, e.g. 100,500", option="--sizes"
            ) from None
        if min(window_sizes) < MIN_WINDOW:
            raise OptionError(f"{sizes!r}: a window holds at least {MIN_WINDOW} rows", option="--sizes")
        task = _served(task_name, models, config.REPORTS_DIR)
        frame, predicted = observed(task, data)
        report = calibrate(task_name, str(data), frame, predicted, window_sizes, windows, seed)
        write_report(target, report)
    typer.echo(f"{task_name}: {report.protocol}")
    for size in report.sizes:
        detected = ", ".join(f"{d.field} {d.detected:.0%}" for d in size.detection)
        typer.echo(f"  {size.rows:>5} rows: false alarms {size.false_alarm:.1%}; detection: {detected}")
    typer.echo(f"report -> {target}")
