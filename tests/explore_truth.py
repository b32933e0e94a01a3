"""What the Explore page must show, computed with pandas straight from the data files (not through
adpipe.explore): each data set's rows with its dimensions as the page writes them, and each KPI as a ratio of
sums. The fact-layer unit test and the browser test both compare against it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.explore.datasets import AGE_BANDS

Kpis = dict[str, Callable[[pd.DataFrame], float]]


def _ratio(numerator: str, denominator: str, scale: float = 1.0) -> Callable[[pd.DataFrame], float]:
    return lambda rows: scale * rows[numerator].sum() / rows[denominator].sum()


CAMPAIGN_KPIS: Kpis = {
    "spend": lambda r: r["spend"].sum(),
    "impressions": lambda r: r["impressions"].sum(),
    "clicks": lambda r: r["clicks"].sum(),
    "conversions": lambda r: r["conversions"].sum(),
    "value": lambda r: r["value"].sum(),
    "ctr": _ratio("clicks", "impressions"),
    "cpc": _ratio("spend", "clicks"),
    "cpm": _ratio("spend", "impressions", 1000.0),
    "conversion_rate": _ratio("conversions", "clicks"),
    "cpa": _ratio("spend", "conversions"),
    "roas": _ratio("value", "spend"),
}
CTR_KPIS: Kpis = {"impressions": len, "clicks": lambda r: r["clicks"].sum(), "ctr": lambda r: r["clicks"].mean()}
SESSION_KPIS: Kpis = {
    "sessions": len,
    "users": lambda r: r["user_id"].nunique(),
    "page_views": lambda r: r["page_views"].sum(),
    "page_views_per_session": lambda r: r["page_views"].sum() / len(r),
    "duration_per_session": lambda r: r["duration"].sum() / len(r),
    "sessions_per_user": lambda r: len(r) / r["user_id"].nunique(),
    "page_views_per_user": lambda r: r["page_views"].sum() / r["user_id"].nunique(),
}


@dataclass(frozen=True)
class Truth:
    """A data set's rows (dimensions as text, ``date`` as ISO text when there is one) and its KPIs."""

    rows: pd.DataFrame
    dimensions: list[str]
    kpis: Kpis
    has_date: bool

    def kpi_values(self, rows: pd.DataFrame) -> dict[str, float | None]:
        """Every KPI of ``rows``: None when there is none or a denominator is 0."""
        values: dict[str, float | None] = {}
        for name, kpi in self.kpis.items():
            with np.errstate(all="ignore"):  # a 0 denominator is expected: the KPI is then None
                value = float(kpi(rows)) if len(rows) else None
            values[name] = None if value is None or not math.isfinite(value) else value
        return values

    def kept(
        self, values: dict[str, list[str]], date_from: str | None = None, date_to: str | None = None
    ) -> pd.DataFrame:
        keep = pd.Series(True, index=self.rows.index)
        for name, chosen in values.items():
            keep &= self.rows[name].isin(chosen)
        if date_from:
            keep &= self.rows["date"] >= date_from
        if date_to:
            keep &= self.rows["date"] <= date_to
        return self.rows[keep]


def campaigns(path: Path, *, synth: bool = False) -> Truth:
    """The reference file (value = 5 enquiries + 100 sales) or ``roas synth``'s export (its revenue column)."""
    if synth:
        dims = ["Campaign name", "Placement", "Banner"]
        raw = pd.read_csv(path, dtype={d: str for d in [*dims, "Day"]}, keep_default_na=False)
        rows = raw[dims].assign(
            date=raw["Day"],
            spend=raw["Amount spent (USD)"],
            impressions=raw["Impressions"],
            clicks=raw["Link clicks"],
            conversions=raw["Purchases"],
            value=raw["Purchases conversion value"],
        )
        return Truth(rows, dims, CAMPAIGN_KPIS, True)
    dims = ["xyz_campaign_id", "age", "gender", "interest", "fb_campaign_id"]
    raw = pd.read_csv(path, dtype={d: str for d in dims}, keep_default_na=False)
    rows = raw[dims].assign(
        spend=raw["Spent"],
        impressions=raw["Impressions"],
        clicks=raw["Clicks"],
        conversions=raw["Approved_Conversion"],
        value=5.0 * raw["Total_Conversion"] + 100.0 * raw["Approved_Conversion"],
    )
    return Truth(rows, dims, CAMPAIGN_KPIS, False)


def ctr(path: Path) -> Truth:
    raw = pd.read_csv(path, keep_default_na=False, dtype={"City": str, "Country": str, "Ad Topic Line": str})
    stamps = pd.to_datetime(raw["Timestamp"], format="%m/%d/%Y %H:%M")
    band = pd.Series("", index=raw.index)
    for low, high, label in AGE_BANDS:
        band[(raw["Age"] >= low) & (raw["Age"] < high)] = label
    rows = pd.DataFrame(
        {
            "hour": stamps.dt.strftime("%H"),
            "weekday": stamps.dt.strftime("%a"),
            "City": raw["City"],
            "Country": raw["Country"],
            "Ad Topic Line": raw["Ad Topic Line"],
            "age band": band,
            "Gender": raw["Gender"],
            "date": stamps.dt.strftime("%Y-%m-%d"),
            "clicks": raw["Clicked on Ad"],
        }
    )
    return Truth(rows, [c for c in rows.columns if c not in ("date", "clicks")], CTR_KPIS, True)


def clickstream(root: Path) -> Truth:
    parts = []
    for split in ("train", "test"):
        sessions = pd.read_csv(root / split / f"session_{split}.csv", keep_default_na=False, dtype=str)
        users = pd.read_csv(root / split / f"user_{split}.csv", sep=";", dtype=str)[["user_id", "user_category"]]
        parts.append(sessions.merge(users, on="user_id", how="left").assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    dims = ["device_type", "browser", "operating_system", "country", "user_category", "split"]
    rows = table[[*dims, "user_id"]].assign(
        date=table["timestamp"].str.slice(0, 10),
        page_views=table["page_views"].astype(float),
        duration=table["session_duration"].astype(float),
    )
    return Truth(rows, dims, SESSION_KPIS, True)


def random_filter(truth: Truth, rng: random.Random) -> tuple[dict[str, list[str]], str | None, str | None]:
    """Up to three values of about half the dimensions, and a random date range half of the time."""
    values = {}
    for name in truth.dimensions:
        if rng.random() < 0.45:
            options = sorted(truth.rows[name].unique())
            values[name] = rng.sample(options, min(len(options), rng.randint(1, 3)))
    date_from = date_to = None
    if truth.has_date and rng.random() < 0.6:
        days = sorted(truth.rows["date"].unique())
        a, b = sorted(rng.sample(range(len(days)), 2))
        date_from, date_to = days[a], days[b]
        if rng.random() < 0.25:
            date_from = None
    return values, date_from, date_to
