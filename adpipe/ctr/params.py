"""What ``params/ctr.json`` may hold, and its defaults.

A params file that names an unknown key, feature group, imbalance strategy, calibration or LightGBM
parameter is refused with one line (:func:`check_params`), so a typo never silently falls back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field

from adpipe.ctr.defaults import PARAMS_FILE, TASK
from adpipe.errors import DataError, OptionError
from adpipe.params import ParamsFile, apply_options, check_params_file, lightgbm_keys, read_params_file
from features.ctr import DEFAULT_GROUPS, FEATURE_GROUPS

Imbalance = Literal["none", "weights", "oversample", "smote"]
IMBALANCE_STRATEGIES: tuple[str, ...] = get_args(Imbalance)
# "sigmoid" and "isotonic" wrap LightGBM in CalibratedClassifierCV, fitted on inner folds of the training part.
Calibration = Literal["none", "sigmoid", "isotonic"]
CALIBRATIONS: tuple[str, ...] = get_args(Calibration)

DEFAULT_PARAMS: dict[str, Any] = {
    "task": TASK,
    "features": list(DEFAULT_GROUPS),
    "imbalance": "none",
    "calibration": "none",
    "blend": 0.5,
    "lightgbm": {
        "n_estimators": 600,
        "learning_rate": 0.04,
        "num_leaves": 15,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 1.0,
        "reg_lambda": 5.0,
    },
    "source": {"kind": "default", "note": "hand-set defaults (see docs/ctr.md)"},
}
_LIGHTGBM_KEYS = lightgbm_keys(managed={"class_weight"})


def parse_features(text: str | None) -> list[str] | None:
    """``--features numeric,gender,text`` as a list of group names (``None`` when the option is not given)."""
    if text is None:
        return None
    groups = list(dict.fromkeys(group.strip() for group in text.split(",") if group.strip()))
    unknown = [group for group in groups if group not in FEATURE_GROUPS]
    if unknown or not groups:
        raise OptionError(f"must list some of {', '.join(FEATURE_GROUPS)}; got {text!r}", option="--features")
    return groups


class CtrParams(ParamsFile):
    """``params/ctr.json``: the feature groups, the imbalance strategy, the calibration, the blend (the logistic
    baseline's weight) and LightGBM's parameters."""

    features: list[str] = Field(description="a non-empty list of distinct groups")
    imbalance: Imbalance
    calibration: Calibration
    blend: float = Field(
        ge=0.0, lt=1.0, description="the logistic baseline's weight in the click probability, from 0 (LightGBM alone)"
    )


def check_params(params: Any, source: str | Path = "params") -> dict[str, Any]:
    """Refuse unknown keys, feature groups, choices or LightGBM parameters; fill in defaults."""
    checked = check_params_file(
        params,
        source,
        task=TASK,
        shape=CtrParams,
        defaults=DEFAULT_PARAMS,
        allowed_lightgbm=_LIGHTGBM_KEYS,
    )
    features = checked["features"]
    if not features or len(set(features)) != len(features):
        raise DataError(f"'features' must be a non-empty list of distinct groups, got {features!r}", path=source)
    unknown = [group for group in features if group not in FEATURE_GROUPS]
    if unknown:
        raise DataError(f"unknown feature group(s) {unknown}; known: {', '.join(FEATURE_GROUPS)}", path=source)
    return checked


def load_params(
    path: str | Path = PARAMS_FILE, *, features: list[str] | None = None, **options: str | None
) -> dict[str, Any]:
    """The params file, checked (the defaults while the default file does not exist yet), with the command-line
    ``features`` (see :func:`parse_features`) and ``options`` (``imbalance``, ``calibration``) that were given."""
    params = read_params_file(path, default=PARAMS_FILE)
    checked = dict(DEFAULT_PARAMS) if params is None else check_params(params, path)
    checked = apply_options(checked, {"imbalance": IMBALANCE_STRATEGIES, "calibration": CALIBRATIONS}, **options)
    return checked if features is None else {**checked, "features": features}
