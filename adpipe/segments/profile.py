"""What each segment is: a profile table (every feature's mean or mode and how far it is from the whole base)
and a few words naming the segment's most distinctive features."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from adpipe.segments.source import SegmentData
from features.profiles import INTEREST_PREFIX, FeatureSpec, encoded_names, make_preprocessor

# A feature describes a segment when the segment's mean is this many base standard deviations away.
DISTINCTIVE_SD = 0.5
DESCRIPTION_TERMS = 3
SHORT_NAMES = {
    "Likes and Reactions": "likes",
    "Followed Accounts": "followed accounts",
    "Time Spent Online (hrs/weekday)": "weekday time online",
    "Time Spent Online (hrs/weekend)": "weekend time online",
    "Ad Interaction Time (sec)": "ad interaction time",
    "n_sessions": "session count",
    "n_ips": "IP count",
    "n_countries": "country count",
    "span_days": "days between first and last session",
}
ORDINAL_WORDS = {"Age": ("older", "younger"), "Income Level": ("higher income", "lower income")}
VALUE_FORMS = {"Language": "{} speakers"}


def _term(column: str, z: float, value: float, spec: FeatureSpec) -> str:
    """A few words for one distinctive feature of a segment (``z`` > 0: above the base)."""
    up = z > 0
    if column in spec.ordinal:
        words = ORDINAL_WORDS.get(column, (f"higher {column}", f"lower {column}"))
        return words[0] if up else words[1]
    if column.startswith(INTEREST_PREFIX):
        interest = column.removeprefix(INTEREST_PREFIX)
        if up:
            return f"{'mostly' if value >= 0.5 else 'more'} into {interest}"
        return f"{'not' if value == 0 else 'less'} into {interest}"
    if "=" in column and column.split("=", 1)[0] in spec.nominal:
        source, category = column.split("=", 1)
        category = VALUE_FORMS.get(source, "{}").format(category)
        if up:
            return f"{'mostly' if value >= 0.5 else 'more'} {category}"
        return f"{'no' if value == 0 else 'fewer'} {category}"
    name = SHORT_NAMES.get(column, column.replace("_", " "))
    return f"{'high' if up else 'low'} {name}"


def describe(z: pd.Series, means: pd.Series, spec: FeatureSpec) -> str:
    """The segment's most distinctive features in words, one per input column, biggest first."""
    terms: list[str] = []
    used: set[str] = set()
    for column in z.abs().sort_values(ascending=False, kind="stable").index:
        if abs(z[column]) < DISTINCTIVE_SD or len(terms) == DESCRIPTION_TERMS:
            break
        source = column if column.startswith(INTEREST_PREFIX) else column.split("=", 1)[0]
        if source in used:
            continue
        used.add(source)
        terms.append(_term(column, float(z[column]), float(means[column]), spec))
    return ", ".join(terms) if terms else "close to the average user"


def _readable(data: SegmentData) -> pd.DataFrame:
    """Encoded but unscaled features (ranks, 0/1 indicators, raw numbers), for profiles and descriptions."""
    prepare = make_preprocessor(data.spec, scale=False).fit(data.features)
    return pd.DataFrame(prepare.transform(data.features), columns=encoded_names(prepare))


def profile_segments(data: SegmentData, labels: np.ndarray) -> pd.DataFrame:
    """One row per segment (and one for all users): size, share, outcomes, description, and per feature
    its mean (numeric) or mode (bands, categories) with how far it is from the whole base.

    "vs base (sd)" is the difference of means in base standard deviations (ordinal bands: of their ranks);
    "vs base (share)" the difference in the share of users with that value or interest.
    """
    readable = _readable(data)
    base_mean, base_std = readable.mean(), readable.std(ddof=0).replace(0, np.nan)
    spec = data.spec
    rows = []
    for segment in [None, *sorted(np.unique(labels))]:
        members = np.ones(len(labels), dtype=bool) if segment is None else labels == segment
        means = readable[members].mean()
        z = ((means - base_mean) / base_std).fillna(0.0)
        row: dict[str, Any] = {
            "segment": "all" if segment is None else int(segment),
            "size": int(members.sum()),
            "share": float(members.mean()),
        }
        for column in data.outcomes:
            row[f"mean {column}"] = float(data.outcomes.loc[members, column].mean())
        row["description"] = "all users" if segment is None else describe(z, means, spec)
        for column in spec.numeric:
            row[column] = float(means[column])
            row[f"{column} vs base (sd)"] = float(z[column])
        for column in spec.ordinal:
            row[column] = data.features.loc[members, column].mode().iloc[0]
            row[f"{column} vs base (sd)"] = float(z[column])
        for column in spec.nominal:
            mode = data.features.loc[members, column].mode().iloc[0]
            row[column] = mode
            row[f"{column} vs base (share)"] = float(means[f"{column}={mode}"] - base_mean[f"{column}={mode}"])
        for column in (c for c in readable.columns if c.startswith(INTEREST_PREFIX)):
            row[column] = float(means[column])
            row[f"{column} vs base (share)"] = float(means[column] - base_mean[column])
        rows.append(row)
    return pd.DataFrame(rows)


def segment_rows(profile: pd.DataFrame) -> list[dict[str, Any]]:
    """The report's rows: each segment's size, share, outcome means and description (not the "all" row)."""
    segments = profile[profile["segment"] != "all"]
    columns = ["segment", "size", "share", *(c for c in segments if c.startswith("mean ")), "description"]
    return segments[columns].to_dict(orient="records")
