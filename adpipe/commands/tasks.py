"""``python model.py tasks``: the task list, and running what makes a task's outputs.

``tasks make NAME`` runs the task's full commands (what ``make ctr`` and the other task targets call);
``--missing`` only for tasks whose dashboard inputs are not there yet (``make report`` starts with it).
``serve --train-missing`` runs each task's quick commands the same way (:func:`run_commands`).
"""

from __future__ import annotations

import subprocess
import sys

import typer

from adpipe import config
from adpipe.cli_support import format_table
from adpipe.errors import DataError
from adpipe.task import Argv, TaskSpec, command_line

app = typer.Typer(help="The tasks: list them, or make their outputs.", add_completion=False, no_args_is_help=True)


def run_commands(commands: tuple[Argv, ...]) -> None:
    """Run each ``python model.py`` command in its own process, in order; stop at the first that fails."""
    for argv in commands:
        typer.echo(f"$ {command_line(argv)}", err=True)
        done = subprocess.run([sys.executable, str(config.PROJECT_ROOT / "model.py"), *argv], check=False)
        if done.returncode != 0:
            raise DataError(f"`{command_line(argv)}` failed (exit code {done.returncode})")


def missing_outputs(task: TaskSpec) -> list[str]:
    """The task's outputs that do not exist yet, as paths under the project."""
    return [str(path.relative_to(config.PROJECT_ROOT)) for path in task.outputs if not path.exists()]


@app.command("list")
def list_command() -> None:
    """Every task: its name, its commands' group, its title, and which of its outputs are missing."""
    from adpipe.tasks import TASKS

    rows = [
        [task.name, task.command or "(top level)", task.title, ", ".join(missing_outputs(task)) or "all present"]
        for task in TASKS
    ]
    typer.echo(format_table(["task", "commands", "title", "missing outputs"], rows))


@app.command("make")
def make_command(
    names: list[str] = typer.Argument(None, help="Tasks to make (all of them when none is named)."),
    missing: bool = typer.Option(False, "--missing", help="Only tasks with an output that does not exist yet."),
) -> None:
    """Run each task's full commands, which write every output its dashboard section reads."""
    from adpipe.tasks import TASKS, by_name

    tasks = [by_name(name) for name in names] if names else list(TASKS)
    planned = [(task, missing_outputs(task)) for task in tasks]
    planned = [(task, absent) for task, absent in planned if absent or not missing]
    if not planned:
        typer.echo("every task's outputs are present: no task command to run", err=True)
        return
    minutes = sum(task.make_minutes for task, _ in planned)
    count = sum(len(task.make) for task, _ in planned)
    typer.echo(f"running {count} task commands of {len(planned)} task(s) first, about {minutes:.0f} min on a quiet "
               "2-core machine (more while other jobs run):", err=True)  # fmt: skip
    for task, absent in planned:
        why = f"missing {', '.join(absent)}" if missing else "asked for"
        typer.echo(f"  {task.name} (about {task.make_minutes:g} min; {why}):", err=True)
        typer.echo(f"    {' && '.join(command_line(argv) for argv in task.make)}", err=True)
    for task, _ in planned:
        run_commands(task.make)
