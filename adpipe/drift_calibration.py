"""How often the drift verdict cries wolf, and how often it finds a known shift, measured on a task's own data.

The rows (the training file, read by the task's loader, with the saved model's predictions) are split at random
in two halves, afresh for every window: a reference is made from one (as ``train`` makes it from all of its rows),
and the window is drawn without replacement from the other — new rows from the training distribution, never part
of the reference.

- **False alarms**: the share of such windows in which any input or the predictions are called drifted (test
  and PSI, :func:`adpipe.drift.input_drift`); the Bonferroni threshold alone aims at ``alpha`` (5%).
- **Detection**: the same windows with one input shifted — a number moved by half its standard deviation, or a
  category's (or a number of at most ten values') share doubled (its most common value with a share of at most a
  third; when there is none, as in a balanced 0/1 flag, the rarest value's share moved halfway to all rows) —
  and the share in which that input's own test says drifted. The predictions are kept as they were (the model
  is not rerun on the shifted rows), so detection comes from the input's test alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from adpipe.drift import ALPHA, MIN_PSI, MIN_ROWS, input_drift
from adpipe.reference import InputReference, PredictionReference
from adpipe.reports import Report

DEFAULT_SIZES = (MIN_ROWS, 500, 2000)  # the first is the fewest rows drift is judged on (adpipe.drift.MIN_ROWS)
DEFAULT_WINDOWS = 200
SHIFT_SD = 0.5
MAX_SHARE_DOUBLED = 1 / 3
MAX_DISCRETE_VALUES = 10


class ShiftDetection(Report):
    field: str
    shift: str  # what was done to the input, in words
    detected: float  # share of windows in which the input's test said drifted


class WindowCalibration(Report):
    rows: int  # the window's size
    windows: int
    false_alarm: float  # share of unshifted windows with any test saying drifted
    false_alarm_by_input: dict[str, float]
    detection: list[ShiftDetection]


class CalibrationReport(Report):
    """``model.py monitor-calibrate``: false-alarm and detection rates of the drift verdict by window size."""

    task: str
    source: str
    reference_rows: int  # rows of the half the reference was made from
    pool_rows: int  # rows of the half windows were drawn from
    alpha: float
    seed: int
    protocol: str
    sizes: list[WindowCalibration]


def _shifted(window: pd.DataFrame, column: str, pool: pd.DataFrame) -> pd.DataFrame:
    shifted = window.copy()
    values = pd.to_numeric(pool[column], errors="coerce")
    shifted[column] = pd.to_numeric(shifted[column], errors="coerce") + SHIFT_SD * float(values.std())
    return shifted


def _doubled(pool: pd.DataFrame, column: str, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, str] | None:
    """The positions of ``rows`` pool rows in which ``column``'s most common value of share ≤ 1/3 has twice its
    share (when every value is commoner, as in a balanced 0/1 flag: the rarest, halfway to all rows), and the
    shift in words; None when the pool has too few rows of it."""
    shares = pool[column].astype(str).value_counts(normalize=True)
    candidates = shares[shares <= MAX_SHARE_DOUBLED]
    category = candidates.index[0] if not candidates.empty else shares.index[-1]
    share = float(shares[category])
    target = 2 * share if not candidates.empty else (1 + share) / 2
    chosen = (pool[column].astype(str) == category).to_numpy()
    wanted = round(target * rows)
    if wanted > int(chosen.sum()) or rows - wanted > int((~chosen).sum()):
        return None
    picked = [
        rng.choice(np.flatnonzero(chosen), wanted, replace=False),
        rng.choice(np.flatnonzero(~chosen), rows - wanted, replace=False),
    ]
    return np.concatenate(picked), f"share of {category!r} raised from {share:.1%} to {target:.1%}"


def _split(
    rows: pd.DataFrame, predicted: pd.Series, rng: np.random.Generator
) -> tuple[InputReference, pd.DataFrame, pd.Series]:
    """A fresh random halving: the reference of one half, and the other half (the pool windows are drawn from)."""
    order = rng.permutation(len(rows))
    half = len(rows) // 2
    base, rest = order[:half], order[half:]
    reference = InputReference.from_frame(rows.iloc[base], PredictionReference.of(predicted.iloc[base], "half"))
    return reference, rows.iloc[rest].reset_index(drop=True), predicted.iloc[rest].reset_index(drop=True)


def calibrate(
    task: str,
    source: str,
    frame: pd.DataFrame,
    predicted: Sequence[object],
    sizes: Sequence[int] = DEFAULT_SIZES,
    windows: int = DEFAULT_WINDOWS,
    seed: int = 0,
    alpha: float = ALPHA,
) -> CalibrationReport:
    """The false-alarm and detection rates of :func:`adpipe.drift.input_drift` on ``frame`` (the inputs as the
    guard reads them) and the model's ``predicted`` values, for each window size; each window is drawn after a
    fresh halving, so windows are independent replicates."""
    rng = np.random.default_rng(seed)
    rows, answers = frame.reset_index(drop=True), pd.Series(list(predicted))
    half = len(rows) // 2
    columns = InputReference.from_frame(rows).columns()
    # A number of few values (a 0/1 flag) is shifted as a category is: moving it off its values would be trivial.
    continuous = [
        c for c in columns if pd.api.types.is_numeric_dtype(rows[c]) and rows[c].nunique() > MAX_DISCRETE_VALUES
    ]
    discrete = [c for c in columns if c not in continuous]
    results = []
    usable = [size for size in sizes if size <= len(rows) - half]
    with tqdm(total=len(usable) * windows, desc=f"{task}: drift windows", unit="window", leave=False) as bar:
        for size in usable:
            alarms, by_input = 0, dict.fromkeys([*columns, "prediction"], 0)
            found: dict[str, list[bool]] = {}
            shifts: dict[str, str] = {}
            for _ in range(windows):
                reference, pool, pool_predicted = _split(rows, answers, rng)
                picked = rng.choice(len(pool), size, replace=False)
                window = pool.iloc[picked]
                drifts = input_drift(reference, window, pool_predicted.iloc[picked], alpha)
                alarms += any(d.drifted for d in drifts)
                for drift in drifts:
                    by_input[drift.field] += drift.drifted
                for column in continuous:
                    shifts[column] = f"moved by {SHIFT_SD} standard deviation"
                    moved = input_drift(reference, _shifted(window, column, pool), pool_predicted.iloc[picked], alpha)
                    found.setdefault(column, []).append(any(d.drifted for d in moved if d.field == column))
                for column in discrete:
                    doubled = _doubled(pool, column, size, rng)
                    if doubled is None:
                        continue
                    positions, shifts[column] = doubled
                    moved = input_drift(reference, pool.iloc[positions], pool_predicted.iloc[positions], alpha)
                    found.setdefault(column, []).append(any(d.drifted for d in moved if d.field == column))
                bar.update()
            results.append(
                WindowCalibration(
                    rows=size,
                    windows=windows,
                    false_alarm=alarms / windows,
                    false_alarm_by_input={field: n / windows for field, n in by_input.items()},
                    detection=[
                        ShiftDetection(field=field, shift=shifts[field], detected=float(np.mean(hits)))
                        for field, hits in found.items()
                    ],
                )
            )
    protocol = (
        f"per window, a fresh random halving: the reference from one half ({half} rows), the window drawn without "
        f"replacement from the other; {windows} windows per size; any input or the predictions called drifted (p "
        f"below alpha/tests, alpha {alpha}, and PSI at least {MIN_PSI}) is a false alarm; detection: one input "
        f"shifted in the same windows (numbers by {SHIFT_SD} sd, a category's or flag's share doubled), predictions "
        "unchanged"
    )
    return CalibrationReport(
        task=task,
        source=source,
        reference_rows=half,
        pool_rows=len(rows) - half,
        alpha=alpha,
        seed=seed,
        protocol=protocol,
        sizes=results,
    )
