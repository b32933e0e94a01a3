"""One figure per claim (issue 36): every place that shows a task's headline figure — the report page's overview
card, the task's section and the Models table; the service's index, the task's page and every served answer —
shows the same one, read from the task's ``headline`` (adpipe.reports.Headline). The test fails on any
disagreement, and on a place that does not show it at all.

The pages mark each quoted figure with ``data-headline="<task>"`` and ``data-figure="<the figure>"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adpipe import config
from adpipe.dashboard.build import build
from adpipe.reports import HEADLINE_DIGITS, Headline
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from adpipe.serving.adapter import Task
from adpipe.tasks import TASKS
from adpipe.versions import served_card
from tests.project import small_project

QUOTED = re.compile(r'data-headline="(?P<task>[^"]+)" data-figure="(?P<figure>[^"]+)"')


def quoted(html: str) -> dict[str, list[str]]:
    """Each task's quoted figures on a page, in order."""
    found: dict[str, list[str]] = {}
    for match in QUOTED.finditer(html):
        found.setdefault(match["task"], []).append(match["figure"].replace("&#177;", "±"))
    return found


@pytest.fixture(scope="module")
def root() -> Path:
    return small_project()


@pytest.fixture(scope="module")
def headlines(root: Path) -> dict[str, Headline]:
    """Each task's headline, for the model its service serves (the promoted version's card)."""
    found = {}
    for task in TASKS:
        card = served_card(root / "models" / task.model_file.name)
        figure = task.headline_of(root / "reports", card.params if card else {})
        assert figure is not None, f"{task.name}: the small commands make its headline's report"
        found[task.name] = figure
    return found


@pytest.fixture(scope="module")
def client(root: Path) -> TestClient:
    return TestClient(create_app(root / "models", root / "reports"), raise_server_exceptions=False)


def test_the_report_page_quotes_one_figure_per_task(root: Path, headlines: dict[str, Headline], tmp_path: Path) -> None:
    html = build(tmp_path / "index.html", storage=f"sqlite:///{root / 'none.db'}", root=root).read_text()
    figures = quoted(html)
    for name, headline in headlines.items():
        # the overview card, the task's section and the Models table's row
        assert len(figures.get(name, [])) >= 3, f"{name}: quoted in {len(figures.get(name, []))} places on the page"
        assert set(figures[name]) == {headline.figure}, f"{name}: {figures[name]} vs {headline.figure}"


def test_the_service_quotes_the_same_figure_in_every_place(client: TestClient, headlines: dict[str, Headline]) -> None:
    index = quoted(client.get("/").text)
    adapters: dict[str, Task] = all_tasks()
    for name, headline in headlines.items():
        assert index.get(name) == [headline.figure], f"/: {index.get(name)} vs {headline.figure}"
        page = quoted(client.get(f"/{name}").text)
        assert page.get(name) == [headline.figure], f"/{name}: {page.get(name)} vs {headline.figure}"
        answer = client.post(f"/api/v1/{name}/predict", json=adapters[name].example).json()
        served = Headline.model_validate(answer["validation"])
        assert served == headline, f"the API's {name} answer carries another figure"
        assert f"{served.model.mean:.{HEADLINE_DIGITS}f}" in headline.figure


def test_a_task_without_its_report_has_no_headline(tmp_path: Path) -> None:
    """No report yet: no figure is quoted (the places say which command makes it), never a stale or other one."""
    for task in TASKS:
        assert task.headline_of(tmp_path) is None


# The README's headline table: each task's row, by the start of its first cell.
README_ROWS = {
    "clickstream": "ClickStream `marketing_target`",
    "ctr": "Click-through",
    "conversion": "Conversion rate",
    "segments": "Segments",
    "roas": "Return on ad spend",
}


def test_the_readme_bolds_each_tasks_headline(headlines: dict[str, Headline]) -> None:
    """The README's table bolds the figure the task quotes, in its metric and digits (its numbers are the project's
    own run's; the tests' project has other ones): a row bolding another metric (once, ROAS's Spearman) fails."""
    rows = [line for line in (config.PROJECT_ROOT / "README.md").read_text().splitlines() if line.startswith("| ")]
    assert set(README_ROWS) == {task.name for task in TASKS}, "a task without a row in the README's table"
    digits = rf"-?\d+\.\d{{{HEADLINE_DIGITS}}} ± \d+\.\d{{{HEADLINE_DIGITS}}}"
    for name, label in README_ROWS.items():
        row = next(line for line in rows if line.split("|")[1].strip().startswith(label))
        bold = re.search(rf"(\S+) \*\*({digits})\*\*", row)
        assert bold is not None, f"{name}: no bold figure with {HEADLINE_DIGITS} decimals in its README row"
        assert bold[1] == headlines[name].metric, (
            f"{name}: the README bolds {bold[1]}, the task quotes {headlines[name].metric}"
        )
