"""Faults the service survives (issue 38), in process: a worker (re)started serves predictions at once while its
actions start in the background (503 with a Retry-After, and /health says so, until they are ready); the monitor
window on a disk that refuses its files keeps the answers going and says so (``/health``, ``/metrics``), and leaves
nothing half-written for a reader of the folder; a promoted version whose file is corrupt is refused with a metric
and a log line while the old one answers, and served once its file is restored. ``python model.py faults`` drills
the same on the real server (docs/deploy.md, Faults)."""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from adpipe.roas.service import BudgetPlan
from adpipe.service.app import create_app
from adpipe.service.live import POLL_SECONDS
from adpipe.service.metrics import MODEL_INFO
from adpipe.service.registry import all_tasks
from adpipe.serving.window import ServedWindow
from adpipe.versions import promote, versions_dir
from tests.test_monitor import _columns, _frame
from tests.test_service import trained_models
from tests.test_service_versions import _two_ctr_versions


def test_a_worker_predicts_while_its_actions_start_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lifespan starts the ROAS plan on a thread (here held until released): predictions answer at once, the
    plan answers 503 with a Retry-After naming why, /health and the page say it; then the plan's own outcome."""
    gate = threading.Event()

    def held(plan: BudgetPlan) -> None:
        assert gate.wait(60), "never released"
        plan.unavailable = "released by the test"  # no fitting: the test is about the start, not the plan

    monkeypatch.setattr(BudgetPlan, "start", held)
    examples = {name: dict(task.example) for name, task in all_tasks().items()}
    with TestClient(create_app(*trained_models()), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/roas/predict", json=examples["roas"]).status_code == 200
        assert client.post("/api/v1/ctr/predict", json=examples["ctr"]).status_code == 200
        health = client.get("/health").json()
        assert health["status"] == "ok" and list(health["starting"]) == ["roas plan"]
        assert health["starting"]["roas plan"].startswith("fitting the plan's curves")
        plan = client.post("/api/v1/roas/plan", json={"budget": 1000})
        assert plan.status_code == 503 and plan.headers["retry-after"] == "10"
        assert plan.json()["detail"].startswith("roas plan not ready yet: fitting the plan's curves")
        form = client.post("/roas/plan", data={"budget": "1000"})
        assert form.status_code == 503 and form.headers["retry-after"] == "10" and "not ready yet" in form.text
        assert "Not ready yet: fitting the plan" in client.get("/roas").text
        gate.set()
        deadline = time.monotonic() + 10
        while client.get("/health").json()["starting"]:
            assert time.monotonic() < deadline, "the start did not end"
            time.sleep(0.05)
        plan = client.post("/api/v1/roas/plan", json={"budget": 1000})
        assert plan.status_code == 503 and "retry-after" not in plan.headers
        assert plan.json()["detail"] == "roas plan unavailable: released by the test"


def _add(window: ServedWindow, rows: int) -> None:
    for start in range(0, rows, 10):
        window.add(_columns(_frame(10, start)), list(range(10)), [None] * 10, [[]] * 10)


def test_a_window_whose_writes_fail_keeps_its_rows_says_why_and_writes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "monitor"
    window = ServedWindow("t", size=50, folder=folder, flush_rows=20)
    _add(window, 20)
    assert len(list(folder.glob("t-*.parquet"))) == 1 and window.write_error is None
    real = pd.DataFrame.to_parquet

    attempts = []

    def half_then_full(frame: pd.DataFrame, path: Path, **options: object) -> None:
        attempts.append(path)
        Path(path).write_bytes(b"PAR1 half a file")  # what a full disk leaves: the start of a file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", half_then_full)
    with caplog.at_level(logging.WARNING, "adpipe.serving"):
        _add(window, 200)  # answers go on: add never raises
    assert window.write_error is not None and "No space left on device" in window.write_error
    assert [r.message for r in caplog.records].count(
        f"t monitor window: {window.write_error}; answers go on, its rows wait in memory"
    ) == 1  # said once, not at every flush
    assert len(attempts) == 1  # tried again RETRY_SECONDS later, not at every answer meanwhile
    assert window.unwritten == 200 - 50 and len(window) == 50  # the newest 50 wait to be written
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []  # no half-written file left
    assert len(pd.read_parquet(folder)) == 20  # a reader of the folder reads the whole files only
    monkeypatch.setattr(pd.DataFrame, "to_parquet", real)
    window.flush()  # at shutdown, or a flush RETRY_SECONDS later
    assert window.write_error is None and len(pd.read_parquet(folder)) == 20 + 50
    _add(window, 20)
    assert len(pd.read_parquet(folder)) == 20 + 50 + 20  # back to a file every flush_rows rows


def test_health_and_metrics_say_a_window_stopped_writing(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the monitor folder should be")
    ctr = dict(all_tasks()["ctr"].example)
    app = create_app(*trained_models(), monitor_dir=blocker / "monitor")
    with TestClient(app, raise_server_exceptions=False) as client:
        batch = client.post("/api/v1/ctr/predict-batch", json={"records": [ctr] * 1000})
        assert batch.status_code == 200
        health = client.get("/health").json()
        assert health["status"] == "ok" and "cannot write" in health["monitor_not_written"]["ctr"]
        deadline = time.monotonic() + 5
        while 'adpipe_monitor_writing{task="ctr"} 0.0' not in client.get("/metrics").text:
            assert time.monotonic() < deadline, "adpipe_monitor_writing stayed 1"
            time.sleep(0.2)


def _served(client: TestClient) -> str:
    return next(m["version"] for m in client.get("/health").json()["models"] if m["task"] == "ctr")


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + POLL_SECONDS + 5
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_a_corrupt_promoted_version_is_refused_then_served_once_its_file_is_restored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    models, first, second = _two_ctr_versions(tmp_path)
    folder = versions_dir(models / "ctr.joblib")
    good = (folder / f"{second}.joblib").read_bytes()
    (folder / f"{second}.joblib").write_bytes(good[: len(good) // 2])  # truncated on disk
    example = dict(all_tasks()["ctr"].example)
    with caplog.at_level(logging.WARNING, "adpipe.service"), TestClient(create_app(models, trained_models()[1])) as c:
        assert _served(c) == first
        promote(folder, second, "the file was truncated after the check")  # the log names it; no check here
        _wait(lambda: 'adpipe_model_swaps_refused_total{task="ctr"}' in c.get("/metrics").text, "not refused")
        metrics = c.get("/metrics").text
        assert 'adpipe_model_swaps_refused_total{task="ctr"} 1.0' in metrics
        assert (
            'adpipe_model_promoted{task="ctr"} 0.0' in metrics and 'adpipe_model_promoted{task="roas"} 1.0' in metrics
        )
        assert any(f"promoted version {second} refused, still serving {first}" in r.message for r in caplog.records)
        for _ in range(5):
            answer = c.post("/api/v1/ctr/predict", json=example).json()
            assert answer["model_version"] == first
        time.sleep(POLL_SECONDS + 0.5)
        assert _served(c) == first  # and refused once, not at every look:
        assert 'adpipe_model_swaps_refused_total{task="ctr"} 1.0' in c.get("/metrics").text
        (folder / f"{second}.joblib").write_bytes(good)  # restored: tried again (`models promote` would say
        _wait(lambda: _served(c) == second, "the restored version was not served")  # it is promoted already)
        assert 'adpipe_model_promoted{task="ctr"} 1.0' in c.get("/metrics").text
    MODEL_INFO.remove("ctr", second)  # the registry is the test run's: the metrics tests count its series


def test_a_write_sweeps_the_temporary_files_a_killed_writer_left_and_no_other(tmp_path: Path) -> None:
    """SIGKILL skips every cleanup: the next write of the same output removes a dead process's temporary file (its
    name holds the process id) and leaves a running writer's."""
    from adpipe.io import write_json

    dead = tmp_path / ".out.json.999999999.k3j2.tmp"  # above any pid_max: no such process
    alive = tmp_path / f".out.json.{os.getpid()}.a8x1.tmp"
    other = tmp_path / ".other.json.999999999.k3j2.tmp"
    for path in (dead, alive, other):
        path.write_text("half")
    write_json(tmp_path / "out.json", {"a": 1})
    assert not dead.exists() and alive.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, other.name, "out.json"])
