"""The challenge's submission: ``{"target": {"<test_id>": 1|2|3, ...}}`` in test_id order, checked before it is
written. One definition for the in-memory predict, the per-partition gather and the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adpipe.errors import DataError
from features.clickstream_loaders import CLASSES


def predictions_payload(test_ids: pd.Series, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    """The submission in test_id order, checked before writing."""
    if len(test_ids) == 0:
        raise DataError("no test users to predict")
    if len(predicted) != len(test_ids):
        raise DataError(f"{len(predicted)} predictions for {len(test_ids)} test users")
    predicted = np.asarray(predicted)
    unknown = set(np.unique(predicted).tolist()) - set(CLASSES)
    if unknown:
        raise DataError(f"predicted classes {sorted(unknown)} outside {list(CLASSES)}")
    order = np.argsort(test_ids.to_numpy(), kind="stable")
    ids, classes = test_ids.to_numpy()[order].astype(np.int64), predicted[order].astype(np.int64)
    return {"target": dict(zip(map(str, ids.tolist()), classes.tolist(), strict=True))}
