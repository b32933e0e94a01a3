"""One row of ``reports/faults.json`` and the table ``python model.py faults`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from adpipe.cli_support import format_table


class CaseResult(BaseModel):
    """What one case did to the requests (counted by the client), what it lost and how long recovery took."""

    case: str
    fault: str
    start: float = Field(exclude=True)  # this process's monotonic clock: the alerts are attributed by it
    requests: int = 0  # sent during the case (one-record and batch)
    failed: int = 0  # got no answer or a non-200, after the client's one retry where the case retries
    failed_without_retry: int = 0  # the first attempts that got no answer or a non-200
    wrong: int = 0  # answers unlike what the version they name answers for the records sent
    lost: int = 0  # what the case loses beyond failed requests (see notes): accepted-and-dropped, trials, outputs
    recovery_seconds: float | None = None
    alerts: list[str] = []  # the alerts that started firing during the case (pending ones: in the notes)
    notes: list[str] = []


def count_answers(answers: Sequence[Any]) -> dict[str, int]:
    """The counts of :class:`CaseResult` from the load's answers."""
    return {
        "requests": len(answers),
        "failed": sum(a.status != 200 for a in answers),
        "failed_without_retry": sum(a.first_failed or (a.status not in (0, 200)) for a in answers),
        "wrong": sum(a.wrong for a in answers),
    }


def render(rows: Sequence[CaseResult], date: str) -> str:
    """The drill's table, then each case's notes."""
    header = ["case", "requests", "failed", "failed, no retry", "wrong", "lost", "recovery s", "alerts fired"]
    table = [
        [r.case, r.requests, r.failed, r.failed_without_retry, r.wrong, r.lost]
        + ["–" if r.recovery_seconds is None else f"{r.recovery_seconds:.1f}", ", ".join(r.alerts) or "none"]
        for r in rows
    ]
    notes = [f"- {r.case} ({r.fault}): {'; '.join(r.notes)}" for r in rows if r.notes]
    return "\n".join([f"fault drill, {date}", format_table(header, table), *notes])
