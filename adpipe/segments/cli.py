"""The ``model.py segment`` commands and their terminal output, read from the typed report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from adpipe import cli_support
from adpipe.cli_support import exit_on_error, format_table
from adpipe.segments.defaults import DEFAULT_BOOTSTRAPS, DEFAULT_SHUFFLES, Source, model_path, profile_path, report_path

if TYPE_CHECKING:
    from adpipe.segments.report import SegmentsReport

# The implementation (pandas, scikit-learn) is imported inside each command, where its work starts: building the
# commands, and any --help, needs none of it.

app = typer.Typer(
    help="User segments for targeting: KMeans on scaled profile or ClickStream features, and how real they are. "
    "k is chosen by silhouette over a range unless given; the segments are judged against their stability under "
    "bootstrap refits and against the same clustering on column-shuffled data.",
    add_completion=False,
    no_args_is_help=True,
)
SourceOption = typer.Option(Source.profiles, "--source", help="Which users to segment.")
ModelOption = cli_support.model_option(None, "Saved segmentation [default: models/segments_<source>.joblib].")


def _summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """Segment, size, share, the outcome means (profiles only) and the description."""
    columns = [key for key in rows[0] if key in ("segment", "size", "share", "description") or key.startswith("mean ")]
    return format_table(columns, [[row[c] for c in columns] for row in rows])


def render_fit(report: SegmentsReport, model: Path, report_file: Path) -> str:
    """The terminal view of ``segment fit``: per-k scores, the choice, stability, verdict, segments."""
    null, agreement = report.shuffled_silhouette, report.stability.adjusted_rand
    rows = [
        [row.k, row.silhouette, row.shuffled_silhouette.mean, row.davies_bouldin, row.calinski_harabasz]
        for row in report.per_k
    ]
    lines = [
        f"{report.n_users} users, {len(report.features)} input columns, KMeans n_init={report.n_init}, "
        f"seed {report.seed}; shuffled: {report.shuffles.n_shuffles} column-shuffled copies",
        format_table(["k", "silhouette", "shuffled silhouette", "davies_bouldin", "calinski_harabasz"], rows),
        f"chosen k = {report.chosen_k} ({report.chosen_by}); stability: adjusted Rand {agreement.mean:.3f} ± "
        f"{agreement.std:.3f} over {report.stability.n_bootstraps} bootstrap refits",
        f"structure: {report.structure} (silhouette {report.silhouette:.4f} vs shuffled {null.mean:.4f} ± "
        f"{null.std:.4f}; rule: {report.rule})",
    ]
    from adpipe.segments.report import WARNINGS

    if report.structure in WARNINGS:
        lines.append(f"warning: {WARNINGS[report.structure]}")
    lines.append(_summary_table(report.segments))
    lines.append(f"model -> {model}; report -> {report_file}")
    return "\n".join(lines)


@app.command("fit")
def fit_command(
    source: Source = SourceOption,
    k: int | None = typer.Option(
        None, "--k", min=2, help="Number of segments (default: best silhouette over --k-range)."
    ),
    k_range: str | None = typer.Option(None, "--k-range", help="Candidate k, as low-high [default: 2-10]."),
    seed: int = cli_support.seed_option("Seed of KMeans, bootstraps and shuffles."),
    input_path: Path | None = typer.Option(
        None, "--input", help="Profiles CSV, or a ClickStream folder [default: the project's data]."
    ),
    bootstraps: int = typer.Option(DEFAULT_BOOTSTRAPS, "--bootstraps", min=1, help="Bootstrap refits for stability."),
    shuffles: int = typer.Option(DEFAULT_SHUFFLES, "--shuffles", min=1, help="Column-shuffled copies for the null."),
    model: Path | None = ModelOption,
    report: Path | None = cli_support.report_option(None, "JSON report [default: reports/segments_<source>.json]."),
) -> None:
    """Choose k, fit KMeans, report the per-k scores, stability and structure verdict; save the model."""
    from adpipe.segments import evaluation
    from adpipe.segments.structure import candidate_ks

    model = model or model_path(source)
    report = report or report_path(source)
    with exit_on_error(keeps=model):
        protocol = evaluation.SegmentationProtocol(tuple(candidate_ks(k, k_range)), seed, bootstraps, shuffles)
        result = evaluation.fit(source, input_path, protocol, model, report)
    typer.echo(render_fit(result, model, report))


@app.command("assign")
def assign_command(
    input_path: Path = typer.Option(..., "--input", help="Profiles CSV, or a ClickStream folder, to assign."),
    output: Path = typer.Option(..., "--output", help="CSV to write: id, segment, description, warnings."),
    source: Source = SourceOption,
    model: Path | None = ModelOption,
    version: str | None = cli_support.version_option(),
) -> None:
    """Segment of each new user with the saved model."""
    from adpipe.segments import evaluation
    from adpipe.versions import model_path as kept_path

    with exit_on_error(keeps=output):
        table, summary = evaluation.assign(source, input_path, output, kept_path(model or model_path(source), version))
    counts = table["segment"].value_counts().sort_index().to_dict()
    typer.echo(f"assigned {len(table)} users (per segment: {counts}) -> {output}")
    typer.echo(summary)


@app.command("profile")
def profile_command(
    source: Source = SourceOption,
    input_path: Path | None = typer.Option(None, "--input", help="Users to profile [default: the project's data]."),
    model: Path | None = ModelOption,
    output: Path | None = typer.Option(
        None, "--output", help="CSV to write [default: reports/segments_<source>_profile.csv]."
    ),
) -> None:
    """One row per segment: size, share, mean/mode of each feature and how it differs from the whole base."""
    from adpipe.segments import evaluation

    output = output or profile_path(source)
    with exit_on_error(keeps=output):
        table = evaluation.profile(source, input_path, model or model_path(source), output)
    typer.echo(_summary_table(table.astype(object).to_dict(orient="records")))
    typer.echo(f"every feature's mean/mode and its difference from the base -> {output}")
