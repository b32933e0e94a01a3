"""The terminal views of ``roas curves``, ``roas plan`` and ``roas plan-validate``: plain-text tables and lines
read from the typed reports, as the commands print them (the dashboard's panels: dashboard.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from adpipe.cli_support import format_table
from adpipe.roas import defaults

if TYPE_CHECKING:
    from adpipe.roas.plan.report import (
        CurvesReport,
        GainBacktest,
        PlanReport,
        PlanValidationReport,
        RankingBacktest,
        ValueAccuracy,
        WithinCampaignRanking,
    )


def render_curves(result: CurvesReport) -> str:
    """Each segment's curve and whether its spend range pins it, the family and the fit's note."""
    rows = [
        [s.segment, s.n_ads, s.spend, s.roas, s.exponent,
         f"{s.exponent_interval.low:.2f}-{s.exponent_interval.high:.2f}", s.marginal_roas, "yes" if s.pinned else "NO"]
        for s in result.segments
    ]  # fmt: skip
    header = ["segment", "ads", "spend", "roas", "exponent", "80% interval", "marginal roas", "pinned"]
    return "\n".join([format_table(header, rows), result.family, result.note])


def render_plan(result: PlanReport, validation: Path = defaults.PLAN_VALIDATION_REPORT) -> str:
    """The split per segment, the expected gain, the ranking verdict and the back-tested gain (read from
    ``validation``), the notes."""
    rows = [
        [s.segment, s.today, s.planned, s.expected_value,
         f"{s.expected_value_interval.low:.1f}-{s.expected_value_interval.high:.1f}", s.marginal_roas,
         f"{s.extrapolation_factor:.1f}x" if s.extrapolation_factor > 1 else "-", "yes" if s.curve_pinned else "NO"]
        for s in result.segments
    ]  # fmt: skip
    header = ["segment", "today", "planned", "value", "80% interval", "marginal roas", "off range", "pinned"]
    gain = result.expected_gain_interval
    summary = (
        f"budget {result.budget:.2f} ({result.objective}); expected value {result.expected_value_planned:.1f} vs "
        f"{result.expected_value_today:.1f} for today's split of it: gain {result.expected_gain:+.1f} "
        f"(80% interval {gain.low:+.1f} to {gain.high:+.1f}); solved in {result.solve_seconds:.3f} s"
    )
    tested = result.backtested_gain
    if tested is None:
        backtest = f"back-tested gain: not yet at this level: run roas plan-validate --by {','.join(result.by)}"
    else:
        head = tested.headline
        backtest = (
            f"back-tested at this level (plans within [0.5x, 2x], {validation.name}): promised "
            f"{tested.promised.mean:+.1%} ± {tested.promised.std:.1%} of today's value on training folds, realised "
            f"{head.mean:+.1%} ± {head.std:.1%} on held-out campaigns under the lowest of {len(tested.judges)} judges "
            f"({judge_range(tested)}): expect the realised figure, not the promise"
        )
    return "\n".join([format_table(header, rows), summary, result.signal, backtest, *result.notes])


def judge_range(gain: GainBacktest) -> str:
    """The judges' realised gains, lowest first: 'own_slope +8.1% .. planner_refit +12.0%'."""
    ordered = sorted(gain.judges.items(), key=lambda item: item[1].mean)
    return " .. ".join(f"{name} {value.mean:+.1%}" for name, value in (ordered[0], ordered[-1]))


def _within(within: WithinCampaignRanking) -> str:
    if within.marginal_roas_curves is None or within.shuffled is None:
        return "not measured (no campaign with 3 identified held-out segments)"
    curves, shuffled = within.marginal_roas_curves, within.shuffled
    return (
        f"{curves.mean:.3f} ± {curves.std:.3f}, shuffled {shuffled.mean:.3f} ± {shuffled.std:.3f} "
        f"({within.n_campaign_folds} campaign-folds)"
    )


def render_plan_validation(result: PlanValidationReport) -> str:
    """The grouped measurements and the targets, then the forward ones when the export has a date."""
    from adpipe.roas.plan.backtest import CONSTANT_ROAS, CURVES

    protocol = result.protocol
    lines = [
        f"{protocol.folds} folds x {protocol.repeats} repeats, {protocol.groupings['grouped']}, seed "
        f"{protocol.seed}; "
        f"{result.n_segments} segments by {', '.join(result.by)}; held-out value per ad at its actual spend:",
        _plan_measurements(result.value_accuracy, result.ranking, result.gain),
        f"within-campaign ranking Spearman (marginal ROAS vs held-out marginal response): "
        f"{_within(result.within_campaign_ranking)}; exponent modes chosen on the training "
        f"folds: {', '.join(f'{m} {n}' for m, n in result.exponent_modes.items())}",
        f"HEADLINE realised gain (lowest judge, {result.gain.headline_judge}): {result.headline_realised.mean:+.1%} "
        f"± {result.headline_realised.std:.1%}; judges spread {result.gain.judge_spread:.1%}",
        "\n".join(f"target {t.name} {t.wanted}: {t.measured} {'met' if t.met else 'MISSED'}" for t in result.targets),
    ]
    forward = result.forward
    if forward is not None:
        first, last = forward.windows[0], forward.windows[-1]
        curves, constant = forward.value_accuracy[CURVES], forward.value_accuracy[CONSTANT_ROAS]
        lines += [
            f"\nforward in time ({forward.date}): {forward.protocol}; first window trains "
            f"{first.train_first}..{first.train_last}, scores {first.test_first}..{first.test_last}; last trains "
            f"..{last.train_last}, scores {last.test_first}..{last.test_last}; held-out value per row of the next "
            "period at its actual spend:",
            _plan_measurements(forward.value_accuracy, forward.ranking, forward.gain, "next-period"),
            f"forward MAE {curves.mae.mean / constant.mae.mean:.3f} x, RMSE {curves.rmse.mean / constant.rmse.mean:.3f}"
            " x constant ROAS (the targets above read the grouped part)",
        ]
    return "\n".join(lines)


def _plan_measurements(
    accuracy: dict[str, ValueAccuracy], r: RankingBacktest, g: GainBacktest, heldout: str = "held-out"
) -> str:
    """The value accuracy table, the ranking back-test and the gain back-test of one protocol."""
    rows = [
        [name, a.deviance.mean, a.deviance.std, a.rmse.mean, a.rmse.std, a.mae.mean, a.mae.std,
         a.coverage_80.mean if a.coverage_80 else "-"]
        for name, a in accuracy.items()
    ]  # fmt: skip
    return "\n".join(
        [
            format_table(["model", "deviance", "±std", "rmse", "±std", "mae (median's)", "±std", "80% coverage"], rows),
            f"ranking Spearman: marginal ROAS {r.marginal_roas_curves.mean:.3f} ± {r.marginal_roas_curves.std:.3f}, "
            f"shuffled {r.shuffled.mean:.3f} ± {r.shuffled.std:.3f} ({r.n_shuffles} shuffles), average ROAS "
            f"{r.average_roas_history.mean:.3f} ± {r.average_roas_history.std:.3f}\n{r.verdict}",
            f"gain of a plan in [0.5x, 2x]: promised {g.promised.mean:+.1%}; realised on {heldout} data, judges: "
            + ", ".join(f"{name} {v.mean:+.1%} ± {v.std:.1%}" for name, v in g.judges.items())
            + "; bounds: "
            + ", ".join(f"{name} {v.mean:+.1%}" for name, v in g.bounds.items()),
        ]
    )
