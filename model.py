"""The one entry point: the ClickStream main task, and each sibling task as a sub-command.

\b
python model.py predict      # train on train/, predict test/ -> predictions/predictions.json
python model.py validate     # repeated stratified K-fold: macro-F1 vs a majority baseline
python model.py --help       # every command
"""

from __future__ import annotations

import typer

from adpipe.bench.cli import app as bench_app
from adpipe.cli_support import ErrorBoundary
from adpipe.commands import tasks as task_commands
from adpipe.commands import versions as versions_commands
from adpipe.commands.explore import explore_command
from adpipe.dashboard.cli import report_command
from adpipe.faults.command import faults_command
from adpipe.faults.kube import kube_check_command
from adpipe.service import cli as service_cli
from adpipe.tuning.command import study_app


def build_app() -> typer.Typer:
    """The CLI: each task's commands from the task list (read when called: a test may register a task), then the
    commands that serve them all."""
    from adpipe.tasks import TASKS

    # One error boundary for every command (adpipe.cli_support, docs/errors.md). Help texts are plain text: Rich
    # markup would swallow their "[default: ...]" notes.
    cli = typer.Typer(
        help=__doc__,
        cls=ErrorBoundary,
        rich_markup_mode=None,
        add_completion=False,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    for task in TASKS:  # the main task's commands at the top level: they are the challenge's
        cli.add_typer(task.cli, name=task.command)
    cli.add_typer(task_commands.app, name="tasks")
    cli.add_typer(bench_app, name="bench")
    cli.add_typer(study_app, name="study")
    cli.add_typer(versions_commands.app, name="models")
    cli.command("report")(report_command)
    cli.command("explore")(explore_command)
    cli.command("faults")(faults_command)
    cli.command("kube-check")(kube_check_command)
    service_cli.register(cli)
    return cli


app = build_app()


def main() -> None:
    """The console script (``adpipe``) and ``python model.py``."""
    app()


if __name__ == "__main__":
    main()
