"""Which inputs pushed one prediction most: LightGBM's own tree contributions (``pred_contrib``), the terms of a
linear model, or, for a segmentation, the inputs that put a profile nearer its segment's centre than the next one.

Each function takes the fitted model the task saved and the model's input frame, and returns per row the
``TOP_INPUTS`` inputs with the largest absolute effect, as the input the final model saw (after encoding).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMModel
from pydantic import BaseModel

TOP_INPUTS = 5
# Attributes under which the project's wrappers keep the fitted model they wrap (threshold classifiers, the
# macro-F1 decision rule, the scaled log-target regressor: ``estimator_``; the click model: ``pipeline_``;
# scikit-learn's TransformedTargetRegressor: ``regressor_``).
_WRAPPED = ("estimator_", "pipeline_", "regressor_")


class Contribution(BaseModel):
    """One input's push on this prediction, in the units the task states (e.g. log-odds)."""

    input: str
    value: float | str | None
    effect: float


def _names(step: Any, transformed: Any, before: list[str]) -> list[str]:
    if isinstance(transformed, pd.DataFrame):
        return [str(c) for c in transformed.columns]
    if hasattr(step, "get_feature_names_out"):
        return [str(name).split("__", 1)[-1] for name in step.get_feature_names_out()]
    return before


def final_model_inputs(model: Any, X: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """The last estimator inside ``model`` (wrappers and pipelines opened) and the frame it sees for ``X``.

    Pipeline steps before it transform ``X``; resamplers are skipped, as they act in ``fit`` only.
    """
    while True:
        steps = getattr(model, "steps", None)
        if steps:
            for _, step in steps[:-1]:
                if step is None or step == "passthrough" or hasattr(step, "fit_resample"):
                    continue
                transformed = step.transform(X)
                names = _names(step, transformed, list(X.columns))
                X = pd.DataFrame(np.asarray(transformed) if not isinstance(transformed, pd.DataFrame) else transformed)
                X.columns = names
            model = steps[-1][1]
            continue
        inner = next((getattr(model, name) for name in _WRAPPED if hasattr(model, name)), None)
        if inner is None:
            return model, X
        model = inner


def _top(names: list[str], values: pd.Series, effects: np.ndarray) -> list[Contribution]:
    order = np.argsort(-np.abs(effects), kind="stable")[:TOP_INPUTS]
    return [Contribution(input=names[i], value=_plain(values.iloc[i]), effect=float(effects[i])) for i in order]


def _plain(value: Any) -> float | str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    return str(value)


def tree_contributions(
    model: Any, X: pd.DataFrame, output: np.ndarray | None = None
) -> list[list[Contribution]] | None:
    """LightGBM's per-input contributions to each row's raw score; None when the final model is not LightGBM.

    ``output`` picks, per row, the class whose score is explained (multiclass models); binary and regression
    models have one score.
    """
    booster, inputs = final_model_inputs(model, X)
    if not isinstance(booster, LGBMModel):
        return None
    raw = np.asarray(booster.predict(inputs, pred_contrib=True))
    width = inputs.shape[1] + 1
    names = list(inputs.columns)
    rows = []
    for row in range(len(inputs)):
        start = int(output[row]) * width if output is not None and raw.shape[1] > width else 0
        rows.append(_top(names, inputs.iloc[row], raw[row, start : start + width - 1]))
    return rows


def linear_contributions(model: Any, X: pd.DataFrame) -> list[list[Contribution]] | None:
    """Each input's coefficient times its (encoded, scaled) value; None when the final model is not linear."""
    final, inputs = final_model_inputs(model, X)
    coefficients = getattr(final, "coef_", None)
    if coefficients is None or np.ndim(coefficients) != 1:
        return None
    terms = inputs.to_numpy(dtype=float) * np.asarray(coefficients)
    names = list(inputs.columns)
    return [_top(names, inputs.iloc[row], terms[row]) for row in range(len(inputs))]


def centre_contributions(model: Any, X: pd.DataFrame) -> tuple[np.ndarray, list[list[Contribution]]]:
    """Distances of each row to every segment centre, and the inputs that put it nearer its own centre.

    An input's effect is how much it adds to the squared distance to the runner-up centre beyond the
    squared distance to the nearest one: ``(x - c_second)^2 - (x - c_nearest)^2``.
    """
    final, inputs = final_model_inputs(model, X)
    centres = np.asarray(final.cluster_centers_)
    values = inputs.to_numpy(dtype=float)
    distances = np.sqrt(((values[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2))
    order = np.argsort(distances, axis=1)
    names = list(inputs.columns)
    rows = []
    for row in range(len(values)):
        nearest, second = centres[order[row, 0]], centres[order[row, min(1, len(centres) - 1)]]
        effects = (values[row] - second) ** 2 - (values[row] - nearest) ** 2
        rows.append(_top(names, inputs.iloc[row], effects))
    return distances, rows
