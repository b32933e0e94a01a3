"""The ``model.py conversion`` commands and their terminal output, read from the typed report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.conversion import defaults
from adpipe.conversion.defaults import BASELINE, REGRESSORS
from adpipe.protocol import Protocol

if TYPE_CHECKING:
    from adpipe.conversion.report import ConversionReport, RegressionFigures

# The implementation (pandas, scikit-learn, LightGBM) is imported inside each command, where its work starts:
# building the commands, and any --help, needs none of it.

app = typer.Typer(
    help="Conversion rate from a user profile: five regressors against a mean baseline, and a permutation test. "
    "When no model beats the baseline significantly, train saves the baseline, not a model that only fits noise.",
    add_completion=False,
    no_args_is_help=True,
)


def _open_unit_interval(value: float) -> float:
    if not 0 < value < 1:
        raise typer.BadParameter(f"must lie strictly between 0 and 1, got {value}")
    return value


InputFile = typer.Option(config.PROFILES_FILE, "--input", help="Profiles CSV (user_profiles_for_ads.csv layout).")
Folds = cli_support.folds_option(defaults.PROTOCOL.folds, "K of the repeated K-fold.")
Repeats = cli_support.repeats_option(defaults.PROTOCOL.repeats)
Seed = cli_support.seed_option("Seed of the folds, the shuffles and the models.")
Models = typer.Option(",".join(REGRESSORS), "--models", help="Comma-separated models to compare.")
Permutations = typer.Option(
    defaults.DEFAULT_PERMUTATIONS, "--permutations", min=1, help="Shuffles of the target in the test."
)
Alpha = typer.Option(
    defaults.ALPHA,
    "--alpha",
    min=0,
    max=1,
    callback=_open_unit_interval,
    help="Significance level of the permutation test (0 < alpha < 1).",
)
Report = cli_support.report_option(defaults.VALIDATION_REPORT)
ModelFile = cli_support.model_option(defaults.MODEL_FILE)


def _row(name: str, figures: RegressionFigures, p_adjusted: str) -> list[object]:
    return [name, figures.r2.mean, figures.r2.std, figures.mae.mean, figures.mae.std, figures.r2_gain.mean, p_adjusted]


def render_report(report: ConversionReport) -> str:
    """The terminal view of ``conversion validate``: the protocol, one row per model and the baseline, the verdict."""
    protocol, test = report.protocol, report.permutation_test
    rows = [_row(name, m, f"{m.p_value_adjusted:.3f}") for name, m in report.models.items()]
    rows.append(_row(BASELINE, report.baseline, "-"))
    return "\n".join(
        [
            f"{protocol.folds} folds x {protocol.repeats} repeats (not stratified), seed {protocol.seed}, "
            f"{protocol.n_users} users; permutation test: {test.n_permutations} shuffles of the target, "
            f"{test.folds}-fold x 1, max-T adjusted p-values (smallest possible {1 / (test.n_permutations + 1):.3f})",
            format_table(["model", "r2", "±std", "mae", "±std", "r2 gain vs baseline", "p (adjusted)"], rows),
            report.verdict,
        ]
    )


@app.command("validate")
def validate_command(
    input_path: Path = InputFile,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    models: str = Models,
    permutations: int = Permutations,
    alpha: float = Alpha,
    report: Path = Report,
) -> None:
    """R², MAE per model vs a mean baseline (repeated K-fold), and the permutation test's verdict."""
    from adpipe.conversion import evaluation
    from adpipe.conversion.models import parse_models

    with exit_on_error(keeps=report):
        names = parse_models(models)
        protocol = Protocol(folds, repeats, seed, stratify=False)
        result = evaluation.validate(input_path, protocol, names, permutations, alpha, report)
    typer.echo(render_report(result))
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    input_path: Path = InputFile,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    models: str = Models,
    permutations: int = Permutations,
    alpha: float = Alpha,
    report: Path = Report,
    model: Path = ModelFile,
) -> None:
    """Validate, then save the chosen model, or the mean baseline when no model has significant signal."""
    from adpipe.conversion import evaluation
    from adpipe.conversion.models import parse_models

    with exit_on_error(keeps=model):
        names = parse_models(models)
        protocol = Protocol(folds, repeats, seed, stratify=False)
        result, trained = evaluation.train(input_path, protocol, names, permutations, alpha, model, report)
    saved = "the mean baseline" if trained.chosen == BASELINE else trained.chosen
    typer.echo(render_report(result))
    typer.echo(f"saved {saved} fitted on {trained.n_users} users -> {model} (report -> {report})")


@app.command("predict")
def predict_command(
    input_path: Path = typer.Option(..., "--input", help="Profiles CSV to score (Conversion Rates not needed)."),
    output: Path = typer.Option(..., "--output", help="CSV to write: User ID, predicted Conversion Rates, warnings."),
    model: Path = ModelFile,
    version: str | None = cli_support.version_option(),
) -> None:
    """Predict the conversion rate of each user with the saved model."""
    from adpipe.conversion import evaluation
    from adpipe.versions import model_path

    with exit_on_error(keeps=output):
        predicted, trained, summary = evaluation.predict(input_path, output, model_path(model, version))
    if trained.chosen == BASELINE:
        typer.echo(f"the saved model is the mean baseline (no signal): every user gets {trained.target_mean:.4f}")
    typer.echo(f"wrote {len(predicted)} predictions ({trained.chosen}) to {output}")
    typer.echo(summary)
