"""`make report`'s Explore sections (one explorer per data set on one page) and what they take from the tasks:
driven through the real controls in headless Chromium, every card is pandas' on the same rows in each section, a
clicked bar in one section leaves the others alone, the filters of each sit in the URL fragment under its prefix,
and the campaigns' plan panel shows the kept segments' plan rows. ClickStream's ``segment`` (the segments task's
saved model) and predicted ``marketing_target`` (predictions.json) are slicers when their inputs exist.

The page is the report's own template and sections (``adpipe.dashboard``) with the Explore sections alone, built
from the tests' project; tests/test_dashboard.py renders the whole page and holds it under 8 MB.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import parse_qsl

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe.dashboard import explore
from adpipe.dashboard.render import render
from adpipe.reports import read_report
from adpipe.roas.plan.report import PlanReport
from adpipe.sections.sources import Sources
from model import app
from tests import explore_truth
from tests.conftest import CHROMIUM
from tests.explore_truth import Truth
from tests.project import small_project
from tests.test_explore_browser import browser, check_cards, click_tallest_bar, previous_rows, set_controls  # noqa: F401

COMBINATIONS = 4  # per section (tests/test_explore_browser.py runs 20 per data set on the one-explorer page)
SECTIONS = ("campaigns", "ctr", "clickstream")  # names tasks: explore's data sets, not the task list
PLAN_BY = ["xyz_campaign_id", "age", "gender"]
PLAN_ROWS = "trs => trs.map(t => [t.dataset.segment, +t.dataset.planned])"


def with_predictions(truth: Truth, root: Path) -> Truth:
    """ClickStream rows with the predicted marketing_target of test users ("" for train users)."""
    predicted = orjson.loads((root / "predictions" / "predictions.json").read_bytes())["target"]
    users = pd.read_csv(root / "test" / "user_test.csv", sep=";", dtype=str)
    target = dict(zip(users["user_id"], users["test_id"].map(lambda t: str(predicted.get(t, ""))), strict=True))
    rows = truth.rows.assign(marketing_target=truth.rows["user_id"].map(target).fillna(""))
    return Truth(rows, [*truth.dimensions, "marketing_target"], truth.kpis, truth.has_date)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Truth], PlanReport]:
    root = small_project()
    sources = Sources(root)
    html = render([s for s, _ in explore.sections(sources)], title="Explore", sources=sources.read)
    path = tmp_path_factory.mktemp("report") / "index.html"
    path.write_text(html)
    truths = {
        "campaigns": explore_truth.campaigns(root / "data" / "campaigns" / "KAG_conversion_data.csv"),
        "ctr": explore_truth.ctr(root / "data" / "ctr" / "ad_10000records.csv"),
        "clickstream": with_predictions(explore_truth.clickstream(root), root),
    }
    return path, truths, read_report(root / "reports" / "roas_plan.json", PlanReport)


def kept_segments(rows: pd.DataFrame, plan: PlanReport) -> set[str]:
    planned = {s.segment for s in plan.segments}
    return set(rows[PLAN_BY].astype(str).agg("/".join, axis=1)) & planned


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)")
def test_each_explore_section_is_pandas_and_keeps_to_itself(browser, report) -> None:  # noqa: ANN001, F811
    path, truths, plan = report
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("request", lambda r: r.url.split(":")[0] not in ("file", "blob", "data") and problems.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready]")
    assert page.locator("[data-explorer]").count() == len(SECTIONS)
    planned = {s.segment: s.planned for s in plan.segments}

    rng = random.Random(36)
    for name in SECTIONS:
        scope, truth = f'[data-explorer="{name}"]', truths[name]
        for dimension in truth.dimensions:
            options = page.eval_on_selector_all(
                f'{scope} select[data-slicer="{dimension}"] option', "os => os.map(o => o.value)"
            )
            assert sorted(options) == sorted(truth.rows[dimension].unique()), (name, dimension)
        check_cards(page, truth, truth.rows, scope=scope)
        for combination in range(COMBINATIONS):
            values, date_from, date_to = explore_truth.random_filter(truth, rng)
            set_controls(page, values, date_from, date_to, one_by_one=combination == 0, scope=scope)
            rows = truth.kept(values, date_from, date_to)
            check_cards(page, truth, rows, previous_rows(truth, values, date_from, date_to), scope=scope)
            if name == "campaigns":  # the plan rows of the kept segments, the plan's numbers
                shown = page.eval_on_selector_all(f"{scope} [data-plan-rows] tr", PLAN_ROWS)
                assert {s for s, _ in shown} == kept_segments(rows, plan)
                assert all(planned[s] == pytest.approx(p, rel=1e-9) for s, p in shown)
        keys = [key for key, _ in parse_qsl(page.evaluate("location.hash")[1:], keep_blank_values=True)]
        assert any(key.startswith(f"{name}.") for key in keys) == bool(values or date_from or date_to)

    # A clicked bar filters its own section only; each section's filters sit under its prefix in the fragment.
    for name in SECTIONS:
        set_controls(page, {}, None, None, scope=f'[data-explorer="{name}"]')
    set_controls(page, {"device_type": ["mobile"]}, None, None, scope='[data-explorer="clickstream"]')
    click_tallest_bar(page, "gender", scope='[data-explorer="campaigns"]')
    chip = page.locator('[data-explorer="campaigns"] .chip[data-cross="gender"]')
    chip.wait_for()
    gender = chip.get_attribute("data-value")
    check_cards(
        page, truths["campaigns"], truths["campaigns"].kept({"gender": [gender]}), scope='[data-explorer="campaigns"]'
    )
    check_cards(page, truths["ctr"], truths["ctr"].rows, scope='[data-explorer="ctr"]')
    clicks = truths["clickstream"].kept({"device_type": ["mobile"]})
    check_cards(page, truths["clickstream"], clicks, scope='[data-explorer="clickstream"]')
    assert page.locator('[data-explorer="ctr"] .chip, [data-explorer="clickstream"] .chip').count() == 0
    fragment = page.evaluate("decodeURIComponent(location.hash.replace(/\\+/g, ' '))")
    assert set(re.findall(r"[#&]([^.=&]+)\.", fragment)) == {"campaigns", "clickstream"}, fragment
    assert f"campaigns.cross.gender={gender}" in fragment and "clickstream.device_type=mobile" in fragment

    # The report's navigation (a bare anchor) keeps every filter; a link's fragment restores both sections.
    page.evaluate("location.hash = '#explore-ctr'")
    page.wait_for_function("location.hash === '#explore-ctr'")
    check_cards(page, truths["clickstream"], clicks, scope='[data-explorer="clickstream"]')
    page.evaluate("h => { location.hash = h; }", "#clickstream.split=test&campaigns.gender=F")
    page.wait_for_function("document.querySelector('[data-explorer=\"campaigns\"] .chip') === null")
    check_cards(
        page,
        truths["clickstream"],
        truths["clickstream"].kept({"split": ["test"]}),
        scope='[data-explorer="clickstream"]',
    )
    check_cards(
        page, truths["campaigns"], truths["campaigns"].kept({"gender": ["F"]}), scope='[data-explorer="campaigns"]'
    )
    assert not problems, problems
    page.close()


def test_explore_clickstream_slices_by_segment_and_predicted_target(tmp_path: Path) -> None:
    """With a saved ClickStream segmentation and the predictions, `model.py explore --dataset clickstream` has a
    segment slicer (each user's segment the task's own `segment assign`) and a marketing_target slicer; without
    them, neither, and the page says how to get them."""
    root = small_project()
    model = tmp_path / "segments.joblib"
    fit = ["segment", "fit", "--source", "clickstream", "--input", str(root / "train"), "--k", "3"]
    fit += ["--bootstraps", "1", "--shuffles", "1", "--model", str(model), "--report", str(tmp_path / "s.json")]
    assert (result := CliRunner().invoke(app, fit)).exit_code == 0, result.output
    predictions = root / "predictions" / "predictions.json"
    output = tmp_path / "page.html"
    command = ["explore", "--dataset", "clickstream", "--data", str(root), "--output", str(output)]
    result = CliRunner().invoke(app, [*command, "--segments-model", str(model), "--predictions", str(predictions)])
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert 'data-slicer="segment"' in html and 'data-slicer="marketing_target"' in html
    assert "segment: the project&#39;s ClickStream segments" in html

    assigned = tmp_path / "assigned.csv"
    assign = ["segment", "assign", "--source", "clickstream", "--input", str(root / "test"), "--model", str(model)]
    assert (result := CliRunner().invoke(app, [*assign, "--output", str(assigned)])).exit_code == 0, result.output
    facts = explore.clickstream_facts({"train": root / "train", "test": root / "test"}, model, predictions)
    by_user = dict(zip(facts.frame["user_id"], facts.frame["segment"], strict=True))
    truth = pd.read_csv(assigned, dtype=str)
    assert all(by_user[u] == s for u, s in zip(truth["user_id"], truth["segment"], strict=True) if u in by_user)
    targets = with_predictions(explore_truth.clickstream(root), root).rows
    assert list(facts.frame["marketing_target"]) == list(targets["marketing_target"])

    result = CliRunner().invoke(app, [*command, "--segments-model", str(tmp_path / "none"), "--predictions",
                                      str(tmp_path / "none.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert 'data-slicer="segment"' not in html and 'data-slicer="marketing_target"' not in html
    assert "No segment slicer" in html and "No marketing_target slicer" in html
