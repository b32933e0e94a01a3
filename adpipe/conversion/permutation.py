"""A max-T permutation test of each model's R² gain over the mean baseline: is any model better than chance?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from adpipe.conversion.report import PermutationResult
from adpipe.reports import MeanStd
from adpipe.validation import Split


def permutation_test(
    make_models: dict[str, Callable[[], Pipeline]],
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    n_permutations: int,
    seed: int,
    *,
    progress: bool = True,
) -> dict[str, PermutationResult]:
    """Max-T permutation test of each model's mean R² gain over the mean baseline on ``splits``.

    ``y`` is shuffled ``n_permutations`` times and every model is refitted on every training part.
    ``p_value`` counts the shuffles where that model's gain reaches its real gain; ``p_value_adjusted``
    those where the best gain of any model does (Westfall–Young), which holds the family-wise error
    at alpha however many models are tried. Both are (1 + count) / (1 + n_permutations).

    The pipeline steps before the last are fitted once per fold: they must not look at ``y``
    (imputers, encoders and scalers do not), so refitting them on each shuffle would change nothing.
    """
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
    target = y.to_numpy(dtype=float)
    prepared: dict[str, list[tuple[Any, np.ndarray, np.ndarray]]] = {}
    for name, make_model in make_models.items():
        prepared[name] = []
        for split in splits:
            pipeline = make_model()
            prepare = clone(pipeline[:-1]).fit(X.iloc[split.train])
            train_part = prepare.transform(X.iloc[split.train])
            test_part = prepare.transform(X.iloc[split.test])
            prepared[name].append((pipeline[-1], train_part, test_part))

    def gains(values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(prepared))
        for position, parts in enumerate(prepared.values()):
            scores = []
            for split, (regressor, train_part, test_part) in zip(splits, parts, strict=True):
                y_train, y_test = values[split.train], values[split.test]
                fitted = clone(regressor).fit(train_part, y_train)
                baseline = r2_score(y_test, np.full(len(y_test), y_train.mean()))
                scores.append(r2_score(y_test, fitted.predict(test_part)) - baseline)
            out[position] = np.mean(scores)
        return out

    observed = gains(target)
    rng = np.random.default_rng(seed)
    null = np.array(
        [
            gains(rng.permutation(target))
            for _ in tqdm(range(n_permutations), desc="permutation test", unit="shuffle", disable=not progress)
        ]
    )
    best_null = null.max(axis=1)
    return {
        name: PermutationResult(
            r2_gain=float(observed[p]),
            null_r2_gain=MeanStd.over(null[:, p]),
            p_value=float((1 + np.sum(null[:, p] >= observed[p])) / (1 + n_permutations)),
            p_value_adjusted=float((1 + np.sum(best_null >= observed[p])) / (1 + n_permutations)),
        )
        for p, name in enumerate(prepared)
    }
