"""The one entry point: the ClickStream main task, and each sibling task as a sub-command.

\b
python model.py predict      # train on train/, predict test/ -> predictions/predictions.json
python model.py validate     # repeated stratified K-fold: macro-F1 vs a majority baseline
python model.py --help       # every command
"""

from __future__ import annotations

import typer

from adpipe.bench import app as bench_app
from adpipe.cli_support import ErrorBoundary
from adpipe.commands import tasks as task_commands
from adpipe.commands import versions as versions_commands
from adpipe.dashboard.cli import report_command
from adpipe.explore.cli import explore_command
from adpipe.faults.command import faults_command
from adpipe.service import cli as service_cli
from adpipe.tasks import TASKS
from adpipe.tuning.command import study_app

# One error boundary for every command (adpipe.cli_support, docs/errors.md). Help texts are plain text: Rich
# markup would swallow their "[default: ...]" notes.
app = typer.Typer(
    help=__doc__,
    cls=ErrorBoundary,
    rich_markup_mode=None,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Each task's commands, from the task list (the main task's at the top level: they are the challenge's).
for task in TASKS:
    app.add_typer(task.cli, name=task.command)
app.add_typer(task_commands.app, name="tasks")
app.add_typer(bench_app, name="bench")
app.add_typer(study_app, name="study")
app.add_typer(versions_commands.app, name="models")
app.command("report")(report_command)
app.command("explore")(explore_command)
app.command("faults")(faults_command)
service_cli.register(app)


def main() -> None:
    """The console script (``adpipe``) and ``python model.py``."""
    app()


if __name__ == "__main__":
    main()
