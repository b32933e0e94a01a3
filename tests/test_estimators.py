"""Every estimator the project defines follows scikit-learn's conventions: the mixin before ``BaseEstimator``
(so ``is_classifier``/``is_regressor`` and the scorers and ``check_cv`` that rely on them see the right kind),
``get_params``/``set_params`` round trips, and ``clone`` giving an unfitted equal copy."""

from __future__ import annotations

import pytest
from lightgbm import LGBMClassifier
from sklearn.base import BaseEstimator, clone, is_classifier, is_regressor
from sklearn.linear_model import Ridge

from adpipe.clickstream.decision_rule import MacroF1Weights
from adpipe.clickstream.estimators import FeatureGroupSelector
from adpipe.ctr.models import ClickModel
from adpipe.roas.models import ScaledLogTargetRegressor
from features.profiles import InterestIndicators

# (estimator, kind): kind is what sklearn must recognise it as.
ESTIMATORS = [
    (MacroF1Weights(LGBMClassifier(n_estimators=5), inner_folds=3, seed=1), "classifier"),
    (FeatureGroupSelector(("age", "cart")), "transformer"),
    (ClickModel(imbalance="weights", random_state=3), "classifier"),
    (ScaledLogTargetRegressor(Ridge(alpha=2.0), inner_folds=4, seed=5), "regressor"),
    (InterestIndicators(), "transformer"),
]


@pytest.mark.parametrize(
    ("estimator", "kind"), ESTIMATORS, ids=lambda v: type(v).__name__ if not isinstance(v, str) else v
)
def test_estimator_follows_scikit_learn_conventions(estimator: BaseEstimator, kind: str) -> None:
    mro = type(estimator).__mro__
    assert mro.index(BaseEstimator) > 1, "the mixin must come before BaseEstimator"
    assert is_classifier(estimator) == (kind == "classifier")
    assert is_regressor(estimator) == (kind == "regressor")
    params = estimator.get_params(deep=False)
    copy = clone(estimator)
    assert copy is not estimator and type(copy) is type(estimator)
    assert {k: repr(v) for k, v in copy.get_params(deep=False).items()} == {k: repr(v) for k, v in params.items()}
    assert copy.set_params(**params).get_params(deep=False).keys() == params.keys()
    assert not any(name.endswith("_") and not name.startswith("_") for name in vars(copy)), "clone must be unfitted"
