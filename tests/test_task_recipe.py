"""A task made by the recipe in docs/tasks.md (the throw-away package tests/toy) and added to the task list by a
fixture, with no other edit: the CLI, the service, the dashboard and the load test pick it up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe import tasks
from adpipe.dashboard.build import build
from adpipe.service import loadtest
from adpipe.service.api import MAX_BATCH
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from tests import toy
from tests.project import make_outputs


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The toy task in the task list, after the others (its one line in adpipe/tasks.py)."""
    monkeypatch.setattr(tasks, "TASKS", (*tasks.TASKS, toy.SPEC))


@pytest.fixture
def root(registered: None, tmp_path: Path) -> Path:
    """A project holding the toy task's outputs, made by its small commands through the CLI."""
    make_outputs(toy.SPEC, tmp_path)
    return tmp_path


def test_the_cli_lists_and_runs_its_commands(registered: None, tmp_path: Path) -> None:
    from model import build_app

    app = build_app()
    assert "toy" in CliRunner().invoke(app, ["--help"]).output
    listed = CliRunner().invoke(app, ["tasks", "list"])
    assert listed.exit_code == 0 and "Toy task" in listed.output
    model = tmp_path / "toy.joblib"
    ran = CliRunner().invoke(app, ["toy", "train", "--model", str(model), "--report", str(tmp_path / "r.json")])
    assert ran.exit_code == 0, ran.output
    assert model.exists()


def test_the_service_serves_it(root: Path) -> None:
    with TestClient(create_app(root / "models", root / "reports")) as client:
        status = {m["task"]: m for m in client.get("/health").json()["models"]}["toy"]
        assert status["loaded"] and status["title"] == "The toy task"
        answer = client.post("/api/v1/toy/predict", json={"x": 4.0}).json()
        assert answer["prediction"]["prediction"] == 8.0 and answer["validation"]["model"]["mean"] == 0.5
        batch = client.post("/api/v1/toy/predict-batch", json={"records": [{"x": 1.0}, {"x": 2.5}]}).json()
        assert [p["prediction"] for p in batch["predictions"]] == [2.0, 5.0]
        page = client.get("/toy")
        assert page.status_code == 200 and 'id="predict"' in page.text and 'href="/toy"' in page.text
        assert 'id="prediction"' in client.post("/toy", data={"x": "1.5"}).text
        assert "/api/v1/toy/predict" in client.get("/openapi.json").json()["paths"]


def test_the_dashboard_shows_its_section(root: Path) -> None:
    html = build(root / "index.html", storage=f"sqlite:///{root / 'none.db'}", root=root).read_text()
    assert 'data-section="toy"' in html and "Toy: error" in html and "0.500" in html


def test_the_load_test_sends_its_records_against_its_targets(registered: None) -> None:
    record, batch, size = loadtest.payloads(all_tasks())["toy"]
    assert record == toy.SPEC.service_adapter().example and size == MAX_BATCH == len(batch["records"])
    measured = {"requests": 100, "seconds": 1.0, "latency": np.full(100, 30.0), "errors": 0}
    single = loadtest._scenario("toy", "single", 1, 4, measured)
    assert single.target == "p99 <= 25 ms" and not single.met
    assert loadtest._scenario("toy", "concurrent", 1, 32, measured).target == ">= 400 predictions/s"
