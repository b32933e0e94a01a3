"""The prediction service: the JSON API, ``/health``, the pages and ``/report``, with every bad request answered
by a 4xx that names the field, and no stack trace in any response.

:func:`create_app` loads every model once; the ``serve`` command calls it before forking its workers (gunicorn
``preload``), so the workers share the loaded models' memory pages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException
from threadpoolctl import threadpool_limits

from adpipe import config
from adpipe.errors import DataError
from adpipe.service.api import VERSION, api_router, health
from adpipe.service.echo import MAX_ERRORS, capped, elide, validation_errors
from adpipe.service.explore import ExploreData, explore_router
from adpipe.service.keys import ADMIN_PREFIX, ApiKeys, RequireKey
from adpipe.service.live import LiveModels, admin_router
from adpipe.service.metrics import instrument
from adpipe.service.monitor import monitor_router, watch_windows
from adpipe.service.pages import page_router, templates
from adpipe.service.registry import all_tasks, check_models, load_models, start_actions
from adpipe.serving.records import RecordError
from adpipe.serving.window import DEFAULT_MAX_BYTES, DEFAULT_SIZE, ServedWindow

log = logging.getLogger("adpipe.service")

# A request body, uploads included, is at most this large. Starlette keeps an uploaded file in memory up to
# 1 MiB (its spool size) before it would spill to a temporary file: with bodies capped at 1 MiB, no upload
# ever touches the disk.
MAX_BODY_BYTES = 1024 * 1024
REPORT_FILE = "index.html"  # what `make report` writes in the reports folder


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", ADMIN_PREFIX)) or path == "/health"


async def _refused(request: Request, error: RecordError) -> Response:
    """A record the loader refused (or, strict, every value outside training): 422, in FastAPI's validation-error
    shape, located in the request body (the loader's message quotes the value: a long one is cut in the middle);
    the first ten, then how many more (:func:`adpipe.service.echo.capped`)."""
    refused = [error, *error.others]
    details = []
    for each in refused[:MAX_ERRORS]:
        detail = {"loc": ["body", *(each.location or [])], "msg": elide(each.message), "type": "value_error"}
        if each.column:
            detail["column"] = each.column
        details.append(detail)
    return JSONResponse({"detail": capped(details, len(refused))}, status_code=422)


async def _bad_input(request: Request, error: DataError) -> Response:
    """Bad input found past the loader (e.g. by a feature builder): 422 without a place in the request."""
    detail = [{"loc": ["body"], "msg": elide(error.message), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _invalid(request: Request, error: RequestValidationError) -> Response:
    """FastAPI's own 422 answer, echoing only each offending value, trimmed (adpipe.service.echo): never the whole
    body, and always writable (a NaN as text; a value nested hundreds deep, or bytes that are not UTF-8, made the
    answer itself fail: a 500)."""
    return JSONResponse({"detail": validation_errors(error.errors())}, status_code=422)


async def _http_error(request: Request, error: HTTPException) -> Response:
    if _is_api(request):
        return await http_exception_handler(request, error)
    page = {"title": f"{error.status_code}", "message": error.detail}
    return templates.TemplateResponse(request, "error.html", page, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> Response:
    """A bug, not bad input: logged with its trace on the server, a plain 500 to the client."""
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "internal error (logged on the server)"}, status_code=500)


def create_app(
    models_dir: Path = config.MODELS_DIR,
    reports_dir: Path = config.REPORTS_DIR,
    strict_inputs: bool = False,
    monitor_window: int = DEFAULT_SIZE,
    monitor_dir: Path | None = None,
    monitor_max_bytes: int = DEFAULT_MAX_BYTES,
    api_keys: ApiKeys | None = None,
    admin_keys: ApiKeys | None = None,
    explore_data: dict[str, Path] | None = None,
) -> FastAPI:
    """The service with every model in ``models_dir`` loaded (a missing one is reported at start and by /health),
    their validation figures read from ``reports_dir``, and the dashboard of ``make report`` served from there.
    ``strict_inputs``: every request refuses inputs outside the models' training references (a 422). Each worker
    keeps each task's last ``monitor_window`` answers for its drift report, written to ``monitor_dir`` (at most
    ``monitor_max_bytes`` per task) when one is given. ``api_keys``: every prediction needs one of them
    (:mod:`adpipe.service.keys`); None serves without keys. Each worker serves a newly promoted version within a
    second (:mod:`adpipe.service.live`); ``admin_keys`` turn on ``POST /admin/promote`` and ``/admin/rollback``.
    ``explore_data``: fact files served at ``/explore`` beside the reference data sets
    (:mod:`adpipe.service.explore`)."""
    # One BLAS/OpenMP thread per process: the workers are the parallelism.
    threadpool_limits(limits=1)
    tasks = all_tasks()
    statuses = load_models(tasks, models_dir, reports_dir)

    def new_window(name: str) -> ServedWindow:
        return ServedWindow(name, monitor_window, monitor_dir, monitor_max_bytes)

    for task in tasks.values():
        task.window = new_window(task.name)
    live = LiveModels(tasks, statuses, models_dir, reports_dir, new_window)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_models(tasks, statuses)  # in each worker, after the fork
        start_actions(tasks, statuses, background=True)  # predictions are served meanwhile
        for task in tasks.values():  # the examples the checks predicted were not served
            task.window.clear()
        watchers = [asyncio.create_task(live.watch()), asyncio.create_task(watch_windows(tasks))]
        yield
        for watcher in watchers:
            watcher.cancel()
        live.close()
        for task in tasks.values():
            task.window.flush()

    app = FastAPIOffline(  # FastAPI with the API document's scripts served locally: no CDN
        lifespan=lifespan,
        title="adpipe prediction service",
        version=VERSION,
        description="Predictions of every adpipe task: one record or a batch per request, each answer with the "
        "model's version and its cross-validated figure beside its baseline. Records are validated by models "
        "derived from the CLI loaders' schemas and read by the same loaders.",
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.tasks, app.state.statuses = tasks, statuses
    app.state.strict_inputs = strict_inputs
    app.state.api_keys, app.state.admin_keys, app.state.live = api_keys, admin_keys, live
    app.state.report_file = Path(reports_dir) / REPORT_FILE
    app.state.explore = ExploreData(explore_data)
    app.include_router(api_router(tasks))
    app.add_api_route("/health", health, methods=["GET"], tags=["health"])
    app.include_router(page_router(tasks))
    app.include_router(monitor_router(tasks))
    app.include_router(admin_router())
    app.include_router(explore_router())
    if api_keys is not None:
        app.add_middleware(RequireKey, keys=api_keys)
    instrument(app)  # GET /metrics, and every request counted (added last: outermost, so a 401 counts too)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(RecordError, _refused)
    app.add_exception_handler(DataError, _bad_input)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    return app
