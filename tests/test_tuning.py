"""`make tune`: the generic Optuna loop, its command, and two workers on PostgreSQL."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from adpipe import config
from adpipe.clickstream import params as clickstream_params
from adpipe.errors import DataError
from adpipe.io import read_json
from adpipe.tuning.loop import run_tuning
from adpipe.tuning.study import TuningTask, open_storage, open_study
from adpipe.validation import Protocol

TINY = Protocol(folds=2, repeats=1, seed=3)


def fake_task(params_file: Path, *, name: str = "fake", metric: str = "score", protocol: Protocol = Protocol(2, 3, 0)):
    """A task whose every fold scores the sampled x: fast, and the best trial is the largest x."""

    def suggest(trial: optuna.Trial) -> dict:
        return {"x": trial.suggest_float("x", 0.0, 1.0)}

    def cross_validate(params: dict, on_fold) -> None:
        for step in range(protocol.folds * protocol.repeats):
            on_fold(step, {metric: params["x"]})

    return TuningTask(name, metric, protocol, params_file, suggest, cross_validate)


def sqlite(tmp_path: Path, name: str = "study.db") -> str:
    return f"sqlite:///{tmp_path / name}"


# --- the generic loop ---------------------------------------------------------------------------


@pytest.mark.parametrize("pruner", ["median", "halving"])
def test_pruners_stop_weak_trials_early_and_scores_are_fold_means(tmp_path, pruner):
    task = fake_task(tmp_path / "params.json")
    result = run_tuning(
        task, storage=sqlite(tmp_path), study_name="s", trials=12, seed=0, pruner=pruner, progress=False
    )
    study = optuna.load_study(study_name="s", storage=sqlite(tmp_path))
    pruned = study.get_trials(states=(TrialState.PRUNED,))
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert result.n_finished == 12 and result.n_pruned == len(pruned) > 0
    for trial in complete:
        assert trial.user_attrs["fold_scores"] == [trial.params["x"]] * 6
        assert sorted(trial.intermediate_values) == list(range(6))
    for trial in pruned:  # stopped early, below what earlier trials had at the same fold
        assert len(trial.intermediate_values) < 6
        assert trial.params["x"] < max(t.value for t in complete)
    assert result.best.value == max(t.value for t in complete)


def test_params_file_records_study_trial_score_and_protocol(tmp_path):
    task = fake_task(tmp_path / "params.json")
    result = run_tuning(task, storage=sqlite(tmp_path), study_name="s", trials=4, seed=1, progress=False)
    written = read_json(task.params_file)
    assert result.params_written
    assert written["x"] == result.best.params["x"]
    assert written["source"]["study"] == "s" and written["source"]["trial"] == result.best.number
    assert written["source"]["score"] == {"metric": "score", "mean": result.best.value, "std": pytest.approx(0.0)}
    assert written["source"]["protocol"] == {"folds": 2, "repeats": 3, "seed": 0}
    # running again on a finished study changes nothing and does not rewrite the file
    before = task.params_file.stat().st_mtime_ns
    again = run_tuning(task, storage=sqlite(tmp_path), study_name="s", trials=4, seed=1, progress=False)
    assert again.n_run_here == 0 and not again.params_written and task.params_file.stat().st_mtime_ns == before


def test_a_search_keeps_the_record_of_how_the_model_family_was_chosen(tmp_path):
    """The search tunes inside the family the file names, so the file's ``model_choice`` record stays."""
    task = fake_task(tmp_path / "params.json")
    choice = {"family": "blend 0.5", "chosen_by": "ctr candidates"}
    task.params_file.write_text(json.dumps({"x": 0.0, "source": {"kind": "hand", "model_choice": choice}}))
    run_tuning(task, storage=sqlite(tmp_path), study_name="s", trials=3, seed=1, progress=False)
    written = read_json(task.params_file)
    assert written["source"]["kind"] == "optuna" and written["source"]["model_choice"] == choice


def test_ctrl_c_keeps_finished_trials_and_the_same_command_continues(tmp_path):
    params_file = tmp_path / "params.json"
    task = fake_task(params_file)
    calls = {"n": 0}

    def interrupted_on_the_fourth_trial(params: dict, on_fold) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        task.cross_validate(params, on_fold)

    flaky = TuningTask(
        task.name, task.metric, task.protocol, params_file, task.suggest, interrupted_on_the_fourth_trial
    )
    first = run_tuning(flaky, storage=sqlite(tmp_path), study_name="s", trials=6, seed=0, progress=False)
    assert first.interrupted and first.n_finished == 3 and not params_file.exists()
    second = run_tuning(flaky, storage=sqlite(tmp_path), study_name="s", trials=6, seed=0, progress=False)
    assert not second.interrupted and second.n_finished == 6 and second.n_run_here == 3
    assert read_json(params_file)["source"]["n_finished_trials"] == 6


def test_ctrl_c_while_optuna_records_a_trial_stops_cleanly_and_keeps_it(tmp_path, monkeypatch):
    """A real SIGINT landing in Optuna's own bookkeeping (not the objective) used to end in an UnboundLocalError."""
    from optuna.study import _optimize

    record = _optimize._tell_with_warning
    calls = {"n": 0}

    def ctrl_c_while_recording(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            signal.raise_signal(signal.SIGINT)
        return record(**kwargs)

    monkeypatch.setattr(_optimize, "_tell_with_warning", ctrl_c_while_recording)
    task = fake_task(tmp_path / "params.json")
    result = run_tuning(task, storage=sqlite(tmp_path), study_name="s", trials=6, seed=0, progress=False)
    assert result.interrupted and result.n_finished == 2 and not task.params_file.exists()
    states = [t.state for t in optuna.load_study(study_name="s", storage=sqlite(tmp_path)).trials]
    assert states == [TrialState.COMPLETE] * 2  # the trial being recorded is kept, none left RUNNING
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_during_a_storage_write_in_a_fold_waits_for_the_write(tmp_path, monkeypatch):
    """Raised inside a write, the interrupt could leave a SQLite transaction open that the heartbeat waits on."""
    write = optuna.Trial.report

    def ctrl_c_while_writing(trial, value, step):
        if trial.number == 1 and step == 2:
            signal.raise_signal(signal.SIGINT)
        write(trial, value, step)

    monkeypatch.setattr(optuna.Trial, "report", ctrl_c_while_writing)
    task = fake_task(tmp_path / "params.json")
    result = run_tuning(task, storage=sqlite(tmp_path), study_name="s", trials=6, seed=0, progress=False)
    assert result.interrupted and result.n_finished == 1
    interrupted = optuna.load_study(study_name="s", storage=sqlite(tmp_path)).trials[1]
    assert interrupted.state == TrialState.FAIL and sorted(interrupted.intermediate_values) == [0, 1, 2]


def test_a_second_ctrl_c_raises_wherever_it_lands():
    from adpipe.tuning.loop import CtrlC

    ctrl_c = CtrlC()
    ctrl_c._on_sigint(signal.SIGINT, None)  # outside a fitting: noted, the loop stops at the next safe point
    assert ctrl_c.pressed
    with pytest.raises(KeyboardInterrupt):  # a storage that hangs can still be left
        ctrl_c._on_sigint(signal.SIGINT, None)


def test_refuses_a_study_made_for_another_task_metric_or_protocol(tmp_path):
    url = sqlite(tmp_path)
    open_study(fake_task(tmp_path / "p.json", name="ctr", metric="roc_auc"), url, "shared", seed=0)
    with pytest.raises(DataError, match=r"created for task='ctr', metric='roc_auc'.*choose another --study"):
        open_study(fake_task(tmp_path / "p.json", name="clickstream", metric="macro_f1"), url, "shared", seed=0)
    other_folds = fake_task(tmp_path / "p.json", name="ctr", metric="roc_auc", protocol=Protocol(3, 1, 0))
    with pytest.raises(DataError, match="protocol"):
        open_study(other_folds, url, "shared", seed=0)


def test_bad_storage_urls_are_one_line_errors_that_hide_the_password(tmp_path):
    with pytest.raises(DataError, match="malformed storage URL"):
        open_storage("optuna.db")
    with pytest.raises(DataError, match=r"cannot open storage 'postgresql://u:\*\*\*@127.0.0.1:1/x'") as caught:
        open_storage("postgresql://u:secret@127.0.0.1:1/x")  # nothing listens on port 1
    assert "secret" not in str(caught.value)
    with pytest.raises(DataError, match="cannot open storage"):
        open_storage(f"sqlite:///{tmp_path}/missing/dir/x.db")


@pytest.mark.parametrize(  # a bad option value is a usage error (exit 2), a storage that cannot be opened bad input
    ("arguments", "code"),
    [(["--trials", "0"], 2), (["--trials", "-3"], 2), (["--timeout", "0"], 2), (["--storage", "nonsense"], 1)]
    + [(["--pruner", "best"], 2)],
)
def test_cli_bad_input_exits_non_zero_and_leaves_the_params_file(tmp_path, arguments, code):
    from model import app

    params_file = tmp_path / "params.json"
    params_file.write_text('{"task": "clickstream"}\n')
    command = ["tune", "--params", str(params_file), "--storage", sqlite(tmp_path), *arguments]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == code
    assert arguments[0].strip("-") in result.output.strip().splitlines()[-1]
    assert params_file.read_text() == '{"task": "clickstream"}\n'


# --- the ClickStream search ----------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _install_postgres() -> str:
    """Install Debian's postgresql package; return why it failed ('' on success)."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return "PostgreSQL is not installed and apt-get as root is not available to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "update"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", "postgresql"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"`{' '.join(command)}` failed: {done.stderr.strip()[-300:]}"
    return ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throw-away PostgreSQL server on loopback (installed first if missing), with one database."""
    if _postgres_bin() is None:
        reason = _install_postgres()
        if reason or _postgres_bin() is None:
            pytest.skip(reason or "postgresql installed but no initdb found")
    bin_dir = _postgres_bin()
    as_server_user: list[str] = []
    home = Path(tempfile.mkdtemp(prefix="adpipe-postgres-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        try:
            shutil.chown(home, "postgres")
        except LookupError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        as_server_user = ["runuser", "-u", "postgres", "--"]
    port, cluster = _free_port(), home / "cluster"

    def run(*command: str) -> None:
        subprocess.run([*as_server_user, *command], check=True, capture_output=True, timeout=120)

    try:
        run(str(bin_dir / "initdb"), "-D", str(cluster), "-U", "tuner", "--auth=trust", "--no-sync")
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {home} -c fsync=off"
        run(str(bin_dir / "pg_ctl"), "-D", str(cluster), "-o", options, "-l", str(home / "log"), "-w", "start")
        run(str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tuner", "optuna")
        yield f"postgresql://tuner@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run(
            [*as_server_user, str(bin_dir / "pg_ctl"), "-D", str(cluster), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_share_one_postgresql_study(tmp_path, postgres_url):
    params_file, trials = tmp_path / "params.json", 6
    command = [
        sys.executable,
        "model.py",
        "tune",
        *("--storage", postgres_url, "--study", "two-workers", "--trials", str(trials)),
        *("--folds", "2", "--repeats", "1", "--pruner", "none", "--params", str(params_file)),
    ]
    workers = [
        subprocess.Popen(command, cwd=config.PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]

    study = optuna.load_study(study_name="two-workers", storage=open_storage(postgres_url))
    finished = study.get_trials(states=(TrialState.COMPLETE,))
    assert trials <= len(finished) <= trials + 1  # both may start a last trial at the same instant
    assert sorted(t.number for t in study.trials) == list(range(len(study.trials)))  # no collision
    assert {t.user_attrs["worker"].split(":")[1] for t in finished} == {str(w.pid) for w in workers}
    assert len({str(sorted(t.params.items())) for t in finished}) == len(finished)  # no duplicated draws

    per_worker = [int(re.search(r"(\d+) finished by this worker", out).group(1)) for out, _ in outputs]
    assert sum(per_worker) == len(finished) and min(per_worker) > 0
    writers = [out for out, _ in outputs if "best params (trial" in out]
    assert len(writers) == 1, [out for out, _ in outputs]
    written = clickstream_params.load_params(params_file)
    assert written["source"]["study"] == "two-workers"
    assert written["source"]["trial"] == study.best_trial.number
    assert written["source"]["score"]["mean"] == study.best_value
    assert written["source"]["n_finished_trials"] == len(finished)
    assert not list(tmp_path.glob(".params.json.*"))  # no temporary file left behind
