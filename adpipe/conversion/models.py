"""The conversion-rate regressors (fixed, hand-set hyperparameters) and the mean baseline, each behind the same
profile preprocessing in one pipeline, fitted inside each fold."""

from __future__ import annotations

from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from adpipe import config
from adpipe.conversion.defaults import BASELINE, REGRESSORS
from adpipe.errors import OptionError
from adpipe.params import LIGHTGBM_FIXED
from features.profiles import PROFILE_FEATURES, TARGET, make_preprocessor

FEATURES = PROFILE_FEATURES.without(TARGET)


def make_regressor(name: str, seed: int = config.DEFAULT_SEED) -> BaseEstimator:
    """A fresh regressor by name (one thread each)."""
    if name == "linear":
        return LinearRegression()
    if name == "svr":
        # SVR's epsilon-tube is in target units: on rates in [0, 0.1] the default would swallow every error.
        return TransformedTargetRegressor(SVR(C=1.0, epsilon=0.1), transformer=StandardScaler())
    if name == "knn":
        return KNeighborsRegressor(n_neighbors=20)
    if name == "random_forest":
        return RandomForestRegressor(
            n_estimators=50, min_samples_leaf=5, max_features=0.33, max_samples=0.5, n_jobs=1, random_state=seed
        )
    if name == "lightgbm":
        return LGBMRegressor(
            n_estimators=150,
            learning_rate=0.03,
            num_leaves=7,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=seed,
            **LIGHTGBM_FIXED,
        )
    if name == BASELINE:
        return DummyRegressor(strategy="mean")
    raise ValueError(f"unknown model {name!r}; known: {', '.join((*REGRESSORS, BASELINE))}")


def build_model(name: str, seed: int = config.DEFAULT_SEED) -> Pipeline:
    """Imputation, encoding and scaling, then the named regressor."""
    return Pipeline([("prepare", make_preprocessor(FEATURES)), ("regressor", make_regressor(name, seed))])


def parse_models(text: str) -> tuple[str, ...]:
    """``"linear,knn"`` -> ``("linear", "knn")``, refusing unknown names (a usage error)."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in REGRESSORS]
    if not names or unknown:
        raise OptionError(f"must list some of {', '.join(REGRESSORS)}; got {text!r}", option="--models")
    return names
