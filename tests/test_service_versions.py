"""The served version (issue 23, item 2): /health names it, a promotion is served without a restart, and a swap
under load drops no request — every answer names the version that made it, and the versions change at one point.
"""

from __future__ import annotations

import copy
import http.client
import json
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe.io import load_model
from adpipe.service.app import create_app
from adpipe.service.keys import ApiKeys
from adpipe.service.live import POLL_SECONDS
from adpipe.service.registry import all_tasks
from adpipe.versions import promote, promoted, save_trained, versions_dir
from model import app as cli_app
from tests.test_service import running_server, trained_models

ADMIN = "admin-key-of-enough-length"
PREDICT = "/api/v1/ctr/predict"


def _two_ctr_versions(root: Path) -> tuple[Path, str, str]:
    """A copy of the trained models whose CTR model has a second kept version: the same trees with a threshold that
    flips the example's yes/no (so an answer shows which version made it)."""
    models = root / "models"
    shutil.copytree(trained_models()[0], models)
    model, metadata = load_model(models / "ctr.joblib", task="ctr")
    task = all_tasks()["ctr"]
    task.attach(model, metadata, trained_models()[1])
    (answer,) = task.predict([task.record.model_validate(task.example)])
    flipped = copy.deepcopy(model)
    threshold = 1.01 if answer.prediction == 1 else 0.0
    setattr(flipped, "best_threshold_" if hasattr(flipped, "best_threshold_") else "threshold", threshold)
    second = save_trained(models / "ctr.joblib", flipped, {**metadata, "threshold": threshold}, []).version
    EXPECTED[second] = 1 - answer.prediction
    first = promoted(versions_dir(models / "ctr.joblib"))
    EXPECTED[first] = answer.prediction
    return models, first, second


EXPECTED: dict[str, int] = {}  # each version's answer to the example


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, str, str]:
    return _two_ctr_versions(tmp_path)


def _version(client: TestClient, example: dict) -> str:
    answer = client.post(PREDICT, json=example)
    assert answer.status_code == 200, answer.text
    return answer.json()["model_version"]


def test_health_names_the_promoted_version_and_its_card(versions: tuple[Path, str, str]) -> None:
    models, first, _ = versions
    with TestClient(create_app(models, trained_models()[1])) as client:
        ctr = next(m for m in client.get("/health").json()["models"] if m["task"] == "ctr")
    assert ctr["version"] == first and ctr["promoted"] is True
    assert ctr["file"].endswith(f"versions/ctr/{first}.joblib")
    assert ctr["card"]["version"] == first and ctr["card"]["data"][0]["path"].endswith("ad_10000records.csv")
    assert ctr["trained_at"] == ctr["card"]["trained_at"]


def test_a_promotion_is_served_within_a_second_and_a_rollback_too(versions: tuple[Path, str, str]) -> None:
    models, first, second = versions
    example = dict(all_tasks()["ctr"].example)
    folder = versions_dir(models / "ctr.joblib")
    with TestClient(create_app(models, trained_models()[1])) as client:
        assert _version(client, example) == first
        for version in (second, first):
            promote(folder, version)  # what `python model.py models promote` writes
            deadline = time.monotonic() + POLL_SECONDS + 5
            while _version(client, example) != version:
                assert time.monotonic() < deadline, f"{version} not served"
                time.sleep(0.05)
        metrics = client.get("/metrics").text
        assert f'adpipe_model_info{{task="ctr",version="{first}"}} 1.0' in metrics
        assert f'adpipe_model_info{{task="ctr",version="{second}"}} 0.0' in metrics


def test_admin_calls_need_an_admin_key(versions: tuple[Path, str, str]) -> None:
    models, first, second = versions
    example = dict(all_tasks()["ctr"].example)
    body = {"task": "ctr", "version": second}
    with TestClient(create_app(models, trained_models()[1]), raise_server_exceptions=False) as client:
        answer = client.post("/admin/promote", json=body)
        assert answer.status_code == 403 and "--admin-keys" in answer.json()["detail"]
    app = create_app(models, trained_models()[1], admin_keys=ApiKeys([ADMIN]), api_keys=ApiKeys(["p" * 20]))
    with TestClient(app, raise_server_exceptions=False) as client:
        for key in (None, "wrong-key-of-enough-length", "p" * 20):  # an API key is not an admin key
            answer = client.post("/admin/promote", json=body, headers={"X-Admin-Key": key} if key else {})
            assert answer.status_code == 401 and answer.json() == {"detail": "missing or wrong admin key"}
        assert promoted(versions_dir(models / "ctr.joblib")) == first
        admin = {"X-Admin-Key": ADMIN}
        answer = client.post("/admin/promote", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["served_here"] and answer.json()["previous"] == first
        assert _version(TestClient(app, headers={"X-API-Key": "p" * 20}), example) == second
        answer = client.post("/admin/rollback", json={"task": "ctr"}, headers=admin)
        assert answer.status_code == 200 and answer.json()["version"] == first
        answer = client.post("/admin/rollback", json={"task": "ctr"}, headers=admin)
        assert answer.status_code == 409 and "nothing to roll back to" in answer.json()["detail"]
        answer = client.post("/admin/promote", json={"task": "ctr", "version": "ffffffff"}, headers=admin)
        assert answer.status_code == 409 and "is not a kept version" in answer.json()["detail"]
        answer = client.post("/admin/promote", json={"task": "nosuch"}, headers=admin)
        assert answer.status_code == 404
        answer = client.post("/admin/promote", json={"task": "ctr", "extra": 1, "version": 5}, headers=admin)
        assert answer.status_code == 422


class Load:
    """Clients that each keep one connection and send the CTR example again and again until stopped, noting when
    each request left, when its answer came, its status and the version it names."""

    def __init__(self, base: str, clients: int) -> None:
        self.host, self.port = base.removeprefix("http://").split(":")
        self.body = json.dumps(all_tasks()["ctr"].example)
        self.stop = threading.Event()
        self.answers: list[list[tuple[float, float, int, str | None, int | None]]] = [[] for _ in range(clients)]
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(clients)]

    def _run(self, i: int) -> None:
        connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        headers = {"content-type": "application/json"}
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                connection.request("POST", PREDICT, self.body, headers)
                answer = connection.getresponse()
                status, payload = answer.status, json.loads(answer.read())
                version, predicted = (
                    (payload["model_version"], payload["prediction"]["prediction"]) if status == 200 else (None, None)
                )
            except (OSError, http.client.HTTPException, ValueError) as error:
                status, version, predicted = 0, type(error).__name__, None
                connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
            self.answers[i].append((sent, time.monotonic(), status, version, predicted))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def _served_by_each_worker(base: str, workers: int) -> set[str]:
    """The CTR version each worker serves, asked on new connections until every worker has answered."""
    seen: dict[int, str] = {}
    deadline = time.monotonic() + 30
    while len(seen) < workers:
        assert time.monotonic() < deadline, f"only workers {sorted(seen)} answered /health"
        with urllib.request.urlopen(f"{base}/health", timeout=10) as answer:
            health = json.loads(answer.read())
        seen[health["worker"]] = next(m["version"] for m in health["models"] if m["task"] == "ctr")
    return set(seen.values())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_swap_under_load_drops_no_request(workers: int, tmp_path: Path) -> None:
    """Four clients keep requests in flight while a new version is promoted — by `models promote`, which every
    worker watches (one worker), or by the admin call, which one worker answers and the others follow (two
    workers). No request fails; each connection's answers name the old version, then the new one, never back; then
    every worker serves the new one (/health names the worker); with one worker every request sent before the swap
    is answered by the old version and every one answered after it by the new (a single point)."""
    models, first, second = _two_ctr_versions(tmp_path)
    options = ["--admin-keys", str(tmp_path / "admin-keys")]
    (tmp_path / "admin-keys").write_text(ADMIN + "\n")
    with running_server(models, trained_models()[1], workers, options) as (base, _), Load(base, 4) as load:
        time.sleep(1.5)
        if workers == 2:
            request = http.client.HTTPConnection(*base.removeprefix("http://").split(":"), timeout=60)
            request.request(
                "POST",
                "/admin/promote",
                json.dumps({"task": "ctr", "version": second}),
                {"content-type": "application/json", "X-Admin-Key": ADMIN},
            )
            answer = request.getresponse()
            assert answer.status == 200, answer.read()
        else:
            result = CliRunner().invoke(cli_app, ["models", "promote", "ctr", second, "--models", str(models)])
            assert result.exit_code == 0, result.output
        promoted_at = time.monotonic()
        time.sleep(POLL_SECONDS + 3)
        assert _served_by_each_worker(base, workers) == {second}
    answers = [answer for client in load.answers for answer in client]
    failed = [answer for answer in answers if answer[2] != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:5]}"
    assert {answer[3] for answer in answers} == {first, second}
    assert all(answer[4] == EXPECTED[answer[3]] for answer in answers), "an answer not made by the version it names"
    for client in load.answers:
        versions = [answer[3] for answer in client]
        assert versions == sorted(versions, key=lambda v: v == second), "a connection went back to the old version"
    late = [answer for answer in answers if answer[0] > promoted_at + POLL_SECONDS + 1]
    assert late and all(answer[3] == second for answer in late)
    last_old_sent = max(answer[0] for answer in answers if answer[3] == first)
    first_new_answered = min(answer[1] for answer in answers if answer[3] == second)
    if workers == 1:
        assert last_old_sent < first_new_answered
    overlap = max(0.0, last_old_sent - first_new_answered) * 1000
    counts = f"{sum(a[3] == first for a in answers)} by {first}, {sum(a[3] == second for a in answers)} by {second}"
    print(f"{workers} worker(s): {len(answers)} requests, 0 failed; {counts}; old and new overlapped {overlap:.0f} ms")
