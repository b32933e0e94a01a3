"""The benchmark's run (``bench run``): each size's synthetic data, every engine measured in fresh processes
(the median of ``--repeats``), the predict timings, and the report; adpipe/bench/cli.py has the commands and
what the figures mean."""

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

from adpipe import config
from adpipe.bench import targets
from adpipe.errors import OptionError

# The engines and their inputs (adpipe.bench.engines, adpipe.bench.scale: pandas, Polars, DuckDB) are imported
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


def warm(directory: Path) -> None:
    """Read the split's files once so that every engine starts with them in the page cache."""
    for path in (p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def _in_fresh_process(arguments: list[str], directory: Path) -> dict[str, Any]:
    """Run ``python -m adpipe.bench.cli measure ...`` (files warmed first) and read the JSON line it prints."""
    warm(directory)
    completed = subprocess.run(
        [sys.executable, "-m", "adpipe.bench.cli", "measure", *arguments],
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
    from adpipe.bench import scale
    from adpipe.clickstream.engines import choose_engine
    from features.clickstream_loaders import session_parts, sessions_source

    kinds = {"csv": "memory", **({"parquet": "memory-parquet"} if any(e.endswith("-parquet") for e in engines) else {})}
    choices = {}
    for kind, engine in kinds.items():
        choice = choose_engine(session_parts(sessions_source(scale.input_dir(directory, engine), "test")))
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
    from adpipe.bench import scale
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
                source = scale.input_dir(directory, engine)
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
                entry[engine] |= targets.ratios(entry, engine)
            if any(engine.endswith("-parquet") for engine in engines):
                parquet = scale.input_dir(directory, "memory-parquet") / "session_test"
                entry["parquet_mb"] = round(sum(p.stat().st_size for p in parquet.iterdir()) / 2**20, 1)
            if samples:
                echo(f"  sample check of {', '.join(samples)} ...")
                entry["sample_check"] = scale.sample_check(directory, samples, data_dir)
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
            result["targets"] = targets.targets(result)
            if report is not None:
                with all_or_nothing():  # published now: the sizes done so far survive a later failure
                    write_json(report, result)
    finally:
        if not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    return result
