"""User profiles for ads: the loader of ``user_profiles_for_ads.csv`` and its encoders.

The file has CRLF line ends and keeps ``Top Interests`` as a comma-separated list inside one quoted
field. The encoders are scikit-learn transformers, so they are fitted inside the training folds:
age and income bands become ordered numbers, the nominal columns one-hot indicators, and every
interest one indicator column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from features.schema import Column, TableSchema, check_rows, check_unique
from features.tables import read_table

USER_ID = "User ID"
TARGET = "Conversion Rates"
CTR = "Click-Through Rates (CTR)"
INTERESTS = "Top Interests"
INTEREST_PREFIX = "interest="

# Bands with a natural order become 0, 1, 2, ...; a value outside them is refused when the file is read.
ORDINAL_BANDS: dict[str, tuple[str, ...]] = {
    "Age": ("18-24", "25-34", "35-44", "45-54", "55-64", "65+"),
    "Income Level": ("0-20k", "20k-40k", "40k-60k", "60k-80k", "80k-100k", "100k+"),
}
# Education Level is nominal on purpose: "Technical" has no agreed place between High School and PhD.
NOMINAL = ("Gender", "Location", "Language", "Education Level", "Device Usage")
NUMERIC = (
    "Likes and Reactions",
    "Followed Accounts",
    "Time Spent Online (hrs/weekday)",
    "Time Spent Online (hrs/weekend)",
    CTR,
    TARGET,
    "Ad Interaction Time (sec)",
)
RATES = (CTR, TARGET)
# What each number can possibly be. Counts are whole and non-negative; hours per weekday fit in a day and hours
# per weekend in two (the file does not say whether it means one weekend day or both).
COUNTS = ("Likes and Reactions", "Followed Accounts")
UPPER_BOUNDS = {
    "Time Spent Online (hrs/weekday)": 24.0,
    "Time Spent Online (hrs/weekend)": 48.0,
    **{rate: 1.0 for rate in RATES},
}

PROFILES_SCHEMA = TableSchema(
    "user profile",
    ",",
    (
        Column(USER_ID, aliases=("user_id", "UserID")),
        *(Column(name, "str", allowed=bands, nullable=True) for name, bands in ORDINAL_BANDS.items()),
        *(Column(name, "str", nullable=True) for name in NOMINAL),
        *(Column(name, "float", nullable=True) for name in NUMERIC if name != TARGET),
        Column(TARGET, "float", aliases=("Conversion Rate",)),
        Column(INTERESTS, "str", nullable=True),
    ),
)
PREDICT_SCHEMA = TableSchema(
    PROFILES_SCHEMA.name,
    PROFILES_SCHEMA.sep,
    tuple(replace(c, required=False, nullable=True) if c.name == TARGET else c for c in PROFILES_SCHEMA.columns),
)


def load_profiles(path: str | Path, *, target_required: bool = True) -> pd.DataFrame:
    """Read a profiles CSV; without ``target_required`` the ``Conversion Rates`` column may be absent.

    User ids must be unique and every number possible (see :func:`check_values`); the first offending line is
    named.
    """
    return checked_profiles(read_table(path, PROFILES_SCHEMA if target_required else PREDICT_SCHEMA), path)


def checked_profiles(table: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Profiles as read, with the rules across rows and columns checked (errors name ``path``)."""
    path = Path(path)
    check_unique(path, table, USER_ID)
    check_values(path, table)
    return table


def check_values(path: Path, table: pd.DataFrame) -> None:
    """Refuse numbers no profile can have: negative, fractional counts, rates outside [0, 1], more hours than the
    period holds (the reader itself refuses non-finite numbers). An empty cell is missing, not wrong: the models
    impute it."""
    for column in (c for c in NUMERIC if c in table):
        values = table[column].to_numpy(dtype=float)
        shown = table[column].astype(object)  # Python floats: the message says -3.0, not np.float64(-3.0)
        check_rows(path, column, values < 0, shown, "is negative")
        if column in COUNTS:
            check_rows(path, column, np.mod(values, 1) > 0, shown, "is not a whole count")
        if column in UPPER_BOUNDS:
            bound = UPPER_BOUNDS[column]
            problem = "is a rate outside [0, 1]" if column in RATES else f"is more than {bound:g} hours"
            check_rows(path, column, values > bound, shown, problem)


def parse_interests(text: Any) -> list[str]:
    """``"Gaming, DIY Crafts"`` -> ``["Gaming", "DIY Crafts"]``: stripped, empty parts and repeats dropped."""
    if not isinstance(text, str):
        return []
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


class InterestIndicators(TransformerMixin, BaseEstimator):
    """One 0/1 column per interest seen when fitting; interests first seen later are ignored."""

    def fit(self, X: Any, y: Any = None) -> InterestIndicators:
        self.vocabulary_ = sorted({i for text in _single_column(X) for i in parse_interests(text)})
        return self

    def transform(self, X: Any) -> np.ndarray:
        position = {interest: p for p, interest in enumerate(self.vocabulary_)}
        texts = _single_column(X)
        out = np.zeros((len(texts), len(position)))
        for row, text in enumerate(texts):
            for interest in parse_interests(text):
                if interest in position:
                    out[row, position[interest]] = 1.0
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([f"{INTEREST_PREFIX}{i}" for i in self.vocabulary_], dtype=object)


def _single_column(X: Any) -> list[Any]:
    frame = pd.DataFrame(X)
    if frame.shape[1] != 1:
        raise ValueError(f"InterestIndicators expects one column, got {frame.shape[1]}")
    return frame.iloc[:, 0].tolist()


@dataclass(frozen=True)
class FeatureSpec:
    """Which input columns are numeric, ordinal bands (with their order), nominal, or an interest list."""

    numeric: tuple[str, ...] = ()
    ordinal: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nominal: tuple[str, ...] = ()
    interests: str | None = None

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.ordinal, *self.nominal, *([self.interests] if self.interests else [])]

    @property
    def guarded(self) -> list[str]:
        """The columns a model's training reference checks (adpipe.reference): all but the interest list, whose
        combinations are nearly all distinct (of the last fifth's, a third appear among the first four fifths'), so
        a new one is no sign of an input the model does not know: it reads each interest."""
        return [column for column in self.columns if column != self.interests]

    def without(self, *names: str) -> FeatureSpec:
        """The same spec minus some columns (the target, or the outcomes a segmentation only reports)."""
        return FeatureSpec(
            tuple(c for c in self.numeric if c not in names),
            {c: bands for c, bands in self.ordinal.items() if c not in names},
            tuple(c for c in self.nominal if c not in names),
            self.interests if self.interests not in names else None,
        )


PROFILE_FEATURES = FeatureSpec(NUMERIC, ORDINAL_BANDS, NOMINAL, INTERESTS)


def make_preprocessor(spec: FeatureSpec, *, scale: bool = True) -> ColumnTransformer:
    """Impute, encode and (with ``scale``) standardise the numeric and ordinal columns.

    One-hot and interest indicators stay 0/1, so a nominal column with many values does not outweigh
    a numeric one. With ``scale=False`` the output is in readable units (segment profiles use that).
    """
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    ordinal_steps: list[tuple[str, Any]] = [
        (
            "rank",
            OrdinalEncoder(
                categories=[list(bands) for bands in spec.ordinal.values()],
                handle_unknown="use_encoded_value",
                unknown_value=np.nan,
                encoded_missing_value=np.nan,
            ),
        ),
        ("impute", SimpleImputer(strategy="median")),
    ]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
        ordinal_steps.append(("scale", StandardScaler()))
    transformers: list[tuple[str, Any, Any]] = []
    if spec.numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), list(spec.numeric)))
    if spec.ordinal:
        transformers.append(("ordinal", Pipeline(ordinal_steps), list(spec.ordinal)))
    if spec.nominal:
        one_hot = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, feature_name_combiner=_eq)),
            ]
        )
        transformers.append(("nominal", one_hot, list(spec.nominal)))
    if spec.interests:
        transformers.append(("interests", InterestIndicators(), [spec.interests]))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def _eq(column: str, value: Any) -> str:
    return f"{column}={value}"


def feature_frame(table: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """The spec's columns of ``table``; numeric columns as float (a user's file may hold integers)."""
    text = {*spec.ordinal, *spec.nominal, *([spec.interests] if spec.interests else [])}

    def as_input(column: str) -> pd.Series:
        values = table[column]
        if column in spec.numeric:
            return values.astype("float64")
        return values.astype(object).where(values.notna(), np.nan) if column in text else values.copy()

    # Built in one go: a column set at a time costs more than the work itself on one web request's row.
    return pd.DataFrame({column: as_input(column) for column in spec.columns}, index=table.index)


def encoded_names(preprocessor: ColumnTransformer) -> Sequence[str]:
    """Output column names of a fitted :func:`make_preprocessor`."""
    return [str(name) for name in preprocessor.get_feature_names_out()]
