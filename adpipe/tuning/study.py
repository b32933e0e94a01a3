"""Studies and their storage: the task description, sampler, pruner, storage URLs, and a study's figures."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import sqlalchemy
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from adpipe import config
from adpipe.errors import DataError, OptionError, first_line
from adpipe.validation import FoldMetrics, Protocol

DEFAULT_STORAGE = config.DEFAULT_STORAGE
DEFAULT_TRIALS = 100
PRUNERS = ("median", "halving", "none")
# Random trials before TPE models the results: a search space of some twenty dimensions needs more
# than Optuna's default ten, or TPE settles early around whatever the first lucky trial was.
STARTUP_TRIALS = 20
# A worker killed without a chance to clean up leaves its trial RUNNING; with a heartbeat the other
# workers mark it failed after the grace period, so it neither blocks the end of the study nor counts.
HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 60
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
STUDY_ATTRS = ("task", "metric", "direction", "protocol")

OnFold = Callable[[int, FoldMetrics], None]


@dataclass(frozen=True)
class TuningTask:
    """What the loop needs to know about one task.

    ``suggest(trial)`` samples a params mapping (what the params file holds, without ``source``);
    ``cross_validate(params, on_fold)`` scores it on the folds of ``protocol`` and calls ``on_fold``
    after each fold with that fold's metrics, which hold ``metric``; ``check_params(params, path)``
    checks a mapping before it is written (so a written file always loads); ``starting_point(params)``
    turns a params file into the trial's parameter values, so a new study first scores the params
    file it would replace (the search then only ever writes something at least as good on its folds).
    """

    name: str
    metric: str
    protocol: Protocol
    params_file: Path
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    cross_validate: Callable[[dict[str, Any], OnFold], Any]
    check_params: Callable[[dict[str, Any], Path], Any] = field(default=lambda params, path: params)
    direction: Literal["maximize", "minimize"] = "maximize"
    starting_point: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def study_attrs(self) -> dict[str, Any]:
        return {
            "task": self.name,
            "metric": self.metric,
            "direction": self.direction,
            "protocol": self.protocol.as_dict(),
        }


@dataclass
class TuningResult:
    """What one worker's run left behind."""

    study_name: str
    metric: str
    n_finished: int
    n_pruned: int
    n_run_here: int
    seconds: float
    best: FrozenTrial | None
    interrupted: bool = False
    params_written: bool = False
    params_note: str = ""


class TrialSeededSampler(optuna.samplers.BaseSampler):
    """A sampler re-made for each trial with ``seed + trial number``.

    One worker re-running a study with the same seed draws the same parameters; two workers on one
    study draw different ones (each trial number is taken once), where a shared seed would make both
    repeat the same random start-up trials.
    """

    def __init__(self, make: Callable[[int], optuna.samplers.BaseSampler], seed: int) -> None:
        self._make = make
        self._seed = seed
        self._current: tuple[int, optuna.samplers.BaseSampler] | None = None

    def _for(self, trial: FrozenTrial) -> optuna.samplers.BaseSampler:
        if self._current is None or self._current[0] != trial.number:
            self._current = (trial.number, self._make(self._seed + trial.number))
        return self._current[1]

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, name: str, distribution: Any) -> Any:
        return self._for(trial).sample_independent(study, trial, name, distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        self._for(trial).after_trial(study, trial, state, values)


def make_sampler(seed: int) -> optuna.samplers.BaseSampler:
    """Multivariate TPE (it models how parameters interact), seeded per trial."""

    def tpe(trial_seed: int) -> optuna.samplers.BaseSampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                n_startup_trials=STARTUP_TRIALS, seed=trial_seed, multivariate=True, constant_liar=True
            )

    return TrialSeededSampler(tpe, seed)


def make_pruner(kind: str, protocol: Protocol) -> optuna.pruners.BasePruner:
    """median: stop a trial whose running mean falls below the median of earlier trials at the same fold,
    after one full repeat; halving: successive halving with one repeat as the smallest budget."""
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=protocol.folds - 1)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=protocol.folds, reduction_factor=3)
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise OptionError(f"must be one of {', '.join(PRUNERS)}, got {kind!r}", option="--pruner")


def masked_url(url: str) -> str:
    """The storage URL with any password hidden, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url`` (sqlite:///file.db, postgresql://user@host/db, ...), or a clear error."""
    if not re.match(r"^[a-z][a-z0-9+]*://", url or ""):
        raise DataError(f"malformed storage URL {masked_url(url)!r}: expected e.g. {DEFAULT_STORAGE!r}")
    engine_url, engine_kwargs = url, {"pool_pre_ping": True}
    if url.startswith(("postgresql", "postgres:")):
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the pinned driver is psycopg2.
        engine_url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg2://", url)
        engine_kwargs["connect_args"] = {"connect_timeout": 10}
    elif url.startswith("sqlite"):
        # The heartbeat thread writes beside the trial: on a busy machine the default 5 s wait for
        # SQLite's lock is not always enough.
        engine_kwargs["connect_args"] = {"timeout": 120}
    attempt = 0
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    engine_url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    # A trial failed by its stale heartbeat (its worker killed, the storage gone) is run again with
                    # the same parameters, once: an outage costs no trial.
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
                )
        except Exception as error:  # SQLAlchemy's errors for bad URLs, missing drivers, unreachable servers
            attempt += 1
            if isinstance(error, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.ProgrammingError) and attempt < 3:
                # Workers started together on an empty database race to create Optuna's tables: the
                # loser retries once the winner's tables exist.
                time.sleep(attempt)
                continue
            raise DataError(f"cannot open storage {masked_url(url)!r}: {first_line(error)}") from error


def open_study(task: TuningTask, storage: str, study_name: str, seed: int, pruner: str = "median") -> optuna.Study:
    """Create the study, or load it to continue; refuse one created for another task, metric or protocol."""
    if not study_name.strip():
        raise OptionError("must not be empty", option="--study")
    study = optuna.create_study(
        storage=open_storage(storage),
        study_name=study_name,
        sampler=make_sampler(seed),
        pruner=make_pruner(pruner, task.protocol),
        direction=task.direction,
        load_if_exists=True,
    )
    expected = task.study_attrs()
    found = {key: study.user_attrs[key] for key in STUDY_ATTRS if key in study.user_attrs}
    where = f"study {study_name!r} in {masked_url(storage)}"
    if not found and study.trials:
        raise DataError(f"{where} has trials but no record of its task and metric: choose another --study name")
    clashes = [key for key, value in found.items() if value != expected[key]]
    if clashes:
        theirs = ", ".join(f"{key}={found[key]!r}" for key in clashes)
        ours = ", ".join(f"{key}={expected[key]!r}" for key in clashes)
        raise DataError(f"{where} was created for {theirs}, not {ours}: choose another --study name")
    for key, value in expected.items():
        if key not in found:
            study.set_user_attr(key, value)
    return study


def count_trials(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


def fail_interrupted_trials(study: optuna.Study, worker: str) -> list[int]:
    """Mark failed, and queue again once (the storage's ``RetryHeartbeatStaleTrialCallback``), the trials
    ``worker`` left RUNNING when its storage went away: its own, so no heartbeat's grace to wait for. Their numbers."""
    storage = study._storage
    retry = storage.get_heartbeat_stale_trial_callback()
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("worker") == worker and storage.set_trial_state_values(
            trial._trial_id, TrialState.FAIL
        ):
            if retry is not None:
                retry(study, storage.get_trial(trial._trial_id))
            failed.append(trial.number)
    return failed


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark failed the trials of workers whose heartbeat stopped (killed outright), so they neither
    count towards --trials nor hold back the params file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def study_stats(storage: str, study_name: str) -> dict[str, Any]:
    """Benchmark figures of a study: seconds per finished trial (median), finished trials per minute
    while any worker was running one (all workers together), the share pruned, and the best score."""
    try:
        study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError as error:
        raise DataError(f"no study {study_name!r} in {masked_url(storage)}") from error
    finished = study.get_trials(deepcopy=False, states=FINISHED)
    if not finished:
        raise DataError(f"study {study_name!r} has no finished trial")
    seconds = [(t.datetime_complete - t.datetime_start).total_seconds() for t in finished]
    busy, covered_until = 0.0, None  # wall time with at least one trial running (gaps between runs left out)
    for start, end in sorted((t.datetime_start, t.datetime_complete) for t in finished):
        if covered_until is None or start > covered_until:
            busy, covered_until = busy + (end - start).total_seconds(), end
        elif end > covered_until:
            busy, covered_until = busy + (end - covered_until).total_seconds(), end
    best = best_trial(study)
    return {
        "study": study_name,
        "finished_trials": len(finished),
        "pruned_share": sum(t.state == TrialState.PRUNED for t in finished) / len(finished),
        "median_seconds_per_trial": float(np.median(seconds)),
        "trials_per_minute": len(finished) / (busy / 60),
        "worker_processes": len({t.user_attrs.get("worker") for t in finished}),
        "best": None if best is None else {"trial": best.number, "mean": best.value, "std": best.user_attrs["std"]},
    }
