"""API keys: with keys set, every prediction needs one — the JSON API and every form's POST (uploads included).

Keys come from a file (``serve --api-keys FILE``: one per line, ``#`` starts a comment) or, when no file is given,
from the ``ADPIPE_API_KEYS`` environment variable (comma-separated: the container's way). A program sends its
key in the ``X-API-Key`` header; a browser, which cannot add a header to a form, enters it once on ``/key``,
which keeps it in an HttpOnly, same-site cookie. A missing and a wrong key get the same bare 401. Keys are held
as SHA-256 digests and a request's key is compared with every one of them by :func:`hmac.compare_digest`, so an
answer's timing tells neither how much of a key was right nor which key it was near.

Open without a key: the pages themselves (GET) but ``/monitor`` (what was served), ``/health`` (a load balancer's
check), ``/metrics`` (a scraper's; counts only) and the API document. The body and batch limits stay as they
were: a body over the limit is a 413 with or without a key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from adpipe.errors import DataError

if TYPE_CHECKING:  # the web stack is imported on use: ``serve --help`` reads this module's names
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

KEYS_ENV = "ADPIPE_API_KEYS"
ADMIN_KEYS_ENV = "ADPIPE_ADMIN_KEYS"  # promote and roll back models (adpipe.service.live): other keys than the API's
ADMIN_PREFIX = "/admin/"
KEY_HEADER = "x-api-key"
KEY_COOKIE = "adpipe_key"
KEY_PAGE = "/key"
MONITOR_PAGE = "/monitor"
MIN_KEY_LENGTH = 16  # a shorter key can be guessed: e.g. `python -c "import secrets; print(secrets.token_urlsafe())"`
OPEN_METHODS = ("GET", "HEAD", "OPTIONS")
UNAUTHORISED = "missing or wrong API key"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The keys a service accepts, as digests."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = [_digest(key) for key in keys]
        if not self._digests:
            raise ValueError("no API keys given")

    def __len__(self) -> int:
        return len(self._digests)

    def accepts(self, key: str | None) -> bool:
        """Whether ``key`` is one of the keys: compared with each of them, every time."""
        given = _digest(key or "")
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(digest, given)
        return found


def read_keys(path: Path | None, environ: dict[str, str] | None = None, variable: str = KEYS_ENV) -> ApiKeys | None:
    """The keys of ``path``, else of the environment ``variable``; None when neither names any (for the API's
    keys: the service is open)."""
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise DataError(f"cannot read the API keys: {error.__class__.__name__}", path=path) from error
        keys, where = [line.split("#", 1)[0].strip() for line in lines], path
    else:
        keys, where = (environ if environ is not None else dict(os.environ)).get(variable, "").split(","), None
    keys = [key.strip() for key in keys if key.strip()]
    if path is not None and not keys:
        raise DataError("no API key in the file (one per line)", path=path)
    for number, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH:
            source = f"line {number}" if where is not None else f"{variable}, key {number}"
            raise DataError(
                f"{source}: an API key has at least {MIN_KEY_LENGTH} characters (secrets.token_urlsafe() makes one)",
                path=where,
            )
    return ApiKeys(keys) if keys else None


def bind_warning(host: str, keys: ApiKeys | None) -> str | None:
    """The warning ``serve`` prints when it listens beyond this machine with no keys."""
    if keys is not None:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"warning: serving on {host} without API keys: anyone who reaches the port can call the API "
        f"(set {KEYS_ENV} or --api-keys)"
    )


def _protected(scope: Scope) -> bool:
    path = scope["path"]
    if path.startswith(ADMIN_PREFIX):  # admin calls check their own keys
        return False
    if path.startswith("/api/") or path == MONITOR_PAGE:
        return True
    return scope["method"] not in OPEN_METHODS and path != KEY_PAGE


def request_key(scope: Scope) -> str | None:
    """The request's key: its ``X-API-Key`` header, else the cookie ``/key`` set."""
    from starlette.requests import HTTPConnection

    connection = HTTPConnection(scope)
    return connection.headers.get(KEY_HEADER) or connection.cookies.get(KEY_COOKIE)


class RequireKey:
    """ASGI middleware: a protected request (:func:`_protected`) without an accepted key is answered 401 at once."""

    def __init__(self, app: ASGIApp, keys: ApiKeys) -> None:
        self.app, self.keys = app, keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _protected(scope) and not self.keys.accepts(request_key(scope)):
            await unauthorised(scope["path"])(scope, receive, send)
            return
        await self.app(scope, receive, send)


def unauthorised(path: str) -> Response:
    """The same bare 401 for a missing and a wrong key: JSON under ``/api/``, a page pointing at ``/key`` else."""
    from starlette.responses import HTMLResponse, JSONResponse

    headers = {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}
    if path.startswith("/api/"):
        return JSONResponse({"detail": UNAUTHORISED}, status_code=401, headers=headers)
    page = f'<p>{UNAUTHORISED}: <a href="{KEY_PAGE}">enter your key</a>.</p>'
    return HTMLResponse(page, status_code=401, headers=headers)
