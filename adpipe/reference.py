"""What a model saw of each input when it was trained, saved beside it, and the check of new inputs against it.

:meth:`InputReference.from_frame` summarises the frame a task's model is fitted on: for a number its minimum,
maximum, 0.5% and 99.5% quantiles, its share of missing values and its distribution over (at most ten) quantile
bins; for any other column the categories seen with their counts and the share missing. With
:class:`PredictionReference` it also holds the distribution of the model's own predictions on held-out folds
(and, for a classifier, the score those folds realised beside the one its probabilities expected). Each task's
``train`` stores it in the saved model's metadata under ``"reference"``; the service reads it back
(:meth:`InputReference.read`) and :meth:`InputReference.check` names, per row, each input outside its training
range, each unseen category and each missing (so imputed) value; :func:`guard_rows` is the same check for the
``predict`` commands' batches (a ``warnings`` column and one summary line). The drift of many rows against it is
:mod:`adpipe.drift`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

METADATA_KEY = "reference"
NO_REFERENCE = "no training reference: retrain to guard inputs"
# Categories listed in a reference at most: a column with more distinct values (an id, free text) is not checked.
MAX_CATEGORIES = 1000
# Quantile bins of a number's distribution (fewer when values repeat): ten keeps every bin's expected count at
# ten or more in a window of 100 rows, what a chi-square test needs.
BINS = 10

WarningKind = Literal["out_of_range", "unusual", "unseen", "missing", "no_reference"]
# The kinds a strict request refuses (422); the others are notes.
STRICT_KINDS = ("out_of_range", "unseen")
WARNINGS_COLUMN = "warnings"  # the column a predict command's CSV carries them in
# How a batch's summary line names the rows with each kind of warning, in this order.
KIND_WORDS = {
    "out_of_range": "an input outside the training range",
    "unseen": "an unseen category",
    "missing": "a missing value imputed",
    "unusual": "an unusual value (outside the middle 99% of training)",
}


class InputWarning(BaseModel):
    """An input the model was not trained on as it is given: which field, what is wrong, the value and the range."""

    field: str | None = None
    kind: WarningKind
    value: float | str | None = None
    expected: str | None = None  # the training range or the categories' count, in words
    message: str


class NumberReference(BaseModel):
    minimum: float
    maximum: float
    q005: float
    q995: float
    missing: float  # share of missing values in training
    # The distribution: bin i holds the values v with edges[i-1] < v <= edges[i] (the first and last are open);
    # counts has one more entry than edges. Empty in references saved before distributions were.
    edges: list[float] = []
    counts: list[int] = []
    whole: bool = False  # every training value a whole number (ages, counts, 0/1 flags): bins read as values

    @classmethod
    def of(cls, values: pd.Series | np.ndarray) -> NumberReference | None:
        """The reference of one number column (None when every value is missing)."""
        series = pd.Series(values)
        present = series.dropna().astype("float64").to_numpy()
        if present.size == 0:
            return None
        low, high = np.quantile(present, [0.005, 0.995])
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
        return cls(
            minimum=float(present.min()),
            maximum=float(present.max()),
            q005=float(low),
            q995=float(high),
            missing=float(series.isna().mean()),
            edges=edges.tolist(),
            counts=bin_counts(present, edges.tolist()),
            whole=bool(np.all(present == np.round(present))),
        )


def bin_counts(values: np.ndarray, edges: list[float]) -> list[int]:
    """How many of ``values`` (present numbers) fall in each bin of ``edges`` (see :class:`NumberReference`)."""
    positions = np.searchsorted(np.asarray(edges, dtype="float64"), values, side="left")
    return np.bincount(positions, minlength=len(edges) + 1).tolist()


class CategoryReference(BaseModel):
    categories: list[str] | None  # None: too many to list (not checked)
    missing: float
    counts: dict[str, int] = {}  # rows per listed category; empty in references saved before counts were


class LabelFreeCheck(BaseModel):
    """On the held-out folds: the score the labels gave beside the one the model's own probabilities expected
    (:func:`adpipe.drift.expected_score`), so a label-free estimate on served traffic can be read against both."""

    metric: str
    realised: float
    estimated: float


class PredictionReference(BaseModel):
    """The model's own predictions on held-out folds: class counts for a classifier, binned values otherwise."""

    protocol: str  # how the held-out predictions were made
    classes: dict[str, int] | None = None
    values: NumberReference | None = None
    label_free: LabelFreeCheck | None = None

    @classmethod
    def of(cls, predicted: Any, protocol: str, label_free: LabelFreeCheck | None = None) -> PredictionReference:
        """From the held-out predictions: counted when they are classes (integers or text), binned otherwise."""
        series = pd.Series(np.asarray(predicted))
        if pd.api.types.is_float_dtype(series):
            return cls(protocol=protocol, values=NumberReference.of(series), label_free=label_free)
        counts = series.astype(str).value_counts().sort_index()
        return cls(protocol=protocol, classes={str(k): int(v) for k, v in counts.items()}, label_free=label_free)


class InputReference(BaseModel):
    """Each input column's training range or categories, and the rows it was computed on."""

    n_rows: int
    numbers: dict[str, NumberReference] = {}
    categories: dict[str, CategoryReference] = {}
    predictions: PredictionReference | None = None

    @classmethod
    def from_frame(cls, X: pd.DataFrame, predictions: PredictionReference | None = None) -> InputReference:
        """The reference of the frame a model is fitted on (every column an input), with its held-out
        predictions' distribution when given."""
        numbers, categories = {}, {}
        for column in X.columns:
            values = X[column]
            if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
                categories[str(column)] = _categories(values)
            elif (number := NumberReference.of(values)) is not None:
                numbers[str(column)] = number
        return cls(n_rows=len(X), numbers=numbers, categories=categories, predictions=predictions)

    @classmethod
    def read(cls, metadata: dict[str, Any]) -> InputReference | None:
        """The reference saved in a model's metadata, or None for a model saved before references were."""
        saved = metadata.get(METADATA_KEY)
        return cls.model_validate(saved) if saved is not None else None

    def columns(self) -> list[str]:
        return [*self.numbers, *self.categories]

    def values_of(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each column the reference knows, as ``frame`` holds it (an absent column: missing in every row); read
        once per call and shared by :meth:`check_values` and the service's drift window."""
        absent = np.full(len(frame), None, dtype=object)
        return {column: frame[column].to_numpy() if column in frame else absent for column in self.columns()}

    def check(self, frame: pd.DataFrame) -> list[list[InputWarning]]:
        """Per row of ``frame``, the warnings on the columns the reference knows (a column absent from ``frame`` is
        missing in every row; columns the reference does not know are not checked)."""
        return self.check_values(self.values_of(frame), len(frame))

    def check_values(self, values: Mapping[str, np.ndarray], rows: int) -> list[list[InputWarning]]:
        """:meth:`check` on the columns of :meth:`values_of`. A float column is compared whole and only its
        flagged rows become warnings: a 1,000-row batch costs about what one record does per column."""
        warnings: list[list[InputWarning]] = [[] for _ in range(rows)]
        for column, ref in self.numbers.items():
            column_values = values[column]
            if column_values.dtype.kind in "iuf":
                numbers = column_values.astype(float, copy=False)
                inside = (numbers >= ref.q005) & (numbers <= ref.q995)  # False where NaN
                flagged = np.flatnonzero(~inside).tolist()
            else:
                flagged = range(rows)
            for row in flagged:
                found = _number_warning(column, column_values[row], ref)
                if found:
                    warnings[row].append(found)
        for column, cat in self.categories.items():
            column_values = values[column]
            unusable = pd.isna(column_values)
            if cat.categories is not None:
                unusable |= ~np.isin(column_values.astype(str), cat.categories)
            known = set(cat.categories) if cat.categories is not None else None
            for row in np.flatnonzero(unusable).tolist():
                found = _category_warning(column, column_values[row], known)
                if found:
                    warnings[row].append(found)
        return warnings


def _categories(values: pd.Series) -> CategoryReference:
    missing = float(values.isna().mean()) if len(values) else 0.0
    counts = values.dropna().astype(str).value_counts().sort_index()
    if len(counts) > MAX_CATEGORIES:
        return CategoryReference(categories=None, missing=missing)
    return CategoryReference(
        categories=counts.index.tolist(), missing=missing, counts={str(k): int(v) for k, v in counts.items()}
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _number_warning(column: str, value: Any, ref: NumberReference) -> InputWarning | None:
    if _missing(value):
        return InputWarning(
            field=column, kind="missing", message=f"{column} is missing: the model imputed it", expected=None
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    span = f"[{ref.minimum:.6g}, {ref.maximum:.6g}]"
    if number < ref.minimum or number > ref.maximum:
        return InputWarning(
            field=column,
            kind="out_of_range",
            value=number,
            expected=span,
            message=f"{column} = {number:.6g} is outside the training range {span}",
        )
    if number < ref.q005 or number > ref.q995:
        middle = f"[{ref.q005:.6g}, {ref.q995:.6g}]"
        return InputWarning(
            field=column,
            kind="unusual",
            value=number,
            expected=middle,
            message=f"{column} = {number:.6g} is unusual: outside the middle 99% of training {middle}",
        )
    return None


def _category_warning(column: str, value: Any, known: set[str] | None) -> InputWarning | None:
    if _missing(value):
        return InputWarning(field=column, kind="missing", message=f"{column} is missing: the model imputed it")
    if known is not None and str(value) not in known:
        return InputWarning(
            field=column,
            kind="unseen",
            value=str(value),
            expected=f"{len(known)} categories seen in training",
            message=f"{column} = {value!r} was never seen in training ({len(known)} categories were)",
        )
    return None


def summary_line(rows: int, flagged: int, rows_with: Mapping[str, int]) -> str:
    """One line for the terminal: of ``rows`` checked, how many had a warning (``flagged``) and, per kind, how many
    had one of that kind (``rows_with``)."""
    if rows_with.get("no_reference"):
        return f"the saved model has no training reference: the inputs of its {rows} rows were not checked (retrain)"
    if not flagged:
        return f"no warnings: every input of the {rows} rows within its training range, seen in training and given"
    counts = [f"{rows_with[kind]} with {words}" for kind, words in KIND_WORDS.items() if rows_with.get(kind)]
    return f"{flagged} of {rows} rows had inputs unlike the training data: {', '.join(counts)}"


@dataclass(frozen=True)
class GuardedRows:
    """A batch checked against a model's reference: per row its warnings' messages joined by "; " (empty when it
    has none), and the rows with each kind of warning."""

    messages: list[str]
    rows_with: dict[str, int]

    @property
    def flagged(self) -> int:
        """The rows with some warning."""
        return sum(bool(message) for message in self.messages)

    @property
    def summary(self) -> str:
        return summary_line(len(self.messages), self.flagged, self.rows_with)


def guard_rows(reference: InputReference | None, frame: pd.DataFrame) -> GuardedRows:
    """What every ``predict`` command adds to its output: each row of ``frame`` (its inputs as loaded) checked as
    the service checks an answer (:meth:`InputReference.check`), so a batch is not trusted more than one record;
    a model saved without a reference says so on every row, as the service does."""
    if reference is None:
        return GuardedRows([NO_REFERENCE] * len(frame), {"no_reference": len(frame)})
    found = reference.check(frame)
    rows_with = Counter(kind for warnings in found for kind in {w.kind for w in warnings})
    return GuardedRows(["; ".join(w.message for w in warnings) for warnings in found], dict(rows_with))
