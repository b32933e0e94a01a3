"""The main task for one user: ``marketing_target`` 1/2/3 from the user's row and their sessions, in the
challenge's two layouts (``user_test.csv``, ``;``-separated; ``session_test.csv``, ``,``-separated).

A pasted session table and an uploaded pair of files are read in memory by ``adpipe.clickstream.engines.load_split``,
the CLI's loader. Records, each field already checked against the same schemas, skip the CSV round trip: they
become the tables those readers give (``records_table``, ``records_frame``) and go through
``adpipe.clickstream.engines.records_split``, the same aggregation and cross-row checks (sessions whose user is not
among the users).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from adpipe import config
from adpipe.clickstream import SPEC
from adpipe.clickstream.engines import ClickstreamSplit, build_features, load_split, records_split
from adpipe.clickstream.estimators import decided, fitted_pipeline
from adpipe.errors import DataError
from adpipe.serving.adapter import Prediction, Task
from adpipe.serving.explain import final_model_inputs, tree_contributions
from adpipe.serving.records import RecordError, csv_bytes, read_files, record_error, record_model, rows_of
from features.clickstream_loaders import (
    SESSION_COLUMNS_USED,
    SESSIONS_SCHEMA,
    TARGET,
    USERS_TEST_SCHEMA,
    users_file,
)
from features.schema_records import records_frame, records_table

USERS_FILE, SESSIONS_FILE = config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE
MAX_SESSIONS = 2000
ENGAGEMENT = {1: "low", 2: "medium", 3: "high"}
SESSION_COLUMNS = [column for column in SESSIONS_SCHEMA.columns if column.name in SESSION_COLUMNS_USED]

USER_EXAMPLE = {"user_id": "6647f967", "age": 52, "abandoned_cart": True, "user_category": "new_user"}
SESSION_EXAMPLE = {
    "session_id": "f0da5632",
    "timestamp": "2023-08-15 05:58:37",
    "device_type": "tablet",
    "browser": "Edge",
    "operating_system": "Windows",
    "ip_address": "137.193.176.120",
    "country": "Kenya",
    "search_query": "As program perhaps high.",
    "page_views": 6,
    "session_duration": 240,
}
UserRecord = record_model(USERS_TEST_SCHEMA, "ClickstreamUser", exclude=("test_id",), example=USER_EXAMPLE)
SessionRecord = record_model(SESSIONS_SCHEMA, "ClickstreamSession", exclude=("user_id",), example=SESSION_EXAMPLE)

# The load test: one user with this many sessions, and batches of this many users.
LOAD_TEST_SESSIONS = 50
LOAD_TEST_USERS = 100


class ClickstreamRecord(BaseModel):
    """One user (a row of ``user_test.csv`` without ``test_id``) and their sessions (rows of ``session_test.csv``
    without ``user_id``, which is the user's)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"user": USER_EXAMPLE, "sessions": [SESSION_EXAMPLE]}]}
    )

    user: UserRecord  # type: ignore[valid-type]
    sessions: list[SessionRecord] = Field(default_factory=list, max_length=MAX_SESSIONS)  # type: ignore[valid-type]


class Clickstream(Task):
    spec = SPEC
    title = "ClickStream marketing_target for one user"
    record = ClickstreamRecord
    example = {"user": USER_EXAMPLE, "sessions": [SESSION_EXAMPLE]}
    effect_unit = "raw score (log-odds) of the predicted class"
    upload_files = (USERS_FILE, SESSIONS_FILE)
    form_subject = "user"
    pasted_table = "sessions"
    pasted_title = "Their sessions"
    pasted_help = (
        "Paste rows in the <code>session_test.csv</code> layout (comma-separated, with its header line); every "
        "row's <code>user_id</code> must be the user above."
    )

    @property
    def form_record(self) -> type[BaseModel]:
        return UserRecord

    @property
    def form_example(self) -> dict[str, Any]:
        return self.example["user"]

    def pasted_example(self) -> str:
        header = ["user_id", *self.example["sessions"][0]]
        row = [self.example["user"]["user_id"], *(str(v) for v in self.example["sessions"][0].values())]
        return ",".join(header) + "\n" + ",".join(row) + "\n"

    def load_test_records(self, batch_size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A user with 50 sessions, and 100 users with 20 sessions each (fewer than the API's batch limit)."""
        session = self.example["sessions"][0]
        sessions = [
            {**session, "session_id": f"s{i}", "timestamp": f"2023-08-{1 + i % 28:02d} {i % 24:02d}:15:00"}
            for i in range(LOAD_TEST_SESSIONS)
        ]
        user = self.example["user"]
        batch = [{"user": {**user, "user_id": f"u{i}"}, "sessions": sessions[:20]} for i in range(LOAD_TEST_USERS)]
        return {"user": user, "sessions": sessions}, batch

    async def answer_form(self, values: dict[str, str], pasted: str) -> Prediction:
        """The user's fields, and their sessions pasted as CSV rows (read by the session loader)."""
        user = UserRecord.model_validate(values)
        return await run_in_threadpool(self.predict_pasted, user, pasted.encode())

    def _read(self, files: dict[str, bytes], shown: dict[str, str] | None = None) -> ClickstreamSplit:
        return read_files(files, lambda folder: load_split(folder, "test"), shown)

    def _answer(self, split: ClickstreamSplit, explain: bool = True) -> tuple[pd.DataFrame, list[Prediction]]:
        """The per-user features the model reads (one row per user, as its training reference holds them) and
        the guarded answers."""
        X = build_features(split).drop(columns=["test_id", TARGET], errors="ignore")
        # Encoded once: the wrappers and the pipeline pass predict_proba through to the final model, which also
        # explains it.
        final, inputs = final_model_inputs(self.model, X)
        probabilities = final.predict_proba(inputs)
        classes = [int(c) for c in self.model.classes_]
        predicted = decided(self.model, probabilities).astype(int)
        explained = np.array([classes.index(c) for c in predicted])
        contributions = (tree_contributions(final, inputs, explained) if explain else None) or [None] * len(X)
        answers = [
            Prediction(
                prediction=int(c),
                label=f"{c} ({ENGAGEMENT.get(int(c), '?')} engagement)",
                probabilities={str(k): float(p) for k, p in zip(classes, row, strict=True)},
                top_inputs=top,
            )
            for c, row, top in zip(predicted, probabilities, contributions, strict=True)
        ]
        used = X[fitted_pipeline(self.model).named_steps["select"].columns_]
        return used, self.guarded(used, answers)

    def key(self, records: Sequence[BaseModel]) -> Hashable | None:
        """Any users read the same way together: the service numbers them itself (their ``user_id`` only has to
        tie sessions to users in a file; here each user's sessions come with them)."""
        return self.name

    def predict(self, records: Sequence[BaseModel], explain: bool = True) -> list[Prediction]:
        test_ids = list(range(1, len(records) + 1))
        numbers = [str(n) for n in test_ids]
        users = rows_of([r.user for r in records], user_id=numbers, test_id=test_ids)
        sessions, owner = [], []
        for position, record in enumerate(records):
            sessions += rows_of(record.sessions, user_id=[numbers[position]] * len(record.sessions))
            owner += [(position, index) for index in range(len(record.sessions))]
        try:
            try:
                split = records_split(
                    records_table(users, USERS_TEST_SCHEMA, path=USERS_FILE),
                    records_frame(sessions, SESSION_COLUMNS),
                    Path(USERS_FILE),
                    Path(SESSIONS_FILE),
                )
            except DataError as error:
                raise record_error(error) from error
            return self._answer(split, explain)[1]
        except RecordError as error:
            error.location = _location(error, owner)
            raise

    def predict_pasted(self, user: BaseModel, sessions: bytes) -> Prediction:
        """One user typed in a form with their sessions pasted as a ``session_test.csv`` table."""
        users = rows_of([user], test_id=[1])
        files = {USERS_FILE: csv_bytes(users, USERS_TEST_SCHEMA), SESSIONS_FILE: sessions}
        return self._answer(self._read(files, {SESSIONS_FILE: "pasted sessions", USERS_FILE: "the user above"}))[1][0]

    def predict_upload(self, files: dict[str, bytes], names: dict[str, str]) -> tuple[list[str], list[Prediction]]:
        used, answers = self._answer(self._read(files, names))
        return [str(user) for user in used.index], answers

    def batch(self, source: Path) -> tuple[pd.DataFrame, list[Prediction]]:
        """A folder in the challenge's layout: its test split when it has one (``test/``), else its train split."""
        split = "test" if users_file(source, "test").exists() else "train"
        return self._answer(load_split(source, split), explain=False)


def _location(error: RecordError, owner: list[tuple[int, int]]) -> list[Any]:
    """Where in the request a loader's complaint about the generated user or session file points."""
    field = error.column
    if error.row is None or error.row < 0:
        return ["records"]
    if error.file == USERS_FILE:
        return ["records", error.row, "user", *([field] if field else [])]
    if error.file == SESSIONS_FILE and error.row < len(owner):
        user, session = owner[error.row]
        return ["records", user, "sessions", session, *([field] if field else [])]
    return ["records"]
