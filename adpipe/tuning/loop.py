"""The loop: one worker runs trials of a study until it holds enough, then the last worker writes the params file."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import sqlalchemy
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from adpipe import config
from adpipe.errors import DataError, first_line
from adpipe.io import read_json, write_json
from adpipe.tuning.study import (
    DEFAULT_STORAGE,
    DEFAULT_TRIALS,
    FINISHED,
    TuningResult,
    TuningTask,
    best_trial,
    count_trials,
    fail_interrupted_trials,
    fail_stale_trials,
    make_pruner,
    make_sampler,
    open_study,
)
from adpipe.validation import FoldMetrics, mean_std

# A worker whose storage goes away (a database restarted) waits this long for it, trying every few seconds.
STORAGE_OUTAGE_SECONDS = 300
STORAGE_RETRY_SECONDS = 2.0
# What a lost database connection raises: SQLAlchemy's error, or Optuna's wrapping of it around a commit.
STORAGE_ERRORS = (sqlalchemy.exc.OperationalError, optuna.exceptions.StorageInternalError)


def worker_id() -> str:
    """Which process ran a trial (kept as a trial attribute): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _count_mine(study: optuna.Study) -> int:
    return sum(t.user_attrs.get("worker") == worker_id() for t in study.get_trials(deepcopy=False, states=FINISHED))


class CtrlC:
    """Ctrl-C that lands only while a trial fits models, never inside a write to the study's storage.

    A KeyboardInterrupt raised in the middle of a storage call can leave a SQLite transaction open (the
    heartbeat thread then waits on its lock) or break Optuna's bookkeeping (5.0's ``_run_trial`` ends in an
    UnboundLocalError with the trial left RUNNING). So while ``optimize`` runs, Ctrl-C raises at once only
    inside :meth:`fitting`; anywhere else it is noted, and the fitting resumed next raises it or the next
    callback stops the study. A second Ctrl-C raises wherever it lands (a storage that hangs can be left).
    """

    def __init__(self) -> None:
        self.pressed = False
        self._interruptible = False

    @contextmanager
    def _region(self, interruptible: bool) -> Iterator[None]:
        previous, self._interruptible = self._interruptible, interruptible
        try:
            if interruptible and self.pressed:
                raise KeyboardInterrupt
            yield
        finally:
            self._interruptible = previous
        if previous and self.pressed:  # back in a fitting after a write that noted the press
            raise KeyboardInterrupt

    def fitting(self) -> AbstractContextManager[None]:
        """A block that only computes: Ctrl-C raises inside it."""
        return self._region(True)

    def recording(self) -> AbstractContextManager[None]:
        """A block inside a fitting that writes to the storage: Ctrl-C waits for its end."""
        return self._region(False)

    def stop_if_pressed(self, study: optuna.Study) -> None:
        if self.pressed:
            study.stop()

    def _on_sigint(self, signum: int, frame: Any) -> None:
        pressed_before, self.pressed = self.pressed, True
        if self._interruptible or pressed_before:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        """The handler for the duration of the block (only the main thread may set one; elsewhere, no change)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def make_objective(task: TuningTask, ctrl_c: CtrlC) -> Callable[[optuna.Trial], float]:
    """Sample params, cross-validate them fold by fold (reporting the running mean), return the mean."""

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        params = task.suggest(trial)
        trial.set_user_attr("params", params)
        scores: list[float] = []

        def on_fold(step: int, metrics: FoldMetrics) -> None:
            scores.append(float(metrics[task.metric]))
            with ctrl_c.recording():
                trial.report(float(np.mean(scores)), step)
                if trial.should_prune():
                    trial.set_user_attr("fold_scores", scores)
                    raise optuna.TrialPruned(f"after {len(scores)} folds at {np.mean(scores):.4f}")

        with ctrl_c.fitting():
            task.cross_validate(params, on_fold)
        summary = mean_std(scores)
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("std", summary["std"])
        return summary["mean"]

    return objective


def _storage_lost(error: BaseException | None) -> bool:
    """Whether ``error`` comes of a lost storage connection: raised as one, or while handling one (Optuna 5.0's
    ``_run_trial`` then ends in an UnboundLocalError of its own)."""
    while error is not None:
        if isinstance(error, STORAGE_ERRORS):
            return True
        error = error.__cause__ or error.__context__
    return False


def _wait_for_storage(study: optuna.Study, error: Exception, bar: Any) -> None:
    """Wait (up to ``STORAGE_OUTAGE_SECONDS``) until the study's storage answers again, then fail and queue again
    this worker's trial the outage interrupted; a DataError naming the storage's error if it stays away."""
    bar.write(f"the study's storage is unreachable ({first_line(error)}): waiting up to {STORAGE_OUTAGE_SECONDS} s")
    deadline = time.monotonic() + STORAGE_OUTAGE_SECONDS
    while True:
        time.sleep(STORAGE_RETRY_SECONDS)
        try:
            retried = fail_interrupted_trials(study, worker_id())
            break
        except STORAGE_ERRORS as again:
            if time.monotonic() > deadline:
                raise DataError(f"the study's storage stayed unreachable: {first_line(again)}") from again
    bar.write(f"the storage is back; interrupted trials failed and queued again: {retried or 'none'}")


def _enqueue_current_params(task: TuningTask, study: optuna.Study) -> None:
    """A new study's first trial: the params file as it stands (if any), so the search starts from it."""
    if study.trials or task.starting_point is None or not task.params_file.exists():
        return
    params = task.check_params(read_json(task.params_file), task.params_file)
    study.enqueue_trial(task.starting_point(params), skip_if_exists=True)


def run_tuning(
    task: TuningTask,
    *,
    storage: str = DEFAULT_STORAGE,
    study_name: str,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int = config.DEFAULT_SEED,
    pruner: str = "median",
    progress: bool = True,
) -> TuningResult:
    """Run trials until the study holds ``trials`` finished ones (all workers together) or ``timeout``
    seconds pass, then write the best params file if no other worker is still running a trial.

    ``trials`` is the study's total, so the same command resumes an interrupted study where it stopped.
    Without ``trials`` and ``timeout`` the total is :data:`DEFAULT_TRIALS`.
    """
    if trials is not None and trials <= 0:
        raise ValueError(f"--trials must be a positive number, got {trials}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"--timeout must be a positive number of seconds, got {timeout}")
    if trials is None and timeout is None:
        trials = DEFAULT_TRIALS
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial raises; Ctrl-C's is no warning
    study = open_study(task, storage, study_name, seed, pruner)
    fail_stale_trials(study)
    _enqueue_current_params(task, study)
    started, run_before, mine_before = time.monotonic(), count_trials(study, FINISHED), _count_mine(study)

    def budget_reached() -> bool:
        return trials is not None and count_trials(study, (*FINISHED, TrialState.RUNNING)) >= trials

    bar = tqdm(total=trials, initial=run_before, desc=f"tune {study_name}", unit="trial", disable=not progress)

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        best = best_trial(study)
        bar.n = count_trials(study, FINISHED)
        if best is not None:
            bar.set_postfix_str(f"best {task.metric} {best.value:.4f} (trial {best.number})", refresh=False)
        bar.refresh()
        ctrl_c.stop_if_pressed(study)
        if budget_reached():
            study.stop()

    ctrl_c = CtrlC()
    interrupted = False
    try:
        while not budget_reached():
            left = None if timeout is None else timeout - (time.monotonic() - started)
            if left is not None and left <= 0:
                break
            try:
                with ctrl_c.installed():
                    study.optimize(make_objective(task, ctrl_c), timeout=left, callbacks=[after_trial])
                break
            except Exception as error:
                if not _storage_lost(error):
                    raise
                _wait_for_storage(study, error, bar)  # the storage went away: wait for it, go on
    except KeyboardInterrupt:
        interrupted = True  # Optuna has marked the running trial failed; finished ones are stored
    finally:
        bar.close()
    interrupted = interrupted or ctrl_c.pressed
    result = TuningResult(
        study_name=study_name,
        metric=task.metric,
        n_finished=count_trials(study, FINISHED),
        n_pruned=count_trials(study, (TrialState.PRUNED,)),
        n_run_here=_count_mine(study) - mine_before,
        seconds=time.monotonic() - started,
        best=best_trial(study),
        interrupted=interrupted,
    )
    if interrupted:
        result.params_note = "interrupted: params file not written; run the same command again to continue"
    elif result.best is None:
        result.params_note = "no trial has completed: params file not written"
    else:
        result.params_written, result.params_note = write_best_params(task, study)
    return result


def search(task: TuningTask, trials: int, seed: int = config.DEFAULT_SEED) -> FrozenTrial | None:
    """The best of ``trials`` trials of ``task`` in a study held in memory: the objective, sampler and pruner of
    :func:`run_tuning`, nothing stored and no params file written (a nested validation's inner search, run inside
    one outer training window). It does not start from the params file: that file was chosen on the outer
    windows, whose test blocks the inner search must not have seen in any form."""
    if trials <= 0:
        raise ValueError(f"trials must be a positive number, got {trials}")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        sampler=make_sampler(seed), pruner=make_pruner("median", task.protocol), direction=task.direction
    )
    study.optimize(make_objective(task, CtrlC()), n_trials=trials)
    return best_trial(study)


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on ``directory`` (held by one process at a time on this machine)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


def best_params_payload(task: TuningTask, study: optuna.Study, best: FrozenTrial) -> dict[str, Any]:
    """The params file: the best trial's params and where they came from."""
    return {
        **best.user_attrs["params"],
        "source": {
            "kind": "optuna",
            "study": study.study_name,
            "trial": best.number,
            "score": {"metric": task.metric, "mean": best.value, "std": best.user_attrs["std"]},
            "protocol": task.protocol.as_dict(),
            "fold_scores": best.user_attrs["fold_scores"],
            "n_finished_trials": count_trials(study, FINISHED),
            "n_pruned_trials": count_trials(study, (TrialState.PRUNED,)),
        },
    }


def write_best_params(task: TuningTask, study: optuna.Study) -> tuple[bool, str]:
    """Write the params file once: by the last worker to finish, and only if it does not already hold the best.

    Returns whether this call wrote it and a line saying why (not).
    """
    fail_stale_trials(study)
    running = count_trials(study, (TrialState.RUNNING,))
    if running:
        return False, f"{running} trial(s) still running in other workers: the last worker writes the params file"
    best = best_trial(study)
    if best is None:
        return False, "no trial has completed: params file not written"
    payload = best_params_payload(task, study, best)
    task.check_params(payload, task.params_file)
    with _directory_lock(task.params_file.parent):
        try:
            current = read_json(task.params_file)
        except DataError:
            current = None
        # How the file's model family was chosen outlives a search inside that family (ctr: docs/ctr.md).
        if isinstance(current, dict) and "model_choice" in current.get("source", {}):
            payload["source"]["model_choice"] = current["source"]["model_choice"]
        if current == payload:
            return False, f"{task.params_file} already holds trial {best.number} of study {study.study_name!r}"
        write_json(task.params_file, payload)
    return True, f"best params (trial {best.number}) -> {task.params_file}"
