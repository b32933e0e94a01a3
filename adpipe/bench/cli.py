"""`make bench`: the ClickStream feature build and predict at 10^5, 10^6 and 10^7 sessions (10^8 on request).

For each size a synthetic test split is generated under ``--data-dir`` (in /tmp, never the repo,
deleted afterwards unless ``--keep-data``), then each engine turns its files into the per-user
feature table in a fresh Python process, ``--repeats`` times (the median is reported):

- ``memory``, ``chunked``, ``dask``: the project's path, ``build_features(load_split(dir, "test",
  engine=...))`` (every value checked), from the CSV file or (``-parquet``) from Parquet parts of the
  same sessions; adpipe/bench/scale.py has the inputs, the Dask cluster and the sample check;
- ``duckdb`` and ``baseline`` (plain pandas): the same table computed independently
  (adpipe/bench/engines.py), the reference for what this machine can do and the notebooks' approach;
- ``read-csv``, ``read-parquet``: the parse floor, Polars reading the sessions whole (no feature). Every
  engine's time is also printed as a ratio to the floor of its input and to DuckDB, from the same run, and
  the engine ``--engine auto`` picks is marked (adpipe/bench/targets.py reads the targets from the ratios).

Timed: from after the imports to the feature table in memory (the interpreter start and imports are
not). Peak memory is the measuring process's peak resident set size (VmHWM, reset when the
measurement starts so the parent's peak is not inherited), imports included; the RSS after the
imports is reported beside it, and the peak of its anonymous memory (RssAnon, sampled: VmHWM also counts
memory-mapped input); a Dask run also reports its workers' peak RSS (the largest) and the
cluster's start-up, which is not timed. The measuring process's CPU seconds (the kernel's beside them: on
a VM, mostly first touches of fresh memory) and page faults are kept too (adpipe/bench/measure.py). The
chunked and Dask runs' first users are checked against the in-memory table of those users alone
(``sample_check``). ``predict`` trains the ClickStream model
on the reference training data once, then times ``model.predict`` on each size's feature table (and
the features + predictions + predictions file end to end), when ``memory`` is among the engines (at
10^8, ~18 GB of CSV in /tmp, the engine it would pick does not fit). docs/bench.md has the figures.

    python model.py bench run                      # all sizes, 3 runs each -> reports/bench.json
    python model.py bench run --sizes 100000 --repeats 1
    python model.py bench run --sizes 100000000 --engines dask --repeats 1 --report reports/bench_1e8.json
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer

from adpipe import cli_support, config
from adpipe.bench import targets
from adpipe.bench.run import (
    BENCH_REPORT,
    DEFAULT_DATA_DIR,
    ENGINES,
    SIZES,
    dataset,
    machine,
    run_benchmark,
    session_counts,
    warm,
)
from adpipe.errors import OptionError

app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True)


@app.command()
def run(
    sizes: str = typer.Option(",".join(str(s) for s in SIZES), "--sizes", help="Comma-separated session counts."),
    engines: str = typer.Option(",".join(ENGINES), "--engines", help=f"Comma-separated, of: {', '.join(ENGINES)}."),
    repeats: int = cli_support.repeats_option(3, "Fresh-process runs per figure (median reported)."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the synthetic data go (not the repo)."),
    report: Path = cli_support.report_option(BENCH_REPORT),
    seed: int = cli_support.seed_option("Seed of the synthetic data and the model."),
    keep_data: bool = typer.Option(False, "--keep-data", help="Keep the generated CSV files."),
) -> None:
    """Measure every engine at every size, print the table and write the JSON report."""
    chosen = tuple(e.strip() for e in engines.split(",") if e.strip())
    with cli_support.exit_on_error(keeps=report):
        unknown = set(chosen) - set(ENGINES)
        if unknown:
            raise OptionError(f"unknown {sorted(unknown)}; known: {', '.join(ENGINES)}", option="--engines")
        size_list = session_counts(sizes)
        result = run_benchmark(size_list, chosen, repeats, data_dir, report, seed, keep_data, typer.echo)
    info = result["machine"]
    typer.echo(
        f"\n{info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB, load average at start "
        f"{info['load_average_at_start']}; median of up to {repeats} fresh-process runs"
    )
    typer.echo(cli_support.format_table(*targets.summary_rows(result, ENGINES)))
    for entry in result["sizes"]:
        picked = "; ".join(f"{kind}: {choice['reason']}" for kind, choice in entry["auto"].items())
        typer.echo(f"auto at {entry['sessions']:,} sessions (* above) -> {picked}")
    typer.echo(f"\ntargets at {result['targets']['at_sessions']:,} sessions:")
    typer.echo(f"  auto picks: {result['targets']['auto_engine']}")
    for name, check in result["targets"].items():
        if isinstance(check, dict) and "met" in check:
            verdict = {True: "met", False: "MISSED", None: "not measured"}[check["met"]]
            typer.echo(f"  {name}: {check['value']} (limit {check['limit']}) -> {verdict}")
    typer.echo(f"report -> {report}")


@app.command("profile")
def profile_command(
    sessions: str = typer.Option("1e7", "--sessions", help="Session count of the synthetic input (1e7 allowed)."),
    engines: str = typer.Option("memory,chunked", "--engines", help="Comma-separated, of: memory, chunked."),
    parquet: bool = typer.Option(False, "--parquet", help="Profile the same sessions read from Parquet parts."),
    repeats: int = cli_support.repeats_option(3, "Runs per stage (median reported)."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the synthetic data go (not the repo)."),
    report: Path = cli_support.report_option(config.REPORTS_DIR / "bench_profile.json"),
    seed: int = cli_support.seed_option("Seed of the synthetic data."),
    keep_data: bool = typer.Option(False, "--keep-data", help="Keep the generated files (the next run reuses them)."),
) -> None:
    """Where the feature build spends its time: cumulative stages, each stage's own cost (adpipe/bench/profile.py)."""
    from adpipe.bench import profile, scale
    from adpipe.io import write_json

    with cli_support.exit_on_error(keeps=report):
        counts = session_counts(sessions)
        if len(counts) != 1:
            raise OptionError(f"profiles one size, got {sessions!r}", option="--sessions")
        (count,) = counts
        chosen = tuple(e.strip() for e in engines.split(",") if e.strip())
        if not chosen or set(chosen) - {"memory", "chunked"}:
            raise OptionError(f"must list memory and/or chunked, got {engines!r}", option="--engines")
        typer.echo(f"generating about {count:,} sessions in {data_dir} ...")
        try:
            directory = dataset(data_dir, count, seed)
            if parquet:
                directory = scale.input_dir(directory, "memory-parquet")
            warm(directory)
            kind = "parquet" if parquet else "csv"
            result: dict[str, Any] = {"machine": machine(), "sessions": count, "input": kind}
            for engine in chosen:
                typer.echo(f"profiling the {engine} engine ({repeats} runs per stage) ...")
                result[engine] = profile.profile(directory, engine, repeats)  # type: ignore[arg-type]
                rows = [[row["stage"], row["cumulative_s"], row["own_s"]] for row in result[engine]]
                typer.echo(cli_support.format_table([f"{engine}: stage", "cumulative s", "own s"], rows))
        finally:
            if not keep_data:
                shutil.rmtree(data_dir, ignore_errors=True)
        write_json(report, result)
    typer.echo(f"load average at start {result['machine']['load_average_at_start']}; report -> {report}")


@app.command(hidden=True)
def measure(
    kind: str = typer.Argument(..., help="features or predict"),
    first: str = typer.Argument(..., help="engine (features) or split folder (predict)"),
    second: str = typer.Argument("", help="split folder (features)"),
    model: Path = typer.Option(None, "--model"),
    output: Path = typer.Option(None, "--output"),
    sample: Path = typer.Option(None, "--sample"),
) -> None:
    """One measurement in this process; prints one JSON line (used by `run`, one process each)."""
    from adpipe.bench.measure import measure_features, measure_predict, reset_peak_rss

    reset_peak_rss()
    if kind == "features":
        figures = measure_features(first, Path(second), sample)
    else:
        figures = measure_predict(Path(first), model, output)
    typer.echo(json.dumps(figures))


if __name__ == "__main__":
    app()
