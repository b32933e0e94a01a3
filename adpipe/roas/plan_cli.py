"""``model.py roas curves``, ``roas plan`` and ``roas plan-validate``: where the next dollar should go (docs/roas.md,
"Budget plan"), with their terminal output read from the typed reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support
from adpipe.cli_support import exit_on_error, format_table
from adpipe.protocol import Protocol
from adpipe.roas import defaults
from adpipe.roas.options import (
    ColumnRoles,
    Data,
    Folds,
    MappingFile,
    Repeats,
    Seed,
    ValueEnquiry,
    ValueSale,
    campaign_mapping,
)

if TYPE_CHECKING:
    from adpipe.roas.plan_report import GainBacktest, RankingBacktest, ValueAccuracy
    from features.campaign_mapping import CampaignMapping

# The commands join `model.py roas` (adpipe.roas.cli adds them); the planner is imported inside each command.
app = typer.Typer()

By = typer.Option(
    None,
    "--by",
    help=f"Segment columns, comma-separated (one or a combination) [default: {defaults.PLAN_BY}; with a mapping, "
    "its segments but its group].",
)


def _by(text: str | None, mapping: CampaignMapping) -> list[str]:
    if text is None:
        # A mapping's segments other than its group: held-out campaigns are then segments seen in training.
        text = defaults.PLAN_BY if mapping.built_in else ",".join(s for s in mapping.segment if s != mapping.group)
    return [part.strip() for part in text.split(",") if part.strip()]


@app.command("curves")
def curves_command(
    data: Path = Data,
    by: str | None = By,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
    report: Path = cli_support.report_option(defaults.CURVES_REPORT),
) -> None:
    """Value against spend per segment: pooled power-law curves with intervals, each flagged if its spend range
    does not pin it."""
    from adpipe.roas import budget

    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        result = budget.curves_report(data, _by(by, mapping), value_enquiry, value_sale, report, mapping)
    rows = [
        [s.segment, s.n_ads, s.spend, s.roas, s.exponent,
         f"{s.exponent_interval.low:.2f}-{s.exponent_interval.high:.2f}", s.marginal_roas, "yes" if s.pinned else "NO"]
        for s in result.segments
    ]  # fmt: skip
    header = ["segment", "ads", "spend", "roas", "exponent", "80% interval", "marginal roas", "pinned"]
    typer.echo(format_table(header, rows))
    typer.echo(f"{result.family}\n{result.note}\nreport -> {report}")


@app.command("plan")
def plan_command(
    data: Path = Data,
    by: str | None = By,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    budget: float | None = typer.Option(None, "--budget", help="Total to split [default: today's total spend]."),
    objective: defaults.Objective = typer.Option("value", "--objective", help="What the plan maximises."),
    target_roas: float | None = typer.Option(None, "--target-roas", help="The marginal ROAS floor (target-roas)."),
    minimum: list[str] = typer.Option([], "--min", help="SEGMENT=AMOUNT or SEGMENT=PERCENT% ('*': every one)."),
    maximum: list[str] = typer.Option([], "--max", help="SEGMENT=AMOUNT or SEGMENT=PERCENT% ('*': every one)."),
    max_change: float | None = typer.Option(
        None,
        "--max-change",
        min=1.0,
        help=f"Each segment within [1/F, F] x today's split of the budget [default: {defaults.DEFAULT_MAX_CHANGE:g}, "
        "the back-tested setting, which yields to --min/--max/--fix where they conflict with it].",
    ),
    fix: list[str] = typer.Option([], "--fix", help="A segment kept at today's spend (repeatable)."),
    allow_extrapolation: bool = typer.Option(False, "--allow-extrapolation", help="Accept spend far off the data."),
    force: bool = typer.Option(False, "--force", help="Reallocate even when the back-test finds no signal."),
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
    validation: Path = typer.Option(
        defaults.PLAN_VALIDATION_REPORT,
        "--validation",
        help="The `roas plan-validate` report whose back-tested gain the plan quotes.",
    ),
    report: Path = cli_support.report_option(defaults.PLAN_REPORT),
) -> None:
    """Split the budget across the segments for the most expected value, within the limits given (kept as today
    when the ranking back-test on the folds finds no signal at this segment level, unless --force)."""
    from adpipe.roas import budget as work
    from adpipe.roas.plan import Limits, parse_limits

    with exit_on_error(keeps=report):
        min_spend, min_share = parse_limits(minimum, "--min")
        max_spend, max_share = parse_limits(maximum, "--max")
        given = max_change is not None
        change = max_change if given else defaults.DEFAULT_MAX_CHANGE
        limits = Limits(min_spend, max_spend, min_share, max_share, change, tuple(fix), max_change_given=given)
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        result = work.plan_report(
            data, _by(by, mapping), value_enquiry, value_sale, budget, limits, objective, target_roas,  # type: ignore[arg-type]
            allow_extrapolation, force, report, Protocol(folds, repeats, seed, stratify=False),
            validation, mapping,
        )  # fmt: skip
    rows = [
        [s.segment, s.today, s.planned, s.expected_value,
         f"{s.expected_value_interval.low:.1f}-{s.expected_value_interval.high:.1f}", s.marginal_roas,
         f"{s.extrapolation_factor:.1f}x" if s.extrapolation_factor > 1 else "-", "yes" if s.curve_pinned else "NO"]
        for s in result.segments
    ]  # fmt: skip
    header = ["segment", "today", "planned", "value", "80% interval", "marginal roas", "off range", "pinned"]
    typer.echo(format_table(header, rows))
    gain = result.expected_gain_interval
    typer.echo(
        f"budget {result.budget:.2f} ({result.objective}); expected value {result.expected_value_planned:.1f} vs "
        f"{result.expected_value_today:.1f} for today's split of it: gain {result.expected_gain:+.1f} "
        f"(80% interval {gain.low:+.1f} to {gain.high:+.1f}); solved in {result.solve_seconds:.3f} s"
    )
    tested = result.backtested_gain
    if tested is None:
        backtest = f"back-tested gain: not yet at this level: run roas plan-validate --by {','.join(result.by)}"
    else:
        backtest = (
            f"back-tested at this level (plans within [0.5x, 2x], {validation.name}): promised "
            f"{tested.promised.mean:+.1%} ± {tested.promised.std:.1%} of today's value on training folds, realised "
            f"{tested.realised_refitted_curves.mean:+.1%} ± {tested.realised_refitted_curves.std:.1%} on held-out "
            "campaigns: expect the realised figure, not the promise"
        )
    typer.echo("\n".join([result.signal, backtest, *result.notes, f"report -> {report}"]))


@app.command("plan-validate")
def plan_validate_command(
    data: Path = Data,
    by: str | None = By,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
    report: Path = cli_support.report_option(defaults.PLAN_VALIDATION_REPORT),
    windows: int = typer.Option(
        defaults.PLAN_WINDOWS,
        "--windows",
        min=2,
        help="Expanding windows forward in time, when the export has a date (a mapping's date role).",
    ),
) -> None:
    """The curves on held-out campaigns beside constant ROAS and LightGBM; the plan's back-tests; the targets; the
    same forward in time when the export has a date."""
    from adpipe.roas import budget

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        result = budget.validate_plan(
            data, _by(by, mapping), value_enquiry, value_sale, protocol, report, mapping=mapping, windows=windows
        )
    typer.echo(
        f"{protocol.folds} folds x {protocol.repeats} repeats, {result.protocol.groupings['grouped']}, seed "
        f"{protocol.seed}; "
        f"{result.n_segments} segments by {', '.join(result.by)}; held-out value per ad at its actual spend:"
    )
    typer.echo(_plan_measurements(result.value_accuracy, result.ranking, result.gain))
    typer.echo(
        "\n".join(f"target {t.name} {t.wanted}: {t.measured} {'met' if t.met else 'MISSED'}" for t in result.targets)
    )
    forward = result.forward
    if forward is not None:
        from adpipe.roas.plan_validation import CONSTANT_ROAS, CURVES

        first, last = forward.windows[0], forward.windows[-1]
        typer.echo(
            f"\nforward in time ({forward.date}): {forward.protocol}; first window trains "
            f"{first.train_first}..{first.train_last}, scores {first.test_first}..{first.test_last}; last trains "
            f"..{last.train_last}, scores {last.test_first}..{last.test_last}; held-out value per row of the next "
            "period at its actual spend:"
        )
        typer.echo(_plan_measurements(forward.value_accuracy, forward.ranking, forward.gain, "next-period"))
        curves, constant = forward.value_accuracy[CURVES], forward.value_accuracy[CONSTANT_ROAS]
        typer.echo(
            f"forward MAE {curves.mae.mean / constant.mae.mean:.3f} x, RMSE {curves.rmse.mean / constant.rmse.mean:.3f}"
            " x constant ROAS (the targets above read the grouped part)"
        )
    typer.echo(f"report -> {report}")


def _plan_measurements(
    accuracy: dict[str, ValueAccuracy], r: RankingBacktest, g: GainBacktest, heldout: str = "held-out"
) -> str:
    """The value accuracy table, the ranking back-test and the gain back-test of one protocol."""
    rows = [
        [name, a.mae.mean, a.mae.std, a.rmse.mean, a.rmse.std, a.coverage_80.mean if a.coverage_80 else "-"]
        for name, a in accuracy.items()
    ]
    return "\n".join(
        [
            format_table(["model", "mae", "±std", "rmse", "±std", "80% coverage"], rows),
            f"ranking Spearman: marginal ROAS {r.marginal_roas_curves.mean:.3f} ± {r.marginal_roas_curves.std:.3f}, "
            f"shuffled {r.shuffled.mean:.3f} ± {r.shuffled.std:.3f} ({r.n_shuffles} shuffles), average ROAS "
            f"{r.average_roas_history.mean:.3f} ± {r.average_roas_history.std:.3f}\n{r.verdict}",
            f"gain of a plan in [0.5x, 2x]: promised {g.promised.mean:+.1%}, "
            f"realised {g.realised_refitted_curves.mean:+.1%} (refitted {heldout} curves), "
            f"{g.realised_heldout_roas.mean:+.1%} ({heldout} ROAS)",
        ]
    )
