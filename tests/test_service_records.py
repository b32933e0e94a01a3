"""Records sent to the service skip the CSV round trip: each table task's loader rules run on the table
:func:`features.schema_records.records_table` builds (ClickStream's sessions: ``records_frame``).
The answers and the refusals must be those of the same rows uploaded as a CSV file, which the CLI's loader
reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpipe.clickstream.service import SESSIONS_FILE, USERS_FILE
from adpipe.service.registry import all_tasks, load_models
from adpipe.serving.adapter import TableTask
from adpipe.serving.records import RecordError, csv_bytes, rows_of
from features.clickstream_loaders import SESSIONS_SCHEMA, USERS_TEST_SCHEMA
from tests.test_service import trained_models

TABLE_TASKS = [name for name, task in all_tasks().items() if isinstance(task, TableTask)]
# Per table task: a record unlike the example (values padded with spaces, optional fields left out, other numbers),
# and a change one of the loader's rules past the column types refuses.
VARIANTS = {
    "ctr": ({"City": "  Lisafort ", "Gender": None, "Age": 61, "Timestamp": "3/1/2016 8:05"}, {"Gender": "?"}),
    "conversion": ({"Top Interests": " Gaming, DIY Crafts ", "Likes and Reactions": 0}, {"Followed Accounts": 2.5}),
    "segments": ({"Location": "Urban", "Ad Interaction Time (sec)": 1}, {"Likes and Reactions": 1.5}),
    "roas": ({"age": "45-49", "Impressions": 1, "Clicks": 0, "Spent": 0.01}, {"Clicks": 50, "Impressions": 10}),
}


@pytest.fixture(scope="module")
def tasks() -> dict[str, TableTask]:
    models, reports = trained_models()
    served = all_tasks()
    load_models(served, models, reports)
    return served


def _variants(name: str) -> tuple[dict, dict]:
    assert name in VARIANTS, f"a table task without its records' variants: add {name}'s to VARIANTS"
    return VARIANTS[name]


def _uploaded(task: TableTask, records: list) -> list:
    """The answers for the same records sent as an uploaded CSV (read by the CLI's loader)."""
    rows = rows_of(records, **task.extra_columns(len(records)))
    return task.predict_upload({task.upload_files[0]: csv_bytes(rows, task.schema)}, {})[1]


@pytest.mark.parametrize("name", TABLE_TASKS)
def test_records_are_answered_as_their_csv_upload(tasks: dict[str, TableTask], name: str) -> None:
    task = tasks[name]
    changed, _ = _variants(name)
    records = [task.record.model_validate(task.example), task.record.model_validate({**task.example, **changed})]
    assert task.predict(records, explain=True) == _uploaded(task, records)


@pytest.mark.parametrize("name", TABLE_TASKS)
def test_records_are_refused_as_their_csv_upload(tasks: dict[str, TableTask], name: str) -> None:
    task = tasks[name]
    _, refused = _variants(name)
    records = [task.record.model_validate(task.example), task.record.model_validate({**task.example, **refused})]
    with pytest.raises(RecordError) as direct:
        task.predict(records)
    with pytest.raises(RecordError) as uploaded:
        _uploaded(task, records)
    assert (direct.value.message, direct.value.row, direct.value.column) == (
        uploaded.value.message,
        uploaded.value.row,
        uploaded.value.column,
    )
    assert Path(direct.value.file or "").name == uploaded.value.file


def test_clickstream_records_are_answered_as_their_csv_upload(tasks: dict[str, TableTask]) -> None:
    """Users with sessions (text padded with spaces, one user without any) answered from their records as from the
    same rows uploaded as the challenge's two files."""
    task = tasks["clickstream"]
    user, session = task.example["user"], task.example["sessions"][0]
    sessions = [
        {**session, "session_id": f"s{i}", "timestamp": f"2023-08-{1 + i:02d} 0{i % 10}:15:00", "page_views": i}
        for i in range(12)
    ]
    sessions[3] = {**sessions[3], "country": "  Kenya ", "browser": "Chrome"}
    records = [
        task.record.model_validate({"user": user, "sessions": sessions}),
        task.record.model_validate({"user": {**user, "user_id": "b", "age": 23}, "sessions": []}),
        task.record.model_validate({"user": {**user, "user_id": "c"}, "sessions": sessions[:2]}),
    ]
    users = rows_of([r.user for r in records], test_id=[1, 2, 3])
    rows = [row for r in records for row in rows_of(r.sessions, user_id=[r.user.user_id] * len(r.sessions))]
    files = {USERS_FILE: csv_bytes(users, USERS_TEST_SCHEMA), SESSIONS_FILE: csv_bytes(rows, SESSIONS_SCHEMA)}
    assert task.predict(records, explain=True) == task.predict_upload(files, {})[1]
