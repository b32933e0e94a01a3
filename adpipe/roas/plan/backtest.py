"""Does the plan hold on campaigns it has not seen? (``roas plan-validate``)

On the grouped protocol of ``roas validate`` (folds by ``fb_campaign_id``), curves fitted on the training
campaigns are scored on the held-out ones at their actual spend, beside two baselines on the same folds: a
constant ROAS per segment (a line through the origin) and the task's LightGBM ROAS model (predicted ROAS x
spend). Then the plan is back-tested: the training order of segments by marginal ROAS against the held-out
campaigns' realised ROAS (Spearman), beside a shuffled order and the historical average-ROAS order; and the gain
a training-fold plan promised against the gain the held-out fold realised.

When the export has a date (a mapping with a date role), the same three measurements run forward in time too:
expanding windows over the distinct dates (:func:`adpipe.roas.folds.period_splits`), each fitted on every earlier
date and scored on the next block of dates, so the ranking and the gain are learnt on the past and realised on the
next period. The segments are the same over time: this is the test closest to moving money next month.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from adpipe.reports import MeanStd
from adpipe.roas.plan.additive import AdditiveLevelCurves, poisson_deviance
from adpipe.roas.plan.curves import SEGMENT, SPEND, VALUE, SegmentCurves, SegmentResponse
from adpipe.roas.plan.judges import OwnSlopes, campaign_rows, gain_backtest, judge_plan
from adpipe.roas.plan.report import (
    ForwardValidation,
    ForwardWindow,
    GainBacktest,
    RankingBacktest,
    Target,
    ValueAccuracy,
    WithinCampaignRanking,
)
from adpipe.roas.plan.solver import solve
from adpipe.validation import Protocol, Split, make_splits, ranks, spearman_of_ranks
from features.campaign_dates import DATE
from features.campaign_mapping import CampaignMapping
from features.choices import GROUP

SPEARMAN_AT_LEAST = 0.4  # the plan's gate: below it (or within the shuffled band) the plan keeps today's split
RANKING_TARGET, WITHIN_RANKING_TARGET, HEADLINE_TARGET = 0.65, 0.70, 0.08  # issue 37's targets
SHUFFLE_MARGIN_SD = 2.0
GAIN_CHANGE = 2.0  # the back-tested plan keeps each segment within [1/2, 2] x its held-out spend
CONSTANT_ROAS, CURVES, LIGHTGBM = "constant_roas", "pooled_curves", "lightgbm_roas"
BASELINES = {
    CONSTANT_ROAS: "value = segment ROAS on the training folds x spend (a line through the origin)",
    LIGHTGBM: "value = the roas validate LightGBM model's predicted ROAS (planned inputs) x spend",
}


def campaign_splits(frame: pd.DataFrame, protocol: Protocol) -> list[Split]:
    """The folds of ``roas validate``'s grouped protocol over the planner's ads."""
    return make_splits(pd.Series(np.arange(len(frame))), protocol, groups=frame[GROUP].to_numpy())


def segment_roas(ads: pd.DataFrame) -> pd.Series:
    """Value over spend per segment, on the ads with spend."""
    sums = ads[ads[SPEND] > 0].groupby(SEGMENT)[[SPEND, VALUE]].sum()
    return sums[VALUE] / sums[SPEND]


RANKING_SHUFFLES = 200  # shuffled orders the ranking back-test draws (in plan-validate and in each plan)


@dataclass(frozen=True)
class FoldRanking:
    """One fold's segments: marginal ROAS and average ROAS learnt on training, realised ROAS held out, and each
    held-out segment's own exponent (the within-campaign test's held-out marginal response: fitted when first read,
    so the plan's gate, which reads today's test alone, does not fit them)."""

    names: list[str]
    marginal: np.ndarray
    history: np.ndarray
    realised: np.ndarray
    test: pd.DataFrame

    @cached_property
    def own(self) -> OwnSlopes:
        return OwnSlopes.of(self.test, self.names)

    @cached_property
    def across_ranks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The across-segment test's ranks: realised, marginal and historical ROAS."""
        return ranks(self.realised), ranks(self.marginal), ranks(self.history)

    @cached_property
    def campaign_ranks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The within-campaign test's ranks, per campaign with >= 3 identified held-out segments: the held-out
        marginal response and the training marginal ROAS."""
        heldout = self.own.marginal()
        return [(ranks(heldout[r]), ranks(self.marginal[r])) for r in campaign_rows(self.names, self.own.identified)]


def fold_ranking(curves: SegmentCurves, train: pd.DataFrame, test: pd.DataFrame) -> FoldRanking:
    history, realised = segment_roas(train), segment_roas(test)
    names = sorted(set(history.index) & set(realised.index))
    marginal = SegmentResponse.from_ads(curves, train, names).marginal(
        train[train[SPEND] > 0].groupby(SEGMENT)[SPEND].sum().reindex(names).to_numpy()
    )
    return FoldRanking(
        names,
        marginal,
        history.reindex(names).to_numpy(),
        realised.reindex(names).to_numpy(),
        test,
    )


def within_campaign_backtest(rankings: list[FoldRanking], n_shuffles: int, seed: int) -> WithinCampaignRanking:
    """Spearman within each campaign over the folds, and its shuffled band (the order permuted within campaigns);
    signal: above the shuffled mean + 2 sd."""
    rng = np.random.default_rng(seed)
    curves = [spearman_of_ranks(heldout, marginal) for r in rankings for heldout, marginal in r.campaign_ranks]
    if not curves:
        return WithinCampaignRanking(
            marginal_roas_curves=None, shuffled=None, n_campaign_folds=0, n_shuffles=n_shuffles, signal=False
        )
    shuffled = [
        np.mean([spearman_of_ranks(h, rng.permutation(m)) for r in rankings for h, m in r.campaign_ranks])
        for _ in range(n_shuffles)
    ]
    bar = float(np.mean(shuffled)) + SHUFFLE_MARGIN_SD * float(np.std(shuffled))
    return WithinCampaignRanking(
        marginal_roas_curves=MeanStd.over(curves),
        shuffled=MeanStd.over(shuffled),
        n_campaign_folds=len(curves),
        n_shuffles=n_shuffles,
        signal=float(np.mean(curves)) > bar,
    )


def ranking_backtest(rankings: list[FoldRanking], n_shuffles: int, seed: int) -> RankingBacktest:
    """Spearman of each order over the folds; a shuffled order's fold-mean over ``n_shuffles`` shuffles; the
    verdict: signal when the curves' order reaches 0.4 and beats the shuffled mean by 2 sd.

    The gate is the one set before issue 37's curves were measured. The within-campaign test is reported beside
    it (:func:`within_campaign_backtest`), not gating: it was made a second way to pass after today's test had
    failed (-0.006), and a gate chosen after its result is not a test."""
    rng = np.random.default_rng(seed)
    curves = [spearman_of_ranks(r.across_ranks[0], r.across_ranks[1]) for r in rankings]
    history = [spearman_of_ranks(r.across_ranks[0], r.across_ranks[2]) for r in rankings]
    shuffled = [
        np.mean([spearman_of_ranks(r.across_ranks[0], rng.permutation(r.across_ranks[1])) for r in rankings])
        for _ in range(n_shuffles)
    ]
    mean, sd = float(np.mean(curves)), float(np.std(shuffled))
    bar = float(np.mean(shuffled)) + SHUFFLE_MARGIN_SD * sd
    signal = mean >= SPEARMAN_AT_LEAST and mean > bar
    verdict = (
        f"signal: the marginal-ROAS order reaches Spearman {mean:.3f} (>= {SPEARMAN_AT_LEAST}, > shuffled mean + "
        f"{SHUFFLE_MARGIN_SD:g} sd = {bar:.3f})"
        if signal
        else f"no signal, no reallocation: Spearman {mean:.3f} vs {SPEARMAN_AT_LEAST}, shuffled bar {bar:.3f}"
    )
    return RankingBacktest(
        marginal_roas_curves=MeanStd.over(curves),
        shuffled=MeanStd.over(shuffled),
        average_roas_history=MeanStd.over(history),
        n_shuffles=n_shuffles,
        verdict=verdict,
        signal=signal,
    )


def ranking_signal(frame: pd.DataFrame, protocol: Protocol, n_shuffles: int = RANKING_SHUFFLES) -> RankingBacktest:
    """The ranking back-test alone (what ``roas plan`` consults at its segment level)."""
    rankings = []
    for split in campaign_splits(frame, protocol):
        train, test = frame.iloc[split.train], frame.iloc[split.test]
        curves = AdditiveLevelCurves(seed=protocol.seed).fit(train, train[VALUE])
        rankings.append(fold_ranking(curves, train, test))
    return ranking_backtest(rankings, n_shuffles, protocol.seed)


@dataclass(frozen=True)
class Measured:
    """Every fold's measurements: the models' value accuracy, the rankings, the judged gains, the exponent modes."""

    accuracy: dict[str, ValueAccuracy]
    rankings: list[FoldRanking]
    gain: GainBacktest
    modes: dict[str, int]


def _errors(y: np.ndarray, predicted: np.ndarray, spent: np.ndarray) -> dict[str, float]:
    """MAE and RMSE on every held-out ad; the Poisson deviance on those with spend (a line through the origin
    predicts 0 without spend, where the deviance of a conversion is infinite)."""
    return {
        "mae": float(np.abs(y - predicted).mean()),
        "rmse": float(np.sqrt(((y - predicted) ** 2).mean())),
        "deviance": poisson_deviance(y[spent], predicted[spent]),
    }


def value_accuracy(
    frame: pd.DataFrame, table: pd.DataFrame, splits: list[Split], seed: int, mapping: CampaignMapping | None = None
) -> Measured:
    """Every fold: the three models' held-out value errors, the curves' coverage, the rankings and the judged gains.

    The curves choose their exponent mode on inner folds of the training fold only. The LightGBM baseline is
    `roas validate`'s planned-mode model, on the mapping's segments and spend."""
    from adpipe.roas.models import ROAS_MODEL, roas_models
    from features.campaigns import mode_features, model_inputs, segment_categories

    errors: dict[str, list[dict[str, float]]] = {m: [] for m in (CURVES, CONSTANT_ROAS, LIGHTGBM)}
    coverage, rankings, gains, modes = [], [], [], []
    inputs = model_inputs(table, mode_features(mapping)["planned"], segment_categories(table, mapping))
    for split in splits:
        train, test = frame.iloc[split.train], frame.iloc[split.test]
        y, spend = test[VALUE].to_numpy(), test[SPEND].to_numpy()
        curves = AdditiveLevelCurves(seed=seed).fit(train, train[VALUE])
        modes.append(curves.mode_)
        low, high = curves.predict_interval(test)
        coverage.append(float(((y >= low) & (y <= high)).mean()))
        history = segment_roas(train)
        overall = train[VALUE].sum() / train[SPEND].sum()
        spent = train[SPEND].to_numpy() > 0
        with threadpool_limits(1):
            model = roas_models(seed)[ROAS_MODEL]().fit(
                inputs.iloc[split.train][spent], (train[VALUE] / train[SPEND])[spent]
            )
            lightgbm_roas = model.predict(inputs.iloc[split.test])
        predicted = {
            CURVES: curves.predict(test),
            CONSTANT_ROAS: test[SEGMENT].map(history).fillna(overall).to_numpy() * spend,
            LIGHTGBM: lightgbm_roas * spend,
        }
        for name, values in predicted.items():
            errors[name].append(_errors(y, values, spend > 0))
        rankings.append(fold_ranking(curves, train, test))
        gains.append(judge_plan(curves, test, GAIN_CHANGE))
    accuracy = {
        name: ValueAccuracy(
            **{metric: MeanStd.over([e[metric] for e in folds]) for metric in ("deviance", "mae", "rmse")},
            coverage_80=MeanStd.over(coverage) if name == CURVES else None,
        )
        for name, folds in errors.items()
    }
    chosen = {mode: modes.count(mode) for mode in sorted(set(modes))}
    return Measured(accuracy, rankings, gain_backtest(gains), chosen)


def _day(value: pd.Timestamp) -> str:
    """A date as ISO text: the day alone when it has no time of day."""
    stamp = pd.Timestamp(value)
    return stamp.strftime("%Y-%m-%d") if stamp == stamp.normalize() else stamp.isoformat()


def date_source(mapping: CampaignMapping | None) -> str:
    """The export's column(s) of the date role, for the report."""
    if mapping is None:
        return DATE
    if mapping.date is not None:
        return mapping.date
    return "/".join(c for c in (mapping.year, mapping.month, mapping.day) if c is not None)


def forward_validation(
    frame: pd.DataFrame,
    table: pd.DataFrame,
    splits: list[Split],
    seed: int,
    n_shuffles: int = RANKING_SHUFFLES,
    mapping: CampaignMapping | None = None,
) -> ForwardValidation:
    """The value accuracy, the ranking and the gain back-tests on expanding windows in date order (``splits``, of
    :func:`~adpipe.roas.folds.period_splits`): the same measurements as the grouped protocol, from the past to the
    next period."""
    started = time.perf_counter()
    dates = frame[DATE]
    measured = value_accuracy(frame, table, splits, seed, mapping)
    accuracy, gain = measured.accuracy, measured.gain
    ranking = ranking_backtest(measured.rankings, n_shuffles, seed)
    spans = [(dates.iloc[s.train], dates.iloc[s.test]) for s in splits]
    n_periods = int(dates.nunique())
    block = int(np.mean([test.nunique() for _, test in spans]))
    return ForwardValidation(
        protocol=(
            f"{len(splits)} expanding windows in date order (TimeSeriesSplit over the {n_periods} distinct dates): "
            f"each fits on every earlier date and scores the next {block} dates; every training date precedes every "
            "test date"
        ),
        date=date_source(mapping),
        n_periods=n_periods,
        n_windows=len(splits),
        training_precedes_test=all(train.max() < test.min() for train, test in spans),
        windows=[
            ForwardWindow(
                train_first=_day(train.min()),
                train_last=_day(train.max()),
                test_first=_day(test.min()),
                test_last=_day(test.max()),
                n_train=len(train),
                n_test=len(test),
            )
            for train, test in spans
        ],
        value_accuracy=accuracy,
        ranking=ranking,
        gain=gain,
        seconds=time.perf_counter() - started,
    )


def _ratio_target(name: str, ours: float, theirs: float, at_most: float, note: str = "") -> Target:
    ratio = ours / theirs
    return Target(
        name=name, wanted=f"<= {at_most:g} x constant ROAS{note}", measured=f"{ratio:.3f} x", met=ratio <= at_most
    )


def targets(
    accuracy: dict[str, ValueAccuracy],
    rankings: tuple[RankingBacktest, WithinCampaignRanking],
    gain: GainBacktest,
    fit_and_plan: float,
) -> list[Target]:
    """The issue's targets (issue 37), each with what was measured."""
    curves, constant = accuracy[CURVES], accuracy[CONSTANT_ROAS]
    ranking, within = rankings
    coverage = curves.coverage_80.mean if curves.coverage_80 is not None else float("nan")
    bar = ranking.shuffled.mean + SHUFFLE_MARGIN_SD * ranking.shuffled.std
    none = MeanStd(mean=float("nan"), std=float("nan"))
    within_curves, within_shuffled = within.marginal_roas_curves or none, within.shuffled or none
    within_bar = within_shuffled.mean + SHUFFLE_MARGIN_SD * within_shuffled.std
    spear, within_spear = ranking.marginal_roas_curves.mean, within_curves.mean
    headline, promised = gain.headline.mean, gain.promised.mean
    ratio = promised / headline if headline > 0 else float("inf")
    return [
        _ratio_target("held-out Poisson deviance", curves.deviance.mean, constant.deviance.mean, 0.80),
        _ratio_target("held-out RMSE", curves.rmse.mean, constant.rmse.mean, 0.95),
        _ratio_target("held-out MAE (a median's metric)", curves.mae.mean, constant.mae.mean, 0.97),
        Target(
            name="80% interval coverage", wanted="0.75-0.85", measured=f"{coverage:.3f}", met=0.75 <= coverage <= 0.85
        ),
        Target(
            name="ranking Spearman (marginal ROAS vs held-out average ROAS)",
            wanted=f">= {RANKING_TARGET} and > shuffled mean + 2 sd",
            measured=f"{spear:.3f} (bar {bar:.3f}; average-ROAS order {ranking.average_roas_history.mean:.3f})",
            met=spear >= RANKING_TARGET and spear > bar,
        ),
        Target(
            name="ranking within campaign (vs held-out marginal response)",
            wanted=f">= {WITHIN_RANKING_TARGET} and > shuffled mean + 2 sd",
            measured=f"{within_spear:.3f} (bar {within_bar:.3f}; {within.n_campaign_folds} campaign-folds)",
            met=within_spear >= WITHIN_RANKING_TARGET and within.signal,
        ),
        Target(
            name="headline realised gain (lowest judge)",
            wanted=f">= {HEADLINE_TARGET:+.0%}",
            measured=f"{headline:+.1%} ({gain.headline_judge}; judges {_judges_text(gain)})",
            met=headline >= HEADLINE_TARGET,
        ),
        Target(
            name="promised / headline realised",
            wanted="<= 2",
            measured=f"{ratio:.2f} ({promised:+.1%} / {headline:+.1%})",
            met=ratio <= 2,
        ),
        Target(name="fit + plan", wanted="< 10 s", measured=f"{fit_and_plan:.2f} s", met=fit_and_plan < 10),
    ]


def _judges_text(gain: GainBacktest) -> str:
    return ", ".join(f"{name} {value.mean:+.1%}" for name, value in gain.judges.items())


def timed_fit_and_plan(frame: pd.DataFrame) -> float:
    """Seconds to fit the curves on every ad and plan today's budget (within [1/2, 2] x today) on them."""
    started = time.perf_counter()
    curves = AdditiveLevelCurves().fit(frame, frame[VALUE])
    response = SegmentResponse.from_ads(curves, frame, sorted(segment_roas(frame).index))
    solve(response, response.today / GAIN_CHANGE, response.today * GAIN_CHANGE, float(response.today.sum()))
    return time.perf_counter() - started
