"""The ``model.py roas`` commands and their terminal output, read from the typed reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.protocol import Protocol
from adpipe.roas import defaults
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE, GROUP, Mode

if TYPE_CHECKING:
    from adpipe.roas.plan_report import GainBacktest, RankingBacktest, ValueAccuracy
    from adpipe.roas.report import (
        CampaignProtocol,
        FunnelValidationReport,
        RegressionSummary,
        RoasValidationReport,
        SetAside,
    )
    from features.campaign_mapping import CampaignMapping

# The implementation (pandas, LightGBM, scikit-learn) is imported inside each command and view, where its work
# starts: building the commands, and any --help, needs none of it.

app = typer.Typer(
    help="Return on ad spend and the click-to-conversion funnel on the Facebook campaign data: every model on "
    f"folds grouped by {GROUP} and on plain folds, beside mean and median baselines.",
    add_completion=False,
    no_args_is_help=True,
)

Data = cli_support.data_option(config.CAMPAIGNS_FILE, "The campaign CSV (KAG_conversion_data.csv layout).")
ValueEnquiry = typer.Option(
    DEFAULT_VALUE_ENQUIRY, "--value-enquiry", min=0.0, help="Value of one enquiry (Total_Conversion)."
)
ValueSale = typer.Option(DEFAULT_VALUE_SALE, "--value-sale", min=0.0, help="Value of one sale (Approved_Conversion).")
Folds = cli_support.folds_option(defaults.PROTOCOL.folds)
Repeats = cli_support.repeats_option(defaults.PROTOCOL.repeats)
Seed = cli_support.seed_option()
ModelFile = cli_support.model_option(defaults.MODEL_FILE, "Where the fitted ROAS model is saved / read.")
# Every command reads its CSV through the same mapping of columns to roles (docs/roas.md, "Your own campaign
# export"): the reference file's built-in one unless a file or --column options say otherwise.
MappingFile = typer.Option(None, "--mapping", help="TOML file naming your export's column for each role.")
ColumnRoles = typer.Option(
    None, "--column", help="ROLE=NAME, repeatable (conversion=NAME:VALUE, segment=NAME once per column)."
)
_HEADER = ["model", "r2", "±std", "mae", "±std", "spearman", "±std"]


def campaign_mapping(
    mapping_file: Path | None,
    columns: list[str] | None,
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
) -> CampaignMapping:
    """The mapping of ``--mapping`` and ``--column``; the options' values apply to the built-in mapping only."""
    from adpipe.errors import OptionError
    from features.campaign_mapping import resolve

    mapping = resolve(mapping_file, columns or [], value_enquiry, value_sale)
    if not mapping.built_in and (value_enquiry, value_sale) != (DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE):
        option = "--value-enquiry" if value_enquiry != DEFAULT_VALUE_ENQUIRY else "--value-sale"
        raise OptionError(
            "a mapping gives each conversion its value (conversion=NAME:VALUE) or a revenue "
            "column: this option is for the reference file",
            option=option,
        )
    return mapping


def _figures(summary: RegressionSummary) -> list[float]:
    from adpipe.roas.report import METRICS

    return [v for m in METRICS for v in (summary.metric(m).mean, summary.metric(m).std)]


def _protocol_line(protocol: CampaignProtocol, set_aside: SetAside) -> str:
    return (
        f"{protocol.folds} folds x {protocol.repeats} repeats, seed {protocol.seed}; {protocol.n_rows} ads in "
        f"{protocol.n_groups} {protocol.groupings['grouped'].removeprefix('GroupKFold by ')}s; "
        f"{set_aside.rows} ads set aside ({set_aside.reason})"
    )


def render_validation(report: RoasValidationReport) -> str:
    """The terminal view of ``roas validate``: one table per mode and grouping, its verdict, the target."""
    from adpipe.roas.models import LABELS

    n_folds = report.protocol.folds * report.protocol.repeats
    value = report.value or f"{report.values.enquiry:g} x enquiries + {report.values.sale:g} x sales"
    lines = [_protocol_line(report.protocol, report.set_aside), f"ROAS = ({value}) / Spent"]
    for mode, part in report.modes.items():
        for grouping in part.groupings().values():
            lines.append(f"\n{mode} inputs ({', '.join(part.features)}), {grouping.grouping}:")
            rows = [
                [LABELS[name], *_figures(s), f"{s.folds_mae_worse_than_median}/{n_folds}"]
                for name, s in grouping.models.items()
            ]
            lines.append(format_table([*_HEADER, "folds MAE > median"], rows))
            lines.append(grouping.verdict.text)
    target = report.target
    lines.append(
        f"\ntarget Spearman >= {target.spearman_at_least:.2f} ({target.mode}, {target.grouping}): "
        f"{'reached' if target.reached else 'NOT reached'} ({target.spearman:.4f}); MAE not worse than the median "
        f"baseline: {'yes' if target.mae_not_worse_than_median_baseline else 'no'} on average, "
        f"worse on {target.folds_mae_worse_than_median} of {n_folds} folds"
    )
    return "\n".join(lines)


def render_funnel(report: FunnelValidationReport) -> str:
    """The terminal view of ``roas funnel``: one table per target, mode and grouping, and the verdicts."""
    from adpipe.roas.models import LABELS
    from features.campaigns import FUNNEL_TARGETS

    lines = [_protocol_line(report.protocol, report.set_aside)]
    for mode, part in report.modes.items():
        for grouping in part.groupings().values():
            for target in FUNNEL_TARGETS:
                lines.append(f"\n{target}, {mode} inputs, {grouping.grouping}:")
                rows = [[LABELS[name], *_figures(per_target[target])] for name, per_target in grouping.models.items()]
                lines.append(format_table(_HEADER, rows))
            lines.extend(grouping.verdict[target].text for target in FUNNEL_TARGETS)
    return "\n".join(lines)


@app.command("validate")
def validate_command(
    data: Path = Data,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    report: Path = cli_support.report_option(defaults.VALIDATION_REPORT),
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """ROAS per ad: R², MAE, Spearman of each model vs the baselines, planned and delivery inputs."""
    from adpipe.roas import evaluation

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        result = evaluation.validate(data, protocol, value_enquiry, value_sale, report, mapping=mapping)
    typer.echo(render_validation(result))
    typer.echo(f"report -> {report}")


@app.command("funnel")
def funnel_command(
    data: Path = Data,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    report: Path = cli_support.report_option(defaults.FUNNEL_REPORT),
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """Sales per click and click drop-off: the multi-task MLP vs one LightGBM per target and the baselines."""
    from adpipe.roas import evaluation

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns)
        result = evaluation.validate_funnel(data, protocol, report, mapping=mapping)
    typer.echo(render_funnel(result))
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    data: Path = Data,
    mode: Mode = typer.Option("planned", "--mode", help="planned (campaign, audience, budget) or delivery (+ figures)"),
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    seed: int = Seed,
    model: Path = ModelFile,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """Fit the ROAS model (LightGBM, log target, MAE-scaled) on every ad with spend and save it."""
    from adpipe.roas import evaluation

    with exit_on_error(keeps=model):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        trained = evaluation.train(data, model, mode, value_enquiry, value_sale, seed, mapping=mapping)
    typer.echo(
        f"trained ({trained.mode} inputs: {', '.join(trained.features)}) on {trained.n_ads} ads, "
        f"{trained.set_aside.rows} set aside ({trained.set_aside.reason}) -> {model}"
    )


@app.command("predict")
def predict_command(
    input_file: Path = typer.Option(..., "--input", help="Planned ads: campaign, audience and Spent (or budget)."),
    output: Path = typer.Option(..., "--output", help="The CSV of predicted ROAS to write."),
    model: Path = ModelFile,
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """Predicted ROAS per planned ad with the saved model (outcome columns are neither needed nor read)."""
    from adpipe.roas import evaluation

    with exit_on_error(keeps=output):
        mapping = campaign_mapping(mapping_file, columns)
        result = evaluation.predict(input_file, output, model, mapping=mapping)
    typer.echo(f"wrote {len(result)} predictions to {output}")


@app.command("summary")
def summary_command(
    data: Path = Data,
    by: str | None = typer.Option(
        None, "--by", help="campaign, age, gender or interest; with a mapping, one of its segments [default: the first]"
    ),
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    output: Path | None = typer.Option(None, "--output", help="CSV to write [default: reports/roas_summary_<by>.csv]"),
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """ROAS, CTR, cost per click and per sale by campaign, age, gender or interest, with the counts behind them."""
    from adpipe.roas import evaluation
    from features.campaigns import summary_keys

    with exit_on_error():
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
    keys = summary_keys(mapping)
    by = by if by is not None else next(iter(keys))
    if by not in keys:  # the choices depend on the mapping: Typer's own message, checked here
        raise typer.BadParameter(f"{by!r} is not one of {', '.join(map(repr, keys))}.", param_hint="'--by'")
    path = output if output is not None else evaluation.summary_path(by)
    with exit_on_error(keeps=path):
        table = evaluation.summary(data, by, value_enquiry, value_sale, path, mapping=mapping)
    rows = [[v if v == v else "-" for v in row] for row in table.astype(object).itertuples(index=False)]
    typer.echo(format_table(list(table.columns), rows))
    typer.echo(f"ratios of sums over the ads with spend; n_set_aside = ads with Spent == 0 left out\n-> {path}")


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
            defaults.PLAN_VALIDATION_REPORT, mapping,
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
            f"back-tested at this level (plans within [0.5x, 2x], {defaults.PLAN_VALIDATION_REPORT.name}): promised "
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


@app.command("synth")
def synth_command(
    out: Path = typer.Option(..., "--out", help="The CSV to write (its true curves go beside it, .curves.json)."),
    days: int = typer.Option(60, "--days", min=1, max=3660, help="Daily rows per segment."),
    seed: int = Seed,
) -> None:
    """A synthetic daily export (Ads Manager column names) with a known true curve per segment."""
    from features.synth_campaigns import MAPPING_FILE, curves_path, write_export

    with exit_on_error(keeps=out):
        table, curves = write_export(out, days, seed)
    typer.echo(f"wrote {len(table)} rows, {len(curves)} segments -> {out} (true curves -> {curves_path(out)})")
    typer.echo(f"read it with --mapping {MAPPING_FILE.relative_to(config.PROJECT_ROOT)}")
