"""The CTR search space for ``python model.py ctr tune``: the same tuning loop as the main task, metric ROC-AUC.

Each trial samples a whole CTR params file (feature set, imbalance strategy, LightGBM's capacity and
regularisation) and is scored by the mean ROC-AUC over the folds of ``ctr validate`` (identical rows
grouped). The decision threshold is left out of the search: it does not change ROC-AUC, and
``ctr train`` chooses it inside the training data as always.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from adpipe import cli_support, config, ctr, tuning
from adpipe.tuning import OnFold, TuningTask
from adpipe.validation import Protocol, make_splits
from features.ctr import FEATURE_SETS

METRIC = "roc_auc"
DEFAULT_STUDY = "ctr"


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """One point of the search space, as a params mapping that :func:`ctr.check_params` accepts."""
    lightgbm = {
        "n_estimators": trial.suggest_int("n_estimators", 100, 1000, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 3, 31, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.2, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
    }
    return {
        "task": ctr.TASK,
        "features": trial.suggest_categorical("features", list(FEATURE_SETS)),
        "imbalance": trial.suggest_categorical("imbalance", list(ctr.IMBALANCE_STRATEGIES)),
        "lightgbm": lightgbm,
    }


def starting_point(params: dict[str, Any]) -> dict[str, Any]:
    """A params file as the values :func:`suggest_params` would have drawn (to enqueue it as a trial)."""
    lightgbm = {name: value for name, value in params["lightgbm"].items() if name != "subsample_freq"}
    return {**lightgbm, "features": params["features"], "imbalance": params["imbalance"]}


def tuning_task(
    data: str | Path = config.CTR_FILE,
    protocol: Protocol = Protocol(folds=5, repeats=3),
    params_file: str | Path = ctr.PARAMS_FILE,
) -> TuningTask:
    """The CTR task for :func:`adpipe.tuning.run_tuning`; data and folds are prepared once here."""
    X, y, table = ctr.labelled_data(data)
    splits = make_splits(y, protocol, ctr.fold_groups(table, None))

    def cross_validate(params: dict[str, Any], on_fold: OnFold) -> Any:
        return ctr.cross_validate_params(
            params, X, y, splits, protocol.seed, decide=False, on_fold=on_fold, progress=False
        )

    return TuningTask(
        name=ctr.TASK,
        metric=METRIC,
        protocol=protocol,
        params_file=Path(params_file),
        suggest=suggest_params,
        cross_validate=cross_validate,
        check_params=ctr.check_params,
        starting_point=starting_point,
    )


tune_command = tuning.tune_command(
    tuning_task,
    data=cli_support.data_option(config.CTR_FILE, "Labelled impressions (CSV)."),
    study=DEFAULT_STUDY,
    params_file=ctr.PARAMS_FILE,
    metric="ROC-AUC",
    validate="ctr validate",
    repeats=3,
)
