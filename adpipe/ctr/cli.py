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
from adpipe.cli_support import exit_on_error, format_table
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
from adpipe.protocol import Protocol
from adpipe.tuning.command import tune_command as shared_tune_command
from features.choices import CTR_FEATURE_GROUP_NAMES

if TYPE_CHECKING:
    from adpipe.ctr.report import (
        HoldoutReport,
        NestedReport,
        ProbabilityFigures,
        SeedApproachReport,
        ValidationReport,
    )
    from adpipe.reports import MeanStd
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
    from adpipe.ctr.params import parse_features

    with exit_on_error(keeps=report):
        result = validate(
            data,
            protocol,
            folds,
            repeats,
            gap,
            seed,
            params,
            report,
            group_by=group_by,
            threshold=threshold,
            imbalance=imbalance,
            features=parse_features(features),
            calibration=calibration,
            with_audit=audit,
        )
    typer.echo(render_validation(result))
    typer.echo(f"report -> {report}")


FIGURE_COLUMNS = (
    "roc_auc", "±std", "pr_auc", "log_loss", "±std", "NE", "calib", "brier", "ece", "f1", "precision", "recall"
)  # fmt: skip


def _optional(value: MeanStd | float | None) -> object:
    """A figure older reports do not have: '-'."""
    if value is None:
        return "-"
    return value if isinstance(value, float) else value.mean


def _figure_row(name: str, protocol: str, f: ProbabilityFigures) -> list[object]:
    ranking = [f.roc_auc.mean, f.roc_auc.std, f.pr_auc.mean]
    probability = [f.log_loss.mean, f.log_loss.std, _optional(f.normalized_entropy), _optional(f.calibration_ratio)]
    return [name, protocol, *ranking, *probability, f.brier.mean, f.ece, f.f1.mean, f.precision.mean, f.recall.mean]


def render_validation(report: ValidationReport) -> str:
    """The terminal view of a validation report: both protocols, baselines, reliability, audit, warnings."""
    about, model = report.protocol, report.model
    balance = "close to balanced" if 0.4 <= about.clicked_share <= 0.6 else "imbalanced"
    lines = [
        f"{about.n_rows} impressions ({about.clicked_share:.1%} clicked: {balance}), {report.duplicates_found} "
        f"exact duplicate rows; model: LightGBM, features {', '.join(model.features)}, imbalance "
        f"{model.imbalance}, calibration {model.calibration}",
        *(f"{name}{' (primary)' * (name == report.primary)}: {p.description}" for name, p in report.protocols.items()),
        "",
    ]
    names = {"model": "LightGBM", "base_rate": "base rate (training click rate)", "logistic": "logistic (numeric)"}
    rows = []
    for key, name in names.items():
        for protocol, figures in report.protocols.items():
            rows.append(_figure_row(name, protocol, figures.model if key == "model" else figures.baselines[key]))
    lines.append(format_table(["model", "folds", *FIGURE_COLUMNS], rows))
    gap = report.random_minus_forward
    lines.append(
        f"LightGBM, random minus forward: ROC-AUC {gap['roc_auc']:+.4f}, PR-AUC {gap['pr_auc']:+.4f}, "
        f"log-loss {gap['log_loss']:+.4f}, Brier {gap['brier']:+.4f} (f1, precision, recall at the threshold below; "
        "baselines at 0.5)\nNE: log-loss over the entropy of the training click rate (below 1: better than that "
        "rate); calib: expected clicks / observed clicks (1: right on average)"
    )
    primary = report.protocols[report.primary].model
    lines += [
        f"\nreliability of LightGBM, {report.primary} folds (every held-out prediction; ECE {primary.ece:.4f}):",
        format_table(
            ["predicted", "n", "mean predicted", "observed click rate"],
            [[f"{b.lower:.1f}-{b.upper:.1f}", b.n, b.predicted, b.observed] for b in primary.reliability],
        ),
    ]
    if report.audit:
        lines.append(render_audit(report))
    lines += report.warnings
    report_rows = [[label, r.precision, r.recall, r.f1, r.support] for label, r in model.classification_report.items()]
    lines += [
        f"\n{report.primary} folds, threshold ({about.threshold}): {model.threshold.mean:.3f} ± "
        f"{model.threshold.std:.3f}",
        "LightGBM classification report (mean over folds; support summed over folds):",
        format_table(["clicked", "precision", "recall", "f1", "support"], report_rows),
    ]
    return "\n".join(lines)


def render_audit(report: ValidationReport) -> str:
    """The audit table and the flagged groups' reasons."""
    rows = [
        [
            *(row.group, row.forward_auc, row.random_auc, row.random_auc - row.forward_auc, row.new_values_auc),
            *(row.without_forward_auc, row.without_random_auc, "FLAGGED" if row.flagged else "ok"),
        ]
        for row in report.audit
    ]
    header = ["group", "alone: forward", "random", "random-forward", "new values", "without it: forward", "random", ""]
    everything = report.audit_all_groups
    lines = [
        "\naudit: ROC-AUC of each feature group alone, and of the model with all groups but it "
        "(forward folds, and the first random draw); 'new values': forward, held-out values never seen in training",
        format_table(header, rows),
    ]
    if everything is not None:
        lines.append(
            f"all groups: forward {everything.forward_auc:.4f}, random {everything.random_auc:.4f}, "
            f"new values {everything.new_values_auc:.4f}"
        )
    lines += [f"flagged {row.group}: {row.reason}" for row in report.audit if row.flagged]
    return "\n".join(lines)


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


def render_nested(report: NestedReport) -> str:
    """The terminal view of nested forward validation: each model over the outer windows, then each window."""
    rows = [
        [name, s.roc_auc.mean, s.roc_auc.std, s.log_loss.mean, s.log_loss.std, s.normalized_entropy.mean]
        + [s.calibration_ratio.mean]
        for name, s in report.models.items()
    ]
    windows = [
        [w.fold + 1, w.n_train, w.n_test, w.inner_score, *(w.scores[name].roc_auc for name in report.models)]
        for w in report.windows
    ]
    return "\n".join(
        [
            f"outer: {report.outer}",
            f"inner: {report.inner}; {report.trials} trials per window, maximising {report.metric}",
            format_table(["model", "roc_auc", "±std", "log_loss", "±std", "NE", "calib"], rows),
            f"'params file' ({report.params_file}) was chosen by a search on these same outer windows: "
            "its figure is optimistic; the nested search's is not.",
            format_table(
                ["window", "train rows", "test rows", f"inner {report.metric}", *(f"{n} AUC" for n in report.models)],
                windows,
            ),
        ]
    )


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
    rows = [
        [name, protocol, f.roc_auc, f.log_loss, f.normalized_entropy, f.calibration_ratio]
        for name, by_protocol in result.candidates.items()
        for protocol, f in by_protocol.items()
    ]
    typer.echo("\n".join(f"{name}: {text}" for name, text in result.protocols.items()))
    typer.echo(format_table(["candidate", "protocol", "roc_auc", "log_loss", "NE", "calib"], rows))
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


def render_holdout(report: HoldoutReport) -> str:
    """The terminal view of the export check."""
    seen = ", ".join(f"{column} {share:.0%}" for column, share in report.seen_in_training.items())
    rows = [
        [name, s.promised_auc.mean, s.promised_auc.std, s.roc_auc, s.roc_auc - s.promised_auc.mean, s.log_loss]
        + [_optional(s.normalized_entropy), _optional(s.calibration_ratio), s.brier]
        for name, s in report.models.items()
    ]
    return "\n".join(
        [
            f"export: {', '.join(report.months)}, {report.n_export} impressions "
            f"({report.clicked_share['export']:.1%} clicked); training: {report.n_train} earlier impressions "
            f"({report.clicked_share['train']:.1%} clicked), {report.n_removed_for_cities} more left out for "
            "sharing a city with the export",
            f"export values seen in training (share of rows): {seen}",
            f"LightGBM features: {', '.join(report.features)}",
            format_table(
                ["model", "promised (forward AUC)", "±std", "export AUC", "export - promised", "log_loss", "NE"]
                + ["calib", "brier"],
                rows,
            ),
        ]
    )


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


def render_seed_approach(report: SeedApproachReport) -> str:
    """The terminal view of the seed approach's two figures."""
    leaky, honest = report.leaky, report.honest
    protocol = honest.protocol
    rows = [
        [f"leaky: {leaky.how}", leaky.accuracy, leaky.roc_auc],
        [
            f"honest: {protocol['folds']} folds x {protocol['repeats']} repeats, seed {protocol['seed']}, "
            "identical rows grouped",
            honest.accuracy.mean,
            honest.roc_auc.mean,
        ],
    ]
    return "\n".join(
        [f"random forest on {', '.join(report.features)}", format_table(["scored", "accuracy", "roc_auc"], rows)]
    )


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
