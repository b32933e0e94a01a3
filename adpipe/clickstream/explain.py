"""Which inputs the main task's model relies on, measured on held-out folds.

Importances computed on the rows a model was fitted on reward memorisation; here each fold fits a fresh model
(the saved model's or the params file's recipe, as ``validate`` does) on its training part and explains only
its held-out part:

- permutation importance: the drop in held-out macro-F1 when one input column is shuffled;
- per-class SHAP: LightGBM's exact tree contributions (``pred_contrib=True``) to each class's raw score, for
  every held-out row, so each labelled user is explained once per repeat by a model that never saw them.

Cheap on the 700 labelled users (seconds), so the dashboard computes it when it builds the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.inspection import permutation_importance

from adpipe import config
from adpipe.clickstream.estimators import build_model, fitted_pipeline
from adpipe.clickstream.params import load_params
from adpipe.clickstream.pipeline import labelled_features
from adpipe.reports import MeanStd
from adpipe.validation import Protocol, make_splits
from features.clickstream_loaders import CLASSES

# One pass of 5 folds explains every user once; permutation repeats average out the shuffle's own noise.
EXPLAIN_PROTOCOL = Protocol(folds=5, repeats=1, seed=config.DEFAULT_SEED)
PERMUTATION_REPEATS = 5


@dataclass(frozen=True)
class Explanation:
    """Out-of-fold importances of the model the params file describes.

    ``contributions[row, class, feature]`` is the held-out SHAP value (raw-score units, log-odds of the
    softmax) and ``values`` the inputs the booster saw for that row (after imputation, before resampling).
    """

    protocol: Protocol
    features: list[str]
    permutation: dict[str, MeanStd]
    contributions: np.ndarray
    values: pd.DataFrame

    def mean_abs_contribution(self) -> dict[str, dict[str, float]]:
        """Per class, each feature's mean |SHAP| over the held-out rows."""
        mean_abs = np.abs(self.contributions).mean(axis=0)
        return {
            str(label): dict(zip(self.features, mean_abs[k].tolist(), strict=True)) for k, label in enumerate(CLASSES)
        }


def booster_inputs(pipeline: Pipeline, X: pd.DataFrame) -> pd.DataFrame:
    """What the pipeline's final LightGBM sees for ``X``: every step but the last, resamplers skipped
    (they act in ``fit`` only)."""
    for _, step in pipeline.steps[:-1]:
        if not hasattr(step, "fit_resample"):
            X = step.transform(X)
    return pd.DataFrame(X, columns=pipeline.named_steps["select"].columns_, index=getattr(X, "index", None))


def class_contributions(pipeline: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """LightGBM's per-class contributions for ``X`` as ``[row, class, feature]`` (bias dropped), and the inputs."""
    inputs = booster_inputs(pipeline, X)
    raw = np.asarray(pipeline.named_steps["lightgbm"].predict(inputs, pred_contrib=True))
    n_features = inputs.shape[1]
    per_class = raw.reshape(len(inputs), len(CLASSES), n_features + 1)
    return per_class[:, :, :n_features], inputs


def explain(
    train_dir: str | Path = config.TRAIN_DIR,
    params: dict[str, Any] | None = None,
    protocol: Protocol = EXPLAIN_PROTOCOL,
    permutation_repeats: int = PERMUTATION_REPEATS,
) -> Explanation:
    """Fit the model ``params`` describe (default: the params file's) on each training part; explain its
    held-out part. Pass a saved model's ``metadata["params"]`` to explain that model's recipe."""
    params = load_params() if params is None else params
    X, y = labelled_features(train_dir)
    drops: dict[str, list[float]] = {}
    contributions: list[np.ndarray] = []
    values: list[pd.DataFrame] = []
    features: list[str] = []
    for split in make_splits(y, protocol):
        model: Any = build_model(params, protocol.seed).fit(X.iloc[split.train], y.iloc[split.train])
        pipeline = fitted_pipeline(model)
        features = list(pipeline.named_steps["select"].columns_)
        held_out, held_out_y = X.iloc[split.test][features], y.iloc[split.test]
        result = permutation_importance(
            model,
            held_out,
            held_out_y,
            scoring="f1_macro",
            n_repeats=permutation_repeats,
            random_state=protocol.seed,
        )
        for name, fold_drops in zip(features, result.importances, strict=True):
            drops.setdefault(name, []).extend(fold_drops.tolist())
        fold_contributions, fold_values = class_contributions(pipeline, held_out)
        contributions.append(fold_contributions)
        values.append(fold_values)
    return Explanation(
        protocol=protocol,
        features=features,
        permutation={name: MeanStd.over(d) for name, d in drops.items()},
        contributions=np.concatenate(contributions),
        values=pd.concat(values),
    )
