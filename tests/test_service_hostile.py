"""Hostile bodies on every POST route of the service (issue 22, "Reliability and speed"): JSON numbers written as
NaN or Infinity (as Python's json.dumps writes them), values nested hundreds or thousands deep, 900 KB strings,
keys and numbers, wrong content types, over-limit batches and bodies, empty bodies, arrays and null. Each is a
4xx, never a 5xx; an API 422 is small (the offending value echoed trimmed, never the body) and names the field
where there is one; a page's 422 names the field in its errors.

The routes come from the served tasks (each task's predict, predict-batch and actions, its form, upload and
action forms), and the table must cover every POST route the app serves. The models are the service tests' own,
trained once per test run (tests.test_service.trained_models).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from fastapi.testclient import TestClient

from adpipe.clickstream.service import SESSIONS_FILE, USERS_FILE, UserRecord
from adpipe.service.api import MAX_BATCH, VERSION
from adpipe.service.app import MAX_BODY_BYTES, create_app
from adpipe.service.echo import cut, elide, trimmed
from adpipe.service.keys import KEY_PAGE, ApiKeys
from adpipe.service.pages import form_fields, page_router
from adpipe.service.registry import all_tasks
from adpipe.serving.adapter import TableTask, Task
from adpipe.serving.records import csv_bytes, rows_of
from features.clickstream_loaders import USERS_TEST_SCHEMA
from tests.test_service import actions_ready, trained_models

SMALL = 2048  # bytes: the most an API 422 may weigh
HUGE = 900_000  # characters: a string, key or number under MAX_BODY_BYTES
NESTED = 500  # levels: read by the JSON reader, then refused (the 422 failed to be written: a 500)
DEEP = 10_000  # levels: past the JSON reader's own limit (a 400)
HUGE_KEY = "k" * HUGE
JSON = {"content-type": "application/json"}
OCTETS = bytes(range(256)) * 40  # not UTF-8


class Endpoint(NamedTuple):
    path: str
    kind: str  # predict, predict-batch, action, admin (JSON); form, upload, action-form (pages)
    task: str
    action: str | None = None


def _endpoints() -> list[Endpoint]:
    """Every POST route, from the tasks."""
    found = []
    for task in all_tasks().values():
        found += [
            Endpoint(f"/api/{VERSION}/{task.name}/predict", "predict", task.name),
            Endpoint(f"/api/{VERSION}/{task.name}/predict-batch", "predict-batch", task.name),
            Endpoint(f"/{task.name}", "form", task.name),
            Endpoint(f"/{task.name}/upload", "upload", task.name),
        ]
        for action in task.actions():
            found.append(Endpoint(f"/api/{VERSION}/{task.name}/{action.name}", "action", task.name, action.name))
            found.append(Endpoint(f"/{task.name}/{action.name}", "action-form", task.name, action.name))
    found += [Endpoint(f"/admin/{name}", "admin", "ctr") for name in ("promote", "rollback")]
    return found


ENDPOINTS = _endpoints()
API = [e for e in ENDPOINTS if e.kind in ("predict", "predict-batch", "action", "admin")]
ADMIN = "admin-key-of-enough-length"
FORMS = [e for e in ENDPOINTS if e.kind in ("form", "action-form")]
UPLOADS = [e for e in ENDPOINTS if e.kind == "upload"]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(*trained_models(), admin_keys=ApiKeys([ADMIN]))
    with TestClient(app, raise_server_exceptions=False, headers={"X-Admin-Key": ADMIN}) as started:
        actions_ready(app)
        yield started  # the lifespan ran: the actions started, as in each server worker


# --- the valid bodies the cases spoil ------------------------------------------------------------------------------


def _task(client: TestClient, endpoint: Endpoint) -> Task:
    return client.app.state.tasks[endpoint.task]


def _action(client: TestClient, endpoint: Endpoint) -> Any:
    return next(a for a in _task(client, endpoint).actions() if a.name == endpoint.action)


def _json_body(client: TestClient, endpoint: Endpoint) -> Any:
    task = _task(client, endpoint)
    if endpoint.kind == "predict":
        return task.example
    if endpoint.kind == "predict-batch":
        return {"records": [task.example]}
    if endpoint.kind == "admin":  # the version already served: answered, and nothing changes
        return {"task": task.name, "version": client.app.state.statuses[task.name].version}
    return _action(client, endpoint).request.model_json_schema()["examples"][0]


def _form(client: TestClient, endpoint: Endpoint) -> tuple[dict[str, str], list[str]]:
    """A form the page answers, and its number fields."""
    if endpoint.kind == "action-form":
        values = {key: str(value) for key, value in _action(client, endpoint).form_values().items()}
        return values, [key for key, value in values.items() if re.fullmatch(r"-?[\d.]+", value)]
    task = _task(client, endpoint)
    fields = form_fields(task.form_record, task.form_example)
    values = {field["name"]: str(field["value"]) for field in fields}
    if task.pasted_table:
        values[task.pasted_table] = task.pasted_example()
    return values, [field["name"] for field in fields if field["kind"] == "number"]


def _upload(task: Task, cell: str | None = None) -> dict[str, bytes]:
    """The task's upload of its example record (its first number written as ``cell`` when given)."""
    if isinstance(task, TableTask):
        schema, name, rest = task.schema, task.upload_files[0], {}
        rows = rows_of([task.record.model_validate(task.example)], **task.extra_columns(1))
    else:  # ClickStream: the user's row and their sessions, the challenge's two files
        schema, name, rest = USERS_TEST_SCHEMA, USERS_FILE, {SESSIONS_FILE: task.pasted_example().encode()}
        rows = rows_of([UserRecord.model_validate(task.example["user"])], test_id=[1])
    if cell is not None:
        rows[0][_numbers(rows[0])[0][0]] = cell
    return {name: csv_bytes(rows, schema), **rest}


def _files(files: dict[str, bytes]) -> dict[str, tuple[str, bytes, str]]:
    return {name: (name, data, "text/csv") for name, data in files.items()}


def _numbers(body: Any, path: tuple = ()) -> list[tuple]:
    """The paths of every number in a JSON body."""
    if isinstance(body, dict):
        return [found for key, value in body.items() for found in _numbers(value, (*path, key))]
    if isinstance(body, list):
        return [found for index, value in enumerate(body) for found in _numbers(value, (*path, index))]
    return [path] if isinstance(body, int | float) and not isinstance(body, bool) else []


def _with(body: Any, paths: list[tuple], value: Any) -> Any:
    body = json.loads(json.dumps(body))
    for path in paths:
        node = body
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return body


def _raw(body: Any, paths: list[tuple], text: str) -> bytes:
    """``body`` as JSON with ``text`` written as it is at ``paths`` (deeper or longer than json.dumps writes)."""
    mark = "\x00hostile"
    return json.dumps(_with(body, paths, mark)).replace(json.dumps(mark), text).encode()


# --- the API's cases -----------------------------------------------------------------------------------------------

Send = Callable[[Any, list[tuple]], dict[str, Any]]  # (valid body, paths of its numbers) -> the request


class Case(NamedTuple):
    status: int
    send: Send
    named: str | tuple | None = None  # where a 422 points: "numbers" (each spoiled number), "first", "key", a path


def _every(value: Any) -> Send:
    """Every number of the body replaced by ``value`` (NaN and infinities written as json.dumps writes them)."""
    return lambda body, paths: {"content": json.dumps(_with(body, paths, value)).encode(), "headers": JSON}


def _every_raw(text: str) -> Send:
    return lambda body, paths: {"content": _raw(body, paths, text), "headers": JSON}


def _first_raw(text: str) -> Send:
    return lambda body, paths: {"content": _raw(body, paths[:1], text), "headers": JSON}


def _typed(content_type: str, content: bytes | None = None) -> Send:
    """The body with a 900 KB string as its first number (or ``content``), sent as ``content_type``."""
    return lambda body, paths: {
        "content": content if content is not None else _raw(body, paths[:1], json.dumps("x" * HUGE)),
        "headers": {"content-type": content_type},
    }


def _huge_key(body: Any, paths: list[tuple]) -> dict[str, Any]:
    """A 900 KB key beside the first number, in the record that holds it."""
    return {"content": _raw(body, [(*paths[0][:-1], HUGE_KEY)], "1"), "headers": JSON}


API_CASES = {
    "NaN": Case(422, _every(float("nan")), "numbers"),
    "Infinity": Case(422, _every(float("inf")), "numbers"),
    "-Infinity": Case(422, _every(float("-inf")), "numbers"),
    f"list nested {NESTED} deep": Case(422, _every_raw("[" * NESTED + "]" * NESTED), "numbers"),
    f"object nested {NESTED} deep": Case(422, _every_raw('{"a":' * NESTED + "1" + "}" * NESTED), "numbers"),
    f"list nested {DEEP} deep": Case(400, _first_raw("[" * DEEP + "]" * DEEP)),
    f"object nested {DEEP} deep": Case(400, _first_raw('{"a":' * DEEP + "1" + "}" * DEEP)),
    "900 KB string": Case(422, _first_raw(json.dumps("x" * HUGE)), "first"),
    "900 KB key": Case(422, _huge_key, "key"),
    "900,000-digit integer": Case(400, _first_raw("9" * HUGE)),
    "900,000-digit float": Case(422, _first_raw("9" * HUGE + ".5"), "first"),
    "JSON sent as text/plain": Case(422, _typed("text/plain"), ()),
    "application/xml": Case(422, _typed("application/xml", f"<a>{'x' * HUGE}</a>".encode()), ()),
    "octet-stream, not UTF-8": Case(422, _typed("application/octet-stream", OCTETS), ()),
    "multipart": Case(422, lambda body, _: {"files": {"body": ("b.json", json.dumps(body), "application/json")}}, ()),
    "form": Case(422, lambda *_: {"data": {"records": "1"}}, ()),
    f"batch of {MAX_BATCH + 1}": Case(
        422, lambda body, _: {"json": {"records": [body] * (MAX_BATCH + 1)}}, ("records",)
    ),
    f"{MAX_BATCH} bad records": Case(
        422, lambda *_: {"json": {"records": [{"x": i} for i in range(MAX_BATCH)]}}, ("records",)
    ),
    "body over the limit": Case(413, lambda *_: {"content": b"[" + b" " * MAX_BODY_BYTES + b"]", "headers": JSON}),
    "body over the limit, chunked": Case(413, lambda *_: {"content": iter([b" " * 65536] * 17), "headers": JSON}),
    "empty": Case(422, lambda *_: {"content": b""}, ()),
    "array": Case(422, lambda body, _: {"json": [body]}, ()),
    "null": Case(422, lambda *_: {"content": b"null", "headers": JSON}, ()),
}


@pytest.mark.parametrize(
    ("endpoint", "case"),
    [(e, c) for e in API for c in API_CASES],
    ids=[f"{e.path} {c}" for e in API for c in API_CASES],
)
def test_the_api_refuses_hostile_bodies(client: TestClient, endpoint: Endpoint, case: str) -> None:
    """The expected 4xx; a 422 under 2 KB naming each field that holds a hostile value."""
    status, send, named = API_CASES[case]
    body = _json_body(client, endpoint)
    numbers = [("version",)] if endpoint.kind == "admin" else _numbers(body)  # an admin call has no number
    response = client.post(endpoint.path, **send(body, numbers))
    assert response.status_code == status, response.text[:1000]
    if status != 422:
        return
    assert len(response.content) < SMALL, f"{len(response.content)} bytes: {response.text[:1000]}"
    places = {"numbers": numbers, "first": numbers[:1], "key": [(*numbers[0][:-1], cut(HUGE_KEY))]}.get(named, [named])
    located = [error["loc"][1:] for error in response.json()["detail"]]
    for place in places:
        assert any(loc[: len(place)] == list(place) for loc in located), (place, located)


# --- the pages' cases ----------------------------------------------------------------------------------------------

PageSend = Callable[[dict[str, str], list[str], Task], dict[str, Any]]  # (valid form, its numbers, task) -> request


class PageCase(NamedTuple):
    status: int
    send: PageSend
    named: str | None = None  # where a 422 points: "numbers" (each spoiled number field) or "first"


def _in_numbers(value: str, first: bool = False) -> PageSend:
    return lambda form, numbers, _: {"data": {**form, **dict.fromkeys(numbers[:1] if first else numbers, value)}}


def _in_upload(first_file: bytes | None = None, cell: str | None = None) -> PageSend:
    """The task's upload with its first number written as ``cell``, or its first file replaced."""

    def send(form: dict[str, str], numbers: list[str], task: Task) -> dict[str, Any]:
        files = _upload(task, cell)
        if first_file is not None:
            files[task.upload_files[0]] = first_file
        return {"files": _files(files)}

    return send


def _content(content: bytes, content_type: str | None) -> PageSend:
    return lambda *_: {"content": content, "headers": {"content-type": content_type} if content_type else {}}


# For every page that takes a form or an upload.
PAGE_CASES = {
    "JSON": PageCase(415, lambda form, *_: {"json": form}),
    "JSON with NaN": PageCase(415, _content(b'{"budget": NaN}', "application/json")),
    "text/plain": PageCase(415, _content(b"age=40", "text/plain")),
    "application/xml": PageCase(415, _content(b"<age>40</age>", "application/xml")),
    "octet-stream, not UTF-8": PageCase(415, _content(OCTETS, "application/octet-stream")),
    "empty, no content type": PageCase(415, _content(b"", None)),
    "multipart without a boundary": PageCase(400, _content(b"x", "multipart/form-data")),
    "1,001 fields": PageCase(400, lambda *_: {"data": {f"f{i}": "1" for i in range(1001)}}),
    "1,001 files": PageCase(400, lambda *_: {"files": [("f", ("f.csv", b"1", "text/csv"))] * 1001}),
    "body over the limit": PageCase(413, lambda *_: {"data": {"x": "9" * MAX_BODY_BYTES}}),
}
FORM_CASES = {
    "NaN": PageCase(422, _in_numbers("NaN"), "numbers"),
    "Infinity": PageCase(422, _in_numbers("Infinity"), "numbers"),
    "-Infinity": PageCase(422, _in_numbers("-Infinity"), "numbers"),
    "900,000-digit number": PageCase(422, _in_numbers("9" * HUGE, first=True), "first"),
    **PAGE_CASES,
}
UPLOAD_CASES = {
    "NaN": PageCase(422, _in_upload(cell="NaN")),
    "Infinity": PageCase(422, _in_upload(cell="Infinity")),
    "-Infinity": PageCase(422, _in_upload(cell="-Infinity")),
    "900 KB file of one number": PageCase(422, _in_upload(first_file=b"9" * HUGE)),
    "file not UTF-8": PageCase(422, _in_upload(first_file=OCTETS)),
    "text fields, no file": PageCase(422, lambda form, *_: {"data": form}),
    **PAGE_CASES,
}
PAGES = [(e, c, FORM_CASES) for e in FORMS for c in FORM_CASES] + [
    (e, c, UPLOAD_CASES) for e in UPLOADS for c in UPLOAD_CASES
]


@pytest.mark.parametrize(("endpoint", "case", "cases"), PAGES, ids=[f"{e.path} {c}" for e, c, _ in PAGES])
def test_the_pages_refuse_hostile_bodies(
    client: TestClient, endpoint: Endpoint, case: str, cases: dict[str, PageCase]
) -> None:
    """The expected 4xx; a 422 page whose errors (under 2 KB) name each field that holds a hostile value."""
    status, send, named = cases[case]
    task = _task(client, endpoint)
    if endpoint.kind == "upload":
        form, numbers = {name: data.decode() for name, data in _upload(task).items()}, []
    else:
        form, numbers = _form(client, endpoint)
    response = client.post(endpoint.path, **send(form, numbers, task))
    assert response.status_code == status, response.text[-2000:]
    errors = "".join(re.findall(r'<div class="errors" id="[\w-]*errors">.*?</div>', response.text, re.S))
    assert status != 422 or 0 < len(errors) < SMALL, (len(errors), response.text[-2000:])
    for field in {"numbers": numbers, "first": numbers[:1]}.get(named or "", []):
        assert f"<li>{html.escape(field)}: " in errors, errors[:2000]


# --- the echo, and the table itself --------------------------------------------------------------------------------


def test_an_echo_is_short_whatever_the_value() -> None:
    """No value is walked in depth or echoed whole: a list nested 100,000 deep, a 1,000-item list, long text."""
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert trimmed(deep) == ["[… 1 items]"]
    assert trimmed({"a": 1, "b": [1, 2], "c": {"d": 1}}) == {"a": 1, "b": "[… 2 items]", "c": "{… 1 keys}"}
    shown = trimmed(list(range(1000)))
    assert shown[:-1] == list(range(len(shown) - 1)) and shown[-1] == f"… {1001 - len(shown)} more items"
    assert trimmed("x" * 1000) == "x" * 100 + "… (1000 characters)"
    assert trimmed(b"\xff" * 1000) == "\ufffd" * 100 + "… (1000 bytes)"
    assert [trimmed(float(text)) for text in ("nan", "inf", "-inf")] == ["nan", "inf", "-inf"]
    message = elide(f"value '{'x' * 10_000}' is not one of: F, M")
    assert len(message) < 400 and message.startswith("value 'xxx") and message.endswith("is not one of: F, M")


def test_the_table_covers_every_post_route(client: TestClient) -> None:
    """The API's POST routes as its OpenAPI document lists them, the pages' as their router makes them."""
    document = client.get("/openapi.json").json()["paths"]
    served = {path for path, operations in document.items() if "post" in operations}
    served |= {route.path for route in page_router(client.app.state.tasks).routes if "POST" in route.methods}
    # /key, no task's route, has its own table: tests/test_service_keys.py
    assert served - {KEY_PAGE} == {endpoint.path for endpoint in ENDPOINTS}


@pytest.mark.parametrize(
    "endpoint",
    ENDPOINTS,
    ids=[e.path for e in ENDPOINTS],
)
def test_the_valid_bodies_are_answered(client: TestClient, endpoint: Endpoint) -> None:
    """What the cases spoil is a body the endpoint answers (its model is served: no 503 in the way)."""
    if endpoint.kind in ("predict", "predict-batch", "action", "admin"):
        response = client.post(endpoint.path, json=_json_body(client, endpoint))
    elif endpoint.kind == "upload":
        response = client.post(endpoint.path, files=_files(_upload(_task(client, endpoint))))
    else:
        response = client.post(endpoint.path, data=_form(client, endpoint)[0])
    assert response.status_code == 200, response.text[-2000:]


@pytest.mark.parametrize("task", sorted(all_tasks()))
def test_a_batch_with_an_unknown_key_beside_its_records_is_refused(client: TestClient, task: str) -> None:
    """A misspelt option in the batch's wrapper is named, not ignored (it was answered 200)."""
    body = {"records": [all_tasks()[task].example], "explain": True}
    answer = client.post(f"/api/{VERSION}/{task}/predict-batch", json=body)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "explain"]
