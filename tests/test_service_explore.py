"""Explore live (issue 34, item 3): ``GET /api/v1/explore/<dataset>`` answers pandas' KPIs on the same rows for a
filter, grouped or not; a bad parameter is a 422 naming it; nothing matched gives null KPIs and ``no_rows``; the
API keys guard it; a fact file (``serve --explore-data``) answers as the data set it was written from;
``/explore/<dataset>`` renders with the offline page's script, and in Chromium its cards are pandas' values."""

from __future__ import annotations

import math
import random
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.explore import datasets
from adpipe.explore.facts import write_facts
from adpipe.service.app import create_app
from adpipe.service.explore import EXPLORE_DATA_ENV, parse_explore_data
from adpipe.service.keys import ApiKeys
from adpipe.service.loadtest import free_port
from model import app as cli_app
from tests import explore_truth
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.explore_truth import Truth
from tests.test_explore_browser import previous_rows

SHARED = config.SHARED_DATA_DIR
KEY = "k" * 16 + "-explore-key"
API = "/api/v1/explore"
CARD_VALUES = "es => Object.fromEntries(es.map(e => [e.dataset.kpi, e.dataset.value === '' ? null : +e.dataset.value]))"


@pytest.fixture(scope="module")
def fact_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference ClickStream sessions as a fact file (user ids as integer codes, rows sorted by user, then date)."""
    facts = datasets.clickstream_facts({"train": config.TRAIN_DIR, "test": config.TEST_DIR})
    return write_facts(facts, tmp_path_factory.mktemp("facts") / "sessions.parquet")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, fact_file: Path) -> TestClient:
    folder = tmp_path_factory.mktemp("service")
    app = create_app(folder / "models", folder / "reports", explore_data={"sessions": fact_file})
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def truths() -> dict[str, Truth]:
    return {
        "campaigns": explore_truth.campaigns(SHARED / "campaigns" / "KAG_conversion_data.csv"),
        "ctr": explore_truth.ctr(SHARED / "ctr" / "ad_10000records.csv"),
        "clickstream": explore_truth.clickstream(SHARED / "clickstream"),
    }


def query(values: dict[str, list[str]], date_from: str | None, date_to: str | None) -> list[tuple[str, str]]:
    pairs = [(f"where.{name}", value) for name, chosen in values.items() for value in chosen]
    return pairs + [(k, v) for k, v in (("date_from", date_from), ("date_to", date_to)) if v]


def assert_kpis(got: dict[str, float | None], expected: dict[str, float | None]) -> None:
    assert set(got) == set(expected)
    wrong = {
        k: (got[k], v)
        for k, v in expected.items()
        if (v is None) != (got[k] is None) or (v is not None and not math.isclose(got[k], v, rel_tol=1e-9))
    }
    assert not wrong, wrong


@pytest.mark.parametrize("dataset", ["campaigns", "ctr", "clickstream", "sessions"])  # names tasks: explore's data sets
def test_answers_are_pandas_on_the_same_rows(client: TestClient, truths: dict[str, Truth], dataset: str) -> None:
    """Six random filters per data set (the fact file: the ClickStream's), and one grouped by a dimension."""
    truth = truths["clickstream" if dataset == "sessions" else dataset]
    rng = random.Random(34)
    for _ in range(6):
        values, date_from, date_to = explore_truth.random_filter(truth, rng)
        answer = client.get(f"{API}/{dataset}", params=query(values, date_from, date_to))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows = truth.kept(values, date_from, date_to)
        (group,) = body["groups"]
        assert body["no_rows"] is rows.empty and group["totals"]["rows"] == len(rows)
        assert_kpis(group["kpis"], truth.kpi_values(rows))
    by = truth.dimensions[0]
    body = client.get(f"{API}/{dataset}", params={"group_by": by}).json()
    assert [g["key"][by] for g in body["groups"]] == sorted(truth.rows[by].unique())
    for group in body["groups"]:
        assert_kpis(group["kpis"], truth.kpi_values(truth.rows[truth.rows[by] == group["key"][by]]))


@pytest.mark.parametrize("by", ["week", "date"])
@pytest.mark.parametrize("dataset", ["clickstream", "sessions"])  # in memory; the fact file counts users by change
def test_a_trend_by_week_or_day_is_pandas(client: TestClient, truths: dict[str, Truth], dataset: str, by: str) -> None:
    """Weeks start on Mondays; the distinct users of each day or week are pandas' (the fact file's are counted as the
    kept rows where the user or the day changes: its rows are sorted by user, then date)."""
    rows = truths["clickstream"].rows
    days = pd.to_datetime(rows["date"])
    keys = days.dt.to_period("W-SUN").dt.start_time if by == "week" else days
    keys = keys.dt.strftime("%Y-%m-%d")
    body = client.get(f"{API}/{dataset}", params=[("group_by", by), ("where.device_type", "mobile")]).json()
    mobile = rows["device_type"] == "mobile"
    expected = {key: truths["clickstream"].kpi_values(rows[mobile & (keys == key)]) for key in keys[mobile]}
    assert [g["key"][by] for g in body["groups"]] == sorted(expected)
    for group in body["groups"]:
        assert_kpis(group["kpis"], expected[group["key"][by]])


def test_asking_for_some_kpis_sums_only_what_they_use(client: TestClient) -> None:
    params = [("group_by", "device_type"), ("kpi", "page_views_per_session")]
    some = client.get(f"{API}/sessions", params=params).json()["groups"]
    every = client.get(f"{API}/sessions", params=params[:1]).json()["groups"]
    assert [g["kpis"] for g in some] == [{"page_views_per_session": g["kpis"]["page_views_per_session"]} for g in every]
    assert set(some[0]["totals"]) == {"rows", "page_views", "sessions"}
    users = client.get(f"{API}/sessions", params=[("kpi", "users")]).json()["groups"][0]
    assert users["kpis"] == {"users": every_users(client)} and set(users["totals"]) == {"rows", "user_id"}
    answer = client.get(f"{API}/sessions", params=[("kpi", "ctr")])
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "kpi"]


def every_users(client: TestClient) -> float:
    return client.get(f"{API}/clickstream").json()["groups"][0]["kpis"]["users"]


def test_nothing_matched_is_null_kpis_and_no_rows(client: TestClient) -> None:
    body = client.get(f"{API}/clickstream", params={"date_from": "2099-01-01"}).json()
    (group,) = body["groups"]
    assert body["no_rows"] is True and set(group["kpis"].values()) == {None}
    assert set(group["totals"].values()) == {0.0}
    grouped = client.get(f"{API}/ctr", params={"date_to": "1999-01-01", "group_by": "City"}).json()
    assert grouped["no_rows"] is True and grouped["groups"] == []


@pytest.mark.parametrize(
    ("dataset", "params", "loc", "message"),
    [
        ("nope", [], ["path", "dataset"], "unknown data set 'nope'"),
        ("clickstream", [("where.colour", "red")], ["query", "where.colour"], "unknown column 'colour'"),
        ("clickstream", [("where.device_type", "phone")], ["query", "where.device_type"], "'phone' is not a value"),
        ("clickstream", [("date_from", "2023-05-01"), ("date_to", "2023-04-01")], ["query", "date_from"], "is after"),
        ("clickstream", [("date_to", "2023-4-1")], ["query", "date_to"], "not a date as YYYY-MM-DD"),
        ("campaigns", [("date_from", "2023-04-01")], ["query", "date_from"], "campaigns has no date"),
        ("ctr", [("group_by", g) for g in ("City", "Country", "date")], ["query", "group_by"], "at most 2"),
        ("ctr", [("group_by", "Age")], ["query", "group_by"], "cannot group by 'Age'"),
        ("ctr", [("limit", "10")], ["query", "limit"], "unknown parameter"),
    ],
    ids=["dataset", "column", "value", "inverted", "date", "no date", "too many groups", "group", "parameter"],
)
def test_a_bad_parameter_is_a_422_naming_it(
    client: TestClient, dataset: str, params: list, loc: list[str], message: str
) -> None:
    answer = client.get(f"{API}/{dataset}", params=params)
    assert answer.status_code == 422
    (detail,) = answer.json()["detail"]
    assert detail["loc"] == loc and message in detail["msg"], detail


def test_the_api_needs_a_key_and_the_page_does_not(tmp_path: Path) -> None:
    app = create_app(tmp_path / "models", tmp_path / "reports", api_keys=ApiKeys([KEY]))
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get(f"{API}/ctr").status_code == 401
    assert client.get(f"{API}/ctr", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/explore/ctr").status_code == 200


def test_the_page_loads_the_offline_pages_script(client: TestClient) -> None:
    page = client.get("/explore/clickstream")
    assert page.status_code == 200
    assert '"api":{"url":"/api/v1/explore/' in page.text
    names = ("explore_compute.js", "explore_live.js", "explore.js", "explore_plan.js")  # the offline page's, in order
    for name in names:
        assert f'<script src="/explore/assets/{name}">' in page.text
        script = client.get(f"/explore/assets/{name}")
        shipped = (Path(datasets.__file__).parent / name).read_text(encoding="utf-8")
        assert script.status_code == 200 and script.text == shipped
    places = [page.text.index(f"assets/{name}") for name in names]
    assert places == sorted(places)
    assert client.get("/explore/assets/plotly.js").status_code == 200
    assert client.get("/explore/assets/other.js").status_code == 404
    assert all(f'href="/explore/{n}"' in client.get("/explore").text for n in ("campaigns", "ctr", "sessions"))
    assert client.get("/explore/nope").status_code == 404


def test_explore_data_names_fact_files(tmp_path: Path, fact_file: Path) -> None:
    assert parse_explore_data([f"big={fact_file}"]) == {"big": fact_file}
    assert parse_explore_data([], {EXPLORE_DATA_ENV: f"a={fact_file},b={fact_file}"}) == {
        "a": fact_file,
        "b": fact_file,
    }
    with pytest.raises(OptionError, match="--explore-data: 'big' is not NAME=FILE"):
        parse_explore_data(["big"])
    with pytest.raises(OptionError, match="the data set name 'ctr' is taken"):
        parse_explore_data([f"ctr={fact_file}"])
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(other)
    with pytest.raises(DataError, match="not a fact file"):
        parse_explore_data([f"x={other}"])
    result = CliRunner().invoke(cli_app, ["serve", "--explore-data", f"x={other}"])
    assert result.exit_code == 1 and "not a fact file" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_the_live_page_through_its_controls(fact_file: Path, truths: dict[str, Truth], tmp_path: Path) -> None:
    """The served page in Chromium: a slicer, a date range and a clicked bar recompute every card from the API."""
    import uvicorn
    from playwright.sync_api import sync_playwright

    app = create_app(tmp_path / "models", tmp_path / "reports", explore_data={"sessions": fact_file})
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    truth = truths["clickstream"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(f"http://127.0.0.1:{port}/explore/sessions")
            page.wait_for_selector("body[data-ready]:not([data-busy])")

            def cards() -> dict[str, float | None]:
                return page.eval_on_selector_all("[data-kpi]", CARD_VALUES)

            assert_kpis(cards(), truth.kpi_values(truth.rows))
            page.select_option('select[data-slicer="device_type"]', ["mobile", "tablet"])
            page.fill('input[data-slicer="date-from"]', "2023-03-01")
            page.dispatch_event('input[data-slicer="date-from"]', "change")
            page.wait_for_selector("body:not([data-busy])")
            values = {"device_type": ["mobile", "tablet"]}
            assert_kpis(cards(), truth.kpi_values(truth.kept(values, "2023-03-01")))
            previous = page.eval_on_selector_all("[data-kpi]", CARD_VALUES.replace("value", "previous"))
            assert_kpis(previous, truth.kpi_values(previous_rows(truth, values, "2023-03-01", None)))
            chart = page.locator('[data-bars="browser"]')
            chart.scroll_into_view_if_needed()
            page.wait_for_function("!document.querySelector('[data-bars=\"browser\"]').dataset.stale")
            boxes = [b for b in (p.bounding_box() for p in chart.locator(".point path").all()) if b]
            box = max(boxes, key=lambda b: b["height"])
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 2)
            page.wait_for_selector(".chip[data-cross='browser']")
            page.wait_for_selector("body:not([data-busy])")
            clicked = page.get_attribute(".chip[data-cross='browser']", "data-value")
            assert_kpis(cards(), truth.kpi_values(truth.kept({**values, "browser": [clicked]}, "2023-03-01")))
            assert not problems, problems
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
