"""The service under drill: ``python model.py serve`` (gunicorn, 2 workers) on a loopback port, its log in a file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import psutil

from adpipe import config

HOST = "127.0.0.1"
START_SECONDS = 600.0  # to every worker ready: the ROAS plan's back-test took minutes at load 7-9


def health(base: str, timeout: float = 2.0) -> dict:
    """``GET /health`` on a new connection (so any worker may answer)."""
    with urllib.request.urlopen(f"{base}/health", timeout=timeout) as answer:
        return json.loads(answer.read())


class Server:
    """One ``serve`` process tree; :meth:`start` again after a stop reuses the port (the alerts' target)."""

    def __init__(self, models: Path, reports: Path, port: int, log_file: Path, options: Sequence[str] = ()) -> None:
        self.models, self.reports, self.port, self.log_file = models, reports, port, log_file
        self.options = list(options)
        self.base = f"http://{HOST}:{port}"
        self.process: subprocess.Popen | None = None

    def start(self, workers: int = 2) -> float:
        """Start and wait until every worker answers ``/health`` ready (its actions started: the ROAS plan fitted),
        so that no case runs beside a worker's start; the seconds it took."""
        command = [sys.executable, str(config.PROJECT_ROOT / "model.py"), "serve", "--host", HOST]
        command += ["--port", str(self.port), "--workers", str(workers), "--models", str(self.models)]
        command += ["--reports", str(self.reports), *self.options]
        started = time.monotonic()
        with self.log_file.open("a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=config.PROJECT_ROOT)
        while len(self.answering(workers, 1.0, ready=True)) < workers:
            if self.process.poll() is not None or time.monotonic() - started > START_SECONDS:
                raise RuntimeError(f"the service did not start: see {self.log_file}")
        return time.monotonic() - started

    def workers(self) -> set[int]:
        """The worker processes' ids now."""
        return {child.pid for child in psutil.Process(self.process.pid).children()} if self.process else set()

    def answering(self, count: int, seconds: float, ready: bool = False) -> set[int]:
        """The workers that answered ``/health`` (on new connections) within ``seconds``, up to ``count`` of them;
        ``ready``: only those starting nothing more."""
        seen: set[int] = set()
        deadline = time.monotonic() + seconds
        while len(seen) < count and time.monotonic() < deadline:
            try:
                said = health(self.base, 1.0)
            except OSError:
                time.sleep(0.05)
                continue
            if not (ready and said["starting"]):
                seen.add(said["worker"])
        return seen

    def terminate(self) -> None:
        """SIGTERM to the master: gunicorn drains in-flight requests, then its workers exit."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        """Stop the service (SIGTERM, then SIGKILL of the tree after 60 s)."""
        if self.process is None:
            return
        self.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                child.kill()
            self.process.kill()
            self.process.wait()
        self.process = None
