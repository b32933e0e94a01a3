"""The macro-F1 decision rule: class weights learned inside the training data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from adpipe.clickstream.decision_rule import MacroF1Weights, best_class_weights, macro_f1_from_codes
from adpipe.validation import Protocol

TINY = Protocol(folds=2, repeats=1, seed=3)


def test_best_class_weights_moves_the_boundary_the_least_that_fixes_macro_f1():
    # class 1 is never the arg-max, but its probability is 0.3 for its own rows and 0.1 for the others
    probabilities = np.array([[0.7, 0.3]] * 10 + [[0.9, 0.1]] * 30)
    y_codes = np.array([1] * 10 + [0] * 30)
    assert macro_f1_from_codes(y_codes, probabilities.argmax(axis=1), 2) < 0.5
    weights = best_class_weights(probabilities, y_codes)
    assert macro_f1_from_codes(y_codes, np.argmax(probabilities * weights, axis=1), 2) == 1.0
    assert weights[0] == 1.0 and weights[1] == 2**1.25  # the smallest grid weight with 0.3 w > 0.7


def test_macro_f1_weights_is_a_scikit_learn_classifier_fitted_on_its_training_data_only():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = np.where(X["a"] > 1.3, 3, np.where(X["b"] > 1.0, 2, 1))
    rule = MacroF1Weights(LogisticRegression(max_iter=500), inner_folds=3, seed=0)
    fitted = clone(rule).fit(X.iloc[:400], y[:400])
    assert fitted.get_params()["inner_folds"] == 3 and list(fitted.classes_) == [1, 2, 3]
    plain = fitted.predict_argmax(X.iloc[400:])
    weighted = fitted.predict(X.iloc[400:])
    macro = {name: macro_f1_from_codes(y[400:] - 1, p - 1, 3) for name, p in (("plain", plain), ("rule", weighted))}
    assert macro["rule"] > macro["plain"]
    refit = clone(rule).fit(X.iloc[:400], y[:400])  # same data, same seed: same weights
    assert np.array_equal(refit.weights_, fitted.weights_)


# --- two workers on a real PostgreSQL server ---------------------------------------------------
