"""`make bench` beyond the in-memory engine: our three engines on CSV and Parquet, Dask workers' memory, and
the check that a large run gives the in-memory path's table on a sample of users.

- Inputs: the bench's test split as one CSV file (``test/``), and the same sessions as Parquet parts of
  :data:`PART_ROWS` rows (``test-parquet/``, typed columns, as a cluster job writes them).
- Engines: ``memory``, ``chunked`` and ``dask`` (features.clickstream's one definition of the features,
  run by Polars in memory, Polars streaming, or Dask on a LocalCluster of one worker per core); a
  ``-parquet`` suffix reads the Parquet parts. The cluster is started before the clock (its start-up is
  reported apart) and each worker's peak RSS is read at the end.
- Sample check: the first :data:`SAMPLE_USERS` users of the user file and their sessions make a small
  split; its in-memory feature table must equal those users' rows from a large run (float tolerance).
"""

from __future__ import annotations

import contextlib
import math
import resource
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from adpipe import config

PART_ROWS = 2_500_000
SAMPLE_USERS = 20_000
SAMPLE_RTOL = 1e-9


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM on Linux)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


@contextlib.contextmanager
def anonymous_peak(every_s: float = 0.01) -> Iterator[Callable[[], float]]:
    """The largest anonymous resident memory (RssAnon, MB) of this process while the block runs, sampled.

    VmHWM also counts file-backed pages: memory-mapped input that the kernel can take back (the Dask client
    maps the whole session CSV while Polars counts its rows: at 10^8 sessions its VmHWM was 18.6 GB, its
    anonymous peak 11.3 GB).
    RssAnon is what the process itself holds; its peak is not kept by Linux, so a thread reads it every
    ``every_s`` (a spike shorter than that can be missed). Not Linux: 0.
    """
    status, peak, done = Path("/proc/self/status"), [0.0], threading.Event()

    def sample() -> None:
        while status.exists():
            anonymous = next((line for line in status.read_text().splitlines() if line.startswith("RssAnon:")), None)
            peak[0] = max(peak[0], int(anonymous.split()[1]) / 1024 if anonymous else 0.0)
            if done.wait(every_s):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield lambda: peak[0]
    finally:
        done.set()
        sampler.join()


def input_dir(directory: Path, engine: str) -> Path:
    """The split folder an engine reads: the CSV split itself, or its Parquet copy (made once)."""
    if not engine.endswith("-parquet"):
        return directory
    from features.synth import split_sessions

    parquet = directory.with_name(f"{directory.name}-parquet")
    sessions = parquet / "session_test"
    if not sessions.exists():
        parquet.mkdir(exist_ok=True)
        shutil.copy(directory / config.USERS_TEST_FILE, parquet)
        source = directory / config.SESSIONS_TEST_FILE
        rows = pl.scan_csv(source).select(pl.len()).collect().item()
        split_sessions(source, parquet / "session_test.tmp", max(1, math.ceil(rows / PART_ROWS)), "parquet")
        (parquet / "session_test.tmp").rename(sessions)
    return parquet


@contextlib.contextmanager
def cluster_for(engine: str) -> Iterator[tuple[str | None, Callable[[], dict[str, Any]]]]:
    """For a dask engine, a LocalCluster started now: its address, and what its workers used so far."""
    if not engine.startswith("dask"):
        yield None, dict
        return
    from adpipe.clickstream.engine_dask import connect

    start = time.perf_counter()
    with connect(None) as client:
        started = time.perf_counter() - start

        def workers() -> dict[str, Any]:
            peaks = client.run(peak_rss_mb)
            return {"cluster_start_s": started, "workers": len(peaks), "worker_peak_rss_mb": max(peaks.values())}

        yield client.scheduler.address, workers


def ours(engine: str, directory: Path, scheduler: str | None) -> pd.DataFrame:
    """The project's feature table of the test split in ``directory`` by one of our engines."""
    from adpipe.clickstream.engines import build_features, load_split

    split = load_split(directory, "test", engine=engine.removesuffix("-parquet"), scheduler=scheduler)
    return build_features(split).drop(columns="test_id")


def sample_split(directory: Path, out: Path) -> Path:
    """The first SAMPLE_USERS users of the split and all their sessions, as a split folder (streamed)."""
    out.mkdir(parents=True, exist_ok=True)
    users_lines = []
    with (directory / config.USERS_TEST_FILE).open() as handle:
        for _, line in zip(range(SAMPLE_USERS + 1), handle, strict=False):
            users_lines.append(line)
    (out / config.USERS_TEST_FILE).write_text("".join(users_lines))
    ids = [line.split(";", 1)[0] for line in users_lines[1:]]
    sessions = pl.scan_csv(directory / config.SESSIONS_TEST_FILE, infer_schema=False)
    sessions.filter(pl.col("user_id").is_in(ids)).sink_csv(out / config.SESSIONS_TEST_FILE)
    return out


def sample_check(directory: Path, saved: dict[str, Path], work: Path) -> dict[str, Any]:
    """Each saved sample (the first users' rows of a large run) against the in-memory table of those users."""
    from adpipe.clickstream.engines import build_features, load_split

    reference = build_features(load_split(sample_split(directory, work / "sample"), "test", engine="memory"))
    reference = reference.drop(columns="test_id")
    result: dict[str, Any] = {"users": len(reference), "rtol": SAMPLE_RTOL}
    for engine, path in saved.items():
        table = pd.read_parquet(path)
        same_shape = table.shape == reference.shape and (table.index == reference.index).all()
        difference = np.abs(table.to_numpy() - reference.to_numpy()) if same_shape else np.array([np.inf])
        scale = np.maximum(np.abs(reference.to_numpy()), 1e-300) if same_shape else 1.0
        relative = np.nan_to_num(difference / scale, nan=0.0)
        nan_agree = same_shape and (np.isnan(table.to_numpy()) == np.isnan(reference.to_numpy())).all()
        worst = float(relative.max())
        result[engine] = {"max_relative_difference": worst, "same": bool(nan_agree and worst <= SAMPLE_RTOL)}
    return result
