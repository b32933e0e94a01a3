"""Who grades a back-tested plan (``roas plan-validate``): judges of three model families, each fitted on the held-out
fold alone, and two bounds.

A plan made by one family and graded by the same family's refit is not an independent test (issue 37), so the
realised gain of a plan on a held-out fold is read under :data:`JUDGES`:

* ``planner_refit``: the planner's own curves (:class:`AdditiveLevelCurves`, the exponent mode chosen on the
  training folds) refitted on the held-out ads;
* ``segment_pooled_refit``: the other pooling, per-segment DerSimonian-Laird (:class:`PooledPowerCurves`);
* ``own_slope``: no curve shape shared across segments: each held-out segment's own Poisson exponent on its
  held-out ads (an unpooled power law within the segment, so within its campaign) applied to its own held-out
  value; a segment too thin to have one (< 3 ads with spend or a spend range < 2x) takes the median of the fold's
  identified ones.

The headline is the LOWEST judge's mean. Two figures are bounds, not judges: one pooled curve for every held-out
segment (it cannot tell segments apart, so it measures only the common concavity: a floor near zero), and the
held-out realised ROAS applied linearly (no saturation: it overstates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from adpipe.reports import MeanStd
from adpipe.roas.plan.additive import AdditiveLevelCurves, penalised_poisson
from adpipe.roas.plan.curves import SEGMENT, SEGMENT_SEPARATOR, SPEND, VALUE, PooledPowerCurves, SegmentResponse
from adpipe.roas.plan.report import GainBacktest
from adpipe.roas.plan.solver import solve

PLANNER, POOLED, OWN_SLOPE = "planner_refit", "segment_pooled_refit", "own_slope"
ONE_CURVE, LINEAR_ROAS = "one_pooled_curve", "heldout_roas_linear"
JUDGES = {
    PLANNER: "the planner's additive-level curves refitted on the held-out ads",
    POOLED: "per-segment DerSimonian-Laird pooled curves refitted on the held-out ads",
    OWN_SLOPE: "each held-out segment's own Poisson exponent on its own held-out value (no shape shared)",
}
BOUNDS = {
    ONE_CURVE: "one curve for every held-out ad: cannot tell segments apart (a floor)",
    LINEAR_ROAS: "held-out realised ROAS x the spend moved: no saturation (a ceiling)",
}
MIN_SLOPE_ADS, MIN_SLOPE_RANGE = 3, 2.0


def _power_fit(spend: np.ndarray, value: np.ndarray) -> float:
    """The exponent of one power law fitted (Poisson, log link) to these ads alone, clipped to [0, 1]."""
    x = np.log1p(spend)
    design = np.column_stack([np.ones(len(x)), x - x.mean()])
    start = np.array([np.log(max(value.mean(), 1e-9)), 0.5])
    theta, _ = penalised_poisson(design, value, 1.0, (np.zeros(2), np.full(2, 1e-6)), start)
    return float(np.clip(theta[1], 0.0, 1.0))


@dataclass(frozen=True)
class OwnSlopes:
    """Each held-out segment's own exponent, whether its ads identify it, and its held-out ads."""

    exponent: np.ndarray
    identified: np.ndarray
    ads: list[pd.DataFrame]

    @classmethod
    def of(cls, test: pd.DataFrame, names: Sequence[str]) -> OwnSlopes:
        ads = [test[test[SEGMENT] == name] for name in names]
        exponent, identified = np.zeros(len(names)), np.zeros(len(names), bool)
        for k, segment in enumerate(ads):
            spent = segment[segment[SPEND] > 0]
            spend = spent[SPEND].to_numpy()
            if len(spent) >= MIN_SLOPE_ADS and spend.max() >= MIN_SLOPE_RANGE * spend.min() and spent[VALUE].sum() > 0:
                exponent[k], identified[k] = _power_fit(spend, spent[VALUE].to_numpy(float)), True
        fill = float(np.median(exponent[identified])) if identified.any() else 1.0
        return cls(np.where(identified, exponent, fill), identified, ads)

    def value(self, ratio: np.ndarray) -> np.ndarray:
        """Each segment's held-out value with its ads' spend scaled by ``ratio``: observed value x the power law."""
        out = np.zeros(len(self.ads))
        for k, segment in enumerate(self.ads):
            spend, value = segment[SPEND].to_numpy(float), segment[VALUE].to_numpy(float)
            out[k] = (value * ((1 + ratio[k] * spend) / (1 + spend)) ** self.exponent[k]).sum()
        return out

    def marginal(self) -> np.ndarray:
        """Each segment's held-out marginal ROAS at its held-out spend (d value / d total spend)."""
        out = np.zeros(len(self.ads))
        for k, segment in enumerate(self.ads):
            spend, value = segment[SPEND].to_numpy(float), segment[VALUE].to_numpy(float)
            out[k] = self.exponent[k] * (value * spend / (1 + spend)).sum() / max(spend.sum(), 1e-12)
        return out


def _gain(response: SegmentResponse, planned: np.ndarray) -> float:
    return float(response.value(planned).sum() / response.value(response.today).sum() - 1)


@dataclass(frozen=True)
class FoldGain:
    """One held-out fold's plan: the gain promised, and realised under each judge and bound (shares of today)."""

    promised: float
    judges: dict[str, float]
    bounds: dict[str, float]


def judge_plan(curves: AdditiveLevelCurves, test: pd.DataFrame, change: float) -> FoldGain:
    """A plan made on the training ``curves`` for the held-out fold's segments and budget (each within
    [1/change, change] x its held-out spend), graded by every judge and bound fitted on the held-out ads."""
    spent = test[test[SPEND] > 0]
    sums = spent.groupby(SEGMENT)[[SPEND, VALUE]].sum()
    names = list(sums.index)
    promised_by = SegmentResponse.from_ads(curves, test, names)
    today = promised_by.today
    planned = solve(promised_by, today / change, today * change, float(today.sum()))
    own = OwnSlopes.of(test, names)
    refits = {
        PLANNER: AdditiveLevelCurves(exponent=curves.mode_).fit(test, test[VALUE]),
        POOLED: PooledPowerCurves().fit(test, test[VALUE]),
    }
    judges = {name: _gain(SegmentResponse.from_ads(fit, test, names), planned) for name, fit in refits.items()}
    judges[OWN_SLOPE] = float(own.value(planned / today).sum() / own.value(np.ones(len(names))).sum() - 1)
    one = test.assign(**{SEGMENT: "all"})
    single = PooledPowerCurves().fit(one, one[VALUE])
    roas = (sums[VALUE] / sums[SPEND]).to_numpy()
    bounds = {
        ONE_CURVE: _one_curve_gain(single, test, names, planned),
        LINEAR_ROAS: float((roas * (planned - today)).sum() / (roas * today).sum()),
    }
    return FoldGain(_gain(promised_by, planned), judges, bounds)


def _one_curve_gain(one: PooledPowerCurves, test: pd.DataFrame, names: list[str], planned: np.ndarray) -> float:
    """The gain under a single curve fitted to every held-out ad, each segment's ads scaled to its plan."""
    alpha, beta = one.segment_coef(["all"])[0]
    centre = one.center_
    total_today = total_planned = 0.0
    for name, target in zip(names, planned, strict=True):
        spend = test.loc[test[SEGMENT] == name, SPEND].to_numpy(float)
        scaled = spend * target / spend.sum()
        total_today += np.exp(alpha + beta * (np.log1p(spend) - centre)).sum()
        total_planned += np.exp(alpha + beta * (np.log1p(scaled) - centre)).sum()
    return float(total_planned / total_today - 1)


def gain_backtest(gains: Sequence[FoldGain]) -> GainBacktest:
    """The folds' gains: each judge's and bound's mean and spread, the lowest judge as the headline."""
    judges = {name: MeanStd.over([g.judges[name] for g in gains]) for name in JUDGES}
    lowest = min(judges, key=lambda name: judges[name].mean)
    means = [j.mean for j in judges.values()]
    return GainBacktest(
        promised=MeanStd.over([g.promised for g in gains]),
        judges=judges,
        headline_judge=lowest,
        judge_spread=float(max(means) - min(means)),
        bounds={name: MeanStd.over([g.bounds[name] for g in gains]) for name in BOUNDS},
    )


def campaign_of(name: str) -> str:
    """A segment's campaign: its first dimension."""
    return name.split(SEGMENT_SEPARATOR)[0]


def campaign_rows(names: Sequence[str], identified: np.ndarray) -> list[np.ndarray]:
    """The within-campaign ranking test's groups: per campaign (in name order) with >= 3 identified held-out
    segments, their rows."""
    campaigns = np.array([campaign_of(n) for n in names])
    rows = [np.flatnonzero((campaigns == campaign) & identified) for campaign in np.unique(campaigns)]
    return [r for r in rows if len(r) >= 3]
