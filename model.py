"""The one entry point: the ClickStream main task, and each sibling task as a sub-command.

python model.py predict      # train on train/, predict test/ -> predictions/predictions.json
python model.py validate     # repeated stratified K-fold: macro-F1 vs a majority baseline
python model.py --help       # every command
"""

from __future__ import annotations

from pathlib import Path

import typer

from adpipe import clickstream, clickstream_tuning, config, ctr_tuning, tuning
from adpipe.cli_support import exit_on_error, format_table
from adpipe.conversion import app as conversion_app
from adpipe.ctr import app as ctr_app
from adpipe.roas import app as roas_app
from adpipe.segments import app as segment_app
from adpipe.validation import Protocol
from features.synth import cli as synth_app

app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

TrainDir = typer.Option(config.TRAIN_DIR, "--train-dir", help="Folder with user_train.csv and session_train.csv.")
ParamsFile = typer.Option(config.CLICKSTREAM_PARAMS_FILE, "--params", help="Hyperparameters (JSON) written by `tune`.")
ModelFile = typer.Option(clickstream.MODEL_FILE, "--model", help="Where the fitted model is saved / read.")
Seed = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the folds and of LightGBM.")


@app.command()
def train(train_dir: Path = TrainDir, params: Path = ParamsFile, model: Path = ModelFile, seed: int = Seed) -> None:
    """Fit LightGBM on every labelled user and save it."""
    with exit_on_error(keeps=model):
        metadata = clickstream.train(train_dir, params, model, seed)
    typer.echo(f"trained on {metadata['n_users']} users, {len(metadata['features'])} features -> {model}")


@app.command()
def predict(
    train_dir: Path = TrainDir,
    test_dir: Path = typer.Option(
        config.TEST_DIR, "--test-dir", help="Folder with user_test.csv and session_test.csv."
    ),
    output: Path = typer.Option(config.PREDICTIONS_FILE, "--output", help="The predictions JSON to write."),
    params: Path = ParamsFile,
    model: Path = ModelFile,
    seed: int = Seed,
    use_saved: bool = typer.Option(False, "--use-saved", help="Predict with the saved --model instead of training."),
) -> None:
    """Train on --train-dir (unless --use-saved) and write one prediction per test user."""
    with exit_on_error(keeps=output):
        if not use_saved:
            clickstream.train(train_dir, params, model, seed)
        payload = clickstream.predict(test_dir, output, model)
    counts = {c: list(payload["target"].values()).count(c) for c in (1, 2, 3)}
    typer.echo(f"wrote {len(payload['target'])} predictions to {output} (per class: {counts})")


@app.command()
def validate(
    train_dir: Path = TrainDir,
    folds: int = typer.Option(5, "--folds", help="K of the stratified K-fold."),
    repeats: int = typer.Option(5, "--repeats", help="How many times the K-fold is redrawn."),
    seed: int = Seed,
    params: Path = ParamsFile,
    report: Path = typer.Option(clickstream.VALIDATION_REPORT, "--report", help="Where the JSON report goes."),
) -> None:
    """Repeated stratified K-fold: macro-F1, weighted-F1, accuracy of the model and a majority baseline."""
    protocol = Protocol(folds=folds, repeats=repeats, seed=seed)
    with exit_on_error(keeps=report):
        result = clickstream.validate(train_dir, protocol, params, report)
    typer.echo(
        f"{folds} folds x {repeats} repeats, seed {seed}, {result['protocol']['n_users']} users "
        f"(params: {result['params']['source'].get('kind', '?')})"
    )
    rows = [
        [
            name,
            *(
                v
                for metric in ("macro_f1", "weighted_f1", "accuracy")
                for v in (part[metric]["mean"], part[metric]["std"])
            ),
        ]
        for name, part in (
            ("LightGBM", result["model"]),
            *((f"LightGBM, {variant}", part) for variant, part in result["variants"].items()),
            ("majority baseline", result["baseline"]),
        )
    ]
    header = ["model", "macro_f1", "±std", "weighted_f1", "±std", "accuracy", "±std"]
    typer.echo(format_table(header, rows))
    rule = result["decision_rule"]
    typer.echo(
        f"decision rule ({'used' if rule['used'] else 'not used'} by the params): macro-F1 "
        f"{rule['macro_f1']['mean']:.4f} with class weights vs {rule['argmax_macro_f1']['mean']:.4f} with plain "
        f"arg-max of the same models (gain {rule['gain']['mean']:+.4f} ± {rule['gain']['std']:.4f} over the folds)"
    )
    per_class = result["model"]["per_class"]
    typer.echo("\nLightGBM per class (mean over folds):")
    typer.echo(
        format_table(
            ["class", "precision", "recall", "f1"],
            [
                [c, per_class[c]["precision"]["mean"], per_class[c]["recall"]["mean"], per_class[c]["f1"]["mean"]]
                for c in per_class
            ],
        )
    )
    typer.echo(f"confusion (rows true 1/2/3, columns predicted, summed over folds): {result['model']['confusion']}")
    typer.echo(f"report -> {report}")


app.command("tune")(
    tuning.tune_command(
        clickstream_tuning.tuning_task,
        data=TrainDir,
        study=clickstream_tuning.DEFAULT_STUDY,
        params_file=config.CLICKSTREAM_PARAMS_FILE,
        metric="macro-F1",
        validate="validate",
    )
)

app.add_typer(segment_app, name="segment")
app.add_typer(conversion_app, name="conversion")
app.add_typer(roas_app, name="roas")
ctr_app.command("tune")(ctr_tuning.tune_command)
app.add_typer(ctr_app, name="ctr")
app.add_typer(synth_app, name="synth")


if __name__ == "__main__":
    app()
