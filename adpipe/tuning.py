"""The one tuning loop: an Optuna study over a task's search space, scored by the validation protocol.

A task (:class:`TuningTask`) says what to sample and how to cross-validate one sample; this module does
the rest for every task alike: it opens (or resumes) a study in any SQLAlchemy storage (SQLite for one
machine, PostgreSQL for workers on several), refuses a study made for another task, metric or protocol,
reports each fold's running mean so a pruner can stop hopeless trials, shows a progress bar, keeps
every finished trial on Ctrl-C, and at the end writes the best parameters to the task's params file,
once and atomically, with the study, the trial and its score (mean ± std over the folds).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import optuna
import sqlalchemy
import typer
from optuna.trial import FrozenTrial, TrialState
from tqdm.auto import tqdm

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error
from adpipe.errors import DataError
from adpipe.io import dumps_json, read_json, write_json
from adpipe.validation import FoldMetrics, Protocol, mean_std

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
_STUDY_ATTRS = ("task", "metric", "direction", "protocol")

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
    raise ValueError(f"--pruner must be one of {list(PRUNERS)}, got {kind!r}")


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
                )
        except Exception as error:  # SQLAlchemy's errors for bad URLs, missing drivers, unreachable servers
            attempt += 1
            if isinstance(error, sqlalchemy.exc.IntegrityError | sqlalchemy.exc.ProgrammingError) and attempt < 3:
                # Workers started together on an empty database race to create Optuna's tables: the
                # loser retries once the winner's tables exist.
                time.sleep(attempt)
                continue
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DataError(f"cannot open storage {masked_url(url)!r}: {reason}") from error


def open_study(task: TuningTask, storage: str, study_name: str, seed: int, pruner: str = "median") -> optuna.Study:
    """Create the study, or load it to continue; refuse one created for another task, metric or protocol."""
    if not study_name.strip():
        raise ValueError("--study must not be empty")
    study = optuna.create_study(
        storage=open_storage(storage),
        study_name=study_name,
        sampler=make_sampler(seed),
        pruner=make_pruner(pruner, task.protocol),
        direction=task.direction,
        load_if_exists=True,
    )
    expected = task.study_attrs()
    found = {key: study.user_attrs[key] for key in _STUDY_ATTRS if key in study.user_attrs}
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


def _count(study: optuna.Study, states: tuple[TrialState, ...]) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _best(study: optuna.Study) -> FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no complete trial yet
        return None


def _fail_stale_trials(study: optuna.Study) -> None:
    """Mark failed the trials of workers whose heartbeat stopped (killed outright), so they neither
    count towards --trials nor hold back the params file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def worker_id() -> str:
    """Which process ran a trial (kept as a trial attribute): host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _count_mine(study: optuna.Study) -> int:
    return sum(t.user_attrs.get("worker") == worker_id() for t in study.get_trials(deepcopy=False, states=FINISHED))


def make_objective(task: TuningTask) -> Callable[[optuna.Trial], float]:
    """Sample params, cross-validate them fold by fold (reporting the running mean), return the mean."""

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker_id())
        params = task.suggest(trial)
        trial.set_user_attr("params", params)
        scores: list[float] = []

        def on_fold(step: int, metrics: FoldMetrics) -> None:
            scores.append(float(metrics[task.metric]))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                trial.set_user_attr("fold_scores", scores)
                raise optuna.TrialPruned(f"after {len(scores)} folds at {np.mean(scores):.4f}")

        task.cross_validate(params, on_fold)
        summary = mean_std(scores)
        trial.set_user_attr("fold_scores", scores)
        trial.set_user_attr("std", summary["std"])
        return summary["mean"]

    return objective


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
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(task, storage, study_name, seed, pruner)
    _fail_stale_trials(study)
    _enqueue_current_params(task, study)
    started, run_before, mine_before = time.monotonic(), _count(study, FINISHED), _count_mine(study)

    def budget_reached() -> bool:
        return trials is not None and _count(study, (*FINISHED, TrialState.RUNNING)) >= trials

    bar = tqdm(total=trials, initial=run_before, desc=f"tune {study_name}", unit="trial", disable=not progress)

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        best = _best(study)
        bar.n = _count(study, FINISHED)
        if best is not None:
            bar.set_postfix_str(f"best {task.metric} {best.value:.4f} (trial {best.number})", refresh=False)
        bar.refresh()
        if budget_reached():
            study.stop()

    interrupted = False
    try:
        if not budget_reached():
            study.optimize(make_objective(task), timeout=timeout, callbacks=[after_trial])
    except KeyboardInterrupt:
        interrupted = True  # Optuna has marked the running trial failed; finished ones are stored
    finally:
        bar.close()
    result = TuningResult(
        study_name=study_name,
        metric=task.metric,
        n_finished=_count(study, FINISHED),
        n_pruned=_count(study, (TrialState.PRUNED,)),
        n_run_here=_count_mine(study) - mine_before,
        seconds=time.monotonic() - started,
        best=_best(study),
        interrupted=interrupted,
    )
    if interrupted:
        result.params_note = "interrupted: params file not written; run the same command again to continue"
    elif result.best is None:
        result.params_note = "no trial has completed: params file not written"
    else:
        result.params_written, result.params_note = write_best_params(task, study)
    return result


def tune_command(
    make_task: Callable[[Path, Protocol, Path], TuningTask],
    *,
    data: Any,
    study: str,
    params_file: Path,
    metric: str,
    validate: str,
    folds: int = 5,
    repeats: int = 5,
) -> Callable[..., None]:
    """The `tune` command of a task: the same options for every task, only the defaults differ.

    ``make_task(data, protocol, params_file)`` builds the task; ``data`` is the Typer option of its input.
    Bad input exits 1 with the params file untouched; Ctrl-C keeps the finished trials and exits 130.
    """

    def command(
        data_path: Path = data,
        trials: int | None = cli_support.trials_option(),
        timeout: float | None = cli_support.timeout_option(),
        storage: str = cli_support.storage_option(),
        study_name: str = cli_support.study_option(study),
        pruner: str = cli_support.pruner_option(),
        n_folds: int = cli_support.folds_option(folds, f"K of the K-fold (as {validate})."),
        n_repeats: int = cli_support.repeats_option(repeats, f"How many times the K-fold is redrawn (as {validate})."),
        seed: int = cli_support.seed_option("Seed of the folds, the models and the sampler."),
        params: Path = cli_support.params_option(params_file, "Where the best params are written."),
    ) -> None:
        protocol = Protocol(n_folds, n_repeats, seed)
        task: TuningTask | None = None
        with exit_on_error():
            task = make_task(data_path, protocol, params)
        with exit_on_error(keeps=task.params_file):
            result = run_tuning(
                task, storage=storage, study_name=study_name, trials=trials, timeout=timeout, seed=seed, pruner=pruner
            )
        typer.echo(summary(result))
        if result.interrupted:
            raise typer.Exit(code=130)

    command.__doc__ = f"Optuna search for {metric}; writes the best params to --params (train and {validate} read it)."
    return command


def summary(result: TuningResult) -> str:
    """The lines a command prints at the end of a run."""
    share = result.n_pruned / result.n_finished if result.n_finished else 0.0
    lines = [
        f"study {result.study_name!r}: {result.n_finished} finished trials, {result.n_pruned} pruned ({share:.0%}); "
        f"{result.n_run_here} finished by this worker in {result.seconds:.0f} s"
    ]
    if result.best is not None:
        best = result.best
        lines.append(f"best {result.metric}: {best.value:.4f} ± {best.user_attrs['std']:.4f} (trial {best.number})")
    lines.append(result.params_note)
    return "\n".join(lines)


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
            "n_finished_trials": _count(study, FINISHED),
            "n_pruned_trials": _count(study, (TrialState.PRUNED,)),
        },
    }


def write_best_params(task: TuningTask, study: optuna.Study) -> tuple[bool, str]:
    """Write the params file once: by the last worker to finish, and only if it does not already hold the best.

    Returns whether this call wrote it and a line saying why (not).
    """
    _fail_stale_trials(study)
    running = _count(study, (TrialState.RUNNING,))
    if running:
        return False, f"{running} trial(s) still running in other workers: the last worker writes the params file"
    best = _best(study)
    if best is None:
        return False, "no trial has completed: params file not written"
    payload = best_params_payload(task, study, best)
    task.check_params(payload, task.params_file)
    with _directory_lock(task.params_file.parent):
        try:
            current = read_json(task.params_file)
        except DataError:
            current = None
        if current == payload:
            return False, f"{task.params_file} already holds trial {best.number} of study {study.study_name!r}"
        write_json(task.params_file, payload)
    return True, f"best params (trial {best.number}) -> {task.params_file}"


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
    best = _best(study)
    return {
        "study": study_name,
        "finished_trials": len(finished),
        "pruned_share": sum(t.state == TrialState.PRUNED for t in finished) / len(finished),
        "median_seconds_per_trial": float(np.median(seconds)),
        "trials_per_minute": len(finished) / (busy / 60),
        "worker_processes": len({t.user_attrs.get("worker") for t in finished}),
        "best": None if best is None else {"trial": best.number, "mean": best.value, "std": best.user_attrs["std"]},
    }


cli = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)


@cli.command()
def stats(
    study: str = typer.Option(..., "--study", help="Study name."),
    storage: str = typer.Option(DEFAULT_STORAGE, "--storage", help="Optuna RDB URL."),
) -> None:
    """Print a study's benchmark figures as JSON: python -m adpipe.tuning --study NAME [--storage URL]."""
    with exit_on_error():
        figures = study_stats(storage, study)
    typer.echo(dumps_json(figures).decode(), nl=False)


if __name__ == "__main__":
    cli()
