"""The CTR estimators: the click model a params file describes, its yes/no threshold, and the baselines.

:class:`ClickModel` is one scikit-learn classifier (clone-able, ``get_params``/``set_params``) around an
imbalanced-learn pipeline: out-of-fold target encoding of the keys, median imputation of the numbers, the
optional resampling (``fit`` only), then LightGBM, optionally calibrated. Everything it learns from the label
is learnt in ``fit``, so it never sees a held-out fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold, TunedThresholdClassifierCV
from sklearn.preprocessing import StandardScaler, TargetEncoder
from sklearn.utils.validation import check_is_fitted

from adpipe import config
from adpipe.ctr.params import DEFAULT_PARAMS, check_params
from adpipe.errors import OptionError
from adpipe.params import LIGHTGBM_FIXED
from adpipe.validation import IdenticalRowsKFold
from features.ctr import KEYS, NUMERIC_FEATURES, group_columns

# Inner folds of the training part whose out-of-fold predictions choose the max-F1 threshold.
THRESHOLD_FOLDS = 3
# Inner folds of the target encoder's cross fitting (sklearn's default), and of the calibration.
ENCODER_FOLDS = 5
CALIBRATION_FOLDS = 3
# The baseline model: a logistic regression on the four numeric columns only.
BASELINE_NUMERIC = NUMERIC_FEATURES[:4]
# The seed project's forest: the four numeric columns and the 0/1 gender, 100 trees.
SEED_FEATURES = NUMERIC_FEATURES[:5]


class ClickModel(ClassifierMixin, BaseEstimator):
    """Click probability from the model inputs of :func:`features.ctr.build_features`.

    ``columns`` are the inputs it uses: keys (:data:`features.ctr.KEYS`) are target-encoded, every other
    column is a number, median-imputed. ``imbalance`` is ``none``, ``weights`` (LightGBM's balanced class
    weights), ``oversample`` or ``smote``; ``calibration`` ``none``, ``sigmoid`` or ``isotonic``
    (``CalibratedClassifierCV`` on :data:`CALIBRATION_FOLDS` inner folds); ``lightgbm`` LightGBM's own
    parameters. The encoder cross-fits its training rows; a resampler runs after it (so no copy of a row feeds
    another row's encoding) and only while fitting. ``blend``: the weight of the logistic baseline
    (:func:`logistic_baseline`, fitted beside LightGBM on the same rows) in the click probability; 0 is LightGBM
    alone (issue 24: the blend is the candidate not worse than the baseline on any protocol, docs/ctr.md).
    """

    def __init__(
        self,
        columns: tuple[str, ...] = tuple(group_columns(DEFAULT_PARAMS["features"])),
        imbalance: str = DEFAULT_PARAMS["imbalance"],
        calibration: str = DEFAULT_PARAMS["calibration"],
        lightgbm: dict[str, Any] | None = None,
        random_state: int = config.DEFAULT_SEED,
        blend: float = DEFAULT_PARAMS["blend"],
    ) -> None:
        self.columns = columns
        self.imbalance = imbalance
        self.calibration = calibration
        self.lightgbm = lightgbm
        self.random_state = random_state
        self.blend = blend

    @classmethod
    def from_params(cls, params: dict[str, Any], seed: int = config.DEFAULT_SEED) -> ClickModel:
        """The unfitted model a (checked) params mapping describes."""
        params = check_params(params)
        columns = tuple(group_columns(params["features"]))
        lightgbm = dict(params["lightgbm"])
        return cls(columns, params["imbalance"], params["calibration"], lightgbm, seed, params["blend"])

    def _pipeline(self) -> Pipeline:
        seed = self.random_state
        keys = [column for column in self.columns if column in KEYS]
        numbers = [column for column in self.columns if column not in KEYS]
        parts: list[tuple[str, Any, list[str]]] = []
        if keys:
            encoder = TargetEncoder(cv=StratifiedKFold(ENCODER_FOLDS, shuffle=True, random_state=seed))
            parts.append(("target", encoder, keys))
        if numbers:
            parts.append(("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numbers))
        steps: list[tuple[str, Any]] = [("encode", ColumnTransformer(parts))]
        if self.imbalance == "oversample":
            steps.append(("resample", RandomOverSampler(random_state=seed)))
        elif self.imbalance == "smote":
            steps.append(("resample", SMOTE(random_state=seed)))
        class_weight = "balanced" if self.imbalance == "weights" else None
        lightgbm = self.lightgbm if self.lightgbm is not None else DEFAULT_PARAMS["lightgbm"]
        classifier: Any = LGBMClassifier(random_state=seed, class_weight=class_weight, **LIGHTGBM_FIXED, **lightgbm)
        if self.calibration != "none":
            folds = StratifiedKFold(CALIBRATION_FOLDS, shuffle=True, random_state=seed)
            classifier = CalibratedClassifierCV(classifier, method=self.calibration, cv=folds)
        steps.append(("lightgbm", classifier))  # CalibratedClassifierCV around LightGBM when calibrated
        return Pipeline(steps)

    def fit(self, X: pd.DataFrame, y: pd.Series) -> ClickModel:
        self.pipeline_ = self._pipeline().fit(X, y)
        self.logistic_ = logistic_baseline().fit(X, y) if self.blend > 0 else None
        self.classes_ = self.pipeline_.classes_
        return self

    def blended(self, trees: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        """The click model's class probabilities from LightGBM's (``trees``, one row per row of ``X``)."""
        check_is_fitted(self, "pipeline_")
        if getattr(self, "logistic_", None) is None:
            return trees
        return (1.0 - self.blend) * trees + self.blend * rowwise_proba(self.logistic_, X)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.blended(self.pipeline_.predict_proba(X), X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def rowwise_proba(logistic: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """A fitted :func:`logistic_baseline`'s class probabilities, each row's bits independent of the other rows.

    ``predict_proba``'s matrix product rounds a row differently by the batch's shape (BLAS blocking: 1 row in 10
    off by ~1e-16), so a record answered in a coalesced batch would differ from the same record alone. The score
    is summed column by column here (element-wise, the same order for every row); the imputer and scaler are
    element-wise already.
    """
    inputs = np.asarray(logistic[:-1].transform(X), dtype=float)
    regression = logistic[-1]
    score = np.full(len(inputs), regression.intercept_[0])
    for column, weight in zip(inputs.T, regression.coef_[0], strict=True):
        score += column * weight
    clicked = expit(score)
    return np.column_stack([1.0 - clicked, clicked])


def build_decision_model(
    params: dict[str, Any], seed: int = config.DEFAULT_SEED, threshold: float | None = None
) -> TunedThresholdClassifierCV | FixedThresholdClassifier:
    """The probability model with its yes/no threshold: ``threshold``, or the max-F1 one of the training part.

    The max-F1 threshold is read from out-of-fold predictions over :data:`THRESHOLD_FOLDS` folds of the
    training data (identical rows kept in one fold); the model is then refitted on all of it.
    """
    model = ClickModel.from_params(params, seed)
    if threshold is not None:
        if not 0.0 < threshold < 1.0:
            raise OptionError(f"must be between 0 and 1, got {threshold}", option="--threshold")
        return FixedThresholdClassifier(model, threshold=threshold)
    folds = IdenticalRowsKFold(n_splits=THRESHOLD_FOLDS, shuffle=True, random_state=seed)
    return TunedThresholdClassifierCV(model, scoring="f1", cv=folds)


def decision_threshold(model: TunedThresholdClassifierCV | FixedThresholdClassifier) -> float:
    """The probability at or above which a fitted decision model says 'clicked'."""
    if isinstance(model, TunedThresholdClassifierCV):
        return float(model.best_threshold_)
    return float(model.threshold)


def threshold_rule(threshold: float | None) -> str:
    """How the threshold is chosen, in words, for the report and the model's metadata."""
    if threshold is None:
        return f"max F1 on {THRESHOLD_FOLDS}-fold out-of-fold predictions of each training part"
    return f"fixed at {threshold} (--threshold)"


def base_rate() -> DummyClassifier:
    """The constant baseline: the training part's click rate for every impression (its yes/no: the majority)."""
    return DummyClassifier(strategy="prior")


LOGISTIC_BASELINE = "logistic baseline"  # the baseline's name in every report that sets a model beside it


def logistic_baseline() -> Pipeline:
    """The plain baseline: a logistic regression on the numeric columns, imputed and scaled in the folds."""
    numeric = ColumnTransformer([("numeric", SimpleImputer(strategy="median"), list(BASELINE_NUMERIC))])
    return Pipeline([("numeric", numeric), ("scale", StandardScaler()), ("logistic", LogisticRegression())])


def seed_forest(seed: int = config.DEFAULT_SEED) -> Pipeline:
    """The seed project's random forest (100 trees) on :data:`SEED_FEATURES`, imputed in the folds."""
    select = ColumnTransformer([("numeric", SimpleImputer(strategy="median"), list(SEED_FEATURES))])
    forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    return Pipeline([("select", select), ("forest", forest)])
