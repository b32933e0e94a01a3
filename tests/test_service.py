"""The prediction service: each endpoint's contract, answers equal to the CLI's, the shipped container command,
graceful shutdown (bad requests, pages and uploads: tests/test_service_requests.py).

The models are the tests' project's (tests.project.small_project): made once per test run by the tasks' own small
commands on the reference data, in a temporary folder, so the service is tested on what the commands save.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from adpipe import config
from adpipe.clickstream.engines import build_features, load_split
from adpipe.io import load_model
from adpipe.service import cli as service_cli
from adpipe.service.api import MAX_BATCH
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from adpipe.tasks import TASKS
from features.ctr import build_features as build_ctr_features
from features.ctr import load_impressions
from tests.project import small_project

SHARED = config.SHARED_DATA_DIR
TASK_NAMES = [task.name for task in TASKS]


def trained_models() -> tuple[Path, Path]:
    """The models folder and the reports folder of the tests' project (tests.project.small_project: each task's
    model and reports made by its own small commands), made once per test run; the other service tests share
    them."""
    root = small_project()
    return root / "models", root / "reports"


@pytest.fixture(scope="module")
def served() -> tuple[Path, Path]:
    return trained_models()


@contextmanager
def running_server(
    models: Path, reports: Path, workers: int = 1, options: Sequence[str] = ()
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`python model.py serve` (the container's command, with ``options``) on a free loopback port, until the block
    ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "model.py", "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--models", str(models), "--reports", str(reports), *options]
    server = subprocess.Popen(command, cwd=config.PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        # The models load and each worker checks their examples before it answers: seconds (the ROAS plan is fitted
        # in the background meanwhile: wait_ready).
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                    assert json.loads(answer.read())["status"] == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the server did not start"
                time.sleep(0.3)
        yield base, server
    finally:
        if server.poll() is None:
            server.terminate()  # SIGTERM: gunicorn stops its workers too (SIGKILL would orphan them)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def actions_ready(app: FastAPI) -> None:
    """Until the actions an in-process app's lifespan started in the background are ready (a start holds its
    action's lock: :meth:`Action.started` waits for it), as :func:`wait_ready` waits for a server's."""
    for name, task in app.state.tasks.items():
        if app.state.statuses[name].loaded:
            for action in task.actions():
                action.started()


def wait_ready(base: str, seconds: float = 300) -> None:
    """Until the worker answering ``/health`` starts nothing more (a one-worker server: the server is ready for every
    request). The ROAS plan's ranking back-test runs when the project's plan validation was made on other folds
    (the tests' small one): tens of seconds, minutes on two busy cores (135 s at load 7)."""
    deadline = time.monotonic() + seconds
    while True:
        with urllib.request.urlopen(f"{base}/health", timeout=10) as answer:
            if not json.loads(answer.read())["starting"]:
                return
        assert time.monotonic() < deadline, "the server's actions did not start"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def client(served: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(*served), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    return {name: task.example for name, task in all_tasks().items()}


# --- the contract ----------------------------------------------------------------------------------------------


def test_health_names_every_model_with_version_and_training(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    statuses = {m["task"]: m for m in health["models"]}
    assert set(statuses) == set(TASK_NAMES)
    for status in statuses.values():
        assert status["loaded"] and re.fullmatch(r"[0-9a-f]{12}", status["version"])
        assert status["trained_at"] and status["trained_on"]
    assert statuses["clickstream"]["trained_on"]["n_users"] == 700


def test_ctr_effects_say_they_explain_the_trees_part(client: TestClient, examples: dict[str, dict]) -> None:
    body = client.post("/api/v1/ctr/predict", json=examples["ctr"]).json()
    assert body["effect_unit"].startswith("log-odds of a click in LightGBM's trees (50% of the probability")


@pytest.mark.parametrize("task", TASK_NAMES)
def test_one_record_answer(client: TestClient, examples: dict[str, dict], task: str) -> None:
    answer = client.post(f"/api/v1/{task}/predict", json=examples[task])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task"] == task and body["model_version"] and body["effect_unit"]
    prediction = body["prediction"]
    assert prediction["label"]
    if task == "clickstream":
        assert prediction["prediction"] in (1, 2, 3)
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
    if task == "ctr":
        assert 0.0 <= prediction["probabilities"]["clicked"] <= 1.0
    if task == "conversion":
        low, high = prediction["interval"]
        assert low <= prediction["prediction"] <= high
    if task == "roas":  # the band is ± the validation report's cross-validated MAE (at least 0)
        low, high = prediction["interval"]
        assert low <= prediction["prediction"] <= high
        assert high == pytest.approx(prediction["prediction"] + body["validation"]["model"]["mean"])
    if task == "segments":
        distances = prediction["distances"]
        assert prediction["prediction"] == int(min(distances, key=distances.get))
    if task != "conversion":  # the saved conversion model is the mean baseline here: nothing to attribute
        assert 1 <= len(prediction["top_inputs"]) <= 5


def test_validation_figure_travels_with_the_answer(client: TestClient, examples: dict[str, dict]) -> None:
    validation = client.post("/api/v1/clickstream/predict", json=examples["clickstream"]).json()["validation"]
    assert validation["metric"] == "macro-F1" and validation["baseline_name"] == "majority class"
    assert validation["model"]["mean"] > validation["baseline"]["mean"]
    assert "2 folds x 1 repeats" in validation["protocol"]
    conversion = client.post("/api/v1/conversion/predict", json=examples["conversion"]).json()
    assert "only the baseline" in conversion["validation"]["note"]


def test_batch_equals_one_by_one(client: TestClient, examples: dict[str, dict]) -> None:
    records = [dict(examples["roas"], Spent=spent, age=age) for spent, age in ((10.0, "30-34"), (500.0, "45-49"))]
    batch = client.post("/api/v1/roas/predict-batch?explain=true", json={"records": records}).json()["predictions"]
    singles = [client.post("/api/v1/roas/predict", json=r).json()["prediction"] for r in records]
    assert batch == singles
    assert batch[0]["prediction"] != batch[1]["prediction"]
    plain = client.post("/api/v1/roas/predict-batch", json={"records": records}).json()["predictions"]
    assert [p["top_inputs"] for p in plain] == [None, None]  # batches explain only when asked
    assert [p["prediction"] for p in plain] == [p["prediction"] for p in batch]


def test_concurrent_requests_get_their_own_answers(client: TestClient, examples: dict[str, dict]) -> None:
    """Coalesced into shared model calls or not, each request gets the answer it gets alone."""
    records = [dict(examples["ctr"], Age=age) for age in range(20, 60, 4)]
    alone = [client.post("/api/v1/ctr/predict", json=r).json()["prediction"] for r in records]
    together: dict[int, dict] = {}

    def ask(position: int) -> None:
        together[position] = client.post("/api/v1/ctr/predict", json=records[position]).json()["prediction"]

    threads = [threading.Thread(target=ask, args=(p,)) for p in range(len(records))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [together[p] for p in range(len(records))] == alone


def test_clickstream_answers_equal_the_cli_pipeline(client: TestClient, served: tuple[Path, Path]) -> None:
    """Users sent as JSON records get the classes and probabilities the CLI's saved model gives them."""
    split = load_split(SHARED / "clickstream" / "test", "test")
    users = split.users.head(5)
    every_session = pd.read_csv(SHARED / "clickstream" / "test" / config.SESSIONS_TEST_FILE)
    records = []
    for user in users.itertuples():
        sessions = every_session[every_session["user_id"] == user.user_id]
        records.append(
            {
                "user": {
                    "user_id": user.user_id,
                    "age": int(user.age),
                    "abandoned_cart": bool(user.abandoned_cart),
                    "user_category": user.user_category,
                },
                "sessions": [
                    {
                        "session_id": f"s{i}",
                        "timestamp": str(s.timestamp),
                        "device_type": s.device_type,
                        "browser": s.browser,
                        "operating_system": s.operating_system,
                        "ip_address": s.ip_address,
                        "country": s.country,
                        "page_views": int(s.page_views),
                        "session_duration": float(s.session_duration),
                    }
                    for i, s in enumerate(sessions.itertuples())
                ],
            }
        )
    answers = client.post("/api/v1/clickstream/predict-batch", json={"records": records}).json()["predictions"]
    model, _ = load_model(served[0] / "clickstream.joblib", task="clickstream")
    X = build_features(split).drop(columns=["test_id"]).loc[users["user_id"]]
    assert [a["prediction"] for a in answers] == model.predict(X).tolist()
    probabilities = np.array([[a["probabilities"][c] for c in ("1", "2", "3")] for a in answers])
    np.testing.assert_allclose(probabilities, model.predict_proba(X), rtol=1e-9)


def test_ctr_answers_equal_the_saved_model(client: TestClient, served: tuple[Path, Path]) -> None:
    """Impressions sent as JSON records get the probabilities and decisions the saved model gives their rows (the
    service opens the model once to predict and explain: its wrappers must only pass predict_proba through)."""
    table = load_impressions(SHARED / "ctr" / "ad_10000records.csv", labelled=True).head(40)
    raw = pd.read_csv(SHARED / "ctr" / "ad_10000records.csv").head(40).drop(columns=["Clicked on Ad"])
    records = json.loads(raw.to_json(orient="records"))
    answers = client.post("/api/v1/ctr/predict-batch?explain=true", json={"records": records}).json()["predictions"]
    model, _ = load_model(served[0] / "ctr.joblib", task="ctr")
    X = build_ctr_features(table)
    probability = model.predict_proba(X)[:, list(model.classes_).index(1)]
    np.testing.assert_allclose([a["probabilities"]["clicked"] for a in answers], probability, rtol=1e-12)
    assert [a["prediction"] for a in answers] == model.predict(X).tolist()
    assert all(a["top_inputs"] for a in answers)


def test_unknown_categories_are_served(client: TestClient, examples: dict[str, dict]) -> None:
    ctr = dict(examples["ctr"], City="Atlantis", Country="Nowhere Land")
    assert client.post("/api/v1/ctr/predict", json=ctr).status_code == 200
    user = examples["clickstream"]
    record = {"user": user["user"], "sessions": [dict(user["sessions"][0], browser="Opera", device_type="tv")]}
    assert client.post("/api/v1/clickstream/predict", json=record).status_code == 200


def test_openapi_documents_every_endpoint_with_examples(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for task in TASK_NAMES:
        assert f"/api/v1/{task}/predict" in document["paths"]
        assert f"/api/v1/{task}/predict-batch" in document["paths"]
    assert "cdn" not in client.get("/docs").text.lower()  # the page's scripts are served locally
    schemas = document["components"]["schemas"]
    assert schemas["CtrRecord"]["examples"][0]["City"] == "Lisafort"
    assert schemas["ClickstreamUser"]["properties"]["user_category"]["enum"] == [
        "new_user",
        "premium_subscriber",
        "recurring_user",
    ]


# --- the server as shipped ------------------------------------------------------------------------------------


def _dockerfile() -> dict[str, str]:
    lines = (config.PROJECT_ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return {line.split()[0]: line.split(None, 1)[1] for line in lines if line.strip() and not line.startswith("#")}


def test_dockerfile_runs_the_tested_command_on_the_tested_port() -> None:
    docker = _dockerfile()
    command = json.loads(docker["CMD"])
    assert command[:3] == ["python", "model.py", "serve"]
    port = command[command.index("--port") + 1]
    assert port == str(service_cli.DEFAULT_PORT) == docker["EXPOSE"]
    assert f":{port}/health" in docker["HEALTHCHECK"]
    assert docker["USER"] != "root"
    assert service_cli.DEFAULT_HOST == "127.0.0.1"  # outside a container the service binds to loopback only


def test_server_finishes_in_flight_requests_on_sigterm(served: tuple[Path, Path], examples: dict[str, dict]) -> None:
    """`python model.py serve` (the container's command) answers, and SIGTERM lets a running batch finish."""
    with running_server(*served) as (base, server):
        # A worker fitting the ROAS plan (its thread holds the GIL for long stretches) may not accept the connection
        # within the 0.2 s below; one still in the listen queue at the SIGTERM is reset, never accepted.
        wait_ready(base)
        body = json.dumps({"records": [examples["ctr"]] * MAX_BATCH}).encode()
        request = urllib.request.Request(
            f"{base}/api/v1/ctr/predict-batch", data=body, headers={"content-type": "application/json"}
        )
        answers: list[int] = []
        sender = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(request, timeout=60).status))
        sender.start()
        time.sleep(0.2)
        server.send_signal(signal.SIGTERM)
        sender.join(timeout=60)
        assert answers == [200]
        assert server.wait(timeout=60) == 0
