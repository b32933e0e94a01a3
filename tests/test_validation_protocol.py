"""The validation protocol: folds partition the users, and models only ever see their training part."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from adpipe.errors import OptionError
from adpipe.validation import (
    Protocol,
    classification_evaluator,
    cross_validate,
    make_splits,
    ranks,
    spearman,
    spearman_of_ranks,
)


@pytest.fixture
def labels() -> pd.Series:
    rng = np.random.default_rng(0)
    return pd.Series(rng.choice([1, 2, 3], size=200, p=[0.75, 0.15, 0.10]))


def test_each_repeat_partitions_the_rows(labels: pd.Series) -> None:
    splits = make_splits(labels, Protocol(folds=5, repeats=3, seed=7))
    assert len(splits) == 15
    for repeat in range(3):
        tests = [s.test for s in splits if s.repeat == repeat]
        assert sorted(np.concatenate(tests)) == list(range(len(labels)))
    for split in splits:
        assert not set(split.train) & set(split.test)
        assert len(split.train) + len(split.test) == len(labels)


def test_folds_are_stratified_and_seeded(labels: pd.Series) -> None:
    splits = make_splits(labels, Protocol(folds=5, repeats=2, seed=7))
    overall = labels.value_counts(normalize=True)
    for split in splits:
        share = labels.iloc[split.test].value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.03
    again = make_splits(labels, Protocol(folds=5, repeats=2, seed=7))
    assert all(np.array_equal(a.test, b.test) for a, b in zip(splits, again, strict=True))
    other = make_splits(labels, Protocol(folds=5, repeats=2, seed=8))
    assert not all(np.array_equal(a.test, b.test) for a, b in zip(splits, other, strict=True))


def test_groups_never_straddle_a_fold() -> None:
    y = pd.Series([0, 1] * 50)
    groups = np.repeat(np.arange(25), 4)
    for split in make_splits(y, Protocol(folds=5, repeats=2, seed=1), groups=groups):
        assert not set(groups[split.train]) & set(groups[split.test])


@pytest.mark.parametrize(("folds", "repeats"), [(1, 5), (5, 0)])
def test_a_protocol_typer_would_have_refused_is_a_bug(labels: pd.Series, folds: int, repeats: int) -> None:
    with pytest.raises(ValueError):
        make_splits(labels, Protocol(folds=folds, repeats=repeats))


def test_more_folds_than_the_data_allow_is_the_users_folds_option(labels: pd.Series) -> None:
    with pytest.raises(OptionError, match="--folds"):
        make_splits(labels, Protocol(folds=500, repeats=1))
    with pytest.raises(OptionError, match="3 groups"):
        make_splits(labels, Protocol(folds=5, repeats=1), groups=np.arange(len(labels)) % 3)


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Remembers which rows it was fitted on and predicts the majority class of those rows."""

    fitted_on: list[set[int]] = []

    def fit(self, X: pd.DataFrame, y: pd.Series) -> RecordingClassifier:
        RecordingClassifier.fitted_on.append(set(X["row"]))
        self.majority_ = y.mode().iloc[0]
        return self

    def predict(self, X: pd.DataFrame) -> Any:
        return np.full(len(X), self.majority_)


def test_models_are_fitted_inside_the_training_part(labels: pd.Series) -> None:
    X = pd.DataFrame({"row": np.arange(len(labels))})
    splits = make_splits(labels, Protocol(folds=4, repeats=2, seed=3))
    RecordingClassifier.fitted_on = []
    results = cross_validate(
        RecordingClassifier, X, labels, splits, classification_evaluator([1, 2, 3]), progress=False
    )
    assert len(RecordingClassifier.fitted_on) == len(splits) == len(results)
    for seen, split in zip(RecordingClassifier.fitted_on, splits, strict=True):
        assert seen == set(split.train) and not seen & set(split.test)
    assert results[0]["confusion"].sum() == len(splits[0].test)


def test_spearman_of_ranks_is_spearman_bit_for_bit_and_a_shuffle_permutes_the_ranks() -> None:
    """The ranking back-tests rank each side once and permute the ranks for a shuffle: the same figures as
    re-ranking the shuffled values with scipy (ties, constant sides included)."""
    rng = np.random.default_rng(0)
    for n in range(2, 40):
        y = rng.integers(0, 4, n).astype(float) if n % 2 else rng.normal(size=n)
        x = rng.normal(size=n) if n % 3 else np.round(rng.normal(size=n))
        assert spearman_of_ranks(ranks(y), ranks(x)) == spearman(y, x)
        order = np.random.default_rng(n).permutation(x)
        assert spearman_of_ranks(ranks(y), np.random.default_rng(n).permutation(ranks(x))) == spearman(y, order)
    assert spearman_of_ranks(ranks(np.ones(5)), ranks(np.arange(5.0))) == 0.0
