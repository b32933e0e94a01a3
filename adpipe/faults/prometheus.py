"""A real Prometheus (Debian's ``prometheus``) on loopback for the drill: ``deploy/prometheus.yml`` with the drill's
target and 1 s intervals, evaluating ``deploy/alerts.yml`` unchanged; a thread polls ``/api/v1/alerts`` every
second and keeps when each alert was pending or firing, so each case can say which alerts started firing during it
and which were only pending (true, but not yet for their rule's ``for:``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from adpipe import config

DEPLOY = config.PROJECT_ROOT / "deploy"
INTERVAL = "1s"


@dataclass(frozen=True)
class Firing:
    """An alert seen pending or firing at a poll: its name, its labels that say where, and when it became active
    (pending: its expression true; it fires once true for its rule's ``for:``)."""

    name: str
    where: str
    active_at: float  # monotonic clock of this process, from the alert's activeAt (when it became pending)
    seen: float
    firing: bool = True  # False: pending


def drill_config(target: str, folder: Path) -> Path:
    """``deploy/prometheus.yml`` with ``target`` scraped and the rules evaluated every second."""
    settings = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    settings["global"].update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL, scrape_timeout=INTERVAL)
    settings["rule_files"] = [str(DEPLOY / name) for name in settings["rule_files"]]
    (job,) = settings["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    path = folder / "prometheus.yml"
    path.write_text(yaml.safe_dump(settings))
    return path


def _named(name: str, where: str) -> str:
    """``name``, or ``name(task=...)`` for an alert by task or route."""
    return f"{name}({where})" if where else name


class Prometheus:
    """``prometheus`` on 127.0.0.1:``port`` with its data in ``folder``, polled for alerts until :meth:`stop`."""

    def __init__(self, target: str, port: int, folder: Path) -> None:
        self.folder, self.base = folder, f"http://127.0.0.1:{port}"
        self.command = [
            shutil.which("prometheus") or "prometheus",
            f"--config.file={drill_config(target, folder)}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={folder / 'data'}",
            "--log.level=warn",
        ]
        self.seen: list[Firing] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> str | None:
        """Why Prometheus cannot run here, or None."""
        if shutil.which("prometheus") is None:
            return "no prometheus: apt-get install -y --no-install-recommends prometheus"
        return None

    def start(self) -> None:
        with (self.folder / "prometheus.log").open("a") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self._get("/-/ready", raw=True):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: see {self.folder / 'prometheus.log'}")
            time.sleep(0.3)
        self._thread.start()

    def _get(self, path: str, raw: bool = False) -> dict | bool | None:
        try:
            with urllib.request.urlopen(f"{self.base}{path}", timeout=5) as answer:
                return True if raw else json.loads(answer.read())
        except OSError:
            return None

    def _poll(self) -> None:
        offset = time.time() - time.monotonic()
        while not self._stop.wait(1.0):
            found = self._get("/api/v1/alerts")
            if not isinstance(found, dict):
                continue
            now = time.monotonic()
            for alert in found["data"]["alerts"]:
                labels = alert["labels"]
                where = ",".join(f"{k}={labels[k]}" for k in ("task", "route") if k in labels)
                active = datetime.fromisoformat(alert["activeAt"].replace("Z", "+00:00")).timestamp() - offset
                self.seen.append(Firing(labels["alertname"], where, active, now, alert["state"] == "firing"))

    def firing_since(self, start: float, end: float) -> list[str]:
        """The alerts first seen firing in [start, end) (``name`` or ``name(task=...)``). By when they fired, not
        when they became pending: an alert with ``for: 5m`` pending in one case fires in a case minutes later."""
        first: dict[tuple[str, str, float], float] = {}
        for f in self.seen:
            if f.firing:
                key = (f.name, f.where, f.active_at)
                first[key] = min(first.get(key, f.seen), f.seen)
        return sorted({_named(name, where) for (name, where, _), at in first.items() if start <= at < end})

    def pending_in(self, start: float, end: float) -> list[str]:
        """The alerts seen pending in [start, end): true then, not for their ``for:`` yet."""
        return sorted({_named(f.name, f.where) for f in self.seen if not f.firing and start <= f.seen < end})

    def firing_at(self, moment: float) -> list[str]:
        """The alerts firing at the last poll before ``moment``."""
        polls = [f.seen for f in self.seen if f.seen <= moment]
        last = max(polls, default=None)
        return sorted({f.name for f in self.seen if f.seen == last and f.firing}) if last is not None else []

    def stop(self) -> None:
        self._stop.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)
