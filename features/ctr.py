"""Ad impressions (click-through): the loader, its accepted variants, and the model's input columns.

One row per impression: who saw the ad (time on site, age, area income, internet use, gender, city,
country), which ad (its topic line), when (timestamp), and, in a labelled file, ``Clicked on Ad``.

Other exports of the same data are accepted: snake_case or lower-case headers, a 0/1 ``Male`` column
instead of ``Gender`` (Male/Female), and any of :data:`TIMESTAMP_FORMATS` (one format per file). A
missing column fails with one line naming it; empty cells are kept as missing values, which the
model imputes inside its pipeline, so an unlabelled row with a gap still gets a prediction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.errors import DataError
from features.choices import CTR_FEATURE_GROUP_NAMES
from features.schema import Column, TableSchema, check_rows, line_of
from features.tables import read_table

TARGET = "Clicked on Ad"
NUMERIC_COLUMNS = ("Daily Time Spent on Site", "Age", "Area Income", "Daily Internet Usage")
TEXT_COLUMNS = ("Ad Topic Line", "City", "Country")
GENDER, MALE, TIMESTAMP = "Gender", "Male", "Timestamp"
# The canonical table every loader returns: MALE is 1.0 / 0.0 / missing whatever the file's gender column.
INPUT_COLUMNS = (*NUMERIC_COLUMNS, *TEXT_COLUMNS, MALE, TIMESTAMP)

# Tried in this order; the first that parses every non-empty value of the file wins. The reference file
# uses the first; month-first is tried before day-first, so an all-ambiguous day-first file reads month-first.
TIMESTAMP_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
)
MALE_WORDS, FEMALE_WORDS = ("male", "m"), ("female", "f")


def _snake(name: str) -> str:
    return name.lower().replace(" ", "_")


def _column(name: str, kind: str, *aliases: str, required: bool = True, minimum: float | None = None) -> Column:
    """A nullable input column that also answers to its lower-case and snake_case spellings."""
    spellings = tuple(dict.fromkeys((name.lower(), _snake(name), *aliases)))
    return Column(name, kind, aliases=spellings, required=required, nullable=True, minimum=minimum)


_INPUT_SCHEMA_COLUMNS = (
    # Minutes, years and money: never negative.
    _column("Daily Time Spent on Site", "float", "daily_time_spent", "Daily Time Spent", minimum=0),
    _column("Age", "float", minimum=0),
    _column("Area Income", "float", "income", minimum=0),
    _column("Daily Internet Usage", "float", "internet_usage", minimum=0),
    _column("Ad Topic Line", "str", "Ad Topic", "ad_topic"),
    _column("City", "str"),
    _column("Country", "str"),
    _column(GENDER, "str", "Sex", "sex", required=False),
    _column(MALE, "bool", "is_male", required=False),
    _column(TIMESTAMP, "str", "Time", "time", "Datetime", "datetime", "date_time"),
)
UNLABELLED_SCHEMA = TableSchema("ad impressions", ",", _INPUT_SCHEMA_COLUMNS)
TARGET_COLUMN = Column(TARGET, "bool", aliases=("clicked on ad", "clicked_on_ad", "Clicked", "clicked"))
LABELLED_SCHEMA = TableSchema("ad impressions", ",", (*_INPUT_SCHEMA_COLUMNS, TARGET_COLUMN))


def _male_from_gender(path: Path, gender: pd.Series) -> pd.Series:
    """Male/Female (or M/F, any case) → 1.0/0.0; empty → missing; anything else fails naming its line."""
    lowered = gender.str.strip().str.lower()
    known = lowered.isin(MALE_WORDS + FEMALE_WORDS)
    check_rows(path, GENDER, gender.notna() & ~known, gender, "is not Male or Female")
    return lowered.isin(MALE_WORDS).astype("float64").where(gender.notna())


def parse_timestamps(path: Path, text: pd.Series) -> pd.Series:
    """Parse with the first of :data:`TIMESTAMP_FORMATS` that fits every non-empty value of the file."""
    present = text.notna()
    for fmt in TIMESTAMP_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if not (present & parsed.isna()).any():
            return parsed
    # Name the first value that the best-fitting format cannot read.
    best = max(TIMESTAMP_FORMATS, key=lambda f: int(pd.to_datetime(text, format=f, errors="coerce").notna().sum()))
    bad = present & pd.to_datetime(text, format=best, errors="coerce").isna()
    position = int(np.flatnonzero(bad.to_numpy())[0])
    raise DataError(
        f"value {text.iloc[position]!r} is not a date-time like 6/9/2016 21:43 or 2016-06-09 21:43:00 "
        f"({int(bad.sum())} value(s) do not fit {best!r}, the format that reads most of this column)",
        path=path,
        column=TIMESTAMP,
        line=line_of(position),
    )


def load_impressions(path: str | Path, *, labelled: bool) -> pd.DataFrame:
    """Read an impressions CSV into :data:`INPUT_COLUMNS` (plus ``TARGET`` as 0/1 when ``labelled``)."""
    return impressions(read_table(path, LABELLED_SCHEMA if labelled else UNLABELLED_SCHEMA), path, labelled=labelled)


def impressions(raw: pd.DataFrame, path: str | Path, *, labelled: bool) -> pd.DataFrame:
    """The rows of an impressions schema, as read, checked and put into :data:`INPUT_COLUMNS` (errors name
    ``path``): gender as 0/1 and the timestamps in the format that reads them all."""
    path = Path(path)
    if GENDER in raw:
        male = _male_from_gender(path, raw[GENDER])
    elif MALE in raw:
        male = raw[MALE].astype("float64")
    else:
        raise DataError(f"missing column '{GENDER}' (Male/Female) or '{MALE}' (0/1)", path=path, column=GENDER)
    table = {name: raw[name].astype("float64") for name in NUMERIC_COLUMNS}
    for name in TEXT_COLUMNS:
        table[name] = raw[name].astype("object").where(raw[name].notna(), np.nan)
    table[MALE] = male.to_numpy()
    table[TIMESTAMP] = parse_timestamps(path, raw[TIMESTAMP])
    if labelled:
        table[TARGET] = raw[TARGET].astype("int64")
    return pd.DataFrame(table)  # one frame from the columns (adding them one by one costs more on a few rows)


def duplicate_groups(table: pd.DataFrame) -> np.ndarray:
    """One group id per row; identical rows of :data:`INPUT_COLUMNS` (the label ignored) share one."""
    hashes = pd.util.hash_pandas_object(table[list(INPUT_COLUMNS)], index=False)
    return pd.factorize(hashes)[0]


def count_duplicates(table: pd.DataFrame) -> int:
    """Rows that repeat an earlier row exactly, label included (the ~215 copies of the reference file)."""
    return int(table.duplicated().sum())


# --- model input --------------------------------------------------------------------------------------------

# Numeric model inputs, imputed inside the model's pipeline.
NUMERIC_FEATURES = (
    "daily_time_spent",
    "age",
    "area_income",
    "daily_internet_usage",
    "male",
    "hour",
    "weekday",
    "month",
)
# Keys are categories that the model target-encodes (out of fold, inside its training part), each stored
# as a 64-bit hash of its value (the encoder is about three times faster on integers than on text;
# all missing values share one hash, so a gap is a category of its own):
# - the three high-cardinality text columns;
# - the exact value of every other input (this export repeats a few hundred values per column);
# - the exact timestamp (567 distinct ones across 9,997 rows);
# - every pair of those nine keys.
TEXT_KEYS = ("ad_topic_line", "city", "country")
VALUE_KEYS = ("daily_time_spent_value", "age_value", "area_income_value", "daily_internet_usage_value", "male_value")
TIMESTAMP_KEY = "timestamp_value"
PAIR_KEYS = tuple(f"{a}&{b}" for a, b in itertools.combinations((*TEXT_KEYS, *VALUE_KEYS, TIMESTAMP_KEY), 2))
KEYS = frozenset((*TEXT_KEYS, *VALUE_KEYS, TIMESTAMP_KEY, *PAIR_KEYS))

# What the model may use, by group (the params' "features" lists groups); `ctr validate` audits each one.
# The names are in features.choices, where the commands' help reads them without pandas.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = dict(
    zip(
        CTR_FEATURE_GROUP_NAMES,
        (
            NUMERIC_FEATURES[:4],  # numeric
            ("male",),  # gender
            ("hour", "weekday", "month"),  # calendar
            TEXT_KEYS,  # text
            VALUE_KEYS,  # values
            (TIMESTAMP_KEY,),  # timestamp
            PAIR_KEYS,  # pairs
        ),
        strict=True,
    )
)
# The default model's groups: those that hold on later impressions with new ad texts, cities and values.
# The others score only where this file's calendar or exact values recur (the audit flags them): opt-in.
DEFAULT_GROUPS = ("numeric", "gender")
OPT_IN_GROUPS = tuple(group for group in FEATURE_GROUPS if group not in DEFAULT_GROUPS)
_NUMERIC_SOURCE = dict(zip(NUMERIC_FEATURES[:4], NUMERIC_COLUMNS, strict=True))


def group_columns(groups: Iterable[str]) -> list[str]:
    """The model input columns of ``groups`` (names of :data:`FEATURE_GROUPS`), in group order."""
    unknown = [group for group in groups if group not in FEATURE_GROUPS]
    if unknown:
        raise ValueError(f"unknown feature group(s) {unknown}; known: {', '.join(FEATURE_GROUPS)}")
    return [column for group in groups for column in FEATURE_GROUPS[group]]


def _hash(values: pd.Series) -> np.ndarray:
    """A 64-bit hash per value (numbers by value, text by content), as int64."""
    array = values.to_numpy(dtype="float64" if values.dtype == "float64" else object)
    return pd.util.hash_array(array).view("int64")


def build_features(table: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The model input of a loaded table: :data:`NUMERIC_FEATURES` and the keys of :data:`FEATURE_GROUPS`.

    ``columns`` limits the keys to those a model uses (hashing the 36 pairs is most of the cost, and the
    default model uses none); the numbers are always there.
    """
    wanted = KEYS if columns is None else KEYS.intersection(columns)
    timestamp = table[TIMESTAMP]
    # Built as one dict of arrays and one frame (a column at a time costs more than the work on a few rows).
    features = {name: table[source].to_numpy(dtype="float64") for name, source in _NUMERIC_SOURCE.items()}
    features["male"] = table[MALE].to_numpy(dtype="float64")
    features["hour"] = timestamp.dt.hour.to_numpy(dtype="float64")
    features["weekday"] = timestamp.dt.day_of_week.to_numpy(dtype="float64")
    features["month"] = timestamp.dt.month.to_numpy(dtype="float64")
    pairs = [pair.split("&") for pair in PAIR_KEYS if pair in wanted]
    needed = wanted.union(name for pair in pairs for name in pair)
    sources = {
        **dict(zip(TEXT_KEYS, (table[source] for source in TEXT_COLUMNS), strict=True)),
        **{f"{name}_value": table[source] for name, source in _NUMERIC_SOURCE.items()},
        "male_value": table[MALE],
    }
    keys = {name: _hash(values) for name, values in sources.items() if name in needed}
    if TIMESTAMP_KEY in needed:
        keys[TIMESTAMP_KEY] = _hash(timestamp.dt.strftime("%Y-%m-%d %H:%M:%S"))
    for first, second in pairs:
        both = pd.DataFrame({first: keys[first], second: keys[second]})
        keys[f"{first}&{second}"] = pd.util.hash_pandas_object(both, index=False).to_numpy().view("int64")
    order = [name for name in (*TEXT_KEYS, *VALUE_KEYS, TIMESTAMP_KEY, *PAIR_KEYS) if name in wanted]
    return pd.DataFrame({**features, **{name: keys[name] for name in order}}, index=table.index)


def with_new_values(table: pd.DataFrame) -> pd.DataFrame:
    """The same impressions with values no training row has: what another export's rows look like to the keys.

    Every text value is renamed, every number moved to the next float and every timestamp by one second, so
    no exact value or pair matches a training one, while the numbers, gender and calendar are unchanged.
    """
    renamed = table.copy()
    for name in TEXT_COLUMNS:
        renamed[name] = renamed[name].where(renamed[name].isna(), renamed[name] + " (new)")
    for name in NUMERIC_COLUMNS:
        renamed[name] = np.nextafter(renamed[name].to_numpy(), np.inf)
    renamed[TIMESTAMP] = renamed[TIMESTAMP] + pd.Timedelta(seconds=1)
    return renamed
