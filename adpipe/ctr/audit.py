"""The leak and memorisation check: each feature group alone, and the model without it, under both protocols.

A group that scores clearly better on random folds than forward in time identifies rows inside this file
(a time leak, or values that repeat across it) rather than predicting later impressions; a group that loses
its score once the held-out impressions carry values no training row has (:func:`features.ctr.with_new_values`)
is memorising exact values, which another export does not share. Either way it is flagged, and the default
model leaves it out (:data:`features.ctr.DEFAULT_GROUPS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from adpipe.ctr.models import ClickModel
from adpipe.ctr.report import AuditRow, AuditScore
from adpipe.validation import FoldMetrics, Split, cross_validate

# A group is flagged when random folds beat forward ones, or new values cost it, by this much ROC-AUC or more.
FLAG_AUC = 0.05


def _positive(model: Any, X: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(X)[:, list(model.classes_).index(1)]


def _scores(
    make_model: Any, X: pd.DataFrame, X_new: pd.DataFrame, y: pd.Series, forward: list[Split], random: list[Split]
) -> AuditScore:
    """Mean ROC-AUC over the forward folds (as they are, and with new values) and over the random folds."""

    def on_forward(model: Any, X_test: pd.DataFrame, y_test: pd.Series) -> FoldMetrics:
        return {
            "auc": roc_auc_score(y_test, _positive(model, X_test)),
            "new": roc_auc_score(y_test, _positive(model, X_new.loc[X_test.index])),
        }

    def on_random(model: Any, X_test: pd.DataFrame, y_test: pd.Series) -> FoldMetrics:
        return {"auc": roc_auc_score(y_test, _positive(model, X_test))}

    ahead = cross_validate(make_model, X, y, forward, on_forward, progress=False)
    shuffled = cross_validate(make_model, X, y, random, on_random, progress=False)
    return AuditScore(
        forward_auc=float(np.mean([f["auc"] for f in ahead])),
        random_auc=float(np.mean([f["auc"] for f in shuffled])),
        new_values_auc=float(np.mean([f["new"] for f in ahead])),
    )


def flag_reason(alone: AuditScore) -> str:
    """Why a group scored alone is flagged ('' when it is not)."""
    reasons = []
    if alone.random_auc - alone.forward_auc >= FLAG_AUC:
        reasons.append(
            f"memorisation or a time leak: random folds {alone.random_auc - alone.forward_auc:+.3f} over forward"
        )
    if alone.forward_auc - alone.new_values_auc >= FLAG_AUC:
        reasons.append(f"memorised values: {alone.forward_auc - alone.new_values_auc:.3f} lost on new values")
    return "; ".join(reasons)


def audit(
    groups: Mapping[str, Sequence[str]],
    X: pd.DataFrame,
    X_new: pd.DataFrame,
    y: pd.Series,
    forward: list[Split],
    random: list[Split],
    *,
    lightgbm: dict[str, Any],
    seed: int,
    progress: bool = True,
) -> tuple[list[AuditRow], AuditScore]:
    """Score every group of ``groups`` (name → model input columns) alone and left out, and all of them together.

    The model is :class:`ClickModel` with the given LightGBM parameters, uncalibrated (calibration does not
    change ranking) and unblended (the logistic part reads the numeric columns whatever the group); ``X_new``
    holds the same rows as ``X`` with values no training row has.
    """

    def scores(columns: Sequence[str]) -> AuditScore:
        def make_model() -> ClickModel:
            return ClickModel(tuple(columns), "none", "none", dict(lightgbm), seed, blend=0.0)

        return _scores(make_model, X, X_new, y, forward, random)

    everything = [column for columns in groups.values() for column in columns]
    rows = []
    for name in tqdm(groups, desc="audit", unit="group", disable=not progress, leave=False):
        alone = scores(groups[name])
        without = scores([column for column in everything if column not in set(groups[name])])
        reason = flag_reason(alone)
        rows.append(
            AuditRow(
                group=name,
                forward_auc=alone.forward_auc,
                random_auc=alone.random_auc,
                new_values_auc=alone.new_values_auc,
                without_forward_auc=without.forward_auc,
                without_random_auc=without.random_auc,
                flagged=bool(reason),
                reason=reason,
            )
        )
    return rows, scores(everything)
