"""`make report`: the page is built from the tasks' own outputs, its numbers are theirs, a missing input costs one
panel with the command that fills it, and a real browser renders every section and figure without errors.

The tasks' outputs are made once, in a temporary project root, by their own commands with small protocols; the
data comes from ../shared/data (as in CI).
"""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.clickstream.report import ValidationReport
from adpipe.dashboard.build import build
from adpipe.errors import DataError
from adpipe.reports import read_report
from model import app
from tests.conftest import CHROMIUM, CHROMIUM_ARGS

SECTIONS = ("overview", "main", "ctr", "roas", "segments", "scale")
# project path -> path under ../shared/data (the Makefile's DATA_MAP, for the folders the tasks read)
DATA_LINKS = {"train": "clickstream/train", "test": "clickstream/test", "data/ctr": "ctr"}
DATA_LINKS |= {"data/campaigns": "campaigns", "data/profiles": "profiles"}


def run(*arguments: str) -> None:
    result = CliRunner().invoke(app, list(arguments))
    assert result.exit_code == 0, f"{' '.join(arguments)}: {result.output}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project root holding the data (linked) and the tasks' quick outputs, made by their own commands with
    small protocols (the funnel, ClickStream segments, the study and the benchmark are left out: their panels
    must say which command fills them)."""
    root = tmp_path_factory.mktemp("project")
    for link, shared in DATA_LINKS.items():
        source = config.SHARED_DATA_DIR / shared
        if not source.exists():
            pytest.fail(f"reference data missing: {source} (../shared/data must sit beside the project)")
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(source)
    reports, models, train = root / "reports", root / "models", str(root / "train")
    small = ("--folds", "2", "--repeats", "1")
    run("train", "--train-dir", train, "--model", str(models / "clickstream.joblib"))
    run("predict", "--use-saved", "--test-dir", str(root / "test"), "--model", str(models / "clickstream.joblib"),
        "--output", str(root / "predictions" / "predictions.json"))  # fmt: skip
    run("validate", "--train-dir", train, *small, "--report", str(reports / "validation.json"))
    # A fixed threshold: no inner folds to choose it, so the CTR commands take seconds.
    ctr = ("--data", str(root / "data" / "ctr" / "ad_10000records.csv"), "--threshold", "0.5")
    run("ctr", "validate", *ctr, *small, "--no-audit", "--report", str(reports / "ctr_validation.json"))
    run("ctr", "train", *ctr, "--model", str(models / "ctr.joblib"))
    campaigns = ("--data", str(root / "data" / "campaigns" / "KAG_conversion_data.csv"))
    run("roas", "validate", *campaigns, *small, "--report", str(reports / "roas_validation.json"))
    for by in ("campaign", "age", "gender", "interest"):
        run("roas", "summary", *campaigns, "--by", by, "--output", str(reports / f"roas_summary_{by}.csv"))
    profiles = root / "data" / "profiles" / "user_profiles_for_ads.csv"
    segment = ("--source", "profiles", "--input", str(profiles), "--model", str(models / "segments_profiles.joblib"))
    run("segment", "fit", *segment, "--k-range", "2-3", "--bootstraps", "2", "--shuffles", "2",
        "--report", str(reports / "segments_profiles.json"))  # fmt: skip
    run("segment", "profile", *segment, "--output", str(reports / "segments_profiles_profile.csv"))
    conversion = ("--input", str(profiles), *small, "--models", "linear", "--permutations", "3")
    outputs = ("--model", str(models / "conversion.joblib"), "--report", str(reports / "conversion_validation.json"))
    run("conversion", "train", *conversion, *outputs)
    return root


@pytest.fixture(scope="module")
def page(root: Path) -> Path:
    """The page built from ``root``, with a study that does not exist (its panels say `make tune`)."""
    return build(root / "reports" / "index.html", storage=f"sqlite:///{root / 'optuna.db'}", root=root)


def test_page_is_one_offline_file_under_8_mb(page: Path) -> None:
    html = page.read_text()
    assert page.stat().st_size < 8e6
    assert not re.search(r"<script[^>]+src=", html), "every script is inline: the page opens offline"
    assert html.count("Plotly.newPlot") > 5 and html.count("plotly.js v") <= 2  # plotly.js embedded once
    for key in SECTIONS:
        assert f'data-section="{key}"' in html


def test_numbers_on_the_page_are_the_reports(root: Path, page: Path) -> None:
    html = page.read_text()
    report = read_report(root / "reports" / "validation.json", ValidationReport)
    headline = f"macro-F1 {report.model.macro_f1.mean:.4f} ± {report.model.macro_f1.std:.4f}"
    assert headline in html and f"{report.baseline.macro_f1.mean:.4f}" in html
    # The per-fold figure plots exactly the report's fold scores, and the confusion matrix its counts.
    folds = orjson.dumps(report.model.macro_f1_per_fold).decode()
    assert folds.strip("[]").split(",")[0] in html
    assert all(str(n) in html for row in report.model.confusion for n in row)
    predictions = orjson.loads((root / "predictions" / "predictions.json").read_bytes())["target"]
    assert f"the {len(predictions)} test users" in html


def test_a_missing_input_costs_one_panel_naming_its_command(page: Path) -> None:
    html = page.read_text()
    for command in ("make tune", "make bench", "make roas", "make segments"):  # study, benchmark, funnel, ClickStream
        assert f'data-missing="{command}"' in html


def test_an_unreadable_report_becomes_a_note_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "validation.json").write_text('{"protocol": {}}')
    html = build(tmp_path / "index.html", storage=f"sqlite:///{tmp_path / 'optuna.db'}", root=tmp_path).read_text()
    assert "could not be read" in html and 'data-missing="make validate"' in html
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
def test_page_renders_in_a_real_browser(root: Path, page: Path) -> None:
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
            for key in SECTIONS:
                section = view.locator(f'section[data-section="{key}"]')
                assert section.count() == 1, f"section {key} missing"
                section.screenshot(path=str(screenshots / f"{key}.png"))
            panels = view.locator('.panel[data-kind="figure"]')
            plots = view.locator('.panel[data-kind="figure"] .js-plotly-plot')
            assert panels.count() >= 10 and plots.count() == panels.count(), "every figure panel holds a plot"
            for index in range(plots.count()):
                box = plots.nth(index).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 100
                assert plots.nth(index).locator(".main-svg").count() > 0, "plotly drew it"
        finally:
            browser.close()
    assert errors == []
