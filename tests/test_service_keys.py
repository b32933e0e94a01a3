"""API keys (issue 23, item 3): with keys set, the JSON API and every form's POST need one; a missing or wrong key
is the same bare 401; keys are compared in constant time; the open routes stay open; serve warns when it
listens beyond this machine without keys."""

from __future__ import annotations

import hmac
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe.errors import DataError
from adpipe.service import keys as keys_module
from adpipe.service.app import create_app
from adpipe.service.keys import KEY_COOKIE, KEYS_ENV, UNAUTHORISED, ApiKeys, bind_warning, read_keys
from adpipe.service.registry import all_tasks
from model import app as cli_app
from tests.test_service import trained_models

KEY, OTHER = "k" * 16 + "-first-key", "o" * 16 + "-second-key"
PREDICT = "/api/v1/ctr/predict"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    models = trained_models()[0]
    app = create_app(models, tmp_path_factory.mktemp("reports"), api_keys=ApiKeys([KEY, OTHER]))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def example() -> dict:
    return dict(all_tasks()["ctr"].example)


@pytest.mark.parametrize("given", [None, "", "wrong-key-of-enough-length", KEY[:-1], KEY + "x"])
def test_a_missing_or_wrong_key_is_the_same_bare_401(client: TestClient, example: dict, given: str | None) -> None:
    headers = {} if given is None else {"X-API-Key": given}
    answer = client.post(PREDICT, json=example, headers=headers)
    assert answer.status_code == 401 and answer.json() == {"detail": UNAUTHORISED}
    assert "X-API-Key" in answer.headers["www-authenticate"]


@pytest.mark.parametrize("key", [KEY, OTHER])
def test_each_key_opens_the_api(client: TestClient, example: dict, key: str) -> None:
    assert client.post(PREDICT, json=example, headers={"X-API-Key": key}).status_code == 200
    batch = client.post("/api/v1/ctr/predict-batch", json={"records": [example]}, headers={"X-API-Key": key})
    assert batch.status_code == 200
    assert client.get("/api/v1/ctr/drift", headers={"X-API-Key": key}).status_code == 200


def test_every_post_and_the_served_data_need_a_key(client: TestClient) -> None:
    """Forms, uploads, actions and /monitor; the body limit stays (an oversized body is a 413 with or without a key)."""
    assert client.post("/ctr", data={"Age": "30"}).status_code == 401
    assert client.post("/conversion/upload", files={"conversion.csv": ("a.csv", b"x", "text/csv")}).status_code == 401
    assert client.post("/roas/plan", data={"budget": "100"}).status_code == 401
    assert client.post(PREDICT, content=b"x" * (2 * 1024 * 1024)).status_code == 413
    assert client.get("/monitor").status_code == 401


def test_pages_health_metrics_and_the_api_document_stay_open(client: TestClient) -> None:
    for path in ("/", "/ctr", "/health", "/metrics", "/openapi.json", "/key"):
        assert client.get(path).status_code == 200, path


def test_a_browser_enters_its_key_once_and_the_forms_answer(
    tmp_path_factory: pytest.TempPathFactory, example: dict
) -> None:
    app = create_app(trained_models()[0], tmp_path_factory.mktemp("reports"), api_keys=ApiKeys([KEY]))
    with TestClient(app, raise_server_exceptions=False) as browser:
        assert browser.post("/key", data={"api_key": "wrong-key-of-enough-length"}).status_code == 401
        assert KEY_COOKIE not in browser.cookies
        entered = browser.post("/key", data={"api_key": KEY}, follow_redirects=False)
        assert entered.status_code == 303 and "httponly" in entered.headers["set-cookie"].lower()
        assert "samesite=strict" in entered.headers["set-cookie"].lower()
        assert browser.post(PREDICT, json=example).status_code == 200
        assert browser.post("/ctr", data={k: str(v) for k, v in example.items()}).status_code == 200


@pytest.mark.parametrize(
    ("send", "status"),
    [
        ({"json": {"api_key": KEY}}, 415),  # a form is expected
        ({"content": b"", "headers": {"content-type": "text/plain"}}, 415),
        ({"data": {"api_key": "NaN"}}, 401),
        ({"data": {"api_key": "x" * 100_000}}, 401),
        ({"data": {f"f{i}": "1" for i in range(1001)}}, 400),
        ({"data": {"api_key": "9" * (2 * 1024 * 1024)}}, 413),
    ],
    ids=["json", "text", "NaN", "100 KB key", "1,001 fields", "over the body limit"],
)
def test_the_key_form_refuses_hostile_bodies(client: TestClient, send: dict, status: int) -> None:
    answer = client.post("/key", **send)
    assert answer.status_code == status and KEY_COOKIE not in answer.headers.get("set-cookie", "")


def test_keys_are_compared_with_every_key_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check compares the digest with each key through hmac.compare_digest, matched or not."""
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(keys_module.hmac, "compare_digest", counting)
    keys = ApiKeys([KEY, OTHER, "t" * 20])
    for given, accepted in [(KEY, True), ("t" * 20, True), ("nope", False), (None, False)]:
        calls.clear()
        assert keys.accepts(given) is accepted
        assert len(calls) == 3 and all(len(a) == len(b) == 32 for a, b in calls)


def test_keys_come_from_a_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"# the team's keys\n{KEY}  # alice\n\n{OTHER}\n")
    assert len(read_keys(path)) == 2 and read_keys(path).accepts(OTHER)
    assert read_keys(None, {KEYS_ENV: f"{KEY}, {OTHER}"}).accepts(KEY)
    assert read_keys(None, {}) is None and read_keys(None, {KEYS_ENV: " , "}) is None
    path.write_text("short\n")
    with pytest.raises(DataError, match="line 1: an API key has at least 16 characters"):
        read_keys(path)
    path.write_text("# nothing\n")
    with pytest.raises(DataError, match="no API key in the file"):
        read_keys(path)
    with pytest.raises(DataError, match="cannot read the API keys"):
        read_keys(tmp_path / "missing")


def test_serve_warns_when_it_listens_beyond_this_machine_without_keys(tmp_path: Path) -> None:
    assert "0.0.0.0 without API keys" in bind_warning("0.0.0.0", None)
    assert "10.1.2.3 without API keys" in bind_warning("10.1.2.3", None)
    assert bind_warning("127.0.0.1", None) is None and bind_warning("localhost", None) is None
    assert bind_warning("::1", None) is None and bind_warning("0.0.0.0", ApiKeys([KEY])) is None
    bad = tmp_path / "keys"
    bad.write_text("short\n")
    result = CliRunner().invoke(cli_app, ["serve", "--api-keys", str(bad)])
    assert result.exit_code == 1 and "at least 16 characters" in result.output and "Traceback" not in result.output
