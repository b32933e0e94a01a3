"""The budget plan in the service (`POST /api/v1/roas/plan` and the form on `/roas`): the same report as
`roas plan` for the same inputs, the plan validation beside it, every bad input a 422 naming its field, the form
rendered and answered, and a request in milliseconds (the curves are fitted once, at start)."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe import config
from adpipe.reports import read_report
from adpipe.roas.plan.report import PlanReport, PlanValidationReport
from adpipe.service.app import create_app
from model import app as cli_app
from tests.test_service import actions_ready, trained_models

VALIDATION = "roas_plan_validation.json"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained models' reports, with `roas plan-validate` of the reference file at the served level."""
    folder = tmp_path_factory.mktemp("plan-reports")
    shutil.copytree(trained_models()[1], folder, dirs_exist_ok=True)
    result = CliRunner().invoke(cli_app, ["roas", "plan-validate", "--report", str(folder / VALIDATION)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def client(reports: Path) -> TestClient:
    app = create_app(trained_models()[0], reports)
    with TestClient(app, raise_server_exceptions=False) as started:
        actions_ready(app)
        yield started  # the lifespan ran: the plan's curves were fitted at start, as in each server worker


def _cli_plan(tmp_path: Path, options: list[str], validation: Path) -> dict[str, Any]:
    out = tmp_path / "plan.json"
    command = ["roas", "plan", "--data", str(config.CAMPAIGNS_FILE), *options, "--report", str(out)]
    command += ["--validation", str(validation)]
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def _close(ours: Any, theirs: Any) -> bool:
    """Equal, figures to 1e-9 relative (1e-6 absolute)."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return ours.keys() == theirs.keys() and all(_close(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, float) or isinstance(theirs, float):
        return ours == pytest.approx(theirs, rel=1e-9, abs=1e-6)
    return ours == theirs


# Each case: `roas plan`'s options, and the same request as JSON.
CASES = {
    "defaults": ([], {}),
    "limits": (
        ["--budget", "50000", "--max", "1178/30-34/M=12000", "--max", "*=20%", "--min", "936/30-34/F=400"]
        + ["--fix", "916/30-34/M", "--max-change", "3", "--allow-extrapolation"],
        {
            "budget": 50000,
            "max": {"1178/30-34/M": 12000, "*": "20%"},
            "min": {"936/30-34/F": 400},
            "fix": ["916/30-34/M"],
            "max_change": 3,
            "allow_extrapolation": True,
        },
    ),
    "conversions": (["--objective", "conversions", "--budget", "40000"], {"objective": "conversions", "budget": 40000}),
    "target-roas": (
        ["--objective", "target-roas", "--target-roas", "1.5"],
        {"objective": "target-roas", "target_roas": 1.5},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_the_api_plan_is_roas_plans_report(client: TestClient, reports: Path, tmp_path: Path, case: str) -> None:
    options, body = CASES[case]
    expected = _cli_plan(tmp_path, options, reports / VALIDATION)
    answer = client.post("/api/v1/roas/plan", json=body)
    assert answer.status_code == 200, answer.text
    plan = PlanReport.model_validate(answer.json()["plan"]).model_dump()
    plan.pop("solve_seconds"), expected.pop("solve_seconds")
    segments, expected_segments = plan.pop("segments"), expected.pop("segments")
    assert _close(plan, expected)
    assert [s["segment"] for s in segments] == [s["segment"] for s in expected_segments]
    for ours, theirs in zip(segments, expected_segments, strict=True):
        assert ours["planned"] == pytest.approx(theirs["planned"], abs=1e-6)
        assert _close(ours, theirs), (ours, theirs)
    validation = read_report(reports / VALIDATION, PlanValidationReport)
    if case == "conversions":  # the validation is of the value, not of the enquiries
        assert answer.json()["validation"] is None and answer.json()["plan"]["backtested_gain"] is None
    else:
        assert PlanValidationReport.model_validate(answer.json()["validation"]) == validation
        assert answer.json()["plan"]["backtested_gain"] == validation.gain.model_dump()


def test_the_ranking_verdict_comes_from_the_plan_validation(client: TestClient, reports: Path) -> None:
    validation = read_report(reports / VALIDATION, PlanValidationReport)
    plan = client.app.state.tasks["roas"].actions()[0]
    assert plan.fitted[(5.0, 100.0)].ranking == validation.ranking  # not run again at start


def test_a_plan_answers_in_milliseconds(client: TestClient) -> None:
    body = {"budget": 50000, "max": {"*": "20%"}, "allow_extrapolation": True}
    seconds = []
    for _ in range(5):
        started = time.perf_counter()
        assert client.post("/api/v1/roas/plan", json=body).status_code == 200
        seconds.append(time.perf_counter() - started)
    assert statistics.median(seconds) < 0.5, seconds


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"budget": 0}, "budget", "greater than 0"),
        ({"budget": -5}, "budget", "greater than 0"),
        ({"budget": "lots"}, "budget", "valid number"),
        ({"budget": 100, "fix": ["1178/30-34/M"]}, "budget", "fixed segments' spend"),
        ({"min": {"no/such/segment": 10}}, "min", "unknown segment 'no/such/segment'"),
        ({"fix": ["nowhere"]}, "fix", "unknown segment 'nowhere'"),
        ({"min": {"1178/30-34/M": 9000}, "max": {"1178/30-34/M": 100}}, "min", "(min 9000) is above its highest"),
        ({"min": {"*": "50%"}}, "budget", "minimum spends"),
        ({"max": {"*": "150%"}}, "max", "at most 100%"),
        ({"max": {"*": "a lot"}}, "max", "an amount >= 0 or a share"),
        ({"max_change": 0.5}, "max_change", "greater than or equal to 1"),
        ({"objective": "target-roas"}, "target_roas", "needs the ROAS floor"),
        ({"objective": "profit"}, "objective", "'value', 'conversions' or 'target-roas'"),
        ({"by": "age"}, "by", "Extra inputs"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, body: dict, field: str, says: str) -> None:
    answer = client.post("/api/v1/roas/plan", json=body)
    assert answer.status_code == 422, answer.text
    (error,) = [e for e in answer.json()["detail"] if e["loc"][:2] == ["body", field]] or [None]
    assert error is not None and says in error["msg"], answer.text
    assert "--" not in error["msg"]  # the request's field names, not the command line's options


def test_malformed_json_and_nan_budget_are_422(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    assert client.post("/api/v1/roas/plan", content=b"{budget: 5", headers=headers).status_code == 422
    answer = client.post("/api/v1/roas/plan", content=b'{"budget": NaN}', headers=headers)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "budget"]


def test_the_form_is_prefilled_and_answers_with_the_plan_table(client: TestClient) -> None:
    page = client.get("/roas")
    assert page.status_code == 200
    today = client.post("/api/v1/roas/plan", json={}).json()["plan"]["budget"]
    assert re.search(rf'name="budget"[^>]*value="{today:.2f}"', page.text)
    assert 'id="plan-form"' in page.text and 'name="max"' in page.text and "realised" in page.text
    form = {"budget": "50000", "objective": "value", "max": "1178/30-34/M=12000\n*=20%\n", "allow_extrapolation": "on"}
    answer = client.post("/roas/plan", data=form)
    assert answer.status_code == 200, answer.text
    body = {"budget": 50000, "max": {"1178/30-34/M": 12000, "*": "20%"}, "allow_extrapolation": True}
    plan = client.post("/api/v1/roas/plan", json=body).json()["plan"]
    table = answer.text[answer.text.index('id="plan-table"') :]
    cell = r'<td class="num">'
    rows = re.findall(rf"<tr><td>([^<]+)</td>{cell}[^<]+</td>{cell}<strong>([^<]+)</strong>", table)
    assert [name for name, _ in rows] == [s["segment"] for s in plan["segments"]]
    assert [float(p.replace(",", "")) for _, p in rows] == [round(s["planned"], 2) for s in plan["segments"]]
    assert "Back-tested" in answer.text and "1178/30-34/M=12000" in answer.text  # the form keeps what was sent


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"budget": "0"}, "budget: Input should be greater than 0"),
        ({"min": "1178/30-34/M 500"}, "min: line 1: expected SEGMENT=AMOUNT"),
        ({"max": "nowhere=5"}, "max: unknown segment 'nowhere'"),
    ],
)
def test_a_bad_form_says_which_field(client: TestClient, form: dict[str, str], says: str) -> None:
    answer = client.post("/roas/plan", data={"objective": "value", **form})
    assert answer.status_code == 422
    assert says in answer.text.replace("&#39;", "'"), answer.text
    assert 'id="plan-table"' not in answer.text


def test_without_its_data_the_plan_is_a_503_and_the_rest_is_served(reports: Path) -> None:
    app = create_app(trained_models()[0], reports)
    app.state.tasks["roas"].actions()[0].data = Path("/nonexistent/campaigns.csv")
    with TestClient(app, raise_server_exceptions=False) as client:
        actions_ready(app)
        answer = client.post("/api/v1/roas/plan", json={})
        assert answer.status_code == 503 and "/nonexistent/campaigns.csv" in answer.json()["detail"]
        assert client.get("/health").json()["status"] == "ok"
        assert "Not available" in client.get("/roas").text
        example = app.state.tasks["roas"].example
        assert client.post("/api/v1/roas/predict", json=example).status_code == 200
