"""The service's coalescer: concurrent requests share one prediction call, yet each gets only its own answers
and its own refusal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from adpipe.serving import coalesce
from adpipe.serving.coalesce import Coalescer
from adpipe.serving.records import RecordError


class Doubler:
    """A model stand-in that doubles numbers, refuses negative ones, and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, records: Sequence[int]) -> list[int]:
        self.calls.append(list(records))
        if any(record < 0 for record in records):
            raise RecordError("negative", row=0)
        return [2 * record for record in records]


async def _ask(coalescer: Coalescer, requests: list[list[int]]) -> list[list[int] | Exception]:
    return await asyncio.gather(*(coalescer(records) for records in requests), return_exceptions=True)


def test_requests_sent_together_share_one_call() -> None:
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=100)
    answers = asyncio.run(_ask(coalescer, [[1], [2, 3], [4]]))
    assert answers == [[2], [4, 6], [8]]
    assert model.calls == [[1, 2, 3, 4]]


async def _staggered(coalescer: Coalescer, requests: list[list[int]], gap: float) -> list[list[int]]:
    async def later(position: int, records: list[int]) -> list[int]:
        await asyncio.sleep(position * gap)
        return await coalescer(records)

    return await asyncio.gather(*(later(p, records) for p, records in enumerate(requests)))


def test_a_request_waits_for_company_within_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests a little apart (as clients with a few in flight send them) share a call when they arrive
    within GATHER_SECONDS of the first; without the window the first would be predicted alone."""
    monkeypatch.setattr(coalesce, "GATHER_SECONDS", 0.5)
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=100)
    assert asyncio.run(_staggered(coalescer, [[1], [2], [3]], gap=0.05)) == [[2], [4], [6]]
    assert model.calls == [[1, 2, 3]]


def test_a_full_call_does_not_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coalesce, "GATHER_SECONDS", 30.0)
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=2)
    started = time.monotonic()
    assert asyncio.run(_ask(coalescer, [[1, 2]])) == [[2, 4]]
    assert time.monotonic() - started < 10


def test_a_call_holds_at_most_max_records() -> None:
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=3)
    answers = asyncio.run(_ask(coalescer, [[1, 2], [3, 4], [5]]))
    assert answers == [[2, 4], [6, 8], [10]]
    assert all(len(call) <= 3 for call in model.calls)


def test_a_refusal_reaches_only_its_own_request() -> None:
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=100)
    good, bad, other = asyncio.run(_ask(coalescer, [[1], [-1], [5]]))
    assert good == [2] and other == [10]
    assert isinstance(bad, RecordError)


def test_requests_with_different_keys_are_not_mixed() -> None:
    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: records[0] % 2, max_records=100)
    answers = asyncio.run(_ask(coalescer, [[1], [2], [3]]))
    assert answers == [[2], [4], [6]]
    assert sorted(model.calls) == [[1, 3], [2]]


def test_a_bug_in_the_model_reaches_every_caller() -> None:
    def broken(records: Sequence[int]) -> list[int]:
        raise ZeroDivisionError("bug")

    coalescer = Coalescer(broken, key=lambda records: "same", max_records=100)
    with pytest.raises(ZeroDivisionError):
        asyncio.run(coalescer([1]))


def test_a_closed_coalescer_answers_what_was_queued_then_its_thread_ends() -> None:
    """A swapped-out model's coalescer (adpipe.service.live): the requests queued before close() are answered, its
    thread ends, and a late request (one that read the old model just before the swap) starts a new one."""
    import threading

    def threads() -> int:
        return sum(thread.name == "coalescer" and thread.is_alive() for thread in threading.enumerate())

    model = Doubler()
    coalescer = Coalescer(model, key=lambda records: "same", max_records=100)

    async def queued_then_closed() -> list[list[int]]:
        pending = [asyncio.ensure_future(coalescer([n])) for n in (1, 2, 3)]
        await asyncio.sleep(0)  # each request is queued before the close mark
        coalescer.close()  # inside the thread's 2 ms gathering window: the mark arrives among the requests
        return list(await asyncio.wait_for(asyncio.gather(*pending), 10))  # a thread that died would hang them

    before = threads()
    assert asyncio.run(queued_then_closed()) == [[2], [4], [6]]
    deadline = time.monotonic() + 5
    while threads() > before:
        assert time.monotonic() < deadline, "the closed coalescer's thread did not end"
        time.sleep(0.01)
    assert asyncio.run(asyncio.wait_for(_ask(coalescer, [[5]]), 10)) == [[10]]  # a late request is still answered
