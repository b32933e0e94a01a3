"""The ClickStream search space for ``make tune``: what is sampled, and how one sample is scored.

Each trial samples a whole params file (LightGBM's capacity and regularisation, the imbalance
strategy, the decision rule, the feature groups) and is scored by the mean macro-F1 over the same
folds as ``make validate``, through :func:`adpipe.clickstream.evaluation.cross_validate_params`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from adpipe import config
from adpipe.clickstream.defaults import TASK
from adpipe.clickstream.evaluation import cross_validate_params
from adpipe.clickstream.params import DECISION_RULES, IMBALANCE_STRATEGIES, check_params
from adpipe.clickstream.pipeline import labelled_features
from adpipe.tuning.study import OnFold, TuningTask
from adpipe.validation import Protocol
from features.clickstream import FEATURE_GROUPS

METRIC = "macro_f1"


def suggest_params(trial: optuna.Trial) -> dict[str, Any]:
    """One point of the search space, as a params mapping that :func:`check_params` accepts."""
    groups = [group for group in FEATURE_GROUPS if trial.suggest_categorical(f"group_{group}", [True, False])]
    if not groups:
        raise optuna.TrialPruned("no feature group chosen")
    lightgbm = {
        "n_estimators": trial.suggest_int("n_estimators", 20, 500, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 2, 31, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_child_samples": trial.suggest_int("min_child_samples", 3, 60, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "extra_trees": trial.suggest_categorical("extra_trees", [False, True]),
    }
    return {
        "task": TASK,
        "lightgbm": lightgbm,
        "imbalance": trial.suggest_categorical("imbalance", list(IMBALANCE_STRATEGIES)),
        "decision_rule": trial.suggest_categorical("decision_rule", list(DECISION_RULES)),
        "feature_groups": groups,
    }


def starting_point(params: dict[str, Any]) -> dict[str, Any]:
    """A params file as the values :func:`suggest_params` would have drawn (to enqueue it as a trial)."""
    return {
        **{f"group_{group}": group in params["feature_groups"] for group in FEATURE_GROUPS},
        **{name: value for name, value in params["lightgbm"].items() if name != "subsample_freq"},
        "imbalance": params["imbalance"],
        "decision_rule": params["decision_rule"],
    }


def tuning_task(
    train_dir: str | Path = config.TRAIN_DIR,
    protocol: Protocol = Protocol(),
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
) -> TuningTask:
    """The ClickStream task for :func:`adpipe.tuning.loop.run_tuning`; the features are built once here."""
    X, y = labelled_features(train_dir)

    def cross_validate(params: dict[str, Any], on_fold: OnFold) -> Any:
        return cross_validate_params(params, X, y, protocol, on_fold=on_fold, progress=False)

    return TuningTask(
        name=TASK,
        metric=METRIC,
        protocol=protocol,
        params_file=Path(params_file),
        suggest=suggest_params,
        cross_validate=cross_validate,
        check_params=check_params,
        starting_point=starting_point,
    )
