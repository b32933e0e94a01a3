"""The one validation protocol: repeated (stratified, optionally grouped) K-fold.

A model is passed as a factory that returns a fresh, unfitted estimator (usually a scikit-learn
``Pipeline``); it is fitted on the training part of each fold only, so everything it learns from
the target (encoders, resampling, thresholds) can never see the held-out part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr
from sklearn.base import BaseEstimator
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.model_selection import (
    GroupKFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    TimeSeriesSplit,
)
from tqdm.auto import tqdm

from adpipe.errors import DataError, OptionError, first_line
from adpipe.protocol import Protocol

FoldMetrics = dict[str, Any]
Evaluate = Callable[[Any, pd.DataFrame, pd.Series], FoldMetrics]


@dataclass(frozen=True)
class Split:
    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray


# A training file with fewer rows cannot be cut into the smallest protocol (2 folds) with 5 rows in each part:
# refused, for every task's train and validate, before any fitting (here, so that every task applies the same rule).
# The project's own small fixtures (20 profiles in tests/test_conversion.py) stay above it.
MIN_TRAINING_ROWS = 10


def require_trainable(target: pd.Series, path: Any, column: str, *, classes: bool) -> None:
    """Refuse a training ``target`` (read from ``path``'s ``column``) too small to train and validate on, or with
    nothing to learn — one class (``classes``: a classifier's) or one value — as one line naming the file, the column
    and what is needed."""
    rows = len(target)
    if rows < MIN_TRAINING_ROWS:
        raise DataError(
            f"has {rows} row(s) to train on; training and validation need at least {MIN_TRAINING_ROWS}",
            path=path,
            column=column,
        )
    values = [getattr(value, "item", lambda value=value: value)() for value in target.dropna().unique()]
    if len(values) < 2:
        only = repr(values[0]) if values else "none"
        what = f"one class ({only})" if classes else f"one value ({only})"
        need = "at least two classes" if classes else "a target that varies"
        raise DataError(f"holds {what} on every row; training needs {need}", path=path, column=column)


def make_splits(y: pd.Series, protocol: Protocol, groups: Sequence[Any] | None = None) -> list[Split]:
    """The folds of ``protocol`` over ``y``; with ``groups``, no group straddles a train/test boundary.

    Data with fewer rows, rows of a class, or groups than ``--folds`` is refused as that option's value
    (:class:`~adpipe.errors.OptionError`); Typer's own ranges already refuse ``--folds 1`` and ``--repeats 0``.
    """
    if protocol.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {protocol.folds}")
    if protocol.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {protocol.repeats}")
    n = len(y)
    if n < protocol.folds:
        raise OptionError(f"{n} rows cannot be split into {protocol.folds} folds", option="--folds")
    if protocol.stratify:
        smallest = int(pd.Series(y).value_counts().min())
        if smallest < protocol.folds:
            message = f"the rarest class has {smallest} rows, fewer than {protocol.folds} folds"
            raise OptionError(message, option="--folds")
    if groups is not None and (n_groups := len(np.unique(np.asarray(groups)))) < protocol.folds:
        raise OptionError(f"{n_groups} groups of rows cannot be split into {protocol.folds} folds", option="--folds")
    index = np.arange(n)
    splits: list[Split] = []
    if groups is None:
        splitter_class = RepeatedStratifiedKFold if protocol.stratify else RepeatedKFold
        splitter = splitter_class(n_splits=protocol.folds, n_repeats=protocol.repeats, random_state=protocol.seed)
        for number, (train, test) in enumerate(splitter.split(index, y)):
            splits.append(Split(number // protocol.folds, number % protocol.folds, train, test))
        return splits
    groups = np.asarray(groups)
    for repeat in range(protocol.repeats):
        seed = protocol.seed + repeat
        if protocol.stratify:
            splitter = StratifiedGroupKFold(n_splits=protocol.folds, shuffle=True, random_state=seed)
        else:
            splitter = GroupKFold(n_splits=protocol.folds, shuffle=True, random_state=seed)
        for fold, (train, test) in enumerate(splitter.split(index, y, groups)):
            splits.append(Split(repeat, fold, train, test))
    return splits


def forward_splits(times: Sequence[Any], folds: int, gap: int = 0) -> list[Split]:
    """Expanding-window folds forward in time: train on the past, score the next block.

    ``TimeSeriesSplit(folds, gap=gap)`` over the rows ordered by ``times``; rows that share the first test
    time are dropped from training, so no training row is later than (or as late as) a row it is scored on.
    """
    times = np.asarray(times)
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    try:
        windows = list(TimeSeriesSplit(n_splits=folds, gap=gap).split(order))
    except ValueError as error:  # scikit-learn's refusal of too many folds, or too wide a gap, for these rows
        raise OptionError(f"{len(times)} rows, gap {gap}: {first_line(error)}", option="--folds") from error
    splits = []
    for fold, (train, test) in enumerate(windows):
        train = train[ordered[train] < ordered[test].min()]
        if len(train) == 0:
            message = f"fold {fold + 1} of {folds} has no training rows earlier than its test block"
            raise OptionError(message, option="--folds")
        splits.append(Split(0, fold, order[train], order[test]))
    return splits


def cross_validate(
    make_model: Callable[[], BaseEstimator],
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    evaluate: Evaluate,
    *,
    description: str = "cross-validation",
    on_fold: Callable[[int, FoldMetrics], None] | None = None,
    progress: bool = True,
) -> list[FoldMetrics]:
    """Fit a fresh model on each training part and evaluate it on the held-out part.

    ``on_fold(step, metrics)`` runs after each fold (a tuner reports intermediate values there and
    may stop a hopeless trial by raising).
    """
    results: list[FoldMetrics] = []
    bar = tqdm(splits, desc=description, unit="fold", disable=not progress, leave=False)
    for step, split in enumerate(bar):
        model = make_model()
        model.fit(X.iloc[split.train], y.iloc[split.train])
        metrics = evaluate(model, X.iloc[split.test], y.iloc[split.test])
        metrics["repeat"], metrics["fold"] = split.repeat, split.fold
        results.append(metrics)
        if on_fold is not None:
            on_fold(step, metrics)
    return results


def mean_std(values: Sequence[float]) -> dict[str, float]:
    """Mean and (population) standard deviation over folds, as reported everywhere."""
    array = np.asarray(values, dtype=float)
    return {"mean": float(array.mean()), "std": float(array.std())}


def classification_evaluator(labels: Sequence[Any]) -> Evaluate:
    """Per-fold macro-F1, weighted-F1, accuracy, per-class figures and confusion matrix."""
    labels = list(labels)

    def evaluate(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
        predicted = model.predict(X)
        precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
        return {
            "macro_f1": f1_score(y, predicted, labels=labels, average="macro", zero_division=0),
            "weighted_f1": f1_score(y, predicted, labels=labels, average="weighted", zero_division=0),
            "accuracy": accuracy_score(y, predicted),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
            "confusion": confusion_matrix(y, predicted, labels=labels),
        }

    return evaluate


def spearman(y: Any, predicted: Any) -> float:
    """Spearman rank correlation; 0.0 when either side is constant (a constant prediction ranks nothing)."""
    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    if np.ptp(y) == 0 or np.ptp(predicted) == 0:
        return 0.0
    return float(spearmanr(y, predicted).statistic)


def ranks(values: Any) -> np.ndarray:
    """Average ranks (ties share theirs): what :func:`spearman` correlates; a permutation of the values permutes
    them, so a shuffled order's ranks need not be ranked again."""
    return rankdata(np.asarray(values, dtype=float))


def spearman_of_ranks(y_ranks: np.ndarray, predicted_ranks: np.ndarray) -> float:
    """:func:`spearman` from the two sides' :func:`ranks`, bit for bit (scipy's own Pearson of the ranks): a
    back-test that redraws one side's order hundreds of times ranks each side once."""
    if np.ptp(y_ranks) == 0 or np.ptp(predicted_ranks) == 0:
        return 0.0
    return float(np.corrcoef(np.column_stack((y_ranks, predicted_ranks)), rowvar=False)[1, 0])


def regression_evaluator(targets: Sequence[str] | None = None) -> Evaluate:
    """Per-fold R², MAE, RMSE and Spearman (how well the predictions order the rows).

    With ``targets`` (a multi-output model), the figures of each target column, keyed by its name.
    """

    def metrics(y: Any, predicted: Any) -> FoldMetrics:
        return {
            "r2": r2_score(y, predicted),
            "mae": mean_absolute_error(y, predicted),
            "rmse": root_mean_squared_error(y, predicted),
            "spearman": spearman(y, predicted),
        }

    def evaluate(model: Any, X: pd.DataFrame, y: pd.Series | pd.DataFrame) -> FoldMetrics:
        predicted = np.asarray(model.predict(X))
        if targets is None:
            return metrics(y, predicted)
        truth = np.asarray(y)
        return {name: metrics(truth[:, i], predicted[:, i]) for i, name in enumerate(targets)}

    return evaluate


class IdenticalRowsKFold(GroupKFold):
    """Group K-fold for a fitting step inside a training part: identical rows of X always share a fold.

    Without ``groups`` the rows are grouped by their content, so an estimator that draws inner folds
    (a threshold chosen on out-of-fold predictions, say) never sees a copy of a held-out row.
    """

    def split(self, X: Any, y: Any = None, groups: Any = None) -> Any:
        if groups is None:
            groups = pd.factorize(pd.util.hash_pandas_object(pd.DataFrame(X), index=False))[0]
        return super().split(X, y, groups)


def binary_evaluator(positive: Any = 1) -> Evaluate:
    """Per-fold ROC-AUC (from the probability of ``positive``) and, from the model's yes/no decisions,
    accuracy, precision, recall and F1 of ``positive``, the per-class figures and the confusion matrix."""

    def evaluate(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
        labels = list(model.classes_)
        score = model.predict_proba(X)[:, labels.index(positive)]
        predicted = model.predict(X)
        precision, recall, f1, support = precision_recall_fscore_support(y, predicted, labels=labels, zero_division=0)
        at = labels.index(positive)
        return {
            "roc_auc": roc_auc_score(y, score),
            "accuracy": accuracy_score(y, predicted),
            "precision": precision[at],
            "recall": recall[at],
            "f1": f1[at],
            "per_class": {"precision": precision, "recall": recall, "f1": f1, "support": support},
            "labels": labels,
            "confusion": confusion_matrix(y, predicted, labels=labels),
        }

    return evaluate


def summarize_binary(results: Sequence[FoldMetrics]) -> dict[str, Any]:
    """Fold metrics of :func:`binary_evaluator` → mean/std per metric, a classification report, summed confusion.

    The classification report holds each class's mean precision, recall and F1 over folds and its
    total support (each row is held out once per repeat).
    """
    labels = results[0]["labels"]
    report = {
        str(label): {
            **{
                name: float(np.mean([r["per_class"][name][position] for r in results]))
                for name in ("precision", "recall", "f1")
            },
            "support": int(np.sum([r["per_class"]["support"][position] for r in results])),
        }
        for position, label in enumerate(labels)
    }
    return {
        **{name: mean_std([r[name] for r in results]) for name in ("roc_auc", "accuracy", "precision", "recall", "f1")},
        "classification_report": report,
        "confusion": np.sum([r["confusion"] for r in results], axis=0).astype(int).tolist(),
    }
