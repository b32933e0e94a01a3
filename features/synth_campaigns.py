"""A synthetic daily campaign export with a known true response curve per segment, in Ads Manager's column names.

Each segment (campaign x placement x banner) has a saturating curve: expected value per day =
``a * spend ** b`` with ``b`` in 0.3-0.8. Purchases are Poisson around that value over the segment's price;
their value is purchases x price. The export comes with its mapping (``docs/examples/synth_campaigns.toml``)
and the curves beside it as JSON, so a test can check that a curve fitted on the export recovers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.io import write_csv, write_json

CAMPAIGNS = ("Spring sale", "Brand awareness", "Retargeting", "New arrivals", "Clearance", "Loyalty")
PLACEMENTS = ("Facebook feed", "Instagram stories", "Audience network")
BANNERS = ("Banner A", "Banner B")
COLUMNS = (
    "Day",
    "Campaign name",
    "Placement",
    "Banner",
    "Amount spent (USD)",
    "Impressions",
    "Link clicks",
    "Purchases",
    "Purchases conversion value",
)
MAPPING_FILE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "synth_campaigns.toml"


@dataclass(frozen=True)
class Curve:
    """One segment's true curve: expected value per day = ``a * spend ** b``; one purchase is worth ``price``."""

    campaign: str
    placement: str
    banner: str
    a: float
    b: float
    price: float

    def value(self, spend: np.ndarray) -> np.ndarray:
        return self.a * np.power(spend, self.b)


def true_curves(seed: int) -> list[Curve]:
    """A curve per segment, drawn so that ROAS at a typical daily spend is between about 0.5 and 4."""
    rng = np.random.default_rng(seed)
    curves = []
    for campaign in CAMPAIGNS:
        for placement in PLACEMENTS:
            for banner in BANNERS:
                b = float(rng.uniform(0.3, 0.8))
                roas_at_100 = float(rng.uniform(0.5, 4.0))
                a = roas_at_100 * 100.0 / 100.0**b
                curves.append(Curve(campaign, placement, banner, a, b, float(rng.choice([20.0, 40.0, 80.0]))))
    return curves


def daily_export(curves: list[Curve], days: int, seed: int, start: str = "2024-03-01") -> pd.DataFrame:
    """``days`` rows per segment: spend around the segment's budget, delivery figures, Poisson purchases."""
    rng = np.random.default_rng(seed + 1)
    dates = pd.date_range(start, periods=days, freq="D").strftime("%Y-%m-%d")
    parts = []
    for curve in curves:
        budget = float(rng.uniform(20.0, 300.0))
        spend = np.round(budget * rng.lognormal(0.0, 0.6, days), 2)
        impressions = rng.poisson(spend * float(rng.uniform(60.0, 200.0)))
        clicks = rng.binomial(impressions, float(rng.uniform(0.005, 0.03)))
        purchases = rng.poisson(curve.value(spend) / curve.price)
        parts.append(
            pd.DataFrame(
                {
                    "Day": dates,
                    "Campaign name": curve.campaign,
                    "Placement": curve.placement,
                    "Banner": curve.banner,
                    "Amount spent (USD)": spend,
                    "Impressions": impressions,
                    "Link clicks": clicks,
                    "Purchases": purchases,
                    "Purchases conversion value": np.round(purchases * curve.price, 2),
                }
            )
        )
    return pd.concat(parts, ignore_index=True).sort_values(["Day", "Campaign name"], kind="stable", ignore_index=True)


def curves_path(out: str | Path) -> Path:
    """Where the true curves of the export ``out`` are written: beside it, ``<name>.curves.json``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.curves.json")


def write_export(out: str | Path, days: int = 60, seed: int = 0) -> tuple[pd.DataFrame, list[Curve]]:
    """Write the export to ``out`` and its true curves beside it (:func:`curves_path`)."""
    curves = true_curves(seed)
    table = daily_export(curves, days, seed)
    write_csv(out, table)
    write_json(
        curves_path(out),
        {
            "model": "expected value per day = a * spend ** b; purchases ~ Poisson(value / price)",
            "segment": ["Campaign name", "Placement", "Banner"],
            "days": days,
            "seed": seed,
            "curves": [curve.__dict__ for curve in curves],
        },
    )
    return table, curves
