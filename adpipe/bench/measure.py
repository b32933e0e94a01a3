"""One measurement of ``make bench``, in the fresh process that makes it (``python -m adpipe.bench.cli measure``).

:func:`measure_features` runs one engine once and :func:`measure_predict` the features, ``model.predict`` and
the predictions file: wall seconds after the imports, the peak resident set (VmHWM, restarted by
:func:`reset_peak_rss`) and the peak of anonymous memory, CPU seconds with the kernel's part, page faults.
adpipe/bench/cli.py runs them, repeats them and reports the medians.
"""

from __future__ import annotations

import contextlib
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def independent_runners() -> dict[str, Callable[[Path], pd.DataFrame]]:
    """The independent engines: each returns the feature table (index user_id, FEATURE_COLUMNS); ours are
    scale.ours."""
    from adpipe.bench import engines

    return {"duckdb": engines.reference_duckdb, "baseline": engines.baseline_pandas}


def floor_runners() -> dict[str, Callable[[Path], Any]]:
    """The parse floors: the sessions read whole, no feature (a Polars frame of every session)."""
    from adpipe.bench import engines

    return {"read-csv": engines.read_floor, "read-parquet": engines.read_floor}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def reset_peak_rss() -> None:
    """Restart this process's peak-RSS count from its current RSS (Linux: the peak survives fork/exec,
    so a child would otherwise report its parent's peak)."""
    with contextlib.suppress(OSError):  # not Linux: the peak below may then include the parent's
        Path("/proc/self/clear_refs").write_text("5")


def measure_features(engine: str, directory: Path, sample: Path | None = None) -> dict[str, Any]:
    """Run one engine once, in this process: wall seconds, rows, this process's (and Dask workers') peak RSS;
    the first users' rows saved to ``sample`` (Parquet) when given."""
    from adpipe.bench import scale

    runners = {**independent_runners(), **floor_runners()}  # imports every engine's modules, before the clock
    with scale.cluster_for(engine) as (scheduler, workers):
        import_rss = _rss_mb()
        runner = runners.get(engine) or (lambda path: scale.ours(engine, path, scheduler))
        with scale.anonymous_peak() as anonymous_peak:
            before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            table = runner(directory)
            wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        figures = {"wall_s": wall, "users": len(table), "peak_rss_mb": scale.peak_rss_mb()}
        figures["peak_anonymous_mb"] = anonymous_peak()
        figures |= {"import_rss_mb": import_rss, **workers(), **_cpu(before, after)}
    if sample is not None:
        table.head(scale.SAMPLE_USERS).to_parquet(sample)
    return figures


def _cpu(before: resource.struct_rusage, after: resource.struct_rusage) -> dict[str, float]:
    """This process's CPU seconds between two readings, the kernel's share of them, and the fresh memory it touched.

    On this project's VM the kernel's part is mostly first touches of fresh pages, which the host backs lazily
    (freed memory goes back to it): their cost varies from run to run and day to day (docs/bench.md).
    """
    return {
        "cpu_s": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "kernel_cpu_s": after.ru_stime - before.ru_stime,
        "page_faults_gb": (after.ru_minflt - before.ru_minflt) * resource.getpagesize() / 2**30,
    }


def measure_predict(directory: Path, model_file: Path, output: Path) -> dict[str, Any]:
    """Features, ``model.predict`` and the predictions file for one split, each timed, in this process."""
    from adpipe.bench import scale
    from adpipe.clickstream.defaults import TASK
    from adpipe.clickstream.engines import build_features, load_split
    from adpipe.clickstream.submission import predictions_payload
    from adpipe.io import dumps_json, load_model, write_bytes_atomic

    model, _ = load_model(model_file, task=TASK)
    import_rss = _rss_mb()
    start = time.perf_counter()
    table = build_features(load_split(directory, "test"))
    test_ids = table.pop("test_id")
    features_done = time.perf_counter()
    predicted = model.predict(table)
    predicted_done = time.perf_counter()
    write_bytes_atomic(output, dumps_json(predictions_payload(test_ids, predicted)))
    end = time.perf_counter()
    return {
        "users": len(table),
        "predict_s": predicted_done - features_done,
        "features_s": features_done - start,
        "end_to_end_s": end - start,
        "peak_rss_mb": scale.peak_rss_mb(),
        "import_rss_mb": import_rss,
    }
