"""Each task's page in a real browser: headless Chromium (Debian's, driven by Playwright) opens the form served by
`python model.py serve`, changes a field, submits, and reads the prediction off the page, which must be the
answer the JSON API gives for the same record."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from adpipe.service.registry import all_tasks
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.test_service import running_server, trained_models, wait_ready

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not at /usr/bin/chromium (apt-get install -y chromium)"
)

# Per task: the field the test changes, the text it types, and the value the API gets.
CHANGES: dict[str, tuple[str, str, Any]] = {
    "clickstream": ("age", "35", 35),
    "ctr": ("Age", "45", 45),
    "conversion": ("Likes and Reactions", "1200", 1200),
    "segments": ("Followed Accounts", "300", 300),
    "roas": ("Spent", "80", 80),
}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with running_server(*trained_models()) as (url, _):
        yield url


def _api_label(base: str, task: str, record: dict[str, Any]) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/{task}/predict", data=json.dumps(record).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["prediction"]["label"]


def test_every_form_predicts_in_a_browser(base: str) -> None:
    from playwright.sync_api import sync_playwright

    tasks = all_tasks()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            for task, (field, typed, value) in CHANGES.items():
                page.goto(f"{base}/{task}")
                page.fill(f'[name="{field}"]', typed)
                page.click("#predict")
                page.wait_for_selector("#prediction", timeout=30_000)
                shown = page.inner_text("#prediction").strip()
                example = tasks[task].example
                if task == "clickstream":
                    record = {"user": {**example["user"], field: value}, "sessions": example["sessions"]}
                else:
                    record = {**example, field: value}
                assert shown == _api_label(base, task, record), task
                assert page.locator("#reliability").inner_text().strip()
        finally:
            browser.close()


def test_the_budget_plan_form_answers_in_a_browser(base: str) -> None:
    """The plan form on the ROAS page: a budget and a limit typed in, the answer's table equal to the API's plan."""
    from playwright.sync_api import sync_playwright

    wait_ready(base)  # the plan's curves are fitted in the background
    body = {"budget": 50000, "max": {"1178/30-34/M": 12000, "*": "20%"}}
    request = urllib.request.Request(
        f"{base}/api/v1/roas/plan", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        plan = json.loads(answer.read())["plan"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/roas")
            assert float(page.input_value('[name="budget"]')) > 0  # today's total
            page.fill('[name="budget"]', "50000")
            page.fill('[name="max"]', "1178/30-34/M=12000\n*=20%")
            page.click("#plan-submit")
            page.wait_for_selector("#plan-table", timeout=30_000)
            rows = page.locator("#plan-table tr").all()[1:-1]  # between the header and the total
            shown = [(r.locator("td").nth(0).inner_text(), r.locator("td").nth(2).inner_text()) for r in rows]
            assert shown == [(s["segment"], f"{s['planned']:,.2f}") for s in plan["segments"]]
            assert page.inner_text("#plan-gain").startswith(f"{plan['expected_gain']:+,.0f}")
        finally:
            browser.close()
