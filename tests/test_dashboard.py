"""`make report`: the page is built from the tasks' own outputs, its numbers are theirs, a missing input costs one
panel with the command that fills it, and a real browser renders every section and figure without errors.

The tasks' outputs are the tests' project's (tests.project.small_project): made once per test run, in a temporary
project root, by each task's own small commands; the data comes from ../shared/data (as in CI).
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import orjson
import pytest
from markupsafe import escape
from typer.testing import CliRunner

from adpipe import config
from adpipe.clickstream.report import ValidationReport
from adpipe.dashboard import explore
from adpipe.dashboard.build import build
from adpipe.errors import DataError
from adpipe.reports import read_report
from adpipe.roas.plan import dashboard as plan_dashboard
from adpipe.roas.plan.report import CurvesReport, PlanReport, PlanValidationReport
from adpipe.sections.page import Missing, Panel
from adpipe.sections.sources import Sources
from adpipe.tasks import TASKS
from model import app
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.project import small_project


@pytest.fixture(scope="module")
def root() -> Path:
    """The tests' project (tests.project.small_project): every task's outputs made by its own small commands."""
    return small_project()


@pytest.fixture(scope="module")
def page(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page built from ``root`` into a folder of its own (the project's reports are the service tests' too),
    with a study that does not exist (its panels say `make tune`)."""
    output = tmp_path_factory.mktemp("page") / "index.html"
    return build(output, storage=f"sqlite:///{root / 'optuna.db'}", root=root)


@pytest.fixture(scope="module")
def sections(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The page's section keys: the overview, each task's in the task list's order (read from its section on an
    empty project), an Explore section per data set, then the served models, monitoring and scale."""
    empty = tmp_path_factory.mktemp("empty")
    sources = Sources(empty, storage=f"sqlite:///{empty / 'none.db'}")
    tasks = [task.dashboard_section()(sources)[0].key for task in TASKS]
    return ["overview", *tasks, *(s.key for s, _ in explore.sections(sources)), "models", "monitor", "scale"]


def test_page_is_one_offline_file_under_8_mb(page: Path, sections: list[str]) -> None:
    html = page.read_text()
    print(f"\nmake report's page on the tests' project: {page.stat().st_size / 1e6:.2f} MB")
    assert page.stat().st_size < 8e6, "the Explore sections' data included (docs/report.md)"
    assert html.count('data-explorer="') == 3  # one explorer per data set, their data embedded
    assert not re.search(r"<script[^>]+src=", html), "every script is inline: the page opens offline"
    assert html.count('class="lazy-figure"') > 5 and html.count("plotly.js v") <= 2  # plotly.js embedded once
    explorers = html.count("data-explore-data>")  # each explorer's payload is JSON too
    assert html.count('type="application/json"') - explorers == html.count('class="lazy-figure"')  # drawn from JSON
    for key in sections:
        assert f'data-section="{key}"' in html


def test_numbers_on_the_page_are_the_reports(root: Path, page: Path) -> None:
    html = page.read_text()
    report = read_report(root / "reports" / "validation.json", ValidationReport)
    headline = f"macro-F1 {report.model.macro_f1.mean:.3f} ± {report.model.macro_f1.std:.3f}"  # the task's headline
    assert headline in html and f"{report.baseline.macro_f1.mean:.3f}" in html
    # The per-fold figure plots exactly the report's fold scores, and the confusion matrix its counts.
    folds = orjson.dumps(report.model.macro_f1_per_fold).decode()
    assert folds.strip("[]").split(",")[0] in html
    assert all(str(n) in html for row in report.model.confusion for n in row)
    predictions = orjson.loads((root / "predictions" / "predictions.json").read_bytes())["target"]
    assert f"the {len(predictions)} test users" in html


def test_the_budget_plan_panels_draw_the_reports_numbers(root: Path, page: Path) -> None:
    reports = root / "reports"
    curves = read_report(reports / "roas_curves.json", CurvesReport)
    plan = read_report(reports / "roas_plan.json", PlanReport)
    validation = read_report(reports / "roas_plan_validation.json", PlanValidationReport)
    assert plan.backtested_gain is not None, "the plan read the validation made beside it"
    panels, card = plan_dashboard.panels(Sources(root))
    assert [p.title for p in panels] == [
        "Response curves per segment",
        "The budget plan per segment, largest increase first: back-tested gain "
        f"{plan_dashboard.share(plan.backtested_gain.headline)}, this plan promises "
        f"{plan.expected_gain / plan.expected_value_today:+.1%}",
        "Plan back-test on held-out campaigns",
        "The plan's targets",
    ]
    assert all(isinstance(p, Panel) for p in panels)
    # The curves: one small multiple per segment, best marginal ROAS first, today's dot at the report's spend and
    # the planned diamond at the plan's spend, on the curve's expected value there (the plan's own figure).
    fig = panels[0].figure
    order = sorted(curves.segments, key=lambda s: -s.marginal_roas)
    today = [t for t in fig.data if t.legendgroup == "today"]
    planned = [t for t in fig.data if t.legendgroup == "planned"]
    assert [t.x[0] for t in today] == pytest.approx([s.spend for s in order])
    by_name = {s.segment: s for s in plan.segments}
    assert [t.x[0] for t in planned] == pytest.approx([by_name[s.segment].planned for s in order])
    assert [t.y[0] for t in planned] == pytest.approx([by_name[s.segment].expected_value for s in order], rel=1e-6)
    dashed = {t.hovertemplate.split("<extra>")[1][: -len("</extra>")] for t in fig.data if t.line.dash == "dash"}
    assert dashed == {s.segment for s in curves.segments if not s.pinned}
    # The table: every planned spend, and the back-tested gain before the promise.
    table = panels[1].table
    assert sorted(row[2] for row in table.rows[:-1]) == sorted(plan_dashboard.money(s.planned) for s in plan.segments)
    caption = panels[1].caption
    assert caption.startswith("Back-tested") and caption.index("realised") < caption.index("promises")
    # The back-test: the report's means, bar for bar; the card leads with the realised gain.
    bars = [t for t in panels[2].figure.data if t.type == "bar"]
    accuracy = validation.value_accuracy
    assert [list(t.y) for t in bars[:3]] == [[a.deviance.mean, a.rmse.mean, a.mae.mean] for a in accuracy.values()]
    ranking, gain = validation.ranking, validation.gain
    within = validation.within_campaign_ranking.marginal_roas_curves
    assert list(bars[3].y) == [ranking.marginal_roas_curves.mean, ranking.average_roas_history.mean,
                               ranking.shuffled.mean, within.mean]  # fmt: skip
    judged = [gain.promised, *gain.judges.values(), *gain.bounds.values()]
    assert list(bars[4].y) == [v.mean for v in judged]
    assert validation.headline_realised == min(gain.judges.values(), key=lambda v: v.mean)
    assert [row[3] for row in panels[3].table.rows] == ["met" if t.met else "MISSED" for t in validation.targets]
    realised = plan_dashboard.share(plan.backtested_gain.headline)
    assert card.headline.startswith(f"back-tested gain {realised}")
    assert card.real is ranking.signal
    html = page.read_text()  # the page holds the panels and the card
    for text in (panels[1].title, caption, "Expected value against spend per segment", card.headline):
        assert escape(text) in html


def test_a_missing_plan_report_is_a_note_naming_make_roas(root: Path, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "campaigns").symlink_to(root / "data" / "campaigns")
    for name in ("roas_curves.json", "roas_plan_validation.json"):
        shutil.copy(root / "reports" / name, tmp_path / "reports" / name)
    panels, card = plan_dashboard.panels(Sources(tmp_path))
    missing = [p for p in panels if isinstance(p, Missing)]
    assert [(p.title, p.command) for p in missing] == [("The budget plan", "make roas")]
    assert "roas_plan.json does not exist yet" in missing[0].reason
    assert "no plan at this segment level" in panels[0].caption  # the curves are drawn without planned spends
    assert card.headline == "not planned yet" and card.real is None
    nothing, _ = plan_dashboard.panels(Sources(tmp_path / "empty"))
    assert all(isinstance(p, Missing) and p.command == "make roas" for p in nothing) and len(nothing) == 3
    # Curves fitted on other ads (another export) are a note, never a curve drawn on the wrong ads.
    curves = orjson.loads((tmp_path / "reports" / "roas_curves.json").read_bytes())
    curves["segments"][0]["alpha"] += 1.0
    (tmp_path / "reports" / "roas_curves.json").write_bytes(orjson.dumps(curves))
    other, _ = plan_dashboard.panels(Sources(tmp_path))
    assert isinstance(other[0], Missing) and "fitted on other ads" in other[0].reason


def test_a_missing_input_costs_one_panel_naming_its_command(page: Path) -> None:
    html = page.read_text()
    for command in ("make tune", "make bench", "make roas", "make segments"):  # study, benchmark, funnel, ClickStream
        assert f'data-missing="{command}"' in html


def test_an_unreadable_report_becomes_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "validation.json").write_text('{"protocol": {}}')
    html = build(tmp_path / "index.html", storage=f"sqlite:///{tmp_path / 'optuna.db'}", root=tmp_path).read_text()
    assert "could not be read" in html and 'data-missing="make validate"' in html
    assert "no version kept yet" in html  # the models section, without a model
    assert not (tmp_path / "optuna.db").exists()  # looking for a study never creates a database


def test_report_command_prints_path_and_size_and_keeps_the_old_page_on_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"  # a project with no outputs yet: a page of notes, built fast
    monkeypatch.setattr("adpipe.dashboard.build.build", functools.partial(build, root=empty))
    output = tmp_path / "index.html"
    result = CliRunner().invoke(app, ["report", "--output", str(output), "--storage", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 0, result.output
    assert re.search(r"report -> .*index\.html \(\d+\.\d MB, built in \d+\.\d s\)", result.output)
    previous = output.read_bytes()

    def broken(*_: object, **__: object) -> str:
        raise DataError("a section failed")

    monkeypatch.setattr("adpipe.dashboard.build.render", broken)
    result = CliRunner().invoke(app, ["report", "--output", str(output), "--storage", f"sqlite:///{tmp_path}/x.db"])
    assert result.exit_code == 1 and "a section failed" in result.output and "left untouched" in result.output
    assert output.read_bytes() == previous


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
def test_page_renders_in_a_real_browser(page: Path, sections: list[str]) -> None:
    from playwright.sync_api import sync_playwright

    screenshots = config.REPORTS_DIR / "dashboard-screenshots"
    shutil.rmtree(screenshots, ignore_errors=True)
    screenshots.mkdir(parents=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            view = browser.new_page(viewport={"width": 1400, "height": 900})
            view.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            view.on("pageerror", lambda error: errors.append(str(error)))
            view.route("http*://**", lambda route: (errors.append(f"network: {route.request.url}"), route.abort()))
            view.goto(page.as_uri())
            view.wait_for_load_state("load")
            for key in sections:
                section = view.locator(f'section[data-section="{key}"]')
                assert section.count() == 1, f"section {key} missing"
                section.screenshot(path=str(screenshots / f"{key}.png"))
            panels = view.locator('.panel[data-kind="figure"]')
            drawn_on_load = view.locator('.panel[data-kind="figure"] .js-plotly-plot').count()  # explorers aside
            assert drawn_on_load < panels.count(), "figures below the first screen wait until scrolled to"
            for index in range(panels.count()):  # scrolled to, each figure is drawn
                panels.nth(index).scroll_into_view_if_needed()
                panels.nth(index).locator(".js-plotly-plot .main-svg").first.wait_for(timeout=15_000)
            plots = view.locator('.panel[data-kind="figure"] .js-plotly-plot')
            assert panels.count() >= 10 and plots.count() == panels.count(), "every figure panel holds a plot"
            for index in range(plots.count()):
                box = plots.nth(index).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100
                assert plots.nth(index).locator(".main-svg").count() > 0, "plotly drew it"
            closed = view.locator('section[data-section="ctr"] > details')
            closed.locator("> summary").click()
            assert closed.get_attribute("open") is None, "a section collapses"
        finally:
            browser.close()
    assert errors == []


def test_the_models_section_names_each_served_version(root: Path, page: Path) -> None:
    """Every task's model the small commands trained kept its first version, promoted: the section's table names
    it."""
    from adpipe.versions import cards, promoted, versions_dir

    html = page.read_text().split('data-section="models"', 1)[1].split("data-section=", 1)[0]
    for task in TASKS:
        folder = versions_dir(root / "models" / task.model_file.name)
        served = promoted(folder)
        assert served is not None and served in html, task.name
        assert len(cards(folder)) == 1, task.name
