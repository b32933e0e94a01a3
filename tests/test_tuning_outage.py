"""A tuning worker whose storage goes away (issue 38: PostgreSQL restarted under ``make tune``): once it is back,
the trial the outage interrupted is marked failed and queued again with the same parameters, once — no trial is
lost or counted twice. ``python model.py faults`` crashes a real PostgreSQL under two workers."""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from adpipe.tuning.loop import _storage_lost
from adpipe.tuning.study import fail_interrupted_trials, open_storage


def test_a_trial_the_outage_interrupted_is_failed_and_queued_again_once(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(f"sqlite:///{tmp_path / 'o.db'}"), study_name="s")
    mine, theirs = study.ask(), study.ask()
    for trial, worker in ((mine, "host:1"), (theirs, "host:2")):
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr("worker", worker)
    assert fail_interrupted_trials(study, "host:1") == [mine.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[mine.number] == TrialState.FAIL and states[theirs.number] == TrialState.RUNNING  # not its own
    (again,) = study.get_trials(states=(TrialState.WAITING,))
    assert RetryHeartbeatStaleTrialCallback.retried_trial_number(again) == mine.number
    assert again.params == mine.params
    assert fail_interrupted_trials(study, "host:1") == []  # failed once, queued once


def test_an_error_raised_while_handling_a_lost_connection_counts_as_the_storage_lost() -> None:
    """Optuna 5.0's ``_run_trial`` reads the trial again when a commit fails, fails again, and ends in an
    UnboundLocalError of its own: the worker must still wait for its storage, and stop on any other error."""
    try:
        try:
            raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.")
        except optuna.exceptions.StorageInternalError:
            raise UnboundLocalError("cannot access local variable 'updated_state'")  # noqa: B904 (as Optuna does)
    except UnboundLocalError as error:
        assert _storage_lost(error)
    assert not _storage_lost(ValueError("a bug"))
