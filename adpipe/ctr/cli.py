"""The commands of ``python model.py ctr …`` and their terminal output (read from the typed reports)."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error
from adpipe.ctr.defaults import (
    CANDIDATES_REPORT,
    DEFAULT_STUDY,
    HOLDOUT_REPORT,
    MODEL_FILE,
    NESTED_REPORT,
    PARAMS_FILE,
    PREDICTIONS_FILE,
    SEED_APPROACH_REPORT,
    VALIDATION_REPORT,
)
from adpipe.ctr.views import (
    render_candidates,
    render_holdout,
    render_nested,
    render_seed_approach,
    render_validation,
)
from adpipe.protocol import Protocol
from adpipe.tuning.command import tune_command as shared_tune_command
from features.choices import CTR_FEATURE_GROUP_NAMES

if TYPE_CHECKING:
    from adpipe.tuning.study import TuningTask

# The implementation (pandas, LightGBM, scikit-learn, Optuna) is imported inside each command, where its work
# starts: building the commands, and any --help, needs none of it.

app = typer.Typer(
    help="Click-through prediction on ad impressions: validate (forward in time), train, predict, tune.",
    add_completion=False,
    no_args_is_help=True,
)

DataFile = cli_support.data_option(config.CTR_FILE, "Labelled impressions CSV.")
ParamsFile = cli_support.params_option(PARAMS_FILE, "Hyperparameters (JSON); the defaults when missing.")
ModelFile = cli_support.model_option(MODEL_FILE)
Seed = cli_support.seed_option("Seed of the folds, the encoder and LightGBM.")
Folds = cli_support.folds_option(5, "K: forward windows, and folds of the random K-fold.")
Threshold = typer.Option(None, "--threshold", help="Fixed yes/no threshold; default: max F1 in the training part.")
Imbalance = typer.Option(None, "--imbalance", help="none, weights, oversample or smote [default: params].")
Calibration = typer.Option(None, "--calibration", help="none, sigmoid or isotonic [default: params].")
Features = typer.Option(
    None, "--features", help=f"Comma-separated groups of {', '.join(CTR_FEATURE_GROUP_NAMES)} [default: params]."
)
GroupBy = typer.Option(None, "--group-by", help="Random folds: hold out whole city, country or ad_topic values.")
Gap = typer.Option(0, "--gap", min=0, help="Forward folds: rows skipped between training window and test block.")


@app.command("validate")
def validate_command(
    data: Path = DataFile,
    protocol: str = typer.Option("forward", "--protocol", help="forward or random: which fills the report's keys."),
    folds: int = Folds,
    repeats: int = cli_support.repeats_option(3, "How many times the random K-fold is redrawn."),
    gap: int = Gap,
    seed: int = Seed,
    imbalance: str | None = Imbalance,
    group_by: str | None = GroupBy,
    threshold: float | None = Threshold,
    features: str | None = Features,
    calibration: str | None = Calibration,
    audit: bool = typer.Option(True, "--audit/--no-audit", help="Score each feature group alone and left out."),
    params: Path = ParamsFile,
    report: Path = cli_support.report_option(VALIDATION_REPORT),
) -> None:
    """Forward-in-time and random folds side by side: model, baselines, reliability and the feature audit."""
    from adpipe.ctr.evaluation import validate
    from adpipe.ctr.options import ValidationOptions
    from adpipe.ctr.params import parse_features

    with exit_on_error(keeps=report):
        options = ValidationOptions(
            primary=protocol,
            folds=folds,
            repeats=repeats,
            gap=gap,
            seed=seed,
            group_by=group_by,
            threshold=threshold,
            imbalance=imbalance,
            features=parse_features(features),
            calibration=calibration,
            audit=audit,
        )
        result = validate(data, options, params, report)
    typer.echo(render_validation(result))
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    data: Path = DataFile,
    params: Path = ParamsFile,
    model: Path = ModelFile,
    seed: int = Seed,
    threshold: float | None = Threshold,
    imbalance: str | None = Imbalance,
    features: str | None = Features,
    calibration: str | None = Calibration,
) -> None:
    """Fit the model on every labelled row, choose its threshold, and save both."""
    from adpipe.ctr import pipeline
    from adpipe.ctr.evaluation import feature_warnings
    from adpipe.ctr.params import parse_features

    with exit_on_error(keeps=model):
        metadata = pipeline.train(
            data,
            params,
            model,
            seed,
            threshold=threshold,
            imbalance=imbalance,
            features=parse_features(features),
            calibration=calibration,
        )
    chosen = metadata["params"]
    typer.echo(
        f"trained on {metadata['n_rows']} rows (features {', '.join(chosen['features'])}, imbalance "
        f"{chosen['imbalance']}, calibration {chosen['calibration']}); threshold {metadata['threshold']:.3f} "
        f"({metadata['threshold_rule']}) -> {model}"
    )
    for line in feature_warnings(chosen["features"], None):
        typer.echo(line)


@app.command("predict")
def predict_command(
    input_file: Path = typer.Option(..., "--input", help="Impressions CSV without the label."),
    output: Path = typer.Option(PREDICTIONS_FILE, "--output", help="The CSV to write."),
    model: Path = ModelFile,
    version: str | None = cli_support.version_option(),
) -> None:
    """Write the input's rows with click_probability, clicked (0/1 at the saved threshold) and warnings (inputs
    unlike the training data)."""
    from adpipe.ctr import pipeline
    from adpipe.versions import model_path

    with exit_on_error(keeps=output):
        rows, guarded = pipeline.predict(input_file, output, model_path(model, version))
    typer.echo(f"wrote {len(rows)} rows ({int(rows['clicked'].sum())} predicted clicks) to {output}")
    typer.echo(guarded.summary)


@app.command("nested")
def nested_command(
    data: Path = DataFile,
    folds: int = cli_support.folds_option(5, "Outer forward windows (those of ctr validate)."),
    inner_folds: int = typer.Option(3, "--inner-folds", min=2, help="Forward folds of each window's past."),
    trials: int = typer.Option(30, "--trials", min=1, help="Trials of each window's search."),
    metric: str = typer.Option("roc_auc", "--metric", help="What the search maximises: roc_auc or log_loss."),
    seed: int = Seed,
    params: Path = ParamsFile,
    report: Path = cli_support.report_option(NESTED_REPORT),
) -> None:
    """Nested forward validation: a search inside each outer window's past, scored on the window, beside the
    params file (chosen on these windows) and the logistic baseline."""
    from adpipe.ctr.nested import nested_forward

    with exit_on_error(keeps=report):
        result = nested_forward(data, folds, inner_folds, trials, metric, seed, params, report)
    typer.echo(render_nested(result))
    typer.echo(f"report -> {report}")


@app.command("candidates")
def candidates_command(
    data: Path = DataFile,
    folds: int = cli_support.folds_option(5, "Forward windows, and folds of each random protocol."),
    seed: int = Seed,
    params: Path = ParamsFile,
    report: Path = cli_support.report_option(CANDIDATES_REPORT),
) -> None:
    """The default's rivals (logistic, a blend, GBDT leaves -> logistic) on every protocol the project reports."""
    from adpipe.ctr.candidates import compare

    with exit_on_error(keeps=report):
        result = compare(data, folds, seed, params, report)
    typer.echo(render_candidates(result))
    typer.echo(f"report -> {report}")


@app.command("holdout")
def holdout_command(
    data: Path = DataFile,
    months: int = typer.Option(1, "--months", min=1, help="The last calendar months that make the export."),
    folds: int = cli_support.folds_option(5, "Forward windows of the training part's validation (the promise)."),
    seed: int = Seed,
    features: str | None = Features,
    params: Path = ParamsFile,
    out_dir: Path | None = typer.Option(None, "--out-dir", help="Keep the CSV files, model and predictions here."),
    report: Path = cli_support.report_option(HOLDOUT_REPORT),
) -> None:
    """Another export: the last months and their cities held out; train, predict it, score vs the forward promise."""
    from adpipe.ctr.holdout import holdout
    from adpipe.ctr.params import parse_features

    with exit_on_error(keeps=report):
        result = holdout(
            data, months, params, report, folds=folds, seed=seed, features=parse_features(features), out_dir=out_dir
        )
    typer.echo(render_holdout(result))
    typer.echo(f"report -> {report}")


@app.command("seed-approach")
def seed_approach_command(
    data: Path = DataFile,
    folds: int = cli_support.folds_option(5, "K of the honest grouped K-fold."),
    repeats: int = cli_support.repeats_option(3),
    seed: int = Seed,
    report: Path = cli_support.report_option(SEED_APPROACH_REPORT),
) -> None:
    """The seed project's random forest: its leaky figure (scored on rows it was fitted on) and its honest one."""
    from adpipe.ctr.evaluation import seed_approach

    with exit_on_error(keeps=report):
        result = seed_approach(data, Protocol(folds=folds, repeats=repeats, seed=seed), report)
    typer.echo(render_seed_approach(result))
    typer.echo(f"report -> {report}")


def _tuning_task(
    data: Path, protocol: Protocol, params_file: Path, *, metric: str = "roc_auc", name: str = "forward", gap: int = 0
) -> TuningTask:
    """:func:`adpipe.ctr.tuning.tuning_task`, imported when ``tune`` runs."""
    from adpipe.ctr.tuning import tuning_task

    return tuning_task(data, protocol, params_file, metric=metric, name=name, gap=gap)


_SHARED = {
    "data": cli_support.data_option(config.CTR_FILE, "Labelled impressions (CSV)."),
    "study": DEFAULT_STUDY,
    "params_file": PARAMS_FILE,
    "metric": "forward-fold ROC-AUC (--metric log_loss: log-loss)",
    "validate": "ctr validate",
    "repeats": 1,
}
_shared_command = shared_tune_command(_tuning_task, **_SHARED)


def _ctr_options(
    metric: str = typer.Option("roc_auc", "--metric", help="roc_auc (maximised) or log_loss (minimised)."),
    protocol: str = typer.Option("forward", "--protocol", help="forward (in time) or random (grouped K-fold)."),
    gap: int = typer.Option(0, "--gap", min=0, help="Rows skipped between training window and test block."),
) -> None:
    """The options ``ctr tune`` adds to the shared ones (their signature only)."""


def tune_command(**options: Any) -> None:
    """The shared tune command, with the task built for ``--metric``, ``--protocol`` and ``--gap``."""
    own = {name: options.pop(name) for name in ("metric", "protocol", "gap")}
    make_task = functools.partial(_tuning_task, metric=own["metric"], name=own["protocol"], gap=own["gap"])
    shared_tune_command(make_task, **_SHARED)(**options)


def _merged_signature(*functions: Callable[..., Any]) -> inspect.Signature:
    """The options of ``functions`` as one signature, with resolved types (Typer reads a command's signature)."""
    parameters = []
    for function in functions:
        hints = typing.get_type_hints(function)
        parameters += [p.replace(annotation=hints[p.name]) for p in inspect.signature(function).parameters.values()]
    return inspect.Signature(parameters)


tune_command.__signature__ = _merged_signature(_ctr_options, _shared_command)  # type: ignore[attr-defined]
tune_command.__doc__ = _shared_command.__doc__


app.command("tune")(tune_command)
