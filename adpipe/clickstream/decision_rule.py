"""A decision rule for macro-F1: the arg-max of class-weighted probabilities.

Plain arg-max maximises accuracy, which under imbalance sacrifices the rare classes that macro-F1
counts as much as the common one. :class:`MacroF1Weights` learns one weight per class from
out-of-fold probabilities of its own training data only, so inside a cross-validation it never sees
the held-out fold.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import _safe_indexing

from adpipe.errors import DataError

# Candidate weights: powers of two from 1/4 to 16 in quarter steps (1.0 included, so arg-max is a candidate).
WEIGHT_GRID = tuple(float(2.0**e) for e in np.arange(-2.0, 4.0 + 1e-9, 0.25))


def macro_f1_from_codes(y_codes: np.ndarray, predicted_codes: np.ndarray, n_classes: int) -> float:
    """Macro-F1 of integer class codes (a fast path for the weight search; 0 for a class never seen)."""
    confusion = np.bincount(y_codes * n_classes + predicted_codes, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes)
    true_positive = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return float(f1.mean())


def best_class_weights(
    probabilities: np.ndarray, y_codes: np.ndarray, grid: tuple[float, ...] = WEIGHT_GRID
) -> np.ndarray:
    """Per-class weights (the first fixed at 1) whose weighted arg-max has the best macro-F1.

    Exhaustive over ``grid`` for the other classes; ties go to the weights closest to plain arg-max.
    """
    n_classes = probabilities.shape[1]
    candidates = sorted(itertools.product(grid, repeat=n_classes - 1), key=lambda ws: float(np.abs(np.log(ws)).sum()))
    best_score, best = -1.0, np.ones(n_classes)
    for others in candidates:
        weights = np.array([1.0, *others])
        score = macro_f1_from_codes(y_codes, np.argmax(probabilities * weights, axis=1), n_classes)
        if score > best_score:
            best_score, best = score, weights
    return best


class MacroF1Weights(ClassifierMixin, BaseEstimator):
    """Wrap a probabilistic classifier; predict the arg-max of its probabilities times learned class weights.

    ``fit`` draws ``inner_folds`` stratified folds of the training data, collects the out-of-fold
    probabilities of clones of ``estimator``, picks the weights that maximise macro-F1 on them, then fits
    ``estimator`` on all the training data. ``predict_proba`` is the wrapped model's, unweighted.
    """

    def __init__(self, estimator: Any = None, inner_folds: int = 3, seed: int = 42) -> None:
        self.estimator = estimator
        self.inner_folds = inner_folds
        self.seed = seed

    def fit(self, X: Any, y: Any) -> MacroF1Weights:
        y = np.asarray(y)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        self._check_class_counts(np.bincount(y_codes))
        out_of_fold = np.zeros((len(y), len(self.classes_)))
        folds = StratifiedKFold(n_splits=self.inner_folds, shuffle=True, random_state=self.seed)
        for train, test in folds.split(np.zeros(len(y)), y_codes):
            inner = clone(self.estimator).fit(_safe_indexing(X, train), y[train])
            self._check_classes(inner)
            out_of_fold[test] = inner.predict_proba(_safe_indexing(X, test))
        self.weights_ = best_class_weights(out_of_fold, y_codes)
        self.estimator_ = clone(self.estimator).fit(X, y)
        self._check_classes(self.estimator_)
        return self

    def _check_class_counts(self, counts: np.ndarray) -> None:
        """A class with one row leaves an inner training part without it: the users' data, not a bug."""
        single = [self.classes_[code].item() for code in np.flatnonzero(counts < 2)]
        if single:
            raise DataError(
                f"class(es) {single} have a single user where the class-weight decision rule is fitted: its "
                f"{self.inner_folds} inner folds need at least 2 users of every class (add users of that class, "
                "use fewer --folds, or the 'argmax' decision_rule)"
            )

    def _check_classes(self, fitted: Any) -> None:
        if not np.array_equal(np.asarray(fitted.classes_), self.classes_):
            raise ValueError(
                f"every class needs rows in each of the {self.inner_folds} inner folds; "
                f"got {list(fitted.classes_)} of {list(self.classes_)}"
            )

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        return self.decide(self.predict_proba(X))

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """The classes the rule picks for probabilities this model gave (what :meth:`predict` returns)."""
        return self.classes_[np.argmax(probabilities * self.weights_, axis=1)]

    def predict_argmax(self, X: Any) -> np.ndarray:
        """The plain arg-max of the same model, to measure what the weights are worth."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
