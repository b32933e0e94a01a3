"""The Explore page in headless Chromium: on each data set, random slicer combinations set through the real
controls give every KPI card pandas' value on the same rows (relative 1e-9), the previous period's too; so do a
clicked bar (cross-filter chip), a preset, a link's URL fragment and the downloaded CSV. One page load per data set.

The filter-change-to-redraw and load times are printed (``-s``) and kept as test properties; docs/explore.md
gives the measured figures (timed targets are not asserted: the machine is shared).
"""

from __future__ import annotations

import io
import math
import random
import statistics
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.service.explore_page_bench import REDRAW
from features.synth_campaigns import MAPPING_FILE, write_export
from model import app
from tests import explore_truth
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.explore_truth import Truth

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run installs it)"
)
SHARED = config.SHARED_DATA_DIR
RESET, DOWNLOAD = '[data-action="reset"]', '[data-action="download"]'
COMBINATIONS = 20
CARDS = "els => Object.fromEntries(els.map(e => [e.dataset.kpi, [e.dataset.value, e.dataset.previous, "
CARDS += "e.querySelector('.value').textContent]]))"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Truth]]:
    """Each data set's page, made by `model.py explore` (the synthetic export through its mapping)."""
    folder = tmp_path_factory.mktemp("explore")
    synth = folder / "synth.csv"
    write_export(synth, days=120, seed=42)
    campaigns, ctr = SHARED / "campaigns" / "KAG_conversion_data.csv", SHARED / "ctr" / "ad_10000records.csv"
    cases = {
        "campaigns": (["--data", str(campaigns)], explore_truth.campaigns(campaigns)),
        "synth": (["--data", str(synth), "--mapping", str(MAPPING_FILE)], explore_truth.campaigns(synth, synth=True)),
        "ctr": (["--dataset", "ctr", "--data", str(ctr)], explore_truth.ctr(ctr)),
        # The project's segmentation and predictions (when `make predict` made them) stay out: the truth has neither.
        "clickstream": (["--dataset", "clickstream", "--data", str(SHARED / "clickstream"),
                         "--segments-model", str(folder / "none.joblib"), "--predictions", str(folder / "none.json")],
                        explore_truth.clickstream(SHARED / "clickstream")),
    }  # fmt: skip
    pages = {}
    for name, (options, truth) in cases.items():
        output = folder / f"{name}.html"
        result = CliRunner().invoke(app, ["explore", *options, "--output", str(output)])
        assert result.exit_code == 0, result.output
        pages[name] = (output, truth)
    return pages


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201 - Playwright's Browser, imported only when the browser is there
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def same(got: str, expected: float | None) -> bool:
    if expected is None:
        return got == ""
    return got != "" and math.isclose(float(got), expected, rel_tol=1e-9, abs_tol=1e-12)


def check_cards(page, truth: Truth, rows: pd.DataFrame, previous: pd.DataFrame | None = None, scope: str = "") -> None:  # noqa: ANN001
    """Every card of the explorer ``scope`` (a selector; the page's one explorer by default) is pandas' value."""
    cards = page.eval_on_selector_all(f"{scope} [data-kpi]", CARDS)
    expected = truth.kpi_values(rows)
    assert set(cards) == set(expected)
    wrong = {k: (cards[k][0], v) for k, v in expected.items() if not same(cards[k][0], v)}
    assert not wrong, wrong
    if rows.empty:
        assert {text for _, _, text in cards.values()} == {"no rows"}
    before = truth.kpi_values(previous) if previous is not None else dict.fromkeys(expected)
    wrong = {k: (cards[k][1], v) for k, v in before.items() if previous is not None and not same(cards[k][1], v)}
    assert not wrong, ("previous period", wrong)
    assert previous is not None or {p for _, p, _ in cards.values()} == {""}


def previous_rows(truth: Truth, values: dict[str, list[str]], date_from: str | None, date_to: str | None):  # noqa: ANN201
    """The previous period's rows: as many days, just before the range (an open end is the data's first/last)."""
    if not (date_from or date_to):
        return None
    days = pd.to_datetime(truth.rows["date"])
    low = pd.Timestamp(date_from) if date_from else days.min()
    high = pd.Timestamp(date_to) if date_to else days.max()
    length = (high - low).days + 1
    start, end = low - pd.Timedelta(days=length), low - pd.Timedelta(days=1)
    return truth.kept(values, start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d"))


# Set every control's state, then dispatch one change: one render per combination (Playwright's select_option
# and fill dispatch a change per control; the first combinations of each page go that way too).
SET_CONTROLS = """([scope, values, dates]) => {
  const root = document.querySelector(scope || "[data-explorer]");
  for (const s of root.querySelectorAll("select[data-slicer]"))
    for (const o of s.options) o.selected = (values[s.dataset.slicer] || []).includes(o.value);
  for (const [name, day] of Object.entries(dates)) {
    const input = root.querySelector(`input[data-slicer="${name}"]`);
    if (input) input.value = day || "";
  }
  root.querySelector("[data-slicer]").dispatchEvent(new Event("change"));
}"""


def set_controls(page, values: dict[str, list[str]], date_from: str | None, date_to: str | None, *,  # noqa: ANN001
                 one_by_one: bool = False, scope: str = "") -> None:  # fmt: skip
    if not one_by_one:
        page.evaluate(SET_CONTROLS, [scope, values, {"date-from": date_from, "date-to": date_to}])
        return
    page.click(f"{scope} {RESET}")
    for name, chosen in values.items():
        page.select_option(f'{scope} select[data-slicer="{name}"]', chosen)
    for slicer, day in (("date-from", date_from), ("date-to", date_to)):
        if day:
            page.fill(f'{scope} input[data-slicer="{slicer}"]', day)
            page.dispatch_event(f'{scope} input[data-slicer="{slicer}"]', "change")


def click_tallest_bar(page, dimension: str, scope: str = "") -> None:  # noqa: ANN001
    selector = f'{scope} [data-bars="{dimension}"]'
    chart = page.locator(selector)
    chart.scroll_into_view_if_needed()
    page.wait_for_function("s => !document.querySelector(s).dataset.stale", arg=selector)
    boxes = [b for b in (p.bounding_box() for p in chart.locator(".point path").all()) if b]
    box = max(boxes, key=lambda b: b["height"])
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)


EXPLORED = ("campaigns", "synth", "ctr", "clickstream")  # names tasks: explore's data sets, not the task list


@pytest.mark.parametrize("name", EXPLORED)
def test_every_card_is_pandas_on_the_same_rows(browser, built: dict[str, tuple[Path, Truth]], name: str) -> None:  # noqa: ANN001
    path, truth = built[name]
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("request", lambda r: r.url.split(":")[0] not in ("file", "blob", "data") and problems.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready]")

    # The contract: a multi-select per dimension whose options are the values as written; dates only with a date.
    for dimension in truth.dimensions:
        options = page.eval_on_selector_all(f'select[data-slicer="{dimension}"] option', "os => os.map(o => o.value)")
        assert sorted(options) == sorted(truth.rows[dimension].unique()), dimension
    assert page.locator('input[type="date"][data-slicer="date-from"]').count() == int(truth.has_date)
    assert page.locator("[data-no-date]").count() == int(not truth.has_date)
    check_cards(page, truth, truth.rows)

    rng = random.Random(34)
    empty = 0
    for combination in range(COMBINATIONS):
        values, date_from, date_to = explore_truth.random_filter(truth, rng)
        set_controls(page, values, date_from, date_to, one_by_one=combination < 3)
        rows = truth.kept(values, date_from, date_to)
        check_cards(page, truth, rows, previous_rows(truth, values, date_from, date_to))
        empty += rows.empty
    if truth.has_date:  # an inverted range matches nothing
        days = sorted(truth.rows["date"].unique())
        set_controls(page, {}, days[-1], days[0])
        check_cards(page, truth, truth.kept({}, days[-1], days[0]))
    elif not empty:  # two values never seen together
        first, second = truth.dimensions[:2]
        pairs = set(zip(truth.rows[first], truth.rows[second], strict=True))
        a, b = next(
            (a, b) for a in truth.rows[first].unique() for b in truth.rows[second].unique() if (a, b) not in pairs
        )
        set_controls(page, {first: [a], second: [b]}, None, None)
        check_cards(page, truth, truth.kept({first: [a], second: [b]}))

    # Cross-filtering: a clicked bar filters every other visual, shown as a removable chip.
    set_controls(page, {}, None, None)
    dimension = truth.dimensions[0]
    click_tallest_bar(page, dimension)
    chip = page.locator(f'.chip[data-cross="{dimension}"]')
    chip.wait_for()
    value = chip.get_attribute("data-value")
    check_cards(page, truth, truth.kept({dimension: [value]}))
    assert f"cross.{dimension}" in page.evaluate("decodeURIComponent(location.hash.replace(/\\+/g, ' '))")

    # The CSV download: the filtered rows, whose KPIs are the cards'.
    with page.expect_download() as download:
        page.click(DOWNLOAD)
    csv = pd.read_csv(io.StringIO(Path(download.value.path()).read_text()), dtype=str, keep_default_na=False)
    numbers = [c for c in csv.columns if c not in (*truth.dimensions, "date", "user_id")]
    csv[numbers] = csv[numbers].astype(float)
    assert len(csv) == len(truth.kept({dimension: [value]})) and set(csv[dimension]) == {value}
    assert all(same(str(v), truth.kpi_values(truth.kept({dimension: [value]}))[k]) for k, v in
               truth.kpi_values(csv).items())  # fmt: skip
    chip.locator("button").click()
    assert page.locator(".chip").count() == 0
    check_cards(page, truth, truth.rows)

    # The URL fragment: a combination's link, applied after a reset, shows the same cards and controls.
    values, date_from, date_to = explore_truth.random_filter(truth, random.Random(1))
    set_controls(page, values, date_from, date_to, one_by_one=True)
    fragment = page.evaluate("location.hash")
    page.click(RESET)
    assert page.evaluate("location.hash") == ""
    page.evaluate("h => { location.hash = h; }", fragment)
    page.wait_for_function("h => location.hash === h", arg=fragment)
    rows = truth.kept(values, date_from, date_to)
    check_cards(page, truth, rows, previous_rows(truth, values, date_from, date_to))
    for slicer, chosen in values.items():
        selected = page.eval_on_selector(
            f'select[data-slicer="{slicer}"]', "s => [...s.selectedOptions].map(o => o.value)"
        )
        assert sorted(selected) == sorted(chosen)

    if truth.has_date:  # a preset: the last 30 days of the data
        page.click(RESET)
        page.click('[data-preset="30"]')
        last = pd.Timestamp(truth.rows["date"].max())
        start = (last - pd.Timedelta(days=29)).strftime("%Y-%m-%d")
        assert page.input_value('[data-slicer="date-from"]') == start
        check_cards(page, truth, truth.kept({}, start, None), previous_rows(truth, {}, start, truth.rows["date"].max()))

    page.click(RESET)
    page.evaluate("window.scrollTo(0, 0)")
    redraw, _ = page.evaluate(REDRAW, truth.dimensions[-1])  # loadtest-explore's measure of a redraw
    timings = page.evaluate("window.exploreTimings")
    print(f"\n{name}: load {timings['ready']:.0f} ms, redraw median {statistics.median(redraw):.0f} ms {redraw}")
    assert not problems, problems
    page.close()
