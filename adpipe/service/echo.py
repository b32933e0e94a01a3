"""What an error answer says back about a refused request: the offending value, trimmed, never the whole body.

FastAPI's own 422 puts each refused value in the answer as it came: a 700 KB ClickStream body sent as one wrong
type, a 1,001-record batch or a 900 KB string came back whole, a value nested a few hundred levels deep made the
answer fail to be written (a 500), and so did bytes that are not UTF-8. Here a value is echoed cut to about
``ECHO_CHARS`` characters, a container only its first items with any container inside it summarised by its size
(so no depth is ever walked), a NaN or infinity as text, and a message that quotes a huge value keeps its start
and its end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

ECHO_CHARS = 100  # a refused value is echoed cut to about this many characters
MESSAGE_CHARS = 300  # a longer message (one quoting the value) keeps its start and end
MAX_ERRORS = 10  # errors listed in one answer; one more entry says how many were left out


def cut(text: str, limit: int = ECHO_CHARS) -> str:
    """``text``, or its start and how long it was when longer than ``limit``."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def elide(message: str) -> str:
    """A message of at most about ``MESSAGE_CHARS``: a long one keeps its start and its end (what it says of the
    value, e.g. "is not one of: F, M"), and loses the middle, where a quoted value sits."""
    if len(message) <= MESSAGE_CHARS:
        return message
    half = MESSAGE_CHARS // 2
    return f"{message[:half]} … ({len(message) - 2 * half} characters left out) … {message[-half:]}"


def _scalar(value: Any) -> Any:
    """A value that is not a container, as JSON can hold it and short."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        text = bytes(value[:ECHO_CHARS]).decode("utf-8", "replace")
        return text if len(value) <= ECHO_CHARS else f"{text}… ({len(value)} bytes)"
    if isinstance(value, int):
        return value if abs(value) < 10**ECHO_CHARS else cut(str(value))
    return cut(str(value))


def _nested(value: Any) -> Any:
    """A value inside a container: a container only its kind and size, anything else as :func:`_scalar`."""
    if isinstance(value, Mapping):
        return f"{{… {len(value)} keys}}"
    if isinstance(value, list | tuple):
        return f"[… {len(value)} items]"
    return _scalar(value)


def trimmed(value: Any) -> Any:
    """``value`` as an error echoes it: a scalar as :func:`_scalar`; a container its first items while they fit in
    about ``ECHO_CHARS`` characters (at least one), each :func:`_nested`, and how many were left out."""
    if isinstance(value, Mapping):
        shown = dict(_first((cut(str(key)), _nested(item)) for key, item in value.items()))
        if len(shown) < len(value):
            shown["…"] = f"{len(value) - len(shown)} more keys"
        return shown
    if isinstance(value, list | tuple):
        items = _first(_nested(item) for item in value)
        return items + [f"… {len(value) - len(items)} more items"] if len(items) < len(value) else items
    return _scalar(value)


def _first(entries: Iterable[T]) -> list[T]:
    """The first ``entries`` whose text fits in about ``ECHO_CHARS`` characters, at least one; the rest unread."""
    shown: list[T] = []
    used = 0
    for entry in entries:
        used += len(str(entry))
        if shown and used > ECHO_CHARS:
            break
        shown.append(entry)
    return shown


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's error list in its own shape (``loc``, ``msg``, ``type``, ``input``, ``ctx``), each part trimmed,
    at most ``MAX_ERRORS`` of them and then one entry saying how many more there were."""
    return capped([_error(error) for error in errors[:MAX_ERRORS]], len(errors))


def capped(shown: list[dict[str, Any]], total: int) -> list[dict[str, Any]]:
    """At most ``MAX_ERRORS`` of ``shown`` (the first of ``total`` errors), then one entry saying how many more."""
    if total <= MAX_ERRORS:
        return shown[:MAX_ERRORS]
    more = total - MAX_ERRORS
    return [*shown[:MAX_ERRORS], {"loc": ["body"], "msg": f"{more} more errors not shown", "type": "too_many_errors"}]


def _error(error: Mapping[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "loc": [cut(part) if isinstance(part, str) else part for part in error["loc"]],
        "msg": elide(str(error["msg"])),
        "type": error["type"],
    }
    if "input" in error:
        shown["input"] = trimmed(error["input"])
    if "ctx" in error:
        shown["ctx"] = {key: _nested(value) for key, value in error["ctx"].items()}
    return shown
