"""What a worker has served lately: a bounded window of each task's inputs (as the guard reads them) and answers.

Each worker keeps its own window in memory (``serve --monitor-window``); the drift report of ``GET
/api/v1/<task>/drift`` and the ``/monitor`` page are computed from it on demand. Nothing is written to disk
unless a folder is given (``serve --monitor-dir``): then every ``flush_rows`` new answers go to a Parquet file
``<task>-<pid>-<time>.parquet`` there, and the oldest of the task's files are removed while the folder holds
more than ``max_bytes`` of them. A file is written under a hidden temporary name (``.<name>.tmp``, which
``pandas.read_parquet(folder)`` skips) and renamed when whole. A write that fails (a full disk, a folder gone)
removes its temporary file, says so once in the log and in :attr:`ServedWindow.write_error` (``/health`` and
``/metrics`` read it), keeps at most ``size`` unwritten rows and tries again at a flush ``RETRY_SECONDS`` later:
answers never fail on the disk, nor try it at every call while it is full.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adpipe.io import remove_stale_temporaries

if TYPE_CHECKING:  # pandas and numpy are imported on use: ``serve --help`` reads this module's defaults
    import numpy as np
    import pandas as pd

DEFAULT_SIZE = 5000  # answers kept per task and worker: a drift test's power at 0.5 sd needs a few hundred
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
PREDICTION_COLUMN = "__prediction"
WARNINGS_COLUMN = "__warnings"
RETRY_SECONDS = 5.0  # after a failed write, the next is tried no sooner

log = logging.getLogger("adpipe.serving")


class ServedWindow:
    """The last ``size`` served rows of one task: inputs, the prediction, its class probabilities and the kinds
    of the guard's warnings. Thread-safe: answers arrive from the coalescers' threads."""

    def __init__(
        self,
        task: str,
        size: int = DEFAULT_SIZE,
        folder: Path | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        flush_rows: int | None = None,
    ) -> None:
        if size < 1:
            raise ValueError(f"a monitor window holds at least one answer, not {size}")
        self.task, self.size, self.folder, self.max_bytes = task, size, folder, max_bytes
        self.flush_rows = flush_rows or min(size, 1000)
        self._names: list[str] = []  # the rows' columns: the inputs, then the prediction and the warnings
        self._rows: deque[tuple[Any, ...]] = deque(maxlen=size)
        self._probabilities: deque[Sequence[float] | None] = deque(maxlen=size)
        self._pending: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self.added = 0  # rows added since the start: a drift check reads the window again only when it grew
        self.write_error: str | None = None  # why the last write to ``folder`` failed; None once one succeeds
        self.unwritten = 0  # rows dropped unwritten while writes failed (the newest ``size`` are kept to retry)
        self._retry_at = 0.0  # monotonic time before which a failed write is not tried again

    def add(
        self,
        inputs: Mapping[str, np.ndarray],
        predicted: Sequence[Any],
        probabilities: Sequence[Sequence[float] | None],
        warning_kinds: Sequence[Sequence[str]],
    ) -> None:
        """Record one call's rows: ``inputs``, the guard's columns as arrays of one value per answer
        (:meth:`adpipe.reference.InputReference.values_of`). Rows are kept as tuples, so a call costs a few
        microseconds per row; a call with other columns (another model) starts the window afresh."""
        names = [*inputs, PREDICTION_COLUMN, WARNINGS_COLUMN]
        kinds = [",".join(k) for k in warning_kinds]
        rows = list(zip(*(values.tolist() for values in inputs.values()), predicted, kinds, strict=True))
        with self._lock:
            if names != self._names:
                self._flush()
                self._rows.clear()
                self._probabilities.clear()
                self._names = names
            self._rows.extend(rows)
            self._probabilities.extend(probabilities)
            self.added += len(rows)
            if self.folder is not None:
                self._pending.extend(rows)
                if len(self._pending) >= self.flush_rows and time.monotonic() >= self._retry_at:
                    self._flush()
                excess = len(self._pending) - self.size  # writes failing: the newest rows wait
                if excess > 0:
                    self.unwritten += excess
                    del self._pending[:excess]

    def __len__(self) -> int:
        return len(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._probabilities.clear()
            self._pending = []

    def snapshot(self) -> tuple[pd.DataFrame, list[Any], list[Sequence[float] | None], list[list[str]]]:
        """The window's inputs, predictions, probabilities and warning kinds, oldest first."""
        import pandas as pd

        with self._lock:
            rows, probabilities, names = list(self._rows), list(self._probabilities), self._names
        if not rows:
            return pd.DataFrame(), [], [], []
        frame = pd.DataFrame.from_records(rows, columns=names)
        predicted = frame.pop(PREDICTION_COLUMN).tolist()
        kinds = [k.split(",") if k else [] for k in frame.pop(WARNINGS_COLUMN)]
        return frame, predicted, probabilities, kinds

    def flush(self) -> None:
        """Write the answers not yet written (at shutdown)."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self.folder is None or not self._pending:
            return
        try:
            self._write(self._pending)
        except OSError as error:
            failed = f"cannot write {self.folder}: {error.strerror or error}"
            if failed != self.write_error:
                log.warning("%s monitor window: %s; answers go on, its rows wait in memory", self.task, failed)
            self.write_error = failed
            self._retry_at = time.monotonic() + RETRY_SECONDS  # not a failing write per answer meanwhile
            return
        if self.write_error is not None:
            log.warning("%s monitor window: writing to %s again", self.task, self.folder)
        self.write_error = None
        self._retry_at = 0.0
        self._pending = []

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        import pandas as pd

        folder = Path(self.folder)  # type: ignore[arg-type]
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame.from_records(rows, columns=self._names)
        frame[PREDICTION_COLUMN] = frame[PREDICTION_COLUMN].astype(str)
        for column in frame.columns:  # mixed values (numbers and text in one input) as text: one Parquet type
            if not pd.api.types.is_numeric_dtype(frame[column]):
                frame[column] = frame[column].astype("string")
        path = folder / f"{self.task}-{os.getpid()}-{time.time_ns()}.parquet"
        temporary = folder / f".{path.name}.tmp"  # hidden: a reader of the folder never sees a half-written file
        try:
            frame.to_parquet(temporary, index=False)
            temporary.rename(path)
        finally:
            temporary.unlink(missing_ok=True)
        remove_stale_temporaries(folder, f".{self.task}-")  # a killed worker's half-written file
        files = sorted(folder.glob(f"{self.task}-*.parquet"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        while files and total > self.max_bytes:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)
