"""``python model.py loadtest``: throughput and latency of the running service, measured as a client sees it.

It starts ``python model.py serve`` on 127.0.0.1 (a free port), and for each task sends single-record and
batch requests with Debian's ``hey`` (a small Go load generator: it takes far less of the two cores than the
server it measures), bounded in requests and seconds. Latencies come from hey's per-request CSV; the server
is stopped with SIGTERM at the end, and the memory of its processes is measured before that.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from adpipe import config
from adpipe.cli_support import format_table
from adpipe.errors import DataError
from adpipe.reports import Report, write_report
from adpipe.service.api import MAX_BATCH, VERSION
from adpipe.tasks import by_name

HOST = "127.0.0.1"
START_SECONDS = 600  # a worker fits the ROAS plan in the background: minutes on busy cores
READY_IN_A_ROW = 8
# Latency is measured with few requests in flight, throughput with many (the service coalesces them).
SINGLE_CONCURRENCY = 4
MANY_CONCURRENCY = 32
BATCH_CONCURRENCY = 2
WARM_UP_REQUESTS = 20
BATCH_TARGET_MS = 1000.0


class Scenario(Report):
    """One measured load: a task, single or batch requests, and what came back."""

    task: str
    kind: str
    records_per_request: int
    requests: int
    concurrency: int
    seconds: float
    requests_per_s: float
    predictions_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    target: str
    met: bool


class Memory(Report):
    """Resident memory of the server's processes (MiB): RSS counts shared pages in every process, PSS once."""

    master_rss: float
    worker_rss: list[float]
    total_pss: float


class LoadTestReport(Report):
    date: str
    machine: str
    load_average: list[float]  # the machine's 1-minute load average before and after: others' work shares the cores
    server: str
    client: str
    memory: Memory
    scenarios: list[Scenario]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the load test's server, ``make image``'s container)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def payloads(tasks: dict[str, Any]) -> dict[str, tuple[dict[str, Any], dict[str, Any], int]]:
    """Per task: one record, a batch, and the batch's size (each adapter's load-test record)."""
    out = {}
    for name, task in tasks.items():
        record, batch = task.load_test_records(MAX_BATCH)
        out[name] = (record, {"records": batch}, len(batch))
    return out


def hey(url: str, body: Path | None, requests: int, concurrency: int, seconds: float) -> list[tuple[float, int, float]]:
    """Run hey (a POST of the JSON ``body``, a GET without); per request (latency s, status, start offset s). Stops
    after ``seconds`` whatever happens."""
    command = ["hey", "-n", str(requests), "-c", str(concurrency)]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-D", str(body)]
    command += ["-t", "30", "-o", "csv", url]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds, check=False)
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
    else:
        output = done.stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    return [(float(r["response-time"]), int(r["status-code"]), float(r["offset"])) for r in rows if r.get("offset")]


def _measure(url: str, payload: dict[str, Any], requests: int, concurrency: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(payload, handle)
    body = Path(handle.name)
    try:
        hey(url, body, WARM_UP_REQUESTS, concurrency, seconds)
        results = hey(url, body, requests, concurrency, seconds)
    finally:
        body.unlink(missing_ok=True)
    if not results:
        return {"requests": 0, "seconds": seconds, "latency": np.array([np.nan]), "errors": requests}
    latency = np.array([r[0] for r in results]) * 1000.0
    wall = max(r[2] + r[0] for r in results) - min(r[2] for r in results)
    sent = requests - requests % concurrency  # hey runs `concurrency` workers of requests // concurrency each
    errors = sum(status != 200 for _, status, _ in results) + (sent - len(results))
    return {"requests": len(results), "seconds": wall, "latency": latency, "errors": errors}


def _scenario(name: str, kind: str, size: int, concurrency: int, measured: dict[str, Any]) -> Scenario:
    latency = measured["latency"]
    p50, p95, p99 = (float(np.percentile(latency, q)) for q in (50, 95, 99))
    rate = measured["requests"] / measured["seconds"] if measured["seconds"] > 0 else 0.0
    p99_target, throughput_target = by_name(name).load_target
    if kind == "batch":
        target, met = f"p99 < {BATCH_TARGET_MS:.0f} ms", p99 < BATCH_TARGET_MS
    elif kind == "single":
        target, met = f"p99 <= {p99_target:.0f} ms", p99 <= p99_target
    elif throughput_target is not None:
        target, met = f">= {throughput_target:.0f} predictions/s", rate * size >= throughput_target
    else:
        target, met = "none", True
    return Scenario(
        task=name,
        kind=kind,
        records_per_request=size,
        requests=int(measured["requests"]),
        concurrency=concurrency,
        seconds=round(float(measured["seconds"]), 3),
        requests_per_s=round(rate, 1),
        predictions_per_s=round(rate * size, 1),
        p50_ms=round(p50, 2),
        p95_ms=round(p95, 2),
        p99_ms=round(p99, 2),
        errors=int(measured["errors"]),
        target=target,
        met=bool(met and measured["errors"] == 0),
    )


def _memory(server: psutil.Process) -> Memory:
    workers = server.children(recursive=True)
    mib = 1024 * 1024
    pss = sum(p.memory_full_info().pss for p in [server, *workers]) / mib
    return Memory(
        master_rss=round(server.memory_info().rss / mib, 1),
        worker_rss=[round(p.memory_info().rss / mib, 1) for p in workers],
        total_pss=round(pss, 1),
    )


def _wait_healthy(url: str, server: subprocess.Popen) -> None:
    """Until ``/health`` answers with no action still starting, ``READY_IN_A_ROW`` times in a row (each new
    connection may reach another worker): a latency measured while a worker fits the ROAS plan measures the fit."""
    deadline, in_a_row = time.monotonic() + START_SECONDS, 0
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise DataError(f"the server exited with code {server.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                in_a_row = in_a_row + 1 if answer.status == 200 and not json.loads(answer.read())["starting"] else 0
        except OSError:
            in_a_row = 0
        if in_a_row >= READY_IN_A_ROW:
            return
        time.sleep(0.5)
    raise DataError(f"the server did not answer {url} with every action started within {START_SECONDS} s")


@contextmanager
def loopback_server(workers: int, options: Sequence[str] = ()) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python model.py serve`` (with ``options``) on a free 127.0.0.1 port, yielded as (base URL, process) once
    every worker has started its actions; stopped however the block ends (SIGTERM, then SIGKILL after 60 s)."""
    port = free_port()
    command = [sys.executable, str(config.PROJECT_ROOT / "model.py"), "serve", "--host", HOST, "--port", str(port)]
    command += ["--workers", str(workers), *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://{HOST}:{port}"
        _wait_healthy(f"{base}/health", server)
        yield base, server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def run_loadtest(
    requests: int, batch_requests: int, seconds: float, workers: int, report_file: Path | None
) -> LoadTestReport:
    """Start the server, measure every task single and batch, stop the server; write the report."""
    if shutil.which("hey") is None:
        raise DataError("the load test needs Debian's `hey`: apt-get install -y hey")
    from adpipe.service.registry import all_tasks

    load_before = os.getloadavg()[0]
    scenarios = []
    with loopback_server(workers) as (base, server):
        for name, (record, batch, size) in payloads(all_tasks()).items():
            url = f"{base}/api/{VERSION}/{name}"
            single = _measure(f"{url}/predict", record, requests, SINGLE_CONCURRENCY, seconds)
            scenarios.append(_scenario(name, "single", 1, SINGLE_CONCURRENCY, single))
            many = _measure(f"{url}/predict", record, requests, MANY_CONCURRENCY, seconds)
            scenarios.append(_scenario(name, "concurrent", 1, MANY_CONCURRENCY, many))
            batches = _measure(f"{url}/predict-batch", batch, batch_requests, BATCH_CONCURRENCY, seconds)
            scenarios.append(_scenario(name, "batch", size, BATCH_CONCURRENCY, batches))
        memory = _memory(psutil.Process(server.pid))
    result = LoadTestReport(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)],
        machine=f"{os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"{platform.platform()}, Python {platform.python_version()}",
        server=f"python model.py serve --workers {workers} (gunicorn, uvicorn workers, preloaded models)",
        client=f"hey; single records {SINGLE_CONCURRENCY} and {MANY_CONCURRENCY} in flight, batches "
        f"{BATCH_CONCURRENCY} in flight (without explanations, the batch default); "
        f"{WARM_UP_REQUESTS} warm-up requests first; same machine",
        memory=memory,
        scenarios=scenarios,
    )
    if report_file is not None:
        write_report(report_file, result)
    return result


def render(report: LoadTestReport) -> str:
    """The table of a load test."""
    header = ["task", "kind", "records", "requests", "req/s", "pred/s", "p50 ms", "p95 ms", "p99 ms", "errors"]
    rows = [
        [s.task, s.kind, s.records_per_request, s.requests, s.requests_per_s, s.predictions_per_s]
        + [s.p50_ms, s.p95_ms, s.p99_ms, s.errors, s.target, "met" if s.met else "NOT met"]
        for s in report.scenarios
    ]
    memory = report.memory
    lines = [
        f"{report.date}, {report.machine}; load average {report.load_average[0]} before, "
        f"{report.load_average[1]} after",
        format_table([*header, "target", ""], rows),
        f"memory: master RSS {memory.master_rss} MiB, workers RSS {memory.worker_rss} MiB, "
        f"all processes PSS {memory.total_pss} MiB",
    ]
    return "\n".join(lines)
