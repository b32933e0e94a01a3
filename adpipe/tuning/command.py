"""The `tune` command every task shares, its closing summary, and `study stats`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from adpipe import cli_support
from adpipe.cli_support import exit_on_error
from adpipe.io import dumps_json
from adpipe.protocol import Protocol

if TYPE_CHECKING:
    from adpipe.tuning.study import TuningResult, TuningTask


def tune_command(
    make_task: Callable[[Path, Protocol, Path], TuningTask],
    *,
    data: Any,
    study: str,
    params_file: Path,
    metric: str,
    validate: str,
    folds: int = 5,
    repeats: int = 5,
) -> Callable[..., None]:
    """The `tune` command of a task: the same options for every task, only the defaults differ.

    ``make_task(data, protocol, params_file)`` builds the task; ``data`` is the Typer option of its input.
    Bad input exits 1 with the params file untouched; Ctrl-C keeps the finished trials and exits 130.
    """

    def command(
        data_path: Path = data,
        trials: int | None = cli_support.trials_option(),
        timeout: float | None = cli_support.timeout_option(),
        storage: str = cli_support.storage_option(),
        study_name: str = cli_support.study_option(study),
        pruner: str = cli_support.pruner_option(),
        n_folds: int = cli_support.folds_option(folds, f"K of the K-fold (as {validate})."),
        n_repeats: int = cli_support.repeats_option(repeats, f"How many times the K-fold is redrawn (as {validate})."),
        seed: int = cli_support.seed_option("Seed of the folds, the models and the sampler."),
        params: Path = cli_support.params_option(params_file, "Where the best params are written."),
    ) -> None:
        from adpipe.tuning.loop import run_tuning  # Optuna: only when a study runs

        protocol = Protocol(n_folds, n_repeats, seed)
        task: TuningTask | None = None
        with exit_on_error():
            task = make_task(data_path, protocol, params)
        with exit_on_error(keeps=task.params_file):
            result = run_tuning(
                task, storage=storage, study_name=study_name, trials=trials, timeout=timeout, seed=seed, pruner=pruner
            )
        typer.echo(summary(result))
        if result.interrupted:
            typer.echo(f"error: {result.params_note}", err=True)
            raise typer.Exit(code=130)

    command.__doc__ = f"Optuna search for {metric}; writes the best params to --params (train and {validate} read it)."
    return command


def summary(result: TuningResult) -> str:
    """The lines a command prints at the end of a run."""
    share = result.n_pruned / result.n_finished if result.n_finished else 0.0
    lines = [
        f"study {result.study_name!r}: {result.n_finished} finished trials, {result.n_pruned} pruned ({share:.0%}); "
        f"{result.n_run_here} finished by this worker in {result.seconds:.0f} s"
    ]
    if result.best is not None:
        best = result.best
        lines.append(f"best {result.metric}: {best.value:.4f} ± {best.user_attrs['std']:.4f} (trial {best.number})")
    lines.append(result.params_note)
    return "\n".join(lines)


study_app = typer.Typer(help="Look into a tuning study.", add_completion=False, no_args_is_help=True)


@study_app.command("stats")
def stats(
    study: str = typer.Option(..., "--study", help="Study name."),
    storage: str = cli_support.storage_option(),
) -> None:
    """Print a study's figures as JSON: seconds per trial, trials per minute, share pruned, best score."""
    from adpipe.tuning.study import study_stats

    with exit_on_error():
        figures = study_stats(storage, study)
    typer.echo(dumps_json(figures).decode(), nl=False)
