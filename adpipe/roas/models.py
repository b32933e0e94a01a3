"""The ROAS and funnel models: baselines, a gradient boosting reference, LightGBM on a log target, a multi-task
MLP. Each is given as a factory of a fresh, unfitted estimator, so every fold fits its own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils import Tags, get_tags
from sklearn.utils.validation import check_is_fitted, column_or_1d

from adpipe import config
from adpipe.params import LIGHTGBM_FIXED
from features.campaigns import CATEGORICAL_FEATURES

MEAN_BASELINE, MEDIAN_BASELINE, REFERENCE = "mean_baseline", "median_baseline", "gradient_boosting_reference"
BASELINES = (MEAN_BASELINE, MEDIAN_BASELINE)
ROAS_MODEL = "lightgbm_log"
UNSCALED_MODEL = "lightgbm_log_unscaled"
PER_TARGET_MODEL = "lightgbm_per_target"
FUNNEL_MODEL = "multitask_mlp"
LABELS = {
    MEAN_BASELINE: "mean baseline",
    MEDIAN_BASELINE: "median baseline",
    REFERENCE: "gradient boosting reference",
    UNSCALED_MODEL: "LightGBM, log target",
    ROAS_MODEL: "LightGBM, log target, MAE-scaled",
    PER_TARGET_MODEL: "LightGBM, one per target",
    FUNNEL_MODEL: "multi-task MLP (2 outputs)",
}

# Fixed for reproducibility: one thread, one seed. Small, shallow trees: ~900 ads, noisy small counts.
LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.02,
    "num_leaves": 3,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
}

ModelFactories = dict[str, Callable[[], BaseEstimator]]


def absolute_error_scale(y: np.ndarray, predicted: np.ndarray) -> float:
    """The factor ``c`` that minimises ``sum |y - c * predicted|``: the median of ``y / predicted`` weighted by
    ``predicted`` (rows predicted 0 do not depend on ``c``)."""
    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    positive = predicted > 0
    if not positive.any():
        return 1.0
    ratio, weight = y[positive] / predicted[positive], predicted[positive]
    order = np.argsort(ratio, kind="stable")
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


class ScaledLogTargetRegressor(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` on ``log1p(y)``; scale its back-transformed predictions for the smallest absolute error.

    The log target orders the ads (ROAS is heavy-tailed); back-transformed predictions sit at a
    geometric-mean level, which costs absolute error. One factor, learnt on inner out-of-fold
    predictions of the training part only, moves them to the level of least absolute error. A
    positive factor keeps the order, so the Spearman correlation is the log model's own.
    """

    def __init__(self, estimator: BaseEstimator, inner_folds: int = 3, seed: int = config.DEFAULT_SEED) -> None:
        self.estimator = estimator
        self.inner_folds = inner_folds
        self.seed = seed

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.input_tags = get_tags(self.estimator).input_tags  # X goes to the estimator untouched
        tags.target_tags.positive_only = True
        return tags

    def fit(self, X: pd.DataFrame, y: Any) -> ScaledLogTargetRegressor:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True).astype(float)
        if (y < 0).any():
            raise ValueError(f"{type(self).__name__} needs a non-negative target (log1p), got {y.min()}")
        log_y = np.log1p(y)
        inner = KFold(self.inner_folds, shuffle=True, random_state=self.seed)
        out_of_fold = np.expm1(cross_val_predict(clone(self.estimator), X, log_y, cv=inner)).clip(min=0)
        self.scale_ = absolute_error_scale(y, out_of_fold)
        self.estimator_ = clone(self.estimator).fit(X, log_y)
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self.scale_ * np.expm1(self.estimator_.predict(X)).clip(min=0)


def lightgbm(seed: int) -> LGBMRegressor:
    return LGBMRegressor(random_state=seed, **LIGHTGBM_FIXED, **LIGHTGBM_PARAMS)


def reference(seed: int) -> HistGradientBoostingRegressor:
    """XGBoost's default objective (squared error on the raw target) in scikit-learn's histogram boosting."""
    return HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed)


def multitask_mlp(features: Sequence[str], seed: int, categorical: Sequence[str] = CATEGORICAL_FEATURES) -> Pipeline:
    """Two outputs from one hidden layer (the shared representation); inputs and targets scaled in-fold."""
    categories = [c for c in features if c in categorical]
    numbers = [c for c in features if c not in categorical]
    numeric = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("log", FunctionTransformer(np.log1p)),
            ("scale", StandardScaler()),
        ]
    )
    prepare = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10), categories),
            ("numbers", numeric, numbers),
        ]
    )
    mlp = MLPRegressor(hidden_layer_sizes=(16,), alpha=10.0, learning_rate_init=0.01, max_iter=500, random_state=seed)
    return Pipeline([("prepare", prepare), ("mlp", TransformedTargetRegressor(mlp, transformer=StandardScaler()))])


def roas_models(seed: int) -> ModelFactories:
    """Factories of the ROAS models, baselines first."""
    return {
        MEAN_BASELINE: lambda: DummyRegressor(strategy="mean"),
        MEDIAN_BASELINE: lambda: DummyRegressor(strategy="median"),
        REFERENCE: lambda: reference(seed),
        UNSCALED_MODEL: lambda: TransformedTargetRegressor(lightgbm(seed), func=np.log1p, inverse_func=np.expm1),
        ROAS_MODEL: lambda: ScaledLogTargetRegressor(lightgbm(seed), seed=seed),
    }


def funnel_models(
    features: Sequence[str], seed: int, categorical: Sequence[str] = CATEGORICAL_FEATURES
) -> ModelFactories:
    """Factories of the funnel models (two outputs each), the mean baseline first."""
    return {
        MEAN_BASELINE: lambda: DummyRegressor(strategy="mean"),
        REFERENCE: lambda: MultiOutputRegressor(reference(seed)),
        PER_TARGET_MODEL: lambda: MultiOutputRegressor(lightgbm(seed)),
        FUNNEL_MODEL: lambda: multitask_mlp(features, seed, categorical),
    }
