"""The models section: which version of each task's model the service serves (the promoted one), when and from
what it was trained, its figures, and the versions kept beside it (``python model.py models list``)."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from adpipe import config
from adpipe.errors import DataError
from adpipe.sections.page import MODEL_COLOUR, REFERENCE_COLOUR, Missing, Panel, Quote, Section, Table
from adpipe.sections.page import figure as styled
from adpipe.sections.sources import Sources
from adpipe.versions import ModelCard, cards, promoted, versions_dir

INTRO = (
    "The version of each model the service serves is the promoted one: a train keeps a new version beside the old "
    "ones and the service goes on serving the promoted version until `python model.py models promote TASK "
    "VERSION` (rollback: `models rollback TASK`). A running service swaps within a second; /health names the live "
    "version."
)


def _kept(sources: Sources) -> dict[str, tuple[list[ModelCard], str | None]]:
    from adpipe.tasks import TASKS

    found = {}
    for task in TASKS:
        folder = versions_dir(sources.path(config.MODELS_DIR) / task.model_file.name)
        try:
            found[task.name] = (cards(folder), promoted(folder)) if sources.data(folder) else ([], None)
        except DataError:
            found[task.name] = ([], None)
    return found


def _when(card: ModelCard) -> str:
    return card.trained_at[:16].replace("T", " ")


def _table(kept: dict[str, tuple[list[ModelCard], str | None]], quotes: dict[str, Quote | None]) -> Table:
    rows: list[list[object]] = []
    for task, (versions, served) in kept.items():
        live = next((card for card in versions if card.version == served), None)
        newest = versions[-1] if versions else None
        waiting = f"{newest.version} ({_when(newest)})" if newest and newest.version != served else "–"
        quoted = quotes.get(task) or "–"
        if live is None:
            rows.append([task, "its working file: no version kept yet", "–", quoted, "–", "–", len(versions), waiting])
            continue
        check = f"{live.held_out.metric} {live.held_out.realised:.3f}" if live.held_out else "–"
        data = ", ".join(f"{Path(d.path).name} {d.sha256[:8]}" for d in live.data) or "–"
        rows.append([task, live.version, _when(live), quoted, check, data, len(versions), waiting])
    header = [
        "task",
        "served version",
        "trained (UTC)",
        "the figure the task quotes",
        "train's own check (its forward / held-out folds, chosen params)",
        "data (SHA-256)",
        "kept",
        "newer, not promoted",
    ]
    return Table(header, rows)


def _history(kept: dict[str, tuple[list[ModelCard], str | None]]) -> go.Figure | None:
    """Each kept version's held-out score by when it was trained; the served one ringed."""
    fig = go.Figure()
    for task, (versions, served) in kept.items():
        scored = [card for card in versions if card.held_out is not None]
        if len(scored) < 2:  # one point is in the table
            continue
        metric = scored[0].held_out.metric
        fig.add_scatter(
            x=[card.trained_at for card in scored],
            y=[card.held_out.realised for card in scored],
            mode="lines+markers",
            name=f"{task} ({metric})",
            text=[card.version for card in scored],
            hovertemplate="%{text}: %{y:.3f}<extra>" + task + "</extra>",
            marker={
                "size": [14 if card.version == served else 7 for card in scored],
                "line": {"width": [3 if card.version == served else 0 for card in scored], "color": REFERENCE_COLOUR},
            },
            line={"color": MODEL_COLOUR} if len(kept) == 1 else None,
        )
    if not fig.data:
        return None
    fig.update_yaxes(range=[0, 1.02])
    return styled(fig, "Held-out score of each kept version (ringed: served)", "trained", "score on held-out folds")


def section(sources: Sources) -> tuple[Section, list]:
    from adpipe.tasks import TASKS

    kept = _kept(sources)
    quotes = {task.name: sources.quote(task) for task in TASKS}
    basis = "models/versions/<task>/: each version's card and promotions.json"
    panels: list[Panel | Missing] = [
        Panel(
            "Served versions",
            "One row per task: the live version and the newest one waiting.",
            basis,
            table=_table(kept, quotes),
            wide=True,
        )
    ]
    history = _history(kept)
    if history is not None:
        caption = "The model's own held-out check, made by each train on its data (the classifiers')."
        panels.append(Panel("Versions over time", caption, basis, figure=history, wide=True))
    return Section("models", "Models", INTRO, panels), []
