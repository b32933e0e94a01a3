"""A newly promoted model version served without a restart, and without dropping a request.

Each worker watches every task's promotions log (adpipe.versions) once a second. When the promoted version is
not the one it serves, it loads that version into a new task adapter on a thread, checks that it predicts the
task's example and starts its actions, then swaps the adapter in on the event loop: a request reads its task
once, before its first await, so it is answered whole by one version — the one its answer names. The old
adapter keeps answering what was already queued and is closed ``RETIRE_SECONDS`` later. A version that fails to
load or to predict is refused: the old version keeps answering, the log says why, ``adpipe_model_swaps_refused_total``
counts it and ``adpipe_model_promoted`` is 0 (``deploy/alerts.yml``) until a later promotion is served; it is not
tried again until the promotions log or the version's file changes (a file restored is tried again).

``POST /admin/promote`` and ``/admin/rollback`` (an admin key, ``serve --admin-keys``) write the log as
``python model.py models promote|rollback`` does and swap their own worker before answering; the other workers
follow within a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from adpipe.errors import DataError
from adpipe.service.metrics import MODEL_INFO, MODEL_PROMOTED, SWAPS_REFUSED
from adpipe.service.registry import ModelStatus, change_version, check_models, load_task, start_actions
from adpipe.serving.adapter import Task
from adpipe.serving.window import ServedWindow
from adpipe.versions import VERSION_DIGITS, promotions, standing, versions_dir

log = logging.getLogger("adpipe.service")

POLL_SECONDS = 1.0
RETIRE_SECONDS = 60.0  # a swapped-out adapter answers what was queued, then its threads end and its window is written
ADMIN_HEADER = "X-Admin-Key"


class LiveModels:
    """A worker's served tasks (the app's ``tasks`` and ``statuses``, changed in place) and their swaps."""

    def __init__(
        self,
        tasks: dict[str, Task],
        statuses: dict[str, ModelStatus],
        models_dir: Path,
        reports_dir: Path,
        new_window: Callable[[str], ServedWindow],
    ) -> None:
        self.tasks, self.statuses = tasks, statuses
        self.models_dir, self.reports_dir, self.new_window = Path(models_dir), Path(reports_dir), new_window
        # Per task: a promoted version that could not be served (:meth:`_refusal`), not tried again until the log
        # or its file changes; or the error of a log that could not be read.
        self._refused: dict[str, tuple[Any, ...] | str] = {}
        self._retiring: set[Task] = set()
        self._lock = asyncio.Lock()

    def folder(self, name: str) -> Path:
        return versions_dir(self.models_dir / self.tasks[name].model_file.name)

    def changed(self) -> dict[str, str]:
        """The promoted version of each task whose promoted version is not the one served (nor refused since its
        last promotion); sets each task's ``adpipe_model_promoted``."""
        found = {}
        for name in self.tasks:
            try:
                log_entries = promotions(self.folder(name))
            except DataError as error:  # a broken log: keep serving, say it once
                if self._refused.get(name) != str(error):
                    log.warning("%s: promotions not read: %s", name, error)
                    self._refused[name] = str(error)
                MODEL_PROMOTED.labels(name).set(0)
                continue
            stack = standing(log_entries)
            version = stack[-1] if stack else None
            status = self.statuses[name]
            MODEL_PROMOTED.labels(name).set(int(status.loaded and version is not None and version == status.version))
            # A refusal holds until the log or the version's file changes: a file restored is tried again.
            refused = self._refused.get(name) == self._refusal(name, version, len(log_entries))
            if version is not None and version != status.version and not refused:
                found[name] = version
        return found

    def _refusal(self, name: str, version: str | None, entries: int) -> tuple[Any, ...]:
        """What a refused version is remembered by: the version, the log's length and its file's size and time."""
        try:
            found = (self.folder(name) / f"{version}.joblib").stat()
        except OSError:
            return (version, entries, None)
        return (version, entries, found.st_size, found.st_mtime_ns)

    def prepare(self, name: str) -> tuple[Task, ModelStatus]:
        """A new adapter of ``name`` with its promoted version loaded, checked and started (on a thread)."""
        task = self.tasks[name].spec.service_adapter()
        status = load_task(task, self.models_dir, self.reports_dir)
        statuses = {name: status}
        check_models({name: task}, statuses)
        if not status.loaded:
            raise DataError(status.missing or "not loaded")
        start_actions({name: task}, statuses)
        task.window = self.new_window(name)
        return task, status

    def swap(self, name: str, task: Task, status: ModelStatus) -> None:
        """Serve ``task`` from the next request on (on the event loop: no request reads the tasks meanwhile)."""
        old, before = self.tasks[name], self.statuses[name]
        self.tasks[name], self.statuses[name] = task, status
        if before.version is not None:
            MODEL_INFO.labels(name, before.version).set(0)
        MODEL_INFO.labels(name, status.version).set(1)
        MODEL_PROMOTED.labels(name).set(1)  # the promoted version, just loaded (the watch sets it every second)
        log.info("%s: now serving version %s (was %s)", name, status.version, before.version)
        self._retiring.add(old)
        asyncio.get_running_loop().call_later(RETIRE_SECONDS, self._retire, old)

    def _retire(self, task: Task) -> None:
        """On the event loop: close ``task`` on a thread (its window may write a file)."""
        if task in self._retiring:
            self._retiring.discard(task)
            asyncio.get_running_loop().run_in_executor(None, task.close)

    def close(self) -> None:
        """At shutdown: every swapped-out adapter's threads end and its window is written."""
        while self._retiring:
            self._retiring.pop().close()

    async def refresh(self) -> list[str]:
        """Swap every task whose promoted version changed; the tasks swapped."""
        swapped = []
        async with self._lock:
            changed = await asyncio.to_thread(self.changed)  # file reads, off the event loop
            for name, version in changed.items():
                try:
                    task, status = await asyncio.to_thread(self.prepare, name)
                except Exception as error:  # whatever it is, the served version stays
                    log.warning(
                        "%s: promoted version %s refused, still serving %s: %s",
                        name,
                        version,
                        self.statuses[name].version,
                        error,
                    )
                    SWAPS_REFUSED.labels(name).inc()
                    self._refused[name] = self._refusal(name, version, len(promotions(self.folder(name))))
                    continue
                self._refused.pop(name, None)
                self.swap(name, task, status)
                swapped.append(name)
        return swapped

    async def watch(self) -> None:
        """Refresh every ``POLL_SECONDS`` until cancelled (the app's lifespan runs it in each worker)."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a bug: logged, and the watch goes on
                log.exception("model versions not refreshed")
            await asyncio.sleep(POLL_SECONDS)


class AdminRequest(BaseModel):
    """A promotion or a rollback of one task's model."""

    model_config = ConfigDict(extra="forbid")

    task: str = Field(max_length=64)
    version: str | None = Field(
        None,
        pattern=f"^[0-9a-f]{{4,{VERSION_DIGITS}}}$",
        description="promote: the newest kept; rollback: the one promoted before (the first 4+ hex digits name one)",
    )
    reason: str = Field("", max_length=500)


class AdminAnswer(BaseModel):
    task: str
    version: str
    previous: str | None
    served_here: bool  # this worker serves it already; the others follow within a second
    note: str


def _admin(request: Request, key: str | None) -> LiveModels:
    keys = request.app.state.admin_keys
    if keys is None:
        raise HTTPException(403, "admin calls are off: start the service with --admin-keys or ADPIPE_ADMIN_KEYS")
    if not keys.accepts(key):
        raise HTTPException(401, "missing or wrong admin key", headers={"WWW-Authenticate": ADMIN_HEADER})
    return request.app.state.live


async def _changed(request: Request, live: LiveModels, body: AdminRequest, action: str) -> AdminAnswer:
    if body.task not in live.tasks:
        raise HTTPException(404, f"no task {body.task!r}; the tasks are {', '.join(live.tasks)}")
    folder, before = live.folder(body.task), live.statuses[body.task].version
    try:
        card, written = await asyncio.to_thread(
            change_version, folder, action, body.version, body.reason or "admin call"
        )
    except DataError as error:  # an unknown version, nothing to roll back to, a version that cannot predict
        raise HTTPException(409, str(error)) from error
    except OSError as error:  # a read-only models folder (an image's): promote in the image's build instead
        raise HTTPException(409, f"cannot write the promotions log in {folder}: {error.strerror}") from error
    await live.refresh()
    here = live.statuses[body.task].version == card.version
    if not written:
        note = "already the promoted version; nothing changed"
    else:
        note = "served here; the other workers swap within a second" if here else "not served: see the service's log"
    return AdminAnswer(task=body.task, version=card.version, previous=before, served_here=here, note=note)


AdminKey = Annotated[str | None, Header(alias=ADMIN_HEADER)]
AdminBody = Annotated[AdminRequest, Body()]


def admin_router() -> APIRouter:
    """``POST /admin/promote`` and ``POST /admin/rollback``."""
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.post("/promote", response_model=AdminAnswer)
    async def promote_version(request: Request, body: AdminBody, key: AdminKey = None) -> AdminAnswer:
        """Serve a kept version of a task's model (checked first); the other workers follow within a second."""
        return await _changed(request, _admin(request, key), body, "promote")

    @router.post("/rollback", response_model=AdminAnswer)
    async def rollback_version(request: Request, body: AdminBody, key: AdminKey = None) -> AdminAnswer:
        """Serve again the version promoted before the current one."""
        return await _changed(request, _admin(request, key), body, "rollback")

    return router
