"""``GET /metrics`` (issue 22, item 4): requests and latency by route template, predictions per task, guarded
answers per reason and the served model versions — in one process (the default registry), and summed over the
workers of the real server (prometheus_client's multiprocess mode), whichever worker answers a scrape."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from adpipe.service.app import create_app
from adpipe.service.cli import metrics_folder
from adpipe.service.metrics import UNMATCHED
from adpipe.service.registry import all_tasks
from tests.test_service import running_server, trained_models

PREDICT = "/api/v1/ctr/predict"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples that carry ``labels`` (and any others)."""
    wanted = set(labels.items())
    return sum(value for (found, have), value in samples.items() if found == name and wanted <= have)


def requests(samples: Samples, route: str, status: int, method: str = "POST") -> float:
    return total(samples, "adpipe_http_requests_total", route=route, method=method, status=str(status))


@pytest.fixture(scope="module")
def served() -> tuple[Path, Path]:
    return trained_models()


@pytest.fixture(scope="module")
def examples() -> dict[str, dict]:
    return {name: dict(task.example) for name, task in all_tasks().items()}


def test_metrics_in_one_process(served: tuple[Path, Path], examples: dict[str, dict]) -> None:
    """Counted as deltas: the default registry is the test run's, shared with every other test of the service."""
    client = TestClient(create_app(*served), raise_server_exceptions=False)
    before = parse(client.get("/metrics").text)
    ctr = examples["ctr"]
    assert client.post(PREDICT, json=ctr).status_code == 200
    guarded = client.post(PREDICT, json={**ctr, "Gender": "Male", "Age": 1e300}).json()["prediction"]
    assert [w["kind"] for w in guarded["warnings"]] == ["out_of_range"]
    imputed = client.post(PREDICT, json={"Gender": "Male"}).json()["prediction"]  # four inputs missing
    assert [w["kind"] for w in imputed["warnings"]] == ["missing"] * 4
    assert client.post(PREDICT, json={**ctr, "Age": "old"}).status_code == 422
    assert client.post("/api/v1/ctr/predict-batch", json={"records": [ctr] * 3}).status_code == 200
    assert client.post("/ctr", data={key: str(value) for key, value in ctr.items()}).status_code == 200  # the form
    assert client.post("/api/v1/roas/predict", json=examples["roas"]).status_code == 200
    assert client.get("/no/such/page/12345").status_code == 404
    scrape = client.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = parse(scrape.text)

    def delta(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert delta("adpipe_http_requests_total", route=PREDICT, method="POST", status="200") == 3
    assert delta("adpipe_http_requests_total", route=PREDICT, method="POST", status="422") == 1
    assert delta("adpipe_http_request_duration_seconds_count", route=PREDICT, method="POST", status="200") == 3
    assert delta("adpipe_http_requests_total", route="/ctr", method="POST", status="200") == 1
    assert delta("adpipe_http_requests_total", route=UNMATCHED, method="GET", status="404") == 1
    assert not [labels for _, labels in after if ("route", "/no/such/page/12345") in labels]  # never the raw URL
    assert delta("adpipe_predictions_total", task="ctr") == 3 + 3 + 1  # the 422 predicted nothing
    assert delta("adpipe_guarded_answers_total", task="ctr", reason="out_of_range") == 1
    assert delta("adpipe_guarded_answers_total", task="ctr", reason="missing") == 1  # one answer, four inputs
    assert delta("adpipe_predicted_value_count", task="roas") == 1  # a regressor: its value's histogram
    assert delta("adpipe_predictions_total", task="roas") == 0
    versions = {status["task"]: status["version"] for status in client.get("/health").json()["models"]}
    assert total(after, "adpipe_model_info", task="ctr", version=versions["ctr"]) == 1
    assert len([labels for name, labels in after if name == "adpipe_model_info"]) == len(versions)
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def _scrape(base: str) -> Samples:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        return parse(answer.read().decode())


def _metrics_folder(server: psutil.Process) -> Path:
    """The server's PROMETHEUS_MULTIPROC_DIR, from the metric files its workers hold open."""
    for worker in server.children():
        for file in worker.open_files():
            if Path(file.path).parent.name.startswith("adpipe-metrics-"):
                return Path(file.path).parent
    raise AssertionError("no worker holds a metric file open")


def _one_worker(folder: Path, pid: int, copy: Path) -> Samples:
    """What worker ``pid`` alone counted: its files, copied to a folder of their own, read as a scrape reads."""
    copy.mkdir()
    for path in folder.glob(f"*_{pid}.db"):
        shutil.copy(path, copy)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(copy))
    return parse(generate_latest(registry).decode())


def _workers(server: psutil.Process, count: int, deadline: float) -> set[int]:
    while len(pids := {worker.pid for worker in server.children()}) != count:
        assert time.monotonic() < deadline, f"the server has {len(pids)} workers, not {count}"
        time.sleep(0.2)
    return pids


def test_metrics_are_summed_over_the_workers(
    served: tuple[Path, Path], examples: dict[str, dict], tmp_path: Path
) -> None:
    """N requests spread over two workers: every scrape, whichever worker answers it, counts N — also after a
    worker died and was replaced (its counts stay, its model-version gauge goes, the master counts the exit).
    Broken from the explore merge to this test's fix: ``serve`` imported prometheus_client (through the explore
    module) before it named the metrics folder, so each worker counted alone."""
    body = json.dumps(examples["ctr"]).encode()

    def ask(_: int) -> int:
        request = urllib.request.Request(f"{base}{PREDICT}", data=body, headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status

    with running_server(*served, workers=2) as (base, popen):
        server = psutil.Process(popen.pid)
        deadline, n = time.monotonic() + 60, 0
        workers = _workers(server, 2, deadline)
        while True:  # rounds of concurrent requests until both workers took some (one may still be starting)
            with ThreadPoolExecutor(8) as pool:
                assert list(pool.map(ask, range(20))) == [200] * 20
            n += 20
            folder = _metrics_folder(server)
            shares = {pid: requests(_one_worker(folder, pid, tmp_path / f"{pid}-{n}"), PREDICT, 200) for pid in workers}
            if all(shares.values()):
                break
            assert time.monotonic() < deadline, f"the requests were not spread over the workers: {shares}"
        assert sum(shares.values()) == n
        for _ in range(6):  # each scrape is answered by one worker or the other
            samples = _scrape(base)
            assert requests(samples, PREDICT, 200) == n
            assert total(samples, "adpipe_predictions_total", task="ctr") == n
            assert total(samples, "adpipe_model_info", task="ctr") == 1

        # A worker that answered a scrape holds a model-version gauge: stopped, gunicorn replaces it.
        dead = min(pid for pid in workers if list(folder.glob(f"gauge_live*_{pid}.db")))
        psutil.Process(dead).send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60  # forked at once; it fits the ROAS plan in the background
        while dead in _workers(server, 2, deadline):
            assert time.monotonic() < deadline, "the worker was not replaced"
            time.sleep(0.2)
        for _ in range(6):
            samples = _scrape(base)
            assert requests(samples, PREDICT, 200) == n
            assert total(samples, "adpipe_model_info", task="ctr") == 1
            assert total(samples, "adpipe_worker_exits_total") == 1  # counted by the master, read by any worker
        assert folder.is_dir(), "the exiting worker removed the shared metrics folder"
        assert not list(folder.glob(f"gauge_live*_{dead}.db")), "child_exit did not mark the worker dead"
    assert not folder.exists(), "serve left its metrics folder behind"


def test_only_the_server_process_removes_its_metrics_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker forked inside ``serve`` that leaves by ``sys.exit`` (a boot error) unwinds through the folder's
    block too: it must leave the folder to the others."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # restored (unset) after the test
    with metrics_folder() as folder:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(folder) and not any(folder.iterdir())
        server = os.getpid()
        with monkeypatch.context() as worker, pytest.raises(SystemExit), metrics_folder() as inner:
            worker.setattr(os, "getpid", lambda: server + 1)
            raise SystemExit(3)
        assert inner.is_dir() and folder.is_dir()
        inner.rmdir()
    assert not folder.exists()
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ  # put back: a later process must not inherit a gone folder
