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
import typer

from adpipe import config, ctr, tuning
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


def tune_command(
    data: Path = typer.Option(config.CTR_FILE, "--data", help="Labelled impressions (CSV)."),
    trials: int | None = typer.Option(None, "--trials", help="Trials the study should hold (100 without --timeout)."),
    timeout: float | None = typer.Option(None, "--timeout", help="Stop after this many seconds instead."),
    storage: str = typer.Option(tuning.DEFAULT_STORAGE, "--storage", help="Optuna RDB URL (sqlite, postgresql)."),
    study: str = typer.Option(DEFAULT_STUDY, "--study", help="Study name (resumed if it exists)."),
    pruner: str = typer.Option("median", "--pruner", help="median, halving or none."),
    folds: int = typer.Option(5, "--folds", help="K of the grouped K-fold (as ctr validate)."),
    repeats: int = typer.Option(3, "--repeats", help="How many times the K-fold is redrawn (as ctr validate)."),
    seed: int = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the folds, LightGBM and the sampler."),
    params: Path = typer.Option(ctr.PARAMS_FILE, "--params", help="Where the best params are written."),
) -> None:
    """Optuna search for ROC-AUC; writes the best params to --params for ctr train/validate."""
    protocol = Protocol(folds, repeats, seed)
    tuning.run_tuning_command(
        lambda: tuning_task(data, protocol, params),
        storage=storage,
        study_name=study,
        trials=trials,
        timeout=timeout,
        seed=seed,
        pruner=pruner,
    )
