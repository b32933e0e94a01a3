"""Writing outputs all-or-nothing, and the one way to save and load a fitted model.

Every output is written to a temporary file beside its target and renamed into place, so a run that
fails half-way leaves the previous file untouched. Inside :func:`all_or_nothing` (the CLI runs every
command in one) the renames wait for the end of the block: a command that fails after writing one of
its outputs (a model, then its report) replaces none of them. Code that must publish an output before
its command ends (data a subprocess reads, a checkpoint) writes it in a block of its own.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from adpipe.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
# The command that makes each task's model, for the message when a model file is missing or unreadable: each task's
# spec declares its own (adpipe.task.TaskSpec.train) when its package is imported; io sits below the tasks.
_train_commands: dict[str, str] = {}

# (temporary file, target) of the outputs written so far in each open all_or_nothing block, innermost last.
_staged: ContextVar[tuple[list[tuple[Path, Path]], ...]] = ContextVar("adpipe_staged_outputs", default=())


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Outputs written in the block reach their paths together when it ends normally, none when it raises.

    Until then :func:`read_json`, :func:`load_model` and :func:`current_path` find an output written
    earlier from its temporary file, so a command may train a model and then predict with it. A block
    inside another is a unit of its own: its outputs are published when it ends.
    """
    outer = _staged.get()
    staged: list[tuple[Path, Path]] = []
    token = _staged.set((*outer, staged))
    try:
        yield
        while staged:
            os.replace(*staged[0])
            _forget(outer, staged.pop(0)[1])
    finally:
        _staged.reset(token)
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


def _forget(blocks: tuple[list[tuple[Path, Path]], ...], path: Path) -> None:
    """Drop what enclosing blocks still hold for ``path``: an inner block has just published a newer version."""
    for block in blocks:
        for temp, target in [entry for entry in block if entry[1] == path]:
            block.remove((temp, target))
            temp.unlink(missing_ok=True)


def current_path(path: str | Path) -> Path:
    """Where the current content of ``path`` is: its pending temporary file inside an all-or-nothing block."""
    path = Path(path)
    pending = [temp for block in _staged.get() for temp, target in block if target == path]
    return pending[-1] if pending else path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: Path, prefix: str) -> None:
    """Remove the temporary files and folders ``<prefix><pid>.*`` (or ``-*``) in ``folder`` whose process no longer
    runs: a run killed outright (SIGKILL, the out-of-memory killer, a power cut) cleans nothing up. The next write
    of the same output sweeps them, so they never pile up; a running writer's are left alone."""
    for temp in folder.glob(f"{glob.escape(prefix)}*"):
        pid = re.match(r"(\d+)[.-]", temp.name[len(prefix) :])
        if pid is not None and not _running(int(pid.group(1))):
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            else:
                temp.unlink(missing_ok=True)


def _temporary_beside(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder (created if needed), or a DataError saying why not. Its name
    holds this process's id: a later write tells a dead writer's leftovers by it (:func:`remove_stale_temporaries`)."""
    if path.is_dir():
        raise DataError("is a folder: give the path of a file to write", path=path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent, f".{path.name}.")
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    except (FileExistsError, NotADirectoryError) as error:
        blocker = next((p for p in path.parents if p.is_file()), path.parent)
        raise DataError(f"cannot be written: {blocker} is a file, not a folder", path=path) from error
    except PermissionError as error:
        raise DataError(f"cannot be written: no permission to create files in {path.parent}", path=path) from error
    except OSError as error:
        raise DataError(f"cannot be written: {error.strerror}", path=path) from error
    os.close(handle)
    os.chmod(name, 0o644)  # mkstemp makes 0600; outputs are readable like any other file
    return Path(name)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary file beside ``path`` to write into; it replaces ``path`` when the block ends normally
    (at the end of the enclosing :func:`all_or_nothing` block, if any) and is removed otherwise."""
    path = Path(path)
    temp = _temporary_beside(path)
    try:
        yield temp
    except OSError as error:
        temp.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DataError(f"cannot be written: {error.strerror}: free some space", path=path) from error
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    blocks = _staged.get()
    if blocks:
        blocks[-1].append((temp, path))
        return
    try:
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(folder: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``folder`` to write into; it replaces ``folder`` (and all it held) when the
    block ends normally and is removed otherwise. Its path is absolute: other processes may write into it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder.parent, f".{folder.name}.")
    temp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.", dir=folder.parent)).resolve()
    try:
        yield temp
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.{os.getpid()}.old.", dir=folder.parent))
            os.replace(folder, old / folder.name)
            shutil.rmtree(old)
        os.replace(temp, folder)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    with atomic_path(path) as temp:
        write(temp)
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
    current = current_path(path)
    if not current.exists():
        raise DataError("file not found", path=path)
    if current.is_dir():
        raise DataError("is a folder: give the path of a JSON file", path=path)
    try:
        return orjson.loads(current.read_bytes())
    except orjson.JSONDecodeError as error:
        raise DataError(f"is not valid JSON: {error}", path=path) from error


def write_csv(path: str | Path, frame: pd.DataFrame, *, index: bool = False) -> Path:
    """Write a data frame as CSV, atomically."""
    return _atomic_write(Path(path), lambda temp: frame.to_csv(temp, index=index))


def declare_train_command(task: str, command: str) -> None:
    """``command`` makes ``task``'s model: :func:`load_model` names it when that model is missing or unreadable."""
    _train_commands[task] = command


def save_model(path: str | Path, model: Any, metadata: dict[str, Any]) -> Path:
    """Save a fitted model with the metadata that says how it was made (task, params, features)."""
    import joblib  # with NumPy: only where a model is saved or loaded

    bundle = {"model": model, "metadata": metadata}
    return _atomic_write(Path(path), lambda temp: joblib.dump(bundle, temp, compress=3))


def load_model(path: str | Path, *, task: str) -> tuple[Any, dict[str, Any]]:
    """Load a model saved by :func:`save_model` for ``task``; one clear error if it is missing, unreadable
    (empty, truncated, not a model at all) or another task's."""
    import joblib

    path = Path(path)
    command = _train_commands.get(task, f"python model.py {task} train")
    remedy = f"run `{command}` to make one"
    current = current_path(path)
    if not current.exists():
        raise DataError(f"no saved model: run the {task} train command first (`{command}`)", path=path)
    if current.is_dir():
        raise DataError(f"is a folder, not a saved {task} model: give the model file", path=path)
    try:
        bundle = joblib.load(current)
    except PermissionError:
        raise
    except Exception as error:  # unpickling fails in as many ways as a file can be broken
        reason = f"unreadable: {type(error).__name__}"
        raise DataError(f"is not a saved {task} model ({reason}); {remedy}", path=path) from error
    metadata = bundle.get("metadata") if isinstance(bundle, dict) else None
    if not isinstance(metadata, dict) or metadata.get("task") != task:
        raise DataError(f"is not a saved {task} model; {remedy}", path=path)
    return bundle["model"], metadata
