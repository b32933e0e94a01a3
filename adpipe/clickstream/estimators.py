"""The main task's estimator, built from a params mapping: feature groups, imbalance handling, LightGBM
and the decision rule, composed as an imbalanced-learn ``Pipeline`` (resamplers act in ``fit`` only)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import SimpleImputer

from adpipe import config
from adpipe.clickstream.decision_rule import MacroF1Weights
from adpipe.params import LIGHTGBM_FIXED
from features.clickstream import FEATURE_GROUPS

DECISION_RULE_INNER_FOLDS = 3


class FeatureGroupSelector(TransformerMixin, BaseEstimator):
    """Keep the columns of the named feature groups (so a search can switch groups off)."""

    def __init__(self, groups: tuple[str, ...] = tuple(FEATURE_GROUPS)) -> None:
        self.groups = groups

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureGroupSelector:
        self.columns_ = [c for g in self.groups for c in FEATURE_GROUPS[g] if c in X.columns]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[self.columns_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.columns_, dtype=object)


def build_model(params: dict[str, Any], seed: int = config.DEFAULT_SEED) -> Pipeline | MacroF1Weights:
    """A fresh, unfitted estimator: feature groups, imbalance handling, LightGBM, decision rule."""
    imbalance = params["imbalance"]
    steps: list[tuple[str, Any]] = [("select", FeatureGroupSelector(tuple(params["feature_groups"])))]
    if imbalance == "oversample":
        steps.append(("resample", RandomOverSampler(random_state=seed)))
    elif imbalance == "smote":
        # SMOTE interpolates between neighbours, so it needs complete rows (users without sessions have NaNs).
        steps.append(("impute", SimpleImputer(strategy="median").set_output(transform="pandas")))
        steps.append(("resample", SMOTE(random_state=seed)))
    class_weight = "balanced" if imbalance == "class_weight" else None
    lightgbm = LGBMClassifier(
        objective="multiclass", class_weight=class_weight, random_state=seed, **LIGHTGBM_FIXED, **params["lightgbm"]
    )
    pipeline = Pipeline([*steps, ("lightgbm", lightgbm)])
    if params["decision_rule"] == "class_weights":
        return MacroF1Weights(pipeline, inner_folds=DECISION_RULE_INNER_FOLDS, seed=seed)
    return pipeline


def fitted_pipeline(model: Pipeline | MacroF1Weights) -> Pipeline:
    """The fitted feature-to-probability pipeline, with or without the decision rule around it."""
    return model.estimator_ if isinstance(model, MacroF1Weights) else model


def decided(model: Pipeline | MacroF1Weights, probabilities: np.ndarray) -> np.ndarray:
    """The classes ``model`` gives for probabilities it made: its decision rule, or LightGBM's own arg-max (what
    its ``predict`` returns, without a second pass through the model)."""
    decide = getattr(model, "decide", None)
    return np.asarray(decide(probabilities) if decide is not None else model.classes_[probabilities.argmax(axis=1)])
