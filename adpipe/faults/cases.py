"""The service's faults, each under the steady load: a worker killed, the master stopped, a promoted model file
corrupted, the monitor's folder on a full disk — and a quiet run, which must fire no alert."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adpipe import config
from adpipe.faults.load import TASK, Load
from adpipe.faults.prometheus import Prometheus
from adpipe.faults.result import CaseResult, count_answers
from adpipe.faults.server import Server, health
from adpipe.versions import promote, versions_dir

ALERT_WAIT = 100.0  # seconds a held fault waits for its alert: the longest `for:` of deploy/alerts.yml is 1 m here
SETTLE = 5.0  # seconds of load before and after each fault


@dataclass
class Drill:
    """What every service case shares."""

    server: Server
    prometheus: Prometheus | None
    pool: list[dict[str, Any]]
    expected: dict[str, list[tuple[Any, ...]]]
    versions: tuple[str, str]  # the CTR version served at the start, and a second one
    monitor_dir: Path | None
    say: Callable[[str], None] = print
    notes: list[str] = field(default_factory=list)

    def load(self, retry: bool = False, seconds: float = 400.0) -> Load:
        return Load(self.server.base, self.pool, self.expected, retry=retry, seconds=seconds)

    def wait_for_alert(self, name: str, since: float) -> float | None:
        """Seconds from ``since`` until ``name`` was seen firing (active since then), or None after ALERT_WAIT."""
        if self.prometheus is None:
            return None
        deadline = time.monotonic() + ALERT_WAIT
        while time.monotonic() < deadline:
            seen = [f.seen for f in self.prometheus.seen if f.name == name and f.firing and f.active_at >= since - 2]
            if seen:
                return min(seen) - since
            time.sleep(1.0)
        return None


def _metric(base: str, name: str) -> float:
    """The sum of a metric's samples in one scrape."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as answer:
        lines = answer.read().decode().splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith((f"{name}{{", f"{name} ", name)))


def _served(base: str) -> str:
    """The CTR version the worker answering ``/health`` serves."""
    return next(m["version"] for m in health(base)["models"] if m["task"] == TASK)


def quiet(drill: Drill, seconds: float = 60.0) -> CaseResult:
    """No fault: the load alone for ``seconds``; no alert may fire."""
    start = time.monotonic()
    with drill.load(seconds=seconds) as load:
        while time.monotonic() - start < seconds:
            time.sleep(1.0)
    answers = load.between(start, time.monotonic())
    result = CaseResult(case="quiet", fault=f"none: {seconds:.0f} s of load", start=start, **count_answers(answers))
    # What a latency alert pending here reads: whether the answers really were slow on these cores.
    single = sorted(a.done - a.sent for a in answers if not a.batch and a.status == 200)
    if single:
        p50, p99 = (single[min(len(single) - 1, int(q * len(single)))] * 1000 for q in (0.5, 0.99))
        result.notes.append(f"one-record latency at the client: p50 {p50:.0f} ms, p99 {p99:.0f} ms (target p99 50 ms)")
    return result


def worker_kill(drill: Drill) -> CaseResult:
    """SIGKILL of one gunicorn worker: the requests in flight on it fail (a client's one retry recovers them); the
    master forks another. Recovery: until a new worker answers ``/health`` (it predicts from then on); a note says
    when its actions were ready too (the ROAS plan, fitted in the background), if within a minute more."""
    start = time.monotonic()
    with drill.load(retry=True) as load:
        time.sleep(SETTLE)
        before = drill.server.workers()
        victim = min(before)
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        recovered = None
        while time.monotonic() - killed < 60:
            new = drill.server.answering(2, 0.5) - before
            if new:
                recovered = time.monotonic() - killed
                break
        ready = None
        while recovered is not None and time.monotonic() - killed < recovered + 60:
            if drill.server.answering(2, 0.5, ready=True) - before:
                ready = time.monotonic() - killed
                break
        time.sleep(SETTLE)
        alert = drill.wait_for_alert("AdpipeWorkerRestarted", killed)
    answers = load.between(start, time.monotonic())
    in_flight = sum(a.sent <= killed < a.done for a in answers)
    result = CaseResult(
        case="worker-sigkill",
        fault=f"SIGKILL of worker {victim} of 2",
        start=start,
        recovery_seconds=recovered,
        **count_answers(answers),
    )
    result.notes.append(f"{in_flight} requests in flight on both workers at the kill")
    plan = f"{ready:.1f} s after the kill" if ready is not None else "not within a minute of its first answer"
    result.notes.append(f"the new worker's actions (the ROAS plan) ready {plan}")
    if alert is not None:
        result.notes.append(f"AdpipeWorkerRestarted firing {alert:.0f} s after the kill")
    return result


def master_term(drill: Drill) -> CaseResult:
    """SIGTERM to the gunicorn master: in-flight requests finish, new connections are refused, none accepted is
    dropped. Recovery: the same command started again, until both workers answer (the load stopped meanwhile)."""
    start = time.monotonic()
    with drill.load() as load:
        time.sleep(SETTLE)
        termed = time.monotonic()
        process = drill.server.process
        drill.server.terminate()
        code = process.wait(60) if process else None
        drained = time.monotonic() - termed
        time.sleep(2.0)  # clients meet a closed port
    answers = load.between(start, time.monotonic())
    drill.server.process = None
    recovery = drill.server.start()
    refused = sum(not a.delivered for a in answers)
    dropped = [a.error for a in answers if a.status == 0 and a.delivered]
    result = CaseResult(
        case="master-sigterm",
        fault="SIGTERM to the gunicorn master, then the same command again",
        start=start,
        recovery_seconds=recovery,
        **count_answers(answers),
    )
    result.failed = result.failed_without_retry = len(dropped) + sum(a.status not in (0, 200) for a in answers)
    result.lost = len(dropped)
    after = sum(a.sent >= termed and a.status == 200 for a in answers)
    result.notes.append(
        f"drained and exited (code {code}) in {drained:.1f} s; {after} requests sent after the SIGTERM answered; "
        f"{refused} not delivered (refused at connect once the port closed, or their write failed on a keep-alive "
        f"connection the draining server had closed: never read; clean, not counted as failed); {len(dropped)} failed "
        f"otherwise ({', '.join(sorted(set(dropped))) or 'none'}); restart to both workers answering: {recovery:.1f} s"
    )
    return result


def corrupt_model(drill: Drill) -> CaseResult:
    """The second CTR version's file truncated on disk, then promoted: ``models promote`` refuses it; written into
    the promotions log anyway (the file corrupted after the check), every worker refuses the swap, the old version
    answers, a metric and a log line say why. The file restored (and promoted again, which the log already says):
    served. Recovery: from the restore until every worker serves it."""
    first, second = drill.versions
    folder = versions_dir(drill.server.models / f"{TASK}.joblib")
    path = folder / f"{second}.joblib"
    good = path.read_bytes()
    start = time.monotonic()
    with drill.load() as load:
        time.sleep(SETTLE)
        path.write_bytes(good[: len(good) // 3])
        command = [sys.executable, str(config.PROJECT_ROOT / "model.py"), "models", "promote", TASK, second]
        command += ["--models", str(drill.server.models)]
        refused_by_cli = subprocess.run(command, capture_output=True, text=True, cwd=config.PROJECT_ROOT)
        corrupted = time.monotonic()
        promote(folder, second, "fault drill: the file corrupted after the check")
        alert = drill.wait_for_alert("AdpipePromotedVersionNotServed", corrupted)
        refusals = _metric(drill.server.base, "adpipe_model_swaps_refused_total")
        old_served = load.between(corrupted, time.monotonic())
        path.write_bytes(good)
        repromoted = time.monotonic()
        again = subprocess.run(command, capture_output=True, text=True, cwd=config.PROJECT_ROOT)
        recovery = None
        while time.monotonic() - repromoted < 30:
            if {_served(drill.server.base) for _ in range(6)} == {second}:
                recovery = time.monotonic() - repromoted
                break
            time.sleep(0.1)
        time.sleep(SETTLE)
    answers = load.between(start, time.monotonic())
    log = drill.server.log_file.read_text()
    result = CaseResult(
        case="model-corrupt",
        fault="promoted version's file truncated to a third, then fixed and promoted again",
        start=start,
        recovery_seconds=recovery,
        **count_answers(answers),
    )
    named = {a.version for a in old_served if a.status == 200}
    result.notes.append(
        f"models promote refused it: exit {refused_by_cli.returncode}; refused by the workers: {refusals:.0f}; "
        f"log 'refused' lines: {log.count(f'promoted version {second} refused')}; "
        f"versions answering while it was promoted and corrupt: {sorted(v or '?' for v in named)}; "
        f"promoted again: exit {again.returncode}"
    )
    result.wrong += sum(a.version != first for a in old_served if a.status == 200)
    if alert is not None:
        result.notes.append(f"AdpipePromotedVersionNotServed firing {alert:.0f} s after the promotion")
    return result


def _each_worker(base: str) -> dict[int, dict]:
    """``/health`` of every worker (asked on new connections until both answered, at most 10 s)."""
    said: dict[int, dict] = {}
    deadline = time.monotonic() + 10
    while len(said) < 2 and time.monotonic() < deadline:
        answer = health(base)
        said[answer["worker"]] = answer
    return said


def _fill(folder: Path) -> Path:
    """A file that takes every free byte of ``folder``'s file system."""
    filler = folder / "filler"
    with filler.open("wb") as handle:
        chunk = b"\0" * (1 << 20)
        try:
            while True:
                handle.write(chunk)
                handle.flush()
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
    return filler


def disk_full(drill: Drill) -> CaseResult:
    """The monitor's Parquet folder (a small tmpfs) filled up under load: answers go on; every worker's window says
    it stopped writing (``/health``, ``adpipe_monitor_writing``); nothing half-written is read. Space freed:
    recovery until every window writes again."""
    import pandas as pd

    folder = drill.monitor_dir
    assert folder is not None
    start = time.monotonic()
    with drill.load() as load:
        time.sleep(SETTLE)
        before = len(list(folder.glob("*.parquet")))
        try:
            filler = _fill(folder)
        except OSError:
            filler = folder / "filler"
        filled = time.monotonic()
        alert = drill.wait_for_alert("AdpipeMonitorNotWriting", filled)
        said = _each_worker(drill.server.base)
        saying = sum(bool(h["monitor_not_written"]) for h in said.values())
        dropped = _metric(drill.server.base, "adpipe_monitor_unwritten_rows")
        filler.unlink()
        freed = time.monotonic()
        recovery = None
        while time.monotonic() - freed < 60:
            writing = _metric(drill.server.base, 'adpipe_monitor_writing{task="ctr"}') == 1
            if writing and not any(h["monitor_not_written"] for h in _each_worker(drill.server.base).values()):
                recovery = time.monotonic() - freed
                break
            time.sleep(0.5)
        time.sleep(SETTLE)
    answers = load.between(start, time.monotonic())
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    readable = len(pd.read_parquet(folder)) if any(folder.glob("*.parquet")) else 0
    result = CaseResult(
        case="disk-full",
        fault="the monitor's Parquet folder (tmpfs) full",
        start=start,
        recovery_seconds=recovery,
        **count_answers(answers),
    )
    result.notes.append(
        f"/health said it in {saying} of {len(said)} workers (a worker says it once a write of its own failed: "
        f"every 1,000 rows per task); {before} files before, "
        f"{len(list(folder.glob('*.parquet')))} after; read back whole: {readable} rows; "
        f"hidden temporary files left: {len(hidden)}; window rows dropped unwritten (newest 5,000 per task and "
        f"worker kept, written once space returned): {dropped:.0f}"
    )
    if alert is not None:
        result.notes.append(f"AdpipeMonitorNotWriting firing {alert:.0f} s after the disk filled")
    return result
