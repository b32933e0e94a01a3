"""`make bench`: the ClickStream feature build and predict at 10^5, 10^6 and 10^7 sessions (10^8 on request).

For each size a synthetic test split is generated under ``--data-dir`` (in /tmp, never the repo,
deleted afterwards unless ``--keep-data``), then each engine turns its files into the per-user
feature table in a fresh Python process, ``--repeats`` times (the median is reported):

- ``memory``, ``chunked``, ``dask``: the project's path, ``build_features(load_split(dir, "test",
  engine=...))`` (every value checked), from the CSV file or (``-parquet``) from Parquet parts of the
  same sessions; adpipe/bench_scale.py has the inputs, the Dask cluster and the sample check;
- ``duckdb`` and ``baseline`` (plain pandas): the same table computed independently
  (adpipe/bench_engines.py), the reference for what this machine can do and the notebooks' approach;
- ``read-csv``, ``read-parquet``: the parse floor, Polars reading the sessions whole (no feature). Every
  engine's time is also printed as a ratio to the floor of its input and to DuckDB, from the same run, and
  the engine ``--engine auto`` picks is marked (adpipe/bench_targets.py reads the targets from the ratios).

Timed: from after the imports to the feature table in memory (the interpreter start and imports are
not). Peak memory is the measuring process's peak resident set size (VmHWM, reset when the
measurement starts so the parent's peak is not inherited), imports included; the RSS after the
imports is reported beside it, and the peak of its anonymous memory (RssAnon, sampled: VmHWM also counts
memory-mapped input); a Dask run also reports its workers' peak RSS (the largest) and the
cluster's start-up, which is not timed. The measuring process's CPU seconds (the kernel's beside them: on
a VM, mostly first touches of fresh memory) and page faults are kept too (adpipe/bench_measure.py). The
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
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from adpipe import bench_targets, cli_support, config
from adpipe.errors import OptionError

# The engines and their inputs (adpipe.bench_engines, adpipe.bench_scale: pandas, Polars, DuckDB) are imported
# where a measurement starts, before its clock: building the commands, and any --help, needs none of them.

SIZES = (100_000, 1_000_000, 10_000_000)
OUR_ENGINES = ("memory", "chunked", "dask", "memory-parquet", "chunked-parquet", "dask-parquet")
ENGINES = (*OUR_ENGINES, "duckdb", "baseline", "read-csv", "read-parquet")
SAMPLED = ("chunked", "dask")  # engines whose first users are checked against the in-memory path
SESSIONS_PER_USER = 10
BENCH_REPORT = config.REPORTS_DIR / "bench.json"
DEFAULT_DATA_DIR = Path("/tmp/adpipe-bench")
# A run slower than this is not repeated (the baseline at 10^7 would otherwise take most of the budget).
REPEAT_LIMIT_S = 60.0


def session_counts(sizes: str) -> tuple[int, ...]:
    """``--sizes`` (comma-separated, ``1e6`` allowed) as session counts, each a whole number of at least 1."""
    counts = []
    for size in (part.strip() for part in sizes.split(",") if part.strip()):
        try:
            count = float(size)
        except ValueError:
            count = math.nan
        if not (math.isfinite(count) and count >= 1):
            raise OptionError(f"expected session counts of at least 1, such as 1e5,1e6; got {size!r}", option="--sizes")
        counts.append(int(count))
    return tuple(counts)


def users_for(sessions: int, sessions_per_user: float = SESSIONS_PER_USER) -> int:
    """Users to generate for about ``sessions`` sessions (the generator leaves some users without any)."""
    from features.synth import SynthConfig

    return max(1, round(sessions / (sessions_per_user * (1 - SynthConfig(users=1).no_session_share))))


def dataset(root: Path, sessions: int, seed: int) -> Path:
    """The test split of about ``sessions`` sessions under ``root``, generated once."""
    from features.synth import SynthConfig, generate

    directory = root / f"sessions-{sessions}"
    if not (directory / "test" / config.SESSIONS_TEST_FILE).exists():
        generate(directory, SynthConfig(users=users_for(sessions), seed=seed), ("test",), progress=False)
    return directory / "test"


def _warm(directory: Path) -> None:
    """Read the split's files once so that every engine starts with them in the page cache."""
    for path in (p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def _in_fresh_process(arguments: list[str], directory: Path) -> dict[str, Any]:
    """Run ``python -m adpipe.bench measure ...`` (files warmed first) and read the JSON line it prints."""
    _warm(directory)
    completed = subprocess.run(
        [sys.executable, "-m", "adpipe.bench", "measure", *arguments],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"measurement {arguments} failed (exit {completed.returncode}; -9 is a kill, e.g. out of memory):\n"
            f"{completed.stderr.strip()[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _repeated(arguments: list[str], directory: Path, repeats: int, keys: tuple[str, ...]) -> dict[str, Any]:
    """Median over up to ``repeats`` fresh processes (one only if a run exceeds REPEAT_LIMIT_S)."""
    runs = [_in_fresh_process(arguments, directory)]
    while len(runs) < repeats and runs[0][keys[0]] < REPEAT_LIMIT_S:
        runs.append(_in_fresh_process(arguments, directory))
    summary = {key: statistics.median(run[key] for run in runs) for key in keys}
    summary["runs"] = len(runs)
    summary["all_wall_s"] = [round(run[keys[0]], 3) for run in runs]
    return summary


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy as np
    import pandas as pd
    import psutil

    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
    ]
    return {
        "cores": os.cpu_count(),
        "cpu": names[0] if names else platform.processor(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": __import__("pyarrow").__version__,
        "duckdb": __import__("duckdb").__version__,
        "polars": __import__("polars").__version__,
    }


def auto_choices(directory: Path, engines: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """What ``--engine auto`` picks, and why, for this size's CSV file and (when a Parquet engine runs) its
    Parquet parts, on this machine now."""
    from adpipe import bench_scale
    from adpipe.clickstream.engines import choose_engine
    from features.clickstream_loaders import session_parts, sessions_source

    kinds = {"csv": "memory", **({"parquet": "memory-parquet"} if any(e.endswith("-parquet") for e in engines) else {})}
    choices = {}
    for kind, engine in kinds.items():
        choice = choose_engine(session_parts(sessions_source(bench_scale.input_dir(directory, engine), "test")))
        choices[kind] = {"engine": choice.engine, "reason": choice.reason}
    return choices


def run_benchmark(
    sizes: tuple[int, ...] = SIZES,
    engines: tuple[str, ...] = ENGINES,
    repeats: int = 3,
    data_dir: Path = DEFAULT_DATA_DIR,
    report: Path | None = BENCH_REPORT,
    seed: int = config.DEFAULT_SEED,
    keep_data: bool = False,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate, measure every engine and predict at every size; write and return the report."""
    from adpipe import bench_scale
    from adpipe.clickstream.pipeline import train
    from adpipe.io import all_or_nothing, write_json
    from features.clickstream import FEATURE_COLUMNS

    data_dir.mkdir(parents=True, exist_ok=True)
    model_file = data_dir / "clickstream-model.joblib"
    try:
        with all_or_nothing():  # saved now: the measuring processes read it
            metadata = train(config.TRAIN_DIR, config.CLICKSTREAM_PARAMS_FILE, model_file, seed)
        result: dict[str, Any] = {
            "cores": os.cpu_count(),
            "machine": machine(),
            "protocol": {
                "repeats": repeats,
                "statistic": "median over fresh processes",
                "repeat_limit_s": REPEAT_LIMIT_S,
                "timed": "CSV files -> per-user feature table in memory (imports excluded)",
                "peak_rss": "VmHWM of the measuring process, reset at its start (imports included)",
                "data": f"features.synth, seed {seed}, {SESSIONS_PER_USER} sessions per user on average",
                "model": f"adpipe.clickstream.train on {config.TRAIN_DIR.name}/ ({metadata['n_users']} users)",
                "model_params": metadata["params"],
            },
            "sizes": [],
        }
        for size in sizes:
            echo(f"generating about {size:,} sessions in {data_dir} ...")
            directory = dataset(data_dir, size, seed)
            sessions_path = directory / config.SESSIONS_TEST_FILE
            n_sessions = sum(1 for _ in sessions_path.open("rb")) - 1
            entry: dict[str, Any] = {
                "sessions": n_sessions,
                "users": users_for(size),
                "session_csv_mb": round(sessions_path.stat().st_size / 2**20, 1),
                "feature_columns": len(FEATURE_COLUMNS),
                "auto": auto_choices(directory, engines),
            }
            samples = {}
            for engine in engines:
                echo(f"  {engine} at {n_sessions:,} sessions ...")
                source = bench_scale.input_dir(directory, engine)
                arguments = ["features", engine, str(source)]
                if engine in SAMPLED:
                    samples[engine] = data_dir / f"sample-{engine}.parquet"
                    arguments += ["--sample", str(samples[engine])]
                dask_keys = ("worker_peak_rss_mb", "workers", "cluster_start_s")
                cpu_keys = ("cpu_s", "kernel_cpu_s", "page_faults_gb")
                keys = ("wall_s", "peak_rss_mb", "peak_anonymous_mb", "users", *cpu_keys)
                keys += dask_keys if engine.startswith("dask") else ()
                figures = _repeated(arguments, source, repeats, keys)
                figures["sessions_per_s"] = n_sessions / figures["wall_s"]
                entry[engine] = figures
            for engine in (e for e in engines if e in entry):
                entry[engine] |= bench_targets.ratios(entry, engine)
            if any(engine.endswith("-parquet") for engine in engines):
                parquet = bench_scale.input_dir(directory, "memory-parquet") / "session_test"
                entry["parquet_mb"] = round(sum(p.stat().st_size for p in parquet.iterdir()) / 2**20, 1)
            if samples:
                echo(f"  sample check of {', '.join(samples)} ...")
                entry["sample_check"] = bench_scale.sample_check(directory, samples, data_dir)
            if "memory" in engines:  # predict goes through the engine "auto" picks: at 10^8, one that may not fit
                echo(f"  predict at {n_sessions:,} sessions ...")
                output = data_dir / f"predictions-{size}.json"
                entry["predict"] = _repeated(
                    ["predict", str(directory), "--model", str(model_file), "--output", str(output)],
                    directory,
                    repeats,
                    ("predict_s", "features_s", "end_to_end_s", "peak_rss_mb", "users"),
                )
            result["sizes"].append(entry)
            result["targets"] = bench_targets.targets(result)
            if report is not None:
                with all_or_nothing():  # published now: the sizes done so far survive a later failure
                    write_json(report, result)
    finally:
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return result


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
    typer.echo(cli_support.format_table(*bench_targets.summary_rows(result, ENGINES)))
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
    """Where the feature build spends its time: cumulative stages, each stage's own cost (adpipe/bench_profile.py)."""
    from adpipe import bench_profile, bench_scale
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
                directory = bench_scale.input_dir(directory, "memory-parquet")
            _warm(directory)
            kind = "parquet" if parquet else "csv"
            result: dict[str, Any] = {"machine": machine(), "sessions": count, "input": kind}
            for engine in chosen:
                typer.echo(f"profiling the {engine} engine ({repeats} runs per stage) ...")
                result[engine] = bench_profile.profile(directory, engine, repeats)  # type: ignore[arg-type]
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
    from adpipe import bench_measure

    bench_measure.reset_peak_rss()
    if kind == "features":
        figures = bench_measure.measure_features(first, Path(second), sample)
    else:
        figures = bench_measure.measure_predict(Path(first), model, output)
    typer.echo(json.dumps(figures))


if __name__ == "__main__":
    app()
