"""The main task's params file: what it may hold, its defaults, and how it is read.

``params/clickstream.json`` is written by ``make tune``; ``train``, ``predict`` and ``validate`` read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field

from adpipe import config
from adpipe.clickstream.defaults import TASK
from adpipe.errors import DataError
from adpipe.params import ParamsFile, check_params_file, lightgbm_keys, read_params_file
from features.clickstream import FEATURE_GROUPS

# Fixed for reproducibility, not searched: one thread order, one seed.
DEFAULT_PARAMS: dict[str, Any] = {
    "task": TASK,
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 7,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.7,
        # LightGBM's own behaviour, spelled out within the search's ranges (7 leaves never reach depth 8,
        # 0.001 is as good as no penalty), so a new study can start from exactly these defaults.
        "max_depth": 8,
        "reg_alpha": 0.001,
        "reg_lambda": 0.001,
        "extra_trees": False,
    },
    "imbalance": "class_weight",
    "decision_rule": "argmax",
    "feature_groups": list(FEATURE_GROUPS),
    "source": {"kind": "default", "note": "hand-set defaults; `make tune` replaces this file"},
}
# none: as is; class_weight: LightGBM's balanced class weights; oversample / smote: imbalanced-learn
# resamplers, which a Pipeline applies in fit only, so held-out rows are never resampled.
Imbalance = Literal["none", "class_weight", "oversample", "smote"]
IMBALANCE_STRATEGIES: tuple[str, ...] = get_args(Imbalance)
# argmax: the most probable class; class_weights: see adpipe.clickstream.decision_rule.MacroF1Weights.
DecisionRule = Literal["argmax", "class_weights"]
DECISION_RULES: tuple[str, ...] = get_args(DecisionRule)
# class_weight is the "imbalance" key's business, objective is fixed to multiclass.
_LIGHTGBM_KEYS = lightgbm_keys(managed={"class_weight", "objective"}, extra={"extra_trees", "path_smooth"})


class ClickstreamParams(ParamsFile):
    """``params/clickstream.json``: LightGBM's parameters, the class imbalance strategy, the decision rule and
    the feature groups."""

    imbalance: Imbalance
    decision_rule: DecisionRule
    feature_groups: list[str] = Field(description=f"a non-empty subset of {list(FEATURE_GROUPS)}")


def check_params(params: Any, source: str | Path = "params") -> dict[str, Any]:
    """Refuse a params mapping with unknown keys, unknown LightGBM parameters or unknown groups."""
    params = check_params_file(
        params,
        source,
        task=TASK,
        shape=ClickstreamParams,
        defaults=DEFAULT_PARAMS,
        allowed_lightgbm=_LIGHTGBM_KEYS,
        lightgbm_hints={"class_weight": "set class imbalance with the 'imbalance' key"},
    )
    groups = params["feature_groups"]
    if not groups or set(groups) - set(FEATURE_GROUPS):
        raise DataError(
            f"'feature_groups' must be a non-empty subset of {list(FEATURE_GROUPS)}, got {groups}", path=source
        )
    return params


def load_params(path: str | Path = config.CLICKSTREAM_PARAMS_FILE) -> dict[str, Any]:
    """The params file, checked; the defaults when the default file does not exist yet."""
    params = read_params_file(path, default=config.CLICKSTREAM_PARAMS_FILE)
    return dict(DEFAULT_PARAMS) if params is None else check_params(params, path)
