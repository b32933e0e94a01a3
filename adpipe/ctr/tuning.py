"""The CTR search space for ``python model.py ctr tune``: the shared tuning loop on forward-in-time folds.

Each trial samples a params file of the default model family (the numeric columns, gender on or off,
LightGBM's capacity and regularisation; with ``--metric log_loss`` also the calibration) and is scored on
the forward folds of ``ctr validate`` (``--protocol random`` for the grouped K-fold): mean ROC-AUC by
default, or mean log-loss. The groups the audit flags are never searched; the threshold is not either
(``ctr train`` chooses it inside the training data).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from adpipe import config
from adpipe.ctr.defaults import PARAMS_FILE, TASK
from adpipe.ctr.evaluation import cross_validate_params, labelled_data
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.params import CALIBRATIONS, DEFAULT_PARAMS, check_params, load_params
from adpipe.errors import OptionError
from adpipe.tuning.study import OnFold, TuningTask
from adpipe.validation import Protocol, Split

# Metric → direction of the search.
METRICS = {"roc_auc": "maximize", "log_loss": "minimize"}
# A leaf must hold about as many impressions as one exact value repeats in the reference export (9,997 rows,
# ~460 distinct values per numeric column): smaller leaves can single a recurring value out and memorise it.
MIN_LEAF_ROWS = 20
MAX_LEAVES = 15


def suggest_params(
    trial: optuna.Trial, metric: str = "roc_auc", blend: float = DEFAULT_PARAMS["blend"]
) -> dict[str, Any]:
    """One point of the search space, as a params mapping that :func:`check_params` accepts.

    Small, regularised models only: at most :data:`MAX_LEAVES` leaves, at least :data:`MIN_LEAF_ROWS` impressions
    per leaf, an L2 penalty of at least 1. ``blend`` (the logistic baseline's weight) is the params file's, not
    searched: the search tunes LightGBM inside the model family the file names.
    """
    lightgbm = {
        "n_estimators": trial.suggest_int("n_estimators", 50, 600, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 2, MAX_LEAVES, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", MIN_LEAF_ROWS, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1.0, 30.0, log=True),
    }
    gender = trial.suggest_categorical("gender", [True, False])
    # Calibration does not change the ranking: searched only when probabilities are what is scored.
    calibration = trial.suggest_categorical("calibration", list(CALIBRATIONS)) if metric == "log_loss" else "none"
    return {
        "task": TASK,
        "features": ["numeric", "gender"] if gender else ["numeric"],
        "imbalance": "none",
        "calibration": calibration,
        "blend": blend,
        "lightgbm": lightgbm,
    }


def starting_point(params: dict[str, Any]) -> dict[str, Any]:
    """A params file as the values :func:`suggest_params` would have drawn (to enqueue it as a trial)."""
    lightgbm = {name: value for name, value in params["lightgbm"].items() if name != "subsample_freq"}
    return {**lightgbm, "gender": "gender" in params["features"], "calibration": params["calibration"]}


def tuning_task(
    data: str | Path = config.CTR_FILE,
    protocol: Protocol = Protocol(folds=5, repeats=1),
    params_file: str | Path = PARAMS_FILE,
    *,
    metric: str = "roc_auc",
    name: str = "forward",
    gap: int = 0,
) -> TuningTask:
    """The CTR task for :func:`adpipe.tuning.loop.run_tuning`; data and folds are prepared once here."""
    if metric not in METRICS:
        raise OptionError(f"must be one of {', '.join(METRICS)}, got {metric!r}", option="--metric")
    folds = CtrProtocol(folds=protocol.folds, repeats=protocol.repeats, seed=protocol.seed, name=name, gap=gap)
    X, y, table = labelled_data(data)
    return task_on(X, y, make_folds(table, folds, path=data), folds, params_file, metric)


def task_on(
    X: pd.DataFrame, y: pd.Series, splits: list[Split], folds: CtrProtocol, params_file: str | Path, metric: str
) -> TuningTask:
    """The search of :func:`tuning_task` over ``splits`` of the model inputs ``X`` (a nested validation's inner
    folds: one outer window's past)."""

    def cross_validate(params: dict[str, Any], on_fold: OnFold) -> Any:
        return cross_validate_params(params, X, y, splits, folds.seed, decide=False, on_fold=on_fold, progress=False)

    # The model family is the params file's (a new file being tuned into: the defaults'); the search tunes LightGBM.
    blend = load_params(params_file)["blend"] if Path(params_file).exists() else DEFAULT_PARAMS["blend"]
    return TuningTask(
        name=TASK,
        metric=metric,
        protocol=folds,
        params_file=Path(params_file),
        suggest=functools.partial(suggest_params, metric=metric, blend=blend),
        cross_validate=cross_validate,
        check_params=check_params,
        direction=METRICS[metric],  # type: ignore[arg-type]
        starting_point=starting_point,
    )
