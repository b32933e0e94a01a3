"""``python model.py models list | promote | rollback``: the kept versions of each model and which one is served.

A running service watches the promotions log and swaps to a newly promoted version within a second
(adpipe.service.registry); docs/deploy.md has the rollout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.errors import OptionError

if TYPE_CHECKING:
    from adpipe.versions import ModelCard

app = typer.Typer(
    help="Model versions: list them with their cards, promote one to the service, roll back.",
    add_completion=False,
    no_args_is_help=True,
)

Models = typer.Option(config.MODELS_DIR, "--models", help="The models folder (its versions/ holds the versions).")
Reason = typer.Option("", "--reason", help="Why, kept in the promotions log.")


def model_file(name: str, models: Path) -> Path:
    """The working file of ``name``: a task's model (``ctr``, ``segments``) or any folder under versions/."""
    from adpipe.tasks import TASKS
    from adpipe.versions import VERSIONS_FOLDER

    for spec in TASKS:
        if spec.name == name:
            return models / spec.model_file.name
    if (models / VERSIONS_FOLDER / name).is_dir():
        return models / f"{name}.joblib"
    kept = sorted(p.name for p in (models / VERSIONS_FOLDER).glob("*") if p.is_dir())
    names = ", ".join([spec.name for spec in TASKS] + [k for k in kept if k not in {s.name for s in TASKS}])
    raise OptionError(f"no model {name!r}; the models are {names}", option="TASK")


def _figure(card: ModelCard) -> str:
    validation = card.validation
    if not validation:
        return "-"
    return f"{validation['metric']} {validation['model']['mean']:.3f} (baseline {validation['baseline']['mean']:.3f})"


def _row(name: str, card: ModelCard, served: str | None) -> list[str]:
    held_out = f"{card.held_out.metric} {card.held_out.realised:.3f}" if card.held_out else "-"
    data = ", ".join(f"{Path(d.path).name}:{d.sha256[:8]}" for d in card.data) or "-"
    commit = card.commit or "-"
    commit = commit[:12] + ("+dirty" if commit.endswith("+dirty") else "")
    live = "served" if card.version == served else ""
    return [name, card.version, live, card.trained_at, _figure(card), held_out, data, commit]


@app.command("list")
def list_command(
    task: str | None = typer.Argument(None, help="A task (or a folder of versions/); every one when left out."),
    models: Path = Models,
) -> None:
    """Each kept version: when it was trained, on which data and code, its figures, and which one is served."""
    from adpipe.versions import VERSIONS_FOLDER, cards, promoted, versions_dir

    with exit_on_error():
        if task is None:
            folders = sorted(p for p in (models / VERSIONS_FOLDER).glob("*") if p.is_dir())
        else:
            folders = [versions_dir(model_file(task, models))]
        rows = []
        for folder in folders:
            served = promoted(folder)
            rows.extend(_row(folder.name, card, served) for card in cards(folder))
    if not rows:
        typer.echo(f"no versions in {models / VERSIONS_FOLDER}: a train command keeps one each time it runs")
        return
    header = ["model", "version", "", "trained (UTC)", "report figure", "held-out", "data", "commit"]
    typer.echo(format_table(header, rows))


@app.command("promote")
def promote_command(
    task: str = typer.Argument(..., help="A task (or a folder of versions/)."),
    version: str | None = typer.Argument(None, help="The version (or its first 4+ digits) [default: the newest]."),
    models: Path = Models,
    reason: str = Reason,
) -> None:
    """Serve ``version``: it must load and predict its task's example first. A running service swaps to it."""
    _change(task, "promote", version, models, reason)


@app.command("rollback")
def rollback_command(
    task: str = typer.Argument(..., help="A task (or a folder of versions/)."),
    version: str | None = typer.Argument(None, help="One of the earlier promoted versions [default: the last one]."),
    models: Path = Models,
    reason: str = Reason,
) -> None:
    """Serve again the version promoted before the current one (or an earlier one still standing)."""
    _change(task, "rollback", version, models, reason)


def _change(task: str, action: Literal["promote", "rollback"], version: str | None, models: Path, reason: str) -> None:
    from adpipe.service.registry import change_version
    from adpipe.versions import promoted, versions_dir

    with exit_on_error():
        folder = versions_dir(model_file(task, models))
        before = promoted(folder)
        card, changed = change_version(folder, action, version, reason)
    if not changed:
        typer.echo(f"{folder.name}: {card.version} is already the served version; nothing changed")
    else:
        done = f"{card.version} promoted" if action == "promote" else f"back to {card.version}"
        typer.echo(f"{folder.name}: {done} (was {before or 'none'}); a running service swaps within 1 s")
