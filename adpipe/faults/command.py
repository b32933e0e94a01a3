"""``python model.py faults``: the drill, case by case, with progress lines; ``reports/faults.json`` and a table."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import config

if TYPE_CHECKING:
    from adpipe.faults.result import CaseResult

SERVICE_CASES = ("quiet", "worker-sigkill", "master-sigterm", "model-corrupt", "disk-full")
OTHER_CASES = ("postgres-restart", "killed-runs")
MONITOR_MB = 16  # the tmpfs the monitor's Parquet files go to


def _say(line: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)


def _mount_tmpfs(folder: Path) -> bool:
    """A small tmpfs at ``folder`` (root only): the disk the drill fills."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={MONITOR_MB}m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    return done.returncode == 0


def _guarded(name: str, case: Callable) -> CaseResult:
    """Run one case; a case that breaks (a bug, a tool missing) is a row saying so, and the drill goes on."""
    from adpipe.faults.result import CaseResult  # pydantic: not at --help

    start = time.monotonic()
    try:
        return case()
    except Exception as error:  # whatever broke, the other cases still run and the report is written
        _say(f"  {name} broke: {type(error).__name__}: {error}")
        return CaseResult(case=name, fault="(the case broke)", start=start, notes=[f"{type(error).__name__}: {error}"])


def _free_port() -> int:
    from adpipe.service.loadtest import free_port

    return free_port()


def service_cases(root: Path, chosen: list[str], quiet_seconds: float) -> list:
    """Train, start the service and Prometheus, run the chosen service cases, attribute the alerts."""
    from adpipe.faults import cases
    from adpipe.faults.load import expected_answers, records
    from adpipe.faults.prometheus import Prometheus
    from adpipe.faults.server import Server
    from adpipe.faults.setup import second_ctr_version, train_models

    models, reports, monitor = root / "models", root / "reports", root / "monitor"
    _say("training every task's model (quick settings) and a second CTR version")
    train_models(models, reports)
    versions = second_ctr_version(models)
    pool = records(config.CTR_FILE)
    expected = expected_answers(models, reports, pool)
    mounted = _mount_tmpfs(monitor)
    if not mounted:
        _say("no tmpfs (not root?): the disk-full case is skipped")
    server = Server(models, reports, _free_port(), root / "serve.log", ["--monitor-dir", str(monitor)])
    seconds = server.start()
    _say(f"service up in {seconds:.1f} s at {server.base} (log {server.log_file})")
    reason = Prometheus.available()
    prometheus = None
    if reason is None:
        prometheus = Prometheus(server.base.removeprefix("http://"), _free_port(), root)
        prometheus.start()
        _say(f"prometheus at {prometheus.base}, scraping every second, rules deploy/alerts.yml")
    else:
        _say(f"alerts not recorded: {reason}")
    drill = cases.Drill(server, prometheus, pool, expected, versions, monitor if mounted else None, _say)
    runs: dict[str, Callable] = {
        "quiet": lambda: cases.quiet(drill, quiet_seconds),
        "worker-sigkill": lambda: cases.worker_kill(drill),
        "master-sigterm": lambda: cases.master_term(drill),
        "model-corrupt": lambda: cases.corrupt_model(drill),
        "disk-full": lambda: cases.disk_full(drill),
    }
    results = []
    try:
        for name in [c for c in SERVICE_CASES if c in chosen]:
            if name == "disk-full" and not mounted:
                continue
            _say(f"case {name}")
            results.append(_guarded(name, runs[name]))
            _say(f"  {results[-1].requests} requests, {results[-1].failed} failed, {results[-1].wrong} wrong")
        time.sleep(3.0)  # the last case's alerts: one more evaluation
    finally:
        server.stop()
        if prometheus is not None:
            prometheus.stop()
        if mounted:
            subprocess.run(["umount", str(monitor)], capture_output=True)
    ends = [r.start for r in results[1:]] + [time.monotonic()]
    for result, end in zip(results, ends, strict=True):
        result.alerts = prometheus.firing_since(result.start, end) if prometheus else ["(no prometheus)"]
        pending = prometheus.pending_in(result.start, end) if prometheus else []
        if pending:
            result.notes.append(f"pending during it (true, not yet for their rule's `for:`): {', '.join(pending)}")
    return results


def faults_command(
    case_names: str = typer.Option(
        ",".join(SERVICE_CASES + OTHER_CASES), "--cases", help="Comma-separated cases to run, in the drill's order."
    ),
    quiet_seconds: float = typer.Option(60.0, "--quiet-seconds", min=10.0, max=600.0, help="Length of the quiet run."),
    kills: int = typer.Option(20, "--kills", min=1, max=200, help="Kills per command in killed-runs."),
    trials: int = typer.Option(12, "--trials", min=3, max=200, help="The tuning study's trials in postgres-restart."),
    seed: int = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the kill points."),
    report: Path = typer.Option(config.REPORTS_DIR / "faults.json", "--report", help="Where the JSON goes."),
    keep: bool = typer.Option(False, "--keep", help="Keep the drill's folder (logs, models, monitor files)."),
) -> None:
    """Fault drill on loopback (minutes; opt-in): a worker SIGKILLed, the master SIGTERMed, a promoted model file
    corrupted, the monitor's disk full, PostgreSQL crashed under two tune workers, train/predict/report/roas plan
    killed at random points; a real Prometheus records which alerts fired. docs/deploy.md, Faults."""
    from adpipe.cli_support import exit_on_error
    from adpipe.faults.killed import killed_runs
    from adpipe.faults.postgres import Postgres, tuning_restart
    from adpipe.faults.result import render
    from adpipe.io import write_json

    chosen = [name.strip() for name in case_names.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(SERVICE_CASES + OTHER_CASES))
    if unknown:
        raise typer.BadParameter(f"unknown cases {unknown}; the cases: {', '.join(SERVICE_CASES + OTHER_CASES)}")
    root = Path(tempfile.mkdtemp(prefix="adpipe-faults-"))
    date = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = os.getloadavg()[0]
    results = []
    with exit_on_error(keeps=report):
        try:
            if set(chosen) & set(SERVICE_CASES):
                results += service_cases(root, chosen, quiet_seconds)
            if "postgres-restart" in chosen:
                reason = Postgres.available()
                if reason is None:
                    _say(f"case postgres-restart ({trials} trials, 2 workers)")
                    results.append(_guarded("postgres-restart", lambda: tuning_restart(root, trials, _say)))
                else:
                    _say(f"postgres-restart skipped: {reason}")
            if "killed-runs" in chosen:
                _say(f"case killed-runs ({kills} kills per command)")
                results += killed_runs(root / "runs", kills, seed, _say)
        finally:
            if keep:
                _say(f"kept {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
        machine = f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
        load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        payload = {"date": date, "machine": machine, "load_average": load, "cases": [r.model_dump() for r in results]}
        write_json(report, payload)
    typer.echo(render(results, f"{date}, {machine}, load average {load[0]} before, {load[1]} after"))
    typer.echo(f"report -> {report}")
