"""The challenge's submission: ``{"target": {"<test_id>": 1|2|3, ...}}`` in test_id order, checked before it is
written. One definition for the in-memory predict, the per-partition gather and the benchmark; and the users
whose inputs drew warnings from the model's training reference, in a CSV beside it (the submission's format
has no room for them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.errors import DataError
from adpipe.io import write_csv
from adpipe.reference import WARNINGS_COLUMN
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


def warnings_path(output: str | Path) -> Path:
    """Where ``predict`` writes the users with warnings: ``predictions.json`` -> ``predictions_warnings.csv``."""
    output = Path(output)
    return output.with_name(f"{output.stem}_{WARNINGS_COLUMN}.csv")


def flagged_users(test_ids: Sequence[int], user_ids: Sequence[str], messages: Sequence[str]) -> pd.DataFrame:
    """``test_id``, ``user_id`` and ``warnings`` of the users whose warnings (``messages``, one per user) are not
    empty."""
    users = pd.DataFrame({"test_id": test_ids, "user_id": user_ids, WARNINGS_COLUMN: list(messages)})
    return users[users[WARNINGS_COLUMN] != ""].reset_index(drop=True)


def write_warnings(output: str | Path, flagged: pd.DataFrame) -> None:
    """The users with warnings (:func:`flagged_users`) beside ``output``, in test_id order; when none has any, no
    file (one left by an earlier run is removed at once, not when the command ends: it would describe other
    predictions)."""
    path = warnings_path(output)
    if flagged.empty:
        path.unlink(missing_ok=True)
    else:
        write_csv(path, flagged.sort_values("test_id", kind="stable"))
