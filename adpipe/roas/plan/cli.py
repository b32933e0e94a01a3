"""``model.py roas curves``, ``roas plan`` and ``roas plan-validate``: where the next dollar should go (docs/roas.md,
"Budget plan"). Each takes the options the three share as one value (:func:`adpipe.roas.plan.options.export_options`),
builds its typed values (:mod:`adpipe.roas.plan.options`), runs the work of :mod:`adpipe.roas.plan.commands` and
prints the report's terminal view (:mod:`adpipe.roas.plan.views`)."""

from __future__ import annotations

from pathlib import Path

import typer

from adpipe.cli_support import echo_reading, exit_on_error
from adpipe.protocol import Protocol
from adpipe.roas import defaults
from adpipe.roas.options import Windows
from adpipe.roas.plan.options import ExportOptions, PlanChoices, export_options

# The commands join `model.py roas` (adpipe.roas.cli adds them); the planner is imported inside each command.
app = typer.Typer()


@app.command("curves")
@export_options(defaults.CURVES_REPORT)
def curves_command(export: ExportOptions) -> None:
    """Value against spend per segment: pooled power-law curves with intervals, each flagged if its spend range
    does not pin it."""
    from adpipe.roas.plan.commands import curves_report
    from adpipe.roas.plan.views import render_curves

    with exit_on_error(keeps=export.report):
        result = curves_report(export.plan_data(), export.report)
    echo_reading(result.reading)
    typer.echo(render_curves(result))
    typer.echo(f"report -> {export.report}")


@app.command("plan")
@export_options(defaults.PLAN_REPORT, folds=True, before_report=["validation"])
def plan_command(
    export: ExportOptions,
    protocol: Protocol,
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
    validation: Path = typer.Option(
        defaults.PLAN_VALIDATION_REPORT,
        "--validation",
        help="The `roas plan-validate` report whose back-tested gain the plan quotes.",
    ),
) -> None:
    """Split the budget across the segments for the most expected value, within the limits given (kept as today
    when the ranking back-test on the folds finds no signal at this segment level, unless --force)."""
    from adpipe.roas.plan.commands import plan_report
    from adpipe.roas.plan.views import render_plan

    with exit_on_error(keeps=export.report):
        choices = PlanChoices.from_options(
            budget, objective, target_roas, minimum, maximum, max_change, fix, allow_extrapolation, force
        )
        result = plan_report(export.plan_data(), choices, export.report, protocol, validation)
    echo_reading(result.reading)
    typer.echo(render_plan(result, validation))
    typer.echo(f"report -> {export.report}")


@app.command("plan-validate")
@export_options(defaults.PLAN_VALIDATION_REPORT, folds=True, after_report=["windows"])
def plan_validate_command(
    export: ExportOptions,
    protocol: Protocol,
    windows: int = Windows,
) -> None:
    """The curves on held-out campaigns beside constant ROAS and LightGBM; the plan's back-tests; the targets; the
    same forward in time when the export has a date."""
    from adpipe.roas.plan.commands import validate_plan
    from adpipe.roas.plan.views import render_plan_validation

    with exit_on_error(keeps=export.report):
        result = validate_plan(export.plan_data(), protocol, export.report, windows=windows)
    echo_reading(result.reading)
    for note in result.protocol.notes:
        typer.echo(f"note: {note}")
    typer.echo(render_plan_validation(result))
    typer.echo(f"report -> {export.report}")
