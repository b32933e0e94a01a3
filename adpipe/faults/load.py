"""The drill's steady load: client threads on keep-alive connections sending one-record and batch CTR predictions
of real records (sampled from the training file: the windows' drift stays quiet), paced, bounded in requests and
time. Every answer is checked against what the version it names answers for those records, computed beforehand in
this process; a request that gets no answer can be retried once (a prediction is idempotent)."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adpipe.io import load_model
from adpipe.service.registry import all_tasks
from adpipe.versions import cards, versions_dir

TASK = "ctr"
POOL = 2000  # records: a window of 5,000 answers drawn from fewer would drift from the reference by itself
BATCH_EVERY = 10  # every tenth request of a client is a batch
BATCH_SIZE = 50
TIMEOUT = 30.0


@dataclass
class Answer:
    """One request as the client saw it."""

    sent: float
    done: float
    batch: bool
    status: int  # the HTTP status; 0: no answer (refused, reset, closed, timed out)
    error: str | None  # the exception's name when no answer came
    version: str | None  # the model version the answer names
    wrong: int  # predictions in it unlike its named version's for those records
    first_failed: bool  # the first attempt got no answer (retried once when the load retries)
    delivered: bool  # the request was written whole (an error after that may have been accepted, then dropped)


def records(data: Path, count: int = POOL, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` rows of the CTR file as request records (the label dropped)."""
    import pandas as pd

    table = pd.read_csv(data).drop(columns=["Clicked on Ad"]).sample(count, random_state=seed)
    return json.loads(table.to_json(orient="records"))


def _essence(prediction: dict[str, Any]) -> tuple[Any, ...]:
    """What must match: the class and its probabilities (to 1e-9: JSON round trips floats to the last digit)."""
    probabilities = prediction.get("probabilities") or {}
    return prediction["prediction"], tuple(sorted((k, round(v, 9)) for k, v in probabilities.items()))


def expected_answers(models: Path, reports: Path, pool: list[dict[str, Any]]) -> dict[str, list[tuple[Any, ...]]]:
    """Per kept CTR version (its file read now, before any fault): what it answers for each record of ``pool``."""
    found = {}
    for card in cards(versions_dir(models / f"{TASK}.joblib")):
        task = all_tasks()[TASK]
        model, metadata = load_model(versions_dir(models / f"{TASK}.joblib") / card.file, task=TASK)
        task.attach(model, metadata, reports)
        predictions = task.predict([task.record.model_validate(r) for r in pool], explain=False)
        found[card.version] = [_essence(p.model_dump(mode="json")) for p in predictions]
    return found


class Load:
    """``clients`` threads, each ``rate`` requests a second at most, until :meth:`stop`, ``max_requests`` each or
    ``seconds`` (``headers``: an API key, say); :attr:`answers` holds every request."""

    def __init__(
        self,
        base: str,
        pool: list[dict[str, Any]],
        expected: dict[str, list[tuple[Any, ...]]],
        *,
        clients: int = 4,
        rate: float = 20.0,
        retry: bool = False,
        max_requests: int = 20_000,
        seconds: float = 600.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.host, port = base.removeprefix("http://").split(":")
        self.headers = {"content-type": "application/json", **(headers or {})}
        self.port, self.pool, self.expected, self.retry = int(port), pool, expected, retry
        self.rate, self.max_requests, self.deadline = rate, max_requests, time.monotonic() + seconds
        self.answers: list[Answer] = []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(TIMEOUT + 5)

    def _send(self, connection: http.client.HTTPConnection | None, path: str, body: str) -> tuple[Any, ...]:
        """(connection to reuse or None, status, payload, error name, delivered). Not delivered: the connection
        refused, or the request's one write failing on a keep-alive connection the server had closed (it never
        read it); any error after the write counts as delivered, since the server may have read the request."""
        connection = connection or http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
        try:
            connection.request("POST", path, body, self.headers)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            return None, 0, None, type(error).__name__, False
        try:
            answer = connection.getresponse()
            status, payload = answer.status, answer.read()
            return connection, status, json.loads(payload) if status == 200 else None, None, True
        except (OSError, http.client.HTTPException, ValueError) as error:
            connection.close()
            return None, 0, None, type(error).__name__, True

    def _wrong(self, payload: dict[str, Any], chosen: list[int], batch: bool) -> int:
        truth = self.expected.get(payload["model_version"])
        predictions = payload["predictions"] if batch else [payload["prediction"]]
        if truth is None:
            return len(predictions)
        return sum(_essence(p) != truth[i] for p, i in zip(predictions, chosen, strict=True))

    def _run(self, client: int) -> None:
        rng, connection = random.Random(client), None
        for n in range(self.max_requests):
            if self._stop.is_set() or time.monotonic() > self.deadline:
                break
            batch = n % BATCH_EVERY == BATCH_EVERY - 1
            chosen = rng.sample(range(len(self.pool)), BATCH_SIZE) if batch else [rng.randrange(len(self.pool))]
            path = f"/api/v1/{TASK}/predict-batch" if batch else f"/api/v1/{TASK}/predict"
            body = json.dumps({"records": [self.pool[i] for i in chosen]} if batch else self.pool[chosen[0]])
            sent = time.monotonic()
            connection, status, payload, error, delivered = self._send(connection, path, body)
            first_failed = status == 0
            if first_failed and self.retry:
                connection, status, payload, error, delivered = self._send(None, path, body)
            version = payload["model_version"] if payload else None
            wrong = self._wrong(payload, chosen, batch) if payload else 0
            with self._lock:
                done = time.monotonic()
                self.answers.append(Answer(sent, done, batch, status, error, version, wrong, first_failed, delivered))
            pause = 1.0 / self.rate - (time.monotonic() - sent)
            if pause > 0:
                self._stop.wait(pause)

    def between(self, start: float, end: float) -> list[Answer]:
        """The requests sent in [start, end)."""
        with self._lock:
            return [a for a in self.answers if start <= a.sent < end]
