"""``predict --engine dask``: the test users' feature rows and predictions made per partition, on the cluster.

The sessions are shuffled by ``user_id`` and aggregated per partition as in adpipe/clickstream/engine_dask.py;
the test users are shuffled the same way into as many partitions, so partition i of each holds the same
users. Each pair, on a worker: the users placed against their aggregates (users without sessions keep
their row), the project's own ``feature_table``, the model's predictions (the model is scattered to
every worker once), written as ``part-NNNNN.parquet`` (user_id, test_id, target) in ``<output>.parts/``
(:func:`parts_dir`). Only a summary per partition comes back to the client: enough to raise the
in-memory path's one-line errors (a bad value, sessions of users not in the user file), to count, and to write
the users whose features drew warnings from the model's training reference beside the output, as the in-memory
path does.

The parts are written to a temporary folder beside their own, which replaces it only when every
partition is clean. :func:`gather` then reads them into the challenge's predictions.json, the in-memory
path's byte for byte; ``predict --parts-only`` stops before that, for predictions larger than one machine.
The client still reads and checks the user file whole (unique user_id and test_id) before scattering it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from adpipe import config
from adpipe.clickstream.defaults import MODEL_FILE, TASK
from adpipe.clickstream.engines import unknown_users
from adpipe.clickstream.submission import flagged_users, predictions_payload, write_warnings
from adpipe.errors import DataError
from adpipe.io import atomic_folder, dumps_json, load_model, write_bytes_atomic
from adpipe.reference import InputReference, guard_rows, summary_line
from features.clickstream import POSITION, feature_table, placed
from features.clickstream_loaders import (
    AT,
    CLASSES,
    SessionScan,
    load_users,
    scan_sessions,
    sessions_source,
    users_file,
)


def parts_dir(output: str | Path) -> Path:
    """Where the per-partition predictions of ``output`` go: ``predictions.json`` -> ``predictions.parts/``."""
    return Path(output).with_suffix(".parts")


@dataclass(frozen=True)
class PartSummary:
    """What one partition's task returns: its predictions' class counts and its users' warnings, or why it wrote
    nothing."""

    counts: dict[int, int]
    first_bad: int | None  # AT of its first row breaking a value rule
    orphans: pl.DataFrame  # user_id, AT and n_sessions of its per-user rows whose user is not in the user file
    users: int = 0  # users checked against the training reference
    flagged: pd.DataFrame | None = None  # test_id, user_id and warnings of those with some
    rows_with: dict[str, int] | None = None  # users with each kind of warning


@dataclass(frozen=True)
class PartsWritten:
    """The folder of per-partition predictions a run wrote, how many parts, the predictions per class, and the
    line that sums up the users' warnings."""

    folder: Path
    parts: int
    counts: dict[int, int]
    summary: str


def _predict_partition(
    per_user: pd.DataFrame, users: pd.DataFrame, model: Any, reference: InputReference | None, path: Path
) -> PartSummary:
    """One partition, on a worker: its users' feature rows and predictions, written to ``path`` if all are clean,
    and their warnings."""
    rows = placed(users, pl.from_pandas(per_user))
    orphans = rows.filter(pl.col(POSITION).is_null()).select("user_id", AT, "n_sessions")
    first_bad = rows["_first_bad"].min()
    if first_bad is not None or orphans.height:
        return PartSummary({}, first_bad, orphans)
    table = feature_table(users, rows)
    predicted = np.asarray(model.predict(table) if len(table) else [], dtype=np.int64)  # a partition may be empty
    ids = pl.from_pandas(users[["user_id", "test_id"]])
    ids.with_columns(target=pl.Series(predicted)).write_parquet(path)
    guarded = guard_rows(reference, table)
    flagged = flagged_users(users["test_id"].to_numpy(), users["user_id"].to_numpy(), guarded.messages)
    counts = {c: int((predicted == c).sum()) for c in CLASSES}
    return PartSummary(counts, None, orphans, len(table), flagged, guarded.rows_with)


def _users_partitions(client: Any, users: pd.DataFrame, npartitions: int, method: str, rows: int) -> Any:
    """The users, scattered in chunks of ``rows`` and shuffled by ``user_id`` into ``npartitions`` with ``method``:
    as the sessions' per-user rows are (the same hash of the same Arrow strings)."""
    import dask.dataframe as dd

    from adpipe.clickstream.engine_dask import to_partition

    frame = pl.from_pandas(users)
    chunks = [to_partition(frame.slice(start, rows)) for start in range(0, len(frame), rows)]
    scattered = dd.from_delayed(client.scatter(chunks), meta=chunks[0].head(0), verify_meta=False)
    return scattered.shuffle(on="user_id", npartitions=npartitions, shuffle_method=method)


def _check(scan: SessionScan, users_path: Path, summaries: list[PartSummary]) -> None:
    """Raise the error the in-memory path raises: the first bad value, else the sessions of unknown users."""
    bad = [summary.first_bad for summary in summaries if summary.first_bad is not None]
    if bad:
        raise scan.problem(int(min(bad)))
    orphans = pl.concat(summary.orphans for summary in summaries)
    if orphans.height:
        raise unknown_users(scan, users_path, orphans)


def predict_partitioned(
    test_dir: str | Path = config.TEST_DIR,
    output: str | Path = config.PREDICTIONS_FILE,
    model_file: str | Path = MODEL_FILE,
    *,
    scheduler: str | None = None,
) -> PartsWritten:
    """Predict every test user on the Dask cluster, writing the predictions per partition in :func:`parts_dir`."""
    import dask

    from adpipe.clickstream import engine_dask
    from adpipe.clickstream.engine_dask import completed, connect, per_user_partitions

    model, metadata = load_model(model_file, task=TASK)
    reference = InputReference.read(metadata)
    users_path = users_file(test_dir, "test")
    users = load_users(users_path, "test")
    if users.empty:
        raise DataError("no test users to predict")
    scan = scan_sessions(sessions_source(test_dir, "test"))
    folder = parts_dir(output)
    with connect(scheduler) as client, atomic_folder(folder) as temp:
        per_user, method = per_user_partitions(scan, client)
        rows = engine_dask.ROWS_PER_PARTITION
        by_user = _users_partitions(client, users, per_user.npartitions, method, rows)
        del users  # on the workers now
        shared = dask.delayed(client.scatter(model, broadcast=True))
        pairs = zip(per_user.to_delayed(), by_user.to_delayed(), strict=True)
        tasks = [
            dask.delayed(_predict_partition)(
                aggregates, part_users, shared, reference, temp / f"part-{number:05d}.parquet"
            )
            for number, (aggregates, part_users) in enumerate(pairs)
        ]
        futures = client.compute(tasks)
        try:
            summaries = list(completed(futures))
        finally:
            client.cancel(futures)  # after a failed partition, the others stop before their folder is removed
        _check(scan, users_path, summaries)
    counts = {c: sum(summary.counts[c] for summary in summaries) for c in CLASSES}
    flagged = pd.concat([summary.flagged for summary in summaries], ignore_index=True)
    write_warnings(output, flagged)
    rows_with = sum((Counter(summary.rows_with) for summary in summaries), Counter())
    checked = summary_line(sum(summary.users for summary in summaries), len(flagged), rows_with)
    return PartsWritten(folder, len(summaries), counts, checked)


def gather(folder: Path, output: str | Path) -> dict[str, dict[str, int]]:
    """The parts in ``folder`` read into the challenge's predictions file, written atomically; its payload."""
    parts = pl.read_parquet(sorted(folder.glob("part-*.parquet")), columns=["test_id", "target"])
    payload = predictions_payload(parts["test_id"].to_pandas(), parts["target"].to_numpy())
    write_bytes_atomic(output, dumps_json(payload))
    return payload
