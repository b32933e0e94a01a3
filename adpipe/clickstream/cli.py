"""The main task's commands (``train``, ``predict``, ``validate``, ``tune``) and their terminal output, and the
ClickStream data commands (``features``, ``synth``).

``model.py`` registers them at the top level of the CLI: the first four are the challenge's commands.
"""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support, config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.clickstream.defaults import MODEL_FILE, VALIDATION_REPORT
from adpipe.clickstream.engine_options import (
    Engine,
    check_scheduler,
    cluster,
    dask_only,
    engine_option,
    scheduler_option,
)
from adpipe.protocol import Protocol
from adpipe.tuning.command import tune_command as shared_tune_command
from features.choices import MAX_SESSIONS_PER_USER, MAX_USERS

if TYPE_CHECKING:
    from adpipe.clickstream.report import ClassificationSummary, ValidationReport
    from adpipe.tuning.study import TuningTask
    from features.clickstream_loaders import Split

# The implementation (pandas, Polars, LightGBM, Optuna) is imported inside each command, where its work starts:
# building the commands, and any --help, needs none of it.

TrainDir = typer.Option(config.TRAIN_DIR, "--train-dir", help="Folder with user_train.csv and session_train.csv.")
ParamsFile = cli_support.params_option(config.CLICKSTREAM_PARAMS_FILE)
ModelFile = cli_support.model_option(MODEL_FILE)
Seed = cli_support.seed_option("Seed of the folds and of LightGBM.")
EngineName = engine_option()
Scheduler = scheduler_option()


def _say_engine(directory: Path, split: Split, engine: Engine, scheduler: str | None) -> None:
    """Check the engine options and print which engine aggregates the split's sessions, and why."""
    from adpipe.clickstream.engines import split_engine

    check_scheduler(engine, scheduler)
    typer.echo(f"{split} sessions: {split_engine(directory, split, engine).reason}", err=True)


def train_command(
    train_dir: Path = TrainDir,
    params: Path = ParamsFile,
    model: Path = ModelFile,
    seed: int = Seed,
    engine: Engine = EngineName,
    scheduler: str | None = Scheduler,
    distributed_training: bool = typer.Option(
        False,
        "--distributed-training",
        help="Train LightGBM across the Dask cluster (lightgbm.dask) instead of in this process: for a labelled "
        "table larger than one machine (docs/cluster.md).",
    ),
) -> None:
    """Fit LightGBM on every labelled user and save it."""
    from adpipe.clickstream import pipeline

    with exit_on_error(keeps=model), cluster(engine, scheduler):
        _say_engine(train_dir, "train", engine, scheduler)
        if distributed_training:
            from adpipe.clickstream.distributed import train_distributed

            metadata = train_distributed(train_dir, params, model, seed, engine=engine, scheduler=scheduler)
        else:
            metadata = pipeline.train(train_dir, params, model, seed, engine=engine, scheduler=scheduler)
    typer.echo(f"trained on {metadata['n_users']} users, {len(metadata['features'])} features -> {model}")


def predict_command(
    train_dir: Path = TrainDir,
    test_dir: Path = typer.Option(
        config.TEST_DIR, "--test-dir", help="Folder with user_test.csv and session_test.csv."
    ),
    output: Path = typer.Option(config.PREDICTIONS_FILE, "--output", help="The predictions JSON to write."),
    params: Path = ParamsFile,
    model: Path = ModelFile,
    seed: int = Seed,
    use_saved: bool = typer.Option(False, "--use-saved", help="Predict with the saved --model instead of training."),
    version: str | None = cli_support.version_option(),
    engine: Engine = EngineName,
    scheduler: str | None = Scheduler,
    parts_only: bool = typer.Option(
        False,
        "--parts-only",
        help="With --engine dask: write the predictions per partition (Parquet parts in <output>.parts/) and not "
        "--output itself, for more test users than one machine holds (docs/cluster.md).",
    ),
) -> None:
    """Train on --train-dir (unless --use-saved) and write one prediction per test user; the users whose inputs
    are unlike the training data go to <output>_warnings.csv beside it."""
    from adpipe.clickstream import pipeline
    from adpipe.clickstream.partitioned import parts_dir, predict_partitioned
    from adpipe.versions import model_path
    from features.clickstream_loaders import CLASSES

    with exit_on_error(keeps=output), cluster(engine, scheduler):
        dask_only(engine, "--parts-only", parts_only)
        if version is not None:  # a kept version: predict with it, train nothing
            model, use_saved = model_path(model, version), True
            typer.echo(f"predicting with {model}")
        if not use_saved:
            _say_engine(train_dir, "train", engine, scheduler)
            pipeline.train(train_dir, params, model, seed, engine=engine, scheduler=scheduler)
        _say_engine(test_dir, "test", engine, scheduler)
        if parts_only:
            written = predict_partitioned(test_dir, output, model, scheduler=scheduler)
            total = sum(written.counts.values())
            typer.echo(
                f"wrote {total} predictions in {written.parts} parts to {written.folder} (per class: {written.counts})"
            )
            _say_warnings(written.summary, output)
            return
        payload, summary = pipeline.predict(test_dir, output, model, engine=engine, scheduler=scheduler)
    counts = {c: list(payload["target"].values()).count(c) for c in CLASSES}
    typer.echo(f"wrote {len(payload['target'])} predictions to {output} (per class: {counts})")
    _say_warnings(summary, output)
    if engine == "dask":
        typer.echo(f"per-partition predictions -> {parts_dir(output)}")


def _say_warnings(summary: str, output: Path) -> None:
    """The test users' check against the model's training reference, and where the users with warnings went."""
    from adpipe.clickstream.submission import warnings_path
    from adpipe.io import current_path

    flagged = warnings_path(output)  # written when the command ends (adpipe.io.all_or_nothing)
    typer.echo(f"{summary}{f' -> {flagged}' if current_path(flagged).exists() else ''}")


def validate_command(
    train_dir: Path = TrainDir,
    folds: int = cli_support.folds_option(5, "K of the stratified K-fold."),
    repeats: int = cli_support.repeats_option(5),
    seed: int = Seed,
    params: Path = ParamsFile,
    report: Path = cli_support.report_option(VALIDATION_REPORT),
    engine: Engine = EngineName,
    scheduler: str | None = Scheduler,
) -> None:
    """Repeated stratified K-fold: macro-F1, weighted-F1, accuracy of the model and a majority baseline."""
    from adpipe.clickstream.evaluation import validate

    with exit_on_error(keeps=report), cluster(engine, scheduler):
        _say_engine(train_dir, "train", engine, scheduler)
        protocol = Protocol(folds=folds, repeats=repeats, seed=seed)
        result = validate(train_dir, protocol, params, report, engine=engine, scheduler=scheduler)
    typer.echo(render(result))
    typer.echo(f"report -> {report}")


def render(report: ValidationReport) -> str:
    """The terminal view of a validation report."""
    protocol = report.protocol
    lines = [
        f"{protocol.folds} folds x {protocol.repeats} repeats, seed {protocol.seed}, {protocol.n_users} users "
        f"(params: {report.params.source.get('kind', '?')})"
    ]
    summaries: list[tuple[str, ClassificationSummary]] = [
        ("LightGBM", report.model),
        *((f"LightGBM, {variant}", summary) for variant, summary in report.variants.items()),
        ("majority baseline", report.baseline),
    ]
    rows = [
        [name, *(v for m in (s.macro_f1, s.weighted_f1, s.accuracy) for v in (m.mean, m.std))] for name, s in summaries
    ]
    lines.append(format_table(["model", "macro_f1", "±std", "weighted_f1", "±std", "accuracy", "±std"], rows))
    rule = report.decision_rule
    lines.append(
        f"decision rule ({'used' if rule.used else 'not used'} by the params): macro-F1 "
        f"{rule.macro_f1.mean:.4f} with class weights vs {rule.argmax_macro_f1.mean:.4f} with plain "
        f"arg-max of the same models (gain {rule.gain.mean:+.4f} ± {rule.gain.std:.4f} over the folds)"
    )
    per_class = report.model.per_class
    lines.append("\nLightGBM per class (mean over folds):")
    lines.append(
        format_table(
            ["class", "precision", "recall", "f1"],
            [[c, m.precision.mean, m.recall.mean, m.f1.mean] for c, m in per_class.items()],
        )
    )
    lines.append(f"confusion (rows true 1/2/3, columns predicted, summed over folds): {report.model.confusion}")
    return "\n".join(lines)


def _tuning_task(train_dir: Path, protocol: Protocol, params_file: Path) -> TuningTask:
    """:func:`adpipe.clickstream.tuning.tuning_task`, imported when ``tune`` runs."""
    from adpipe.clickstream.tuning import tuning_task

    return tuning_task(train_dir, protocol, params_file)


tune_command = shared_tune_command(
    _tuning_task,
    data=TrainDir,
    study=config.DEFAULT_STUDY,
    params_file=config.CLICKSTREAM_PARAMS_FILE,
    metric="macro-F1",
    validate="validate",
)


def features_command(
    train_dir: Path = typer.Option(
        config.TRAIN_DIR, "--train-dir", help="Folder with the user_train and session_train files (CSV or Parquet)."
    ),
    test_dir: Path = typer.Option(
        config.TEST_DIR, "--test-dir", help="Folder with the user_test and session_test files (CSV or Parquet)."
    ),
    out_dir: Path = typer.Option(config.PROCESSED_DIR, "--out-dir", help="Where the feature tables are written."),
    engine: Engine = engine_option(),
    scheduler: str | None = scheduler_option(),
) -> None:
    """Write the per-user feature tables of the train and test splits (CSV) for inspection."""
    from adpipe.clickstream.engines import write_feature_tables
    from features.clickstream import FEATURE_COLUMNS

    check_scheduler(engine, scheduler)
    with cluster(engine, scheduler):
        written = write_feature_tables(train_dir, test_dir, out_dir, engine=engine, scheduler=scheduler)
    for split, path in written.items():
        typer.echo(f"{split}: {len(FEATURE_COLUMNS)} features per user -> {path}")


class SplitChoice(StrEnum):
    train = "train"
    test = "test"
    both = "both"


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise typer.BadParameter(f"must be a finite number, got {value}")
    return value


def synth_command(
    users: int = typer.Option(..., "--users", min=1, max=MAX_USERS, help="Users per split."),
    sessions_per_user: float = typer.Option(
        10.0, "--sessions-per-user", min=1, max=MAX_SESSIONS_PER_USER, callback=_finite, help="Mean sessions per user."
    ),
    out: Path = typer.Option(..., "--out", help="Folder to write train/ and test/ into (keep big ones in /tmp)."),
    seed: int = cli_support.seed_option("Seed of every draw."),
    split: SplitChoice = typer.Option(SplitChoice.both, "--split", help="Which split(s) to write."),
) -> None:
    """Write synthetic ClickStream user and session files in the challenge's formats (all of them or none)."""
    from features.synth import SynthConfig, generate

    splits: tuple[Split, ...] = ("train", "test") if split is SplitChoice.both else (split.value,)  # type: ignore[assignment]
    written = generate(out, SynthConfig(users=users, sessions_per_user=sessions_per_user, seed=seed), splits)
    for name, paths in written.items():
        sizes = ", ".join(f"{p} ({p.stat().st_size / 1e6:.1f} MB)" for p in paths)
        typer.echo(f"{name}: {sizes}")


# The main task's commands sit at the top level of the CLI (``python model.py predict``): the challenge's own.
app = typer.Typer(help="The main task: ClickStream marketing_target.")
app.command("train")(train_command)
app.command("predict")(predict_command)
app.command("validate")(validate_command)
app.command("tune")(tune_command)
app.command("features")(features_command)
app.command("synth")(synth_command)
