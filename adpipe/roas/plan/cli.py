"""``model.py roas curves``, ``roas plan`` and ``roas plan-validate``: where the next dollar should go (docs/roas.md,
"Budget plan"). Each builds its options' typed values (:mod:`adpipe.roas.plan.options`), runs the work of
:mod:`adpipe.roas.plan.commands` and prints the report's terminal view (:mod:`adpipe.roas.plan.views`)."""

from __future__ import annotations

from pathlib import Path

import typer

from adpipe import cli_support
from adpipe.cli_support import (
    BadRows,
    BadRowsOption,
    DecimalMark,
    MaxBadRows,
    Sheet,
    echo_reading,
    exit_on_error,
    row_policy,
)
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
from adpipe.roas.plan.options import By, PlanChoices, PlanData, segment_level

# The commands join `model.py roas` (adpipe.roas.cli adds them); the planner is imported inside each command.
app = typer.Typer()


@app.command("curves")
def curves_command(
    data: Path = Data,
    by: str | None = By,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
    report: Path = cli_support.report_option(defaults.CURVES_REPORT),
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """Value against spend per segment: pooled power-law curves with intervals, each flagged if its spend range
    does not pin it."""
    from adpipe.roas.plan.commands import curves_report
    from adpipe.roas.plan.views import render_curves

    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, report)
        plan_data = PlanData(data, segment_level(by, mapping), value_enquiry, value_sale, mapping, policy)
        result = curves_report(plan_data, report)
    echo_reading(result.reading)
    typer.echo(render_curves(result))
    typer.echo(f"report -> {report}")


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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """Split the budget across the segments for the most expected value, within the limits given (kept as today
    when the ranking back-test on the folds finds no signal at this segment level, unless --force)."""
    from adpipe.roas.plan.commands import plan_report
    from adpipe.roas.plan.views import render_plan

    with exit_on_error(keeps=report):
        choices = PlanChoices.from_options(
            budget, objective, target_roas, minimum, maximum, max_change, fix, allow_extrapolation, force
        )
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, report)
        plan_data = PlanData(data, segment_level(by, mapping), value_enquiry, value_sale, mapping, policy)
        protocol = Protocol(folds, repeats, seed, stratify=False)
        result = plan_report(plan_data, choices, report, protocol, validation)
    echo_reading(result.reading)
    typer.echo(render_plan(result, validation))
    typer.echo(f"report -> {report}")


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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """The curves on held-out campaigns beside constant ROAS and LightGBM; the plan's back-tests; the targets; the
    same forward in time when the export has a date."""
    from adpipe.roas.plan.commands import validate_plan
    from adpipe.roas.plan.views import render_plan_validation

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, report)
        plan_data = PlanData(data, segment_level(by, mapping), value_enquiry, value_sale, mapping, policy)
        result = validate_plan(plan_data, protocol, report, windows=windows)
    echo_reading(result.reading)
    for note in result.protocol.notes:
        typer.echo(f"note: {note}")
    typer.echo(render_plan_validation(result))
    typer.echo(f"report -> {report}")
