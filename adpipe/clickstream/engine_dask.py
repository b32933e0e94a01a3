"""The ClickStream per-user aggregation on a Dask cluster: the same ``aggregate_per_user``, on sessions partitioned
by user.

``load_split(..., engine="dask")`` calls :func:`aggregate`. Each Dask partition is a slice of rows of one
session part, read on a worker by the project's own checked scan (:func:`scan_part`, AT at the part's
position, so a bad row still names its part and line); the partitions are hash-shuffled on ``user_id``
so that each user's sessions meet in one partition, and :func:`features.clickstream.aggregate_per_user` (Polars)
aggregates each one (``map_partitions``). There is no second definition of any feature. For
``load_split`` (the train split, ``features``) the per-user rows are gathered to the client, which places
them against the user file as the in-memory path does (users without sessions keep their row there);
``predict`` keeps them on the cluster (adpipe/clickstream/partitioned.py uses :func:`per_user_partitions`).

``scheduler`` is an existing cluster's address (``tcp://HOST:8786``); None starts a ``LocalCluster``
sized to this machine. The dashboard's address is printed and a progress bar follows the graph (both
on stderr). docs/cluster.md has the sizing and where this path stops scaling.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import polars.selectors as cs

from features.clickstream import aggregate_per_user
from features.clickstream_loaders import SessionScan, scan_part

# Rows per partition: about 0.2 GB of session rows in pandas (Arrow strings), so a worker holds a few
# partitions and the shuffle's buffers well under its memory limit. At 10^8 sessions on 2 workers: 2.4 GB
# peak per worker and 363 s, against 4.15 GB and 305 s with 2*10^6 rows (docs/bench.md).
ROWS_PER_PARTITION = 1_000_000
# A session row in pandas with Arrow strings: about 170 bytes by its columns' widths on the synthetic data
# (a 36-character user_id, an IP address, a country, ...), rounded up; used to pick the shuffle.
ROW_BYTES = 200


# The clients of the connect() blocks now open, by scheduler address (None: the LocalCluster).
_OPEN: dict[str | None, object] = {}


@contextlib.contextmanager
def connect(scheduler: str | None = None) -> Iterator[object]:
    """A ``distributed.Client`` on ``scheduler``, or on a LocalCluster of one single-threaded worker per core.

    The local workers share the memory available now; each runs Polars on one thread, so the workers,
    not Polars' thread pool, use the cores. Inside another ``connect`` to the same scheduler this is that
    block's client: a command wrapped in one (``predict`` trains, then predicts) starts one cluster.
    """
    if scheduler in _OPEN:
        yield _OPEN[scheduler]
        return
    import psutil
    from distributed import Client, LocalCluster

    with contextlib.ExitStack() as stack:
        if scheduler is None:
            workers = os.cpu_count() or 1
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    memory_limit=int(psutil.virtual_memory().available * 0.9 / workers),
                    env={"POLARS_MAX_THREADS": "1"},
                )
            )
            client = stack.enter_context(Client(cluster))
            # A failed task's error reaches this client, which says it in one line: not again in the workers' logs.
            client.run(_quiet_worker_log)
        else:
            client = stack.enter_context(Client(scheduler))
        workers = len(client.scheduler_info()["workers"])
        print(f"dask: {workers} worker(s), dashboard {client.dashboard_link}", file=sys.stderr)
        _OPEN[scheduler] = client
        try:
            yield client
        finally:
            del _OPEN[scheduler]


def _quiet_worker_log() -> None:
    logging.getLogger("distributed.worker").setLevel(logging.CRITICAL)


def _rows(part: Path) -> int:
    """Data rows of one part (Polars counts them without parsing the fields)."""
    return scan_part(part).select(pl.len()).collect().item()


def _pieces(scan: SessionScan, rows_per_partition: int) -> list[tuple[Path, int, int, int]]:
    """(part, its position, first row, rows) of every partition: each part cut into slices of rows."""
    pieces = []
    for position, part in enumerate(scan.parts):
        rows = _rows(part)
        pieces += [
            (part, position, start, min(rows_per_partition, rows - start))
            for start in range(0, rows, rows_per_partition)
        ]
    return pieces or [(scan.parts[0], 0, 0, 0)]


def shuffle_method(client: object, rows: int) -> str:
    """ "tasks" when the sessions fit in a quarter of the cluster's memory, else "p2p".

    A task-based shuffle keeps every partition in memory until the last one is read; at 10^7 sessions on
    2 workers it took 4.3 s where the p2p shuffle took 14 s. The p2p shuffle goes through the workers'
    disks, so its memory stays bounded whatever the input's size.
    """
    memory = sum(worker["memory_limit"] or 0 for worker in client.scheduler_info()["workers"].values())
    return "tasks" if memory and rows * ROW_BYTES < memory / 4 else "p2p"


def to_partition(frame: pl.DataFrame) -> pd.DataFrame:
    """A Polars frame as a Dask partition: pandas with Arrow types, categories as text (so that every partition
    hashes a user_id and concatenates its columns alike, whatever categories each one saw)."""
    return frame.with_columns(cs.categorical().cast(pl.String)).to_pandas(use_pyarrow_extension_array=True)


def _read(piece: tuple[Path, int, int, int]) -> pd.DataFrame:
    """One partition, on a worker: a slice of rows of a part through its checked scan (a part that cannot be
    read fails here with the loaders' one-line error naming it)."""
    part, position, start, rows = piece
    frame = scan_part(part, position).slice(start, rows)
    return to_partition(SessionScan((part,), frame).collect(frame))


def _aggregate_partition(sessions: pd.DataFrame) -> pd.DataFrame:
    """``aggregate_per_user`` on one partition (every session of its users), back as a partition."""
    return to_partition(aggregate_per_user(pl.from_pandas(sessions).lazy()).collect())


def per_user_partitions(scan: SessionScan, client: object, rows_per_partition: int | None = None) -> tuple[Any, str]:
    """``aggregate_per_user`` of ``scan`` as a Dask frame, one partition per slice of sessions, and the shuffle
    method used.

    Partition i holds the users whose ``user_id`` hashes to i: another frame shuffled on ``user_id`` by the
    same method into as many partitions puts each of these users in its own partition i.
    """
    import dask.dataframe as dd

    sessions_meta = to_partition(scan.frame.head(0).collect())
    pieces = _pieces(scan, rows_per_partition or ROWS_PER_PARTITION)
    sessions = dd.from_map(_read, pieces, meta=sessions_meta, enforce_metadata=False)
    method = shuffle_method(client, sum(piece[3] for piece in pieces))
    by_user = sessions.shuffle(on="user_id", npartitions=len(pieces), shuffle_method=method)
    return by_user.map_partitions(_aggregate_partition, meta=_aggregate_partition(sessions_meta)), method


def completed(futures: list[Any]) -> Iterator[Any]:
    """Each future's result as soon as it is done, released on the workers once fetched (their memory holds
    the partitions in flight, not every result until the last one), under a progress bar on stderr."""
    from distributed import as_completed
    from tqdm import tqdm

    for future in tqdm(as_completed(futures), total=len(futures), desc="dask", unit="partition", file=sys.stderr):
        yield future.result()
        future.release()


def aggregate(scan: SessionScan, scheduler: str | None = None, rows_per_partition: int | None = None) -> pl.DataFrame:
    """What ``scan.collect(aggregate_per_user(scan.frame))`` returns, computed on a Dask cluster and gathered
    (rows in any order).

    One row per user_id with sessions: the session and derived features, ``_first_bad`` (the first row
    breaking a value rule, null if none) and AT (the user's first row).
    """
    from distributed import futures_of

    with connect(scheduler) as client:
        per_user, _ = per_user_partitions(scan, client, rows_per_partition)
        futures = futures_of(client.persist(per_user))
        del per_user  # the futures alone hold the results: each is released once fetched
        return pl.concat(pl.from_pandas(frame) for frame in completed(futures))
