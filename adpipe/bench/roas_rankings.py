"""Why `roas plan-validate`'s two ranking figures (issue 37) are what they are: a diagnostic, not a suite test, and
it chooses nothing. It reads the outer held-out folds, so no setting may be picked from its output (the plan's
exponent mode is chosen on inner folds of each training fold); the figures are in docs/roas.md, "Budget plan".

    python -m adpipe.bench.roas_rankings [--modes common,campaign,dimension,segment,auto]

For each exponent mode (fixed, or ``auto``: the planner's nested choice) on the reference file's 5 x 3 folds:
today's ranking test (training marginal ROAS vs held-out average ROAS) and the within-campaign one (vs the held-out
marginal response), the latter per campaign; and, for ``auto``, the held-out own exponents' standard errors and
the within-campaign figure over the held-out segments whose exponent the plan's own rule would call pinned
(se <= 0.25), a stricter reading of "where it is identified" than the test's (>= 3 ads, a 2x spend range).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from adpipe import config
from adpipe.roas.defaults import PROTOCOL
from adpipe.roas.plan.additive import AdditiveLevelCurves, penalised_poisson
from adpipe.roas.plan.backtest import (
    RANKING_SHUFFLES,
    FoldRanking,
    campaign_splits,
    fold_ranking,
    ranking_backtest,
    within_campaign_backtest,
)
from adpipe.roas.plan.curves import SPEND, VALUE
from adpipe.roas.plan.judges import campaign_of
from adpipe.roas.plan.options import PlanData
from adpipe.roas.plan.planner import read_ads
from adpipe.validation import spearman

PINNED_SE = 0.25  # the plan's own rule: an exponent sd above it is not pinned (docs/roas.md, "The curves")


def exponent_se(ads: pd.DataFrame) -> float:
    """The quasi-Poisson standard error of a held-out segment's own exponent (the ``own_slope`` judge's fit)."""
    spent = ads[ads[SPEND] > 0]
    spend, value = spent[SPEND].to_numpy(float), spent[VALUE].to_numpy(float)
    x = np.log1p(spend)
    design = np.column_stack([np.ones(len(x)), x - x.mean()])
    start = np.array([np.log(max(value.mean(), 1e-9)), 0.5])
    theta, hess = penalised_poisson(design, value, 1.0, (np.zeros(2), np.full(2, 1e-6)), start)
    mu = np.exp(design @ theta)
    dispersion = max(((value - mu) ** 2 / mu).sum() / max(len(value) - 2, 1), 1e-6)
    return float(np.sqrt(np.linalg.inv(hess)[1, 1] * dispersion))


def per_campaign(rankings: list[FoldRanking], pinned_only: bool) -> dict[str, list[float]]:
    """Within-campaign Spearman per campaign and fold (campaigns with >= 3 qualifying held-out segments)."""
    out: dict[str, list[float]] = {}
    for r in rankings:
        heldout, campaigns = r.own.marginal(), np.array([campaign_of(n) for n in r.names])
        keep = r.own.identified.copy()
        if pinned_only:
            keep &= np.array(
                [bool(r.own.identified[k]) and exponent_se(a) <= PINNED_SE for k, a in enumerate(r.own.ads)]
            )
        for campaign in np.unique(campaigns):
            rows = np.flatnonzero((campaigns == campaign) & keep)
            if len(rows) >= 3:
                out.setdefault(str(campaign), []).append(spearman(heldout[rows], r.marginal[rows]))
    return out


def _text(by: dict[str, list[float]]) -> str:
    every = [rho for values in by.values() for rho in values]
    parts = [f"{c} {np.mean(v):.3f} ({len(v)})" for c, v in sorted(by.items())]
    return f"{np.mean(every):.3f} over {len(every)} campaign-folds; " + ", ".join(parts) if every else "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default="common,campaign,dimension,segment,auto")
    args = parser.parse_args()
    frame, _ = read_ads(PlanData(config.CAMPAIGNS_FILE, ["xyz_campaign_id", "age", "gender"], 5.0, 100.0))
    splits = campaign_splits(frame, PROTOCOL)
    for mode in args.modes.split(","):
        started = time.perf_counter()
        rankings = []
        for split in splits:
            train, test = frame.iloc[split.train], frame.iloc[split.test]
            curves = AdditiveLevelCurves(exponent=mode, seed=PROTOCOL.seed).fit(train, train[VALUE])
            rankings.append(fold_ranking(curves, train, test))
        today = ranking_backtest(rankings, RANKING_SHUFFLES, PROTOCOL.seed).marginal_roas_curves
        within = within_campaign_backtest(rankings, RANKING_SHUFFLES, PROTOCOL.seed).marginal_roas_curves
        print(
            f"{mode}: today's test {today.mean:.3f}; within campaign "
            f"{within.mean if within is not None else float('nan'):.3f}: {_text(per_campaign(rankings, False))} "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        if mode == "auto":
            ses: dict[str, list[float]] = {}
            for r in rankings:
                for k, ads in enumerate(r.own.ads):
                    if r.own.identified[k]:
                        ses.setdefault(campaign_of(r.names[k]), []).append(exponent_se(ads))
            for campaign, values in sorted(ses.items()):
                q = np.quantile(values, [0.25, 0.5, 0.75])
                print(
                    f"  held-out own exponent se, campaign {campaign}: quartiles {q.round(2).tolist()} ({len(values)})"
                )
            print(
                f"  within campaign, held-out exponents pinned (se <= {PINNED_SE}): "
                + _text(per_campaign(rankings, True))
            )


if __name__ == "__main__":
    main()
