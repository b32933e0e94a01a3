"""The ``model.py roas`` commands and their terminal output, read from the typed reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support, config
from adpipe.cli_support import (
    BadRows,
    BadRowsOption,
    DecimalMark,
    MaxBadRows,
    Sheet,
    echo_reading,
    exit_on_error,
    format_table,
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
    Windows,
    campaign_mapping,
)
from adpipe.roas.plan import cli as plan_cli
from features.choices import GROUP, Mode

if TYPE_CHECKING:
    from adpipe.roas.report import (
        CampaignProtocol,
        FunnelValidationReport,
        RegressionSummary,
        RoasValidationReport,
        SetAside,
    )

# The implementation (pandas, LightGBM, scikit-learn) is imported inside each command and view, where its work
# starts: building the commands, and any --help, needs none of it.

app = typer.Typer(
    help="Return on ad spend and the click-to-conversion funnel on the Facebook campaign data: every model on "
    f"folds grouped by {GROUP} and on plain folds, beside mean and median baselines.",
    add_completion=False,
    no_args_is_help=True,
)
app.add_typer(plan_cli.app)  # curves, plan, plan-validate: the budget plan
ModelFile = cli_support.model_option(defaults.MODEL_FILE, "Where the fitted ROAS model is saved / read.")
_HEADER = ["model", "r2", "±std", "mae", "±std", "spearman", "±std"]


def _figures(summary: RegressionSummary) -> list[float]:
    from adpipe.roas.report import METRICS

    return [v for m in METRICS for v in (summary.metric(m).mean, summary.metric(m).std)]


def _protocol_line(protocol: CampaignProtocol, set_aside: SetAside) -> str:
    return "\n".join(
        [
            f"{protocol.folds} folds x {protocol.repeats} repeats, seed {protocol.seed}; {protocol.n_rows} ads in "
            f"{protocol.n_groups} {protocol.groupings['grouped'].removeprefix('GroupKFold by ')}s; "
            f"{set_aside.rows} ads set aside ({set_aside.reason})",
            *(f"note: {note}" for note in protocol.notes),
        ]
    )


def render_validation(report: RoasValidationReport) -> str:
    """The terminal view of ``roas validate``: one table per mode and grouping, its verdict, the target."""
    from adpipe.roas.models import LABELS

    n_folds = report.protocol.folds * report.protocol.repeats
    value = report.value or f"{report.values.enquiry:g} x enquiries + {report.values.sale:g} x sales"
    lines = [_protocol_line(report.protocol, report.set_aside), f"ROAS = ({value}) / Spent"]
    for mode, part in report.modes.items():
        for kind, grouping in part.groupings().items():
            lines.append(f"\n{mode} inputs ({', '.join(part.features)}), {grouping.grouping}:")
            n = report.protocol.windows if kind == "forward" else n_folds
            rows = [
                [LABELS[name], *_figures(s), f"{s.folds_mae_worse_than_median}/{n}"]
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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
    windows: int = Windows,
) -> None:
    """ROAS per ad: R², MAE, Spearman of each model vs the baselines, planned and delivery inputs; on an export with
    a date, forward in time too (its natural protocol)."""
    from adpipe.roas import evaluation

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, report)
        result = evaluation.validate(
            data, protocol, value_enquiry, value_sale, report, mapping=mapping, policy=policy, windows=windows
        )
    echo_reading(result.reading)
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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """Sales per click and click drop-off: the multi-task MLP vs one LightGBM per target and the baselines."""
    from adpipe.roas import evaluation

    protocol = Protocol(folds, repeats, seed, stratify=False)
    with exit_on_error(keeps=report):
        mapping = campaign_mapping(mapping_file, columns)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, report)
        result = evaluation.validate_funnel(data, protocol, report, mapping=mapping, policy=policy)
    echo_reading(result.reading)
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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """Fit the ROAS model (LightGBM, log target, MAE-scaled) on every ad with spend and save it."""
    from adpipe.roas import evaluation

    with exit_on_error(keeps=model):
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, model)
        trained = evaluation.train(data, model, mode, value_enquiry, value_sale, seed, mapping=mapping, policy=policy)
    echo_reading(trained.reading)
    typer.echo(
        f"trained ({trained.mode} inputs: {', '.join(trained.features)}) on {trained.n_ads} ads, "
        f"{trained.set_aside.rows} set aside ({trained.set_aside.reason}) -> {model}"
    )


@app.command("predict")
def predict_command(
    input_file: Path = typer.Option(..., "--input", help="Planned ads: campaign, audience and Spent (or budget)."),
    output: Path = typer.Option(..., "--output", help="The CSV of predicted ROAS to write."),
    model: Path = ModelFile,
    version: str | None = cli_support.version_option(),
    mapping_file: Path | None = MappingFile,
    columns: list[str] | None = ColumnRoles,
) -> None:
    """Predicted ROAS per planned ad with the saved model (outcome columns are neither needed nor read), and the
    warnings of inputs unlike the training data."""
    from adpipe.roas import evaluation
    from adpipe.versions import model_path

    with exit_on_error(keeps=output):
        mapping = campaign_mapping(mapping_file, columns)
        result, summary = evaluation.predict(input_file, output, model_path(model, version), mapping=mapping)
    typer.echo(f"wrote {len(result)} predictions to {output}")
    typer.echo(summary)


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
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """ROAS, CTR, cost per click and per sale by campaign, age, gender or interest, with the counts behind them."""
    from adpipe.roas.summary import summary
    from features.campaigns import summary_keys

    with exit_on_error():
        mapping = campaign_mapping(mapping_file, columns, value_enquiry, value_sale)
    keys = summary_keys(mapping)
    by = by if by is not None else next(iter(keys))
    if by not in keys:  # the choices depend on the mapping: Typer's own message, checked here
        raise typer.BadParameter(f"{by!r} is not one of {', '.join(map(repr, keys))}.", param_hint="'--by'")
    path = output if output is not None else defaults.summary_path(by)
    with exit_on_error(keeps=path):
        policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, path)
        table, reading = summary(data, by, value_enquiry, value_sale, path, mapping=mapping, policy=policy)
    echo_reading(reading)
    rows = [[v if v == v else "-" for v in row] for row in table.astype(object).itertuples(index=False)]
    typer.echo(format_table(list(table.columns), rows))
    typer.echo(f"ratios of sums over the ads with spend; n_set_aside = ads with Spent == 0 left out\n-> {path}")


@app.command("mapping")
def mapping_command(
    data: Path = typer.Option(..., "--data", help="The export whose header to read (CSV, .xlsx or Parquet)."),
    write: Path | None = typer.Option(None, "--write", help="Save the proposed mapping here (TOML)."),
) -> None:
    """Propose a mapping for an export from the column names Google Ads, Meta Ads Manager, LinkedIn, TikTok and
    Microsoft Ads use; roles it does not recognise are comments to fill in."""
    from adpipe.io import write_bytes_atomic
    from features.platform_columns import propose, read_header

    with exit_on_error(keeps=write):
        text = propose(read_header(data))
        if write is not None:
            write_bytes_atomic(write, text.encode("utf-8"))
    typer.echo(text, nl=False)
    if write is not None:
        typer.echo(f"mapping -> {write} (read it with --mapping {write})")


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
