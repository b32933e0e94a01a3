"""The served models: each task's promoted version (adpipe.versions; the working file of a task that has none),
loaded once before the server forks its workers, with what ``GET /health`` says about it: version, its card
(when, from what data and code it was trained, its figures), or the command that makes it.

Only the project's own model files are loaded, from its own models folder; nothing a client sends is ever
unpickled.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import load_model
from adpipe.reports import Headline
from adpipe.serving.adapter import Task
from adpipe.task import command_line
from adpipe.versions import (
    ModelCard,
    find_version,
    newest,
    promote,
    promoted,
    read_card,
    rollback,
    rollback_target,
    served_file,
    version_of,
    versions_dir,
)

log = logging.getLogger("adpipe.service")

# What a model's metadata says about its training data, shown by /health when present.
_TRAINED_ON_KEYS = ("data", "n_users", "n_rows", "n_ads", "mode", "chosen", "source", "k", "threshold")


class ModelStatus(BaseModel):
    """One task's model as the service holds it."""

    task: str
    title: str
    loaded: bool
    file: str
    version: str | None = None
    promoted: bool = False  # served as the promoted version (False: the working file of a task never promoted)
    trained_at: str | None = None
    trained_on: dict[str, Any] = {}
    missing: str | None = None
    validation: Headline | None = None
    card: ModelCard | None = None


def all_tasks() -> dict[str, Task]:
    """Every task of the task list, by its name in the URLs, as a new adapter with no model yet."""
    from adpipe.tasks import TASKS  # read when called: a test may register a task

    return {spec.name: spec.service_adapter() for spec in TASKS}


def make_command(task: Task) -> str:
    """The commands that train ``task``'s model (quick settings) and write its report, as a person types them."""
    return " && ".join(command_line(argv) for argv in task.spec.quick)


def load_models(
    tasks: dict[str, Task], models_dir: Path = config.MODELS_DIR, reports_dir: Path = config.REPORTS_DIR
) -> dict[str, ModelStatus]:
    """Load every task's served model (:func:`load_task`); a missing or unreadable one is reported, not fatal."""
    return {name: load_task(task, models_dir, reports_dir) for name, task in tasks.items()}


def load_task(task: Task, models_dir: Path = config.MODELS_DIR, reports_dir: Path = config.REPORTS_DIR) -> ModelStatus:
    """Load ``task``'s promoted version from ``models_dir`` (its own file names only; the working file when nothing
    was promoted) into the task, with its figures from ``reports_dir``."""
    working = Path(models_dir) / task.model_file.name
    path, promoted = served_file(working)
    status = ModelStatus(task=task.name, title=task.title, loaded=False, file=str(path), promoted=promoted is not None)
    try:
        model, metadata = load_model(path, task=task.name)
    except DataError as error:
        status.missing = f"{error}; make it with: {make_command(task)}  (or `make serve`, which trains it)"
        log.warning("%s model not served: %s", task.name, status.missing)
        return status
    task.attach(model, metadata, Path(reports_dir))
    status.loaded = True
    status.version = promoted or version_of(path)
    card_file = versions_dir(working) / f"{status.version}.json"
    status.card = read_card(card_file) if card_file.exists() else None
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    status.trained_at = status.card.trained_at if status.card else mtime
    status.trained_on = {key: metadata[key] for key in _TRAINED_ON_KEYS if key in metadata}
    status.validation = task.reliability_
    return status


def check_version(folder: Path, version: str) -> ModelCard:
    """The card of ``version`` (adpipe.versions) once its file loads as its task's model and, when it is a served
    task's (``folder`` is named after the task's model file), predicts the task's example record: what the
    service checks before serving it. A DataError otherwise."""
    from adpipe.tasks import TASKS

    card = find_version(folder, version)
    path = folder / card.file
    model, metadata = load_model(path, task=card.task)
    for spec in TASKS:
        if spec.model_file.stem == folder.name:
            task = spec.service_adapter()
            task.attach(model, metadata, config.REPORTS_DIR)
            failure = example_failure(task)
            if failure is not None:
                raise DataError(f"cannot predict the {spec.name} example record ({failure})", path=path)
    return card


def change_version(
    folder: Path, action: Literal["promote", "rollback"], version: str | None, reason: str
) -> tuple[ModelCard, bool]:
    """Promote ``version`` (default: the newest kept) or roll back (to ``version``, default: the one promoted before
    the current one), once the version passes :func:`check_version`. The second item says whether the promotions
    log changed: naming the version already promoted changes nothing."""
    current = promoted(folder)
    if action == "promote":
        card = check_version(folder, version or newest(folder))
    elif version is not None and current is not None and current.startswith(version):
        card = check_version(folder, current)
    else:
        card = check_version(folder, rollback_target(folder, version).version)
    if card.version == current:
        return card, False
    (promote if action == "promote" else rollback)(folder, card.version, reason)
    return card, True


def example_failure(task: Task) -> str | None:
    """Why ``task``'s model cannot predict its example record (a model saved by older code, say), or None."""
    try:
        task.predict([task.record.model_validate(task.example)])
    except Exception as error:  # whatever the model raises, it is not served
        return f"{type(error).__name__}: {error}"
    return None


def check_models(tasks: dict[str, Task], statuses: dict[str, ModelStatus]) -> None:
    """Predict each loaded model's example record; a model that fails (saved by older code, say) is not served.

    Run in each worker process after the fork: the loaders' engine (Polars) must not start its thread pool in
    the parent, whose threads a forked child would not have.
    """
    for name, task in tasks.items():
        status = statuses[name]
        failure = example_failure(task) if status.loaded else None
        if failure is not None:
            status.loaded = False
            status.missing = f"{status.file} cannot predict its example record ({failure}); "
            status.missing += f"retrain it with: {make_command(task)}"
            log.warning("%s model not served: %s", name, status.missing)


def start_actions(tasks: dict[str, Task], statuses: dict[str, ModelStatus], background: bool = False) -> None:
    """Start every served task's own actions (their fitting and reading), in each worker after the fork.
    ``background``: each on a thread of its own, so that the worker serves predictions at once (a worker's start:
    the ROAS plan's fitting took 135 s at load 7); else they are ready when this returns."""
    for name, task in tasks.items():
        if statuses[name].loaded:
            for action in task.actions():
                if background:
                    action.start_in_background(name)
                    continue
                action.started()
                if action.unavailable:
                    log.warning("%s %s not served: %s", name, action.name, action.unavailable)


def starting(tasks: dict[str, Task]) -> dict[str, str]:
    """The actions still being started in this worker, as "task action", with what each is doing."""
    return {f"{name} {a.name}": a.starting for name, task in tasks.items() for a in task.actions() if a.starting}


def train_missing() -> None:
    """Run the quick commands that make each missing model (and its validation report)."""
    import typer

    from adpipe.commands.tasks import run_commands
    from adpipe.tasks import TASKS

    for task in TASKS:
        if task.model_file.exists():
            continue
        commands = " && ".join(command_line(argv) for argv in task.quick)
        typer.echo(f"{task.name}: no {task.model_file.name}, training it: {commands}")
        run_commands(task.quick)
