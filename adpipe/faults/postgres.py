"""PostgreSQL restarted (an immediate stop: a crash) while two ``tune`` workers share one study: the study reaches
its trial count and every trial is counted once; a trial the outage interrupted is marked failed and retried
(Optuna's heartbeat and ``RetryHeartbeatStaleTrialCallback``, :mod:`adpipe.tuning.study`)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from adpipe import config
from adpipe.faults.result import CaseResult

OUTAGE_SECONDS = 5.0


def _bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Postgres:
    """A throw-away PostgreSQL server on 127.0.0.1 (run as the ``postgres`` user when this is root)."""

    def __init__(self) -> None:
        # A folder of its own: the server's user must reach it (the drill's folder is private to root).
        self.bin, self.home, self.port = _bin(), Path(tempfile.mkdtemp(prefix="adpipe-faults-postgres-")), _free_port()
        self.cluster = self.home / "cluster"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @staticmethod
    def available() -> str | None:
        if _bin() is None:
            return "no PostgreSQL server: apt-get install -y postgresql"
        return None

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.home}"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.cluster),
            "-o",
            options,
            "-l",
            str(self.home / "log"),
            "-w",
            "start",
        )

    def create(self) -> str:
        """A new cluster and database; the storage URL."""
        if self.as_user:
            shutil.chown(self.home, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.cluster), "-U", "tuner", "--auth=trust", "--no-sync")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "tuner", "optuna")
        return f"postgresql://tuner@127.0.0.1:{self.port}/optuna"

    def crash(self) -> None:
        """Stop at once, as a crash does: connections cut, no checkpoint."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.cluster), "-m", "immediate", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.cluster), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.home, ignore_errors=True)


def tuning_restart(root: Path, trials: int, say: Callable[[str], None]) -> CaseResult:
    """Two ``tune`` workers on one study; PostgreSQL crashed and started again once a third of the trials are in."""
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    from adpipe.tuning.study import FINISHED, open_storage

    server = Postgres()
    url = server.create()
    command = [sys.executable, str(config.PROJECT_ROOT / "model.py"), "tune", "--storage", url, "--study", "faults"]
    command += ["--trials", str(trials), "--folds", "2", "--repeats", "1", "--params", str(root / "params.json")]
    logs = [(root / f"tune-{i}.log").open("w") for i in range(2)]
    started = time.monotonic()
    workers = [subprocess.Popen(command, cwd=config.PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    try:
        storage = open_storage(url)
        while time.monotonic() - started < 600:
            try:
                done = len(optuna.load_study(study_name="faults", storage=storage).get_trials(states=FINISHED))
            except Exception:  # the study is not created yet
                done = 0
            if done >= trials // 3:
                break
            time.sleep(1.0)
        say(f"  {done} trials finished: PostgreSQL crashed for {OUTAGE_SECONDS:.0f} s")
        crashed = time.monotonic()
        server.crash()
        time.sleep(OUTAGE_SECONDS)
        server.start()
        back = datetime.now()
        codes = [worker.wait(900) for worker in workers]
        study = optuna.load_study(study_name="faults", storage=open_storage(url))
        all_trials = study.get_trials()  # read before the server goes
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
        for log in logs:
            log.close()
        server.remove()
    finished = [t for t in all_trials if t.state in FINISHED]
    failed = [t for t in all_trials if t.state == TrialState.FAIL]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retried = [RetryHeartbeatStaleTrialCallback.retried_trial_number(t) for t in all_trials]
    retried = [n for n in retried if n is not None]
    numbers = [t.number for t in all_trials]
    running = sum(t.state == TrialState.RUNNING for t in all_trials)
    result = CaseResult(
        case="postgres-restart",
        fault=f"PostgreSQL crashed (immediate stop) for {OUTAGE_SECONDS:.0f} s under 2 tune workers, {trials} trials",
        start=crashed,
        requests=len(all_trials),
        failed=len(failed),
    )
    after = [t.datetime_complete for t in finished if t.datetime_complete and t.datetime_complete > back]
    result.recovery_seconds = (min(after) - back).total_seconds() if after else None  # the next trial finished
    result.lost = max(0, trials - len(finished))
    result.notes.append(
        f"workers' exit codes {codes}; trials finished {len(finished)} of {trials}, failed {len(failed)}, retried "
        f"{len(retried)} (of trials {sorted(retried)}), still running {running}; "
        f"trial numbers unique: {len(set(numbers)) == len(numbers)}; logs: {root}/tune-*.log"
    )
    return result
