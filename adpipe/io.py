"""Writing outputs atomically, and the one way to save and load a fitted model.

Every output goes to a temporary file in the target folder that is renamed into place, so a run
that fails half-way leaves the previous file untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import orjson
import pandas as pd

from adpipe.errors import DataError

_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    os.chmod(temp, 0o644)  # mkstemp makes 0600; outputs are readable like any other file
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def write_bytes_atomic(path: str | Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary file renamed into place."""
    return _atomic_write(Path(path), lambda temp: temp.write_bytes(payload))


def dumps_json(obj: Any) -> bytes:
    """orjson with the project's options (indented, numpy-aware, trailing newline)."""
    return orjson.dumps(obj, option=_JSON_OPTIONS) + b"\n"


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return write_bytes_atomic(path, dumps_json(obj))


def read_json(path: str | Path) -> Any:
    """Read a JSON file, or raise a :class:`DataError` naming it."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise DataError(f"is not valid JSON: {error}", path=path) from error


def write_csv(path: str | Path, frame: pd.DataFrame, *, index: bool = False) -> Path:
    """Write a data frame as CSV, atomically."""
    return _atomic_write(Path(path), lambda temp: frame.to_csv(temp, index=index))


def save_model(path: str | Path, model: Any, metadata: dict[str, Any]) -> Path:
    """Save a fitted model with the metadata that says how it was made (task, params, features)."""
    bundle = {"model": model, "metadata": metadata}
    return _atomic_write(Path(path), lambda temp: joblib.dump(bundle, temp, compress=3))


def load_model(path: str | Path, *, task: str) -> tuple[Any, dict[str, Any]]:
    """Load a model saved by :func:`save_model` for ``task``; a clear error if it is missing or foreign."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"no saved model: run the {task} train command first", path=path)
    bundle = joblib.load(path)
    if not isinstance(bundle, dict) or bundle.get("metadata", {}).get("task") != task:
        raise DataError(f"is not a saved {task} model", path=path)
    return bundle["model"], bundle["metadata"]
