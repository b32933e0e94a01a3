"""The page in order: the overview, one section per task in the task list's order, an Explore section per data
set, the served model versions, monitoring (``model.py monitor``), then scale (``make bench``)."""

from __future__ import annotations

from pathlib import Path

from adpipe import config
from adpipe.dashboard import explore, models, monitor, scale
from adpipe.dashboard.render import render, write_page
from adpipe.sections.page import Card, Section
from adpipe.sections.sources import Sources

TITLE = "adpipe: every task's validated results"


def overview(cards: list[Card]) -> Section:
    intro = (
        "One card per task: its headline figure on held-out data, the baseline measured on the same folds, and "
        "whether the signal is real (green: it beats its reference; red: it does not; grey: not measured yet)."
    )
    return Section("overview", "Overview", intro, cards=cards)


def build(
    output: Path,
    *,
    storage: str = config.DEFAULT_STORAGE,
    study: str | None = None,
    root: Path = config.PROJECT_ROOT,
) -> Path:
    """Read every task's saved results (under ``root``) and write the page atomically."""
    from adpipe.tasks import TASKS

    sources = Sources(root, storage=storage, study=study)
    built = [*(task.dashboard_section()(sources) for task in TASKS), *explore.sections(sources)]
    built += [models.section(sources), monitor.section(sources), scale.section(sources)]
    sections = [section for section, _ in built]
    cards = [card for _, section_cards in built for card in section_cards]
    html = render([overview(cards), *sections], title=TITLE, sources=sources.read)
    return write_page(output, html)
