"""Drift of many rows against a model's training reference, and a classifier's score expected without labels.

Evidently, whylogs and NannyML do this, but none runs here: Evidently 0.7 fails at import under pandas 3.1,
whylogs 1.6 at run time under numpy 2, and NannyML 0.13 pins lightgbm < 4.6 and plotly < 6. The statistics
are small, so they are written here on numpy and scipy:

- per input, the **population stability index** (PSI) over the reference's bins (a number's quantile bins with
  missing values as a bin of their own; a category's seen values, the rare ones pooled), an effect size;
- the verdict needs a test and an effect. PSI alone cries wolf on small windows (its own bias is about
  (bins - 1) / rows), a test alone on large ones (10,000 rows make a PSI of 0.009 significant). A number is
  tested with the two-sample Kolmogorov–Smirnov distance between the binned distributions (missing values
  ordered last), a category or a predicted class with the chi-square test of the two count tables. An input
  drifts when its p-value is below ``alpha / tests`` (Bonferroni over the inputs and the predictions), so a
  window of the training distribution is called drifted at most ``alpha`` of the time, **and** its PSI is at
  least ``MIN_PSI``, the usual line of a moderate shift; ``model.py monitor-calibrate`` measures the
  false-alarm rate and the rate at which known shifts are found;
- for a classifier, the score its probabilities expect if they are calibrated (NannyML's confidence-based
  estimate): macro-F1 from the expected confusion matrix, ROC-AUC from every pair weighted by how likely it is
  to be (positive, negative).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from adpipe.reference import CategoryReference, InputReference, NumberReference, bin_counts
from adpipe.reports import Report

ALPHA = 0.05  # the share of windows of the training distribution that may be called drifted
MIN_PSI = 0.1  # a difference smaller than this is not called drift, however many rows make it significant
# A category whose expected count in the window is below this is pooled with the other rare ones: the
# chi-square test's approximation needs about five expected rows per cell.
MIN_EXPECTED = 5.0
PSEUDO_COUNT = 0.5  # added to every bin's count on both sides so that PSI stays finite over an empty bin
MISSING = "(missing)"
OTHER = "(other)"
LABEL_FREE_METRICS = ("macro-F1", "ROC-AUC")
# Fewer rows than this get no verdict ("N rows so far; drift is judged from M"): the smallest window at which
# ``model.py monitor-calibrate`` measures the false-alarm and detection rates (adpipe.drift_calibration's first
# size). Below it, PSI's own bias, about (bins - 1) / rows, alone exceeds MIN_PSI and no rate was measured.
MIN_ROWS = 100
Test = Literal["ks", "chi-square"]


class InputDrift(Report):
    """One input (or the predictions) against its reference: the shares per bin, PSI, the test and its verdict."""

    field: str
    test: Test
    rows: int  # window rows compared
    psi: float
    statistic: float  # the KS distance or the chi-square statistic
    p_value: float
    drifted: bool
    bins: list[str]
    reference: list[float]  # the reference's share in each bin
    window: list[float]  # the window's share in each bin


def _psi(reference: np.ndarray, window: np.ndarray) -> float:
    expected = (reference + PSEUDO_COUNT) / (reference + PSEUDO_COUNT).sum()
    actual = (window + PSEUDO_COUNT) / (window + PSEUDO_COUNT).sum()
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def _ks(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """The two-sample KS distance between two binned distributions over ordered bins, and its asymptotic p-value
    (conservative for binned values: the distance can only shrink when values share a bin)."""
    n, m = reference.sum(), window.sum()
    if not n or not m:
        return 0.0, 1.0
    distance = float(np.max(np.abs(np.cumsum(reference) / n - np.cumsum(window) / m)))
    effective = n * m / (n + m)
    return distance, float(stats.kstwobign.sf(distance * np.sqrt(effective)))


def _chi_square(reference: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    table = np.vstack([reference, window])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or not window.sum():
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def _present(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype="float64")


def _short(value: float) -> str:
    """A bin edge as a reader takes it in at a glance: three figures, thousands as k and millions as M."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def _number_counts(ref: NumberReference, reference_rows: int, values: pd.Series) -> tuple[list[str], ...]:
    present = _present(values)
    window = [*bin_counts(present, ref.edges), len(values) - present.size]
    reference = [*ref.counts, round(ref.missing * reference_rows)]
    return [*_bin_labels(ref), MISSING], reference, window


def _bin_labels(ref: NumberReference) -> list[str]:
    """How a reader names each bin: ``≤ 23.5``, ``23.5 – 28.1``, ``> 60.2``; for whole numbers (ages, counts,
    flags) the values each bin can hold: ``≤ 24``, ``25 – 29``, ``≥ 65``, a 0/1 flag's ``0``, ``1``, ``≥ 2``."""
    edges = ref.edges
    if not edges:
        return ["all"]
    if ref.whole:  # bin (low, high] holds the whole numbers floor(low) + 1 … floor(high)
        top = math.floor(edges[0])
        first = _short(top) if top <= ref.minimum else f"≤ {_short(top)}"
        middle = []
        for low, high in zip(edges, edges[1:], strict=False):
            start, end = math.floor(low) + 1, math.floor(high)  # "–": no whole number lies in the bin
            middle.append(_short(end) if start == end else f"{_short(start)} – {_short(end)}" if start < end else "–")
        return [first, *middle, f"≥ {_short(math.floor(edges[-1]) + 1)}"]
    shown = [_short(edge) for edge in edges]
    middle = [f"{low} – {high}" for low, high in zip(shown, shown[1:], strict=False)]
    return [f"≤ {shown[0]}", *middle, f"> {shown[-1]}"]


def _category_counts(
    ref: CategoryReference, reference_rows: int, values: pd.Series, rows: int
) -> tuple[list[str], list[int], list[int]]:
    """Counts per category with the rare ones (and those never seen) pooled, and missing values as a bin."""
    total = sum(ref.counts.values()) or 1
    kept = [c for c, n in ref.counts.items() if n / total * rows >= MIN_EXPECTED]
    given = values.dropna().astype(str)
    seen = given.value_counts()
    labels = [*kept, OTHER, MISSING]
    reference = [ref.counts[c] for c in kept] + [total - sum(ref.counts[c] for c in kept)]
    window = [int(seen.get(c, 0)) for c in kept] + [int(len(given) - sum(seen.get(c, 0) for c in kept))]
    reference.append(round(ref.missing * reference_rows))
    window.append(int(values.isna().sum()))
    return labels, reference, window


def _compared(field: str, test: Test, labels: list[str], reference: list[int], window: list[int]) -> InputDrift:
    ref, win = np.asarray(reference, dtype="float64"), np.asarray(window, dtype="float64")
    statistic, p_value = _ks(ref, win) if test == "ks" else _chi_square(ref, win)
    return InputDrift(
        field=field,
        test=test,
        rows=int(win.sum()),
        psi=_psi(ref, win),
        statistic=statistic,
        p_value=p_value,
        drifted=False,  # decided over every test at once (:func:`input_drift`)
        bins=labels,
        reference=_shares(ref),
        window=_shares(win),
    )


def bonferroni(alpha: float, tests: int) -> float:
    """The p-value below which one of ``tests`` tests says drifted, so that all together err at most ``alpha``."""
    return alpha / max(tests, 1)


def input_drift(
    reference: InputReference, frame: pd.DataFrame, predicted: Sequence[object] | None = None, alpha: float = ALPHA
) -> list[InputDrift]:
    """Every input of ``reference`` (a column absent from ``frame`` counts as missing) and, when given and the
    reference has them, the predictions, each against its training distribution; ``drifted`` where the p-value
    is below ``alpha`` divided by the number of tests and PSI is at least ``MIN_PSI``."""
    rows = len(frame)
    found = []
    for column, number in reference.numbers.items():
        if number.counts:
            values = frame[column] if column in frame else pd.Series([None] * rows, dtype="float64")
            found.append(_compared(column, "ks", *_number_counts(number, reference.n_rows, values)))
    for column, category in reference.categories.items():
        if category.counts:
            values = frame[column] if column in frame else pd.Series([None] * rows, dtype="object")
            found.append(_compared(column, "chi-square", *_category_counts(category, reference.n_rows, values, rows)))
    held_out = reference.predictions
    if predicted is not None and held_out is not None and rows:
        series = pd.Series(list(predicted))
        if held_out.classes is not None:
            ref = CategoryReference(categories=list(held_out.classes), missing=0.0, counts=held_out.classes)
            total = sum(held_out.classes.values())
            found.append(_compared("prediction", "chi-square", *_category_counts(ref, total, series, rows)))
        elif held_out.values is not None and held_out.values.counts:
            total = sum(held_out.values.counts)
            found.append(_compared("prediction", "ks", *_number_counts(held_out.values, total, series)))
    threshold = bonferroni(alpha, len(found))
    return [drift.model_copy(update={"drifted": drift.p_value < threshold and drift.psi >= MIN_PSI}) for drift in found]


def expected_confusion(probabilities: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``E[C]`` with ``C[true, predicted]``: each row's probabilities spread over the true classes in the column of
    the class it was given (``predicted``: column indices)."""
    k = probabilities.shape[1]
    confusion = np.zeros((k, k))
    for column in range(k):
        confusion[:, column] = probabilities[predicted == column].sum(axis=0)
    return confusion


def macro_f1_of(confusion: np.ndarray) -> float:
    """Macro-F1 from a confusion matrix ``C[true, predicted]`` (a class never true nor predicted scores 0)."""
    true_positive = np.diag(confusion)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return float(f1.mean())


def expected_roc_auc(positive: np.ndarray) -> float:
    """The ROC-AUC expected if ``positive`` (each row's probability of the positive class) is calibrated: over
    every pair of rows, the chance the first is positive and the second negative, counted when it is ranked above
    (half when tied), over the chance the pair is one positive and one negative."""
    order = np.argsort(positive, kind="stable")
    p = positive[order]
    negative_below = np.concatenate([[0.0], np.cumsum(1.0 - p)[:-1]])
    # Ties: a row counts the negatives strictly below it fully and those tied with it half.
    _, first, counts = np.unique(p, return_index=True, return_counts=True)
    tied_negative = np.repeat(np.add.reduceat(1.0 - p, first), counts)
    tied_before = np.repeat(negative_below[first], counts)
    own = (1.0 - p) * p  # a row with itself is not a pair
    ranked = np.sum(p * (tied_before + 0.5 * tied_negative)) - 0.5 * np.sum(own)
    pairs = p.sum() * (1.0 - p).sum() - np.sum(own)
    return float(ranked / pairs) if pairs > 0 else float("nan")


def expected_score(metric: str, probabilities: np.ndarray, predicted: np.ndarray) -> float:
    """The score ``metric`` (one of :data:`LABEL_FREE_METRICS`) expected from calibrated ``probabilities`` (rows
    × classes; for ROC-AUC the last column is the positive class) and the class columns ``predicted``."""
    if metric == "macro-F1":
        return macro_f1_of(expected_confusion(probabilities, predicted))
    if metric == "ROC-AUC":
        return expected_roc_auc(probabilities[:, -1])
    raise ValueError(f"no label-free estimate of {metric}; known: {', '.join(LABEL_FREE_METRICS)}")


class LabelFreeEstimate(Report):
    """A classifier's score on rows without labels, from its own probabilities, beside what the same estimate
    and the labels gave on the training data's held-out folds, and the validation report's figure."""

    metric: str
    estimated: float | None  # None: it cannot be estimated from these rows, and ``why`` says why
    why: str | None = None
    heldout_estimated: float | None = None
    heldout_realised: float | None = None
    validation: float | None = None


class DriftReport(Report):
    """Rows (served answers or a batch file) against a model's training reference: each input's and the
    predictions' drift, the share of answers the guard warned about, and a classifier's label-free score."""

    task: str
    source: str  # what the rows are: a file, or a worker's window of served answers
    rows: int
    reference_rows: int
    alpha: float
    threshold: float  # the p-value below which one test says drifted (alpha over the number of tests)
    min_psi: float = MIN_PSI  # and the PSI it must reach
    inputs: list[InputDrift]
    predictions: InputDrift | None
    drifted: list[str]  # the inputs (and "prediction") that drifted
    guarded: dict[str, int]  # rows with at least one warning of each kind, and "any"
    label_free: LabelFreeEstimate | None
    min_rows: int = MIN_ROWS  # fewer rows get no verdict: the inputs' shares are drawn, nothing is called drifted
    judged: bool = True  # rows >= min_rows
    verdict: str = ""  # in words: no drift, drift in which inputs, or "N rows so far; drift is judged from M"

    @property
    def compared(self) -> list[InputDrift]:
        """The inputs' tests, then the predictions' when there is one."""
        return [*self.inputs, *([self.predictions] if self.predictions else [])]


def verdict_of(rows: int, min_rows: int, drifted: Sequence[str], threshold: float) -> str:
    """The verdict in words, or why there is none yet."""
    if not rows:
        return "nothing to compare yet"
    if rows < min_rows:
        return f"{rows} rows so far; drift is judged from {min_rows}"
    if not drifted:
        return f"no drift found in {rows} rows (drift: p < {threshold:.2g} and PSI ≥ {MIN_PSI:g})"
    return f"drift in {', '.join(drifted)} ({rows} rows)"


def drift_report(
    task: str,
    source: str,
    reference: InputReference,
    frame: pd.DataFrame,
    predicted: Sequence[object] | None = None,
    probabilities: np.ndarray | None = None,
    warning_kinds: Sequence[Sequence[str]] = (),
    validation: float | None = None,
    alpha: float = ALPHA,
    min_rows: int = MIN_ROWS,
) -> DriftReport:
    """The report on ``frame`` (the inputs as the guard reads them) and the model's ``predicted`` values;
    ``probabilities`` (rows × classes, in the order the predicted classes index, the positive class last for a
    binary model) give the label-free score when the reference holds a held-out check; ``warning_kinds``: the
    kinds of the guard's warnings on each row. Below ``min_rows`` rows the shares are compared and drawn, but
    nothing is called drifted and no label-free score is given: the report says how many rows there are so far."""
    rows = len(frame)
    judged = rows >= min_rows
    found = input_drift(reference, frame, predicted, alpha)
    if not judged:
        found = [drift.model_copy(update={"drifted": False}) for drift in found]
    # The predictions' test, when there is one, comes last (:func:`input_drift`).
    predictions = found[-1] if predicted is not None and found and found[-1].field == "prediction" else None
    inputs = found[:-1] if predictions is not None else found
    guarded: dict[str, int] = {"any": sum(1 for kinds in warning_kinds if kinds)}
    for kinds in warning_kinds:
        for kind in set(kinds):
            guarded[kind] = guarded.get(kind, 0) + 1
    threshold = bonferroni(alpha, len(found))
    drifted = [drift.field for drift in found if drift.drifted]
    label_free = _label_free(reference, predicted, probabilities, validation)
    if label_free is not None and not judged:
        why = f"estimated from {min_rows} rows on, like drift; {rows} so far"
        label_free = label_free.model_copy(update={"estimated": None, "why": why})
    return DriftReport(
        task=task,
        source=source,
        rows=rows,
        reference_rows=reference.n_rows,
        alpha=alpha,
        threshold=threshold,
        inputs=inputs,
        predictions=predictions,
        drifted=drifted,
        guarded=guarded,
        label_free=label_free,
        min_rows=min_rows,
        judged=judged,
        verdict=verdict_of(rows, min_rows, drifted, threshold),
    )


def _label_free(
    reference: InputReference,
    predicted: Sequence[object] | None,
    probabilities: np.ndarray | None,
    validation: float | None,
) -> LabelFreeEstimate | None:
    check = reference.predictions.label_free if reference.predictions is not None else None
    if check is None or probabilities is None or predicted is None or not len(probabilities):
        return None
    classes = list(reference.predictions.classes or {})
    index = np.array([classes.index(str(p)) if str(p) in classes else -1 for p in predicted])
    estimated: float | None = expected_score(check.metric, probabilities, index)
    why = None
    if estimated is None or not math.isfinite(estimated):
        estimated = None
        why = (
            f"cannot be estimated from these {len(probabilities)} rows: {check.metric} ranks pairs of rows, and no "
            "pair has one row likely positive and the other likely negative"
        )
    return LabelFreeEstimate(
        metric=check.metric,
        estimated=estimated,
        why=why,
        heldout_estimated=check.estimated,
        heldout_realised=check.realised,
        validation=validation,
    )
