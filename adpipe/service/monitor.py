"""Drift of what was served, and of a batch file, against each model's training reference.

``GET /api/v1/<task>/drift`` answers the :class:`~adpipe.drift.DriftReport` of the worker's window (each worker
keeps its own, :mod:`adpipe.serving.window`: a request is answered by one worker, so two calls may read two
windows); ``/monitor`` draws every task's. ``python model.py monitor`` makes the same report for a file read by
the task's loader, and the dashboard shows it.

Each worker also checks its own windows (:func:`watch_windows`): once a second whether they still write their files
(``adpipe_monitor_writing``), and every ``DRIFT_CHECK_SECONDS`` the drift of a window that grew, once it holds
``DRIFT_MIN_ROWS`` (``adpipe_drift_flagged``: what ``deploy/alerts.yml`` alerts on). A check of CTR's 5,000 rows
takes about 40 ms on a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from adpipe.drift import DriftReport, drift_report
from adpipe.errors import DataError
from adpipe.service.metrics import DRIFT_FLAGGED, MONITOR_UNWRITTEN, MONITOR_WRITING
from adpipe.serving.adapter import Task

PLOTLY_JS = "/static/plotly.js"
DRIFT_CHECK_SECONDS = 30.0
# Below this many rows a window's verdict is left at 0: the calibration's false alarms at 100 rows reach 4.6 %
# (docs/monitor.md), at 300 at most 0.8 %.
DRIFT_MIN_ROWS = 300

log = logging.getLogger("adpipe.service")


def report_of(
    task: Task,
    source: str,
    frame: pd.DataFrame,
    predicted: Sequence[Any],
    probabilities: Sequence[Sequence[float] | None],
    warning_kinds: Sequence[Sequence[str]],
) -> DriftReport | None:
    """The drift report of rows the task's model answered, or None when the model has no training reference."""
    reference = task.reference_
    if reference is None:
        return None
    known = [p for p in probabilities if p is not None]
    matrix = np.asarray(known, dtype="float64") if len(known) == len(probabilities) and known else None
    figure = task.reliability_
    label_free = reference.predictions.label_free if reference.predictions is not None else None
    validation = figure.model.mean if figure and label_free and figure.metric == label_free.metric else None
    return drift_report(
        task.name,
        source,
        reference,
        frame.reindex(columns=reference.columns()),
        list(predicted),
        matrix,
        warning_kinds,
        validation,
    )


def served_report(task: Task) -> DriftReport | None:
    """The report of the task's served window in this worker."""
    if task.window is None:
        return None
    frame, predicted, probabilities, kinds = task.window.snapshot()
    source = f"the last {len(predicted)} answers served by this worker (window of {task.window.size})"
    return report_of(task, source, frame, predicted, probabilities, kinds)


def batch_report(task: Task, source: Path) -> DriftReport | None:
    """The report of every row of ``source`` (a file or folder the task's loader reads)."""
    frame, predictions = task.batch(source)
    return report_of(task, str(source), frame, *task.answered(predictions))


def observed(task: Task, source: Path) -> tuple[pd.DataFrame, list[Any]]:
    """Every row of ``source`` as the guard reads it, and the model's prediction of each (for calibration)."""
    if task.reference_ is None:
        raise DataError(f"the served {task.name} model has no training reference: retrain it", path=source)
    frame, predictions = task.batch(source)
    return frame.reindex(columns=task.reference_.columns()), [p.prediction for p in predictions]


def _no_reference(task: Task) -> HTTPException:
    return HTTPException(
        409, f"the served {task.name} model has no training reference to compare with: retrain it with the current code"
    )


def monitor_router(tasks: dict[str, Task]) -> APIRouter:
    """``GET /api/v1/<task>/drift`` for every task, ``/monitor`` and the page's plotly.js (served here: no CDN)."""
    router = APIRouter()
    for task in tasks.values():
        _drift_route(router, task)

    @router.get("/monitor", response_class=HTMLResponse, include_in_schema=False)
    async def monitor(request: Request) -> HTMLResponse:
        from adpipe.dashboard.monitor import drift_figure, drift_table, guard_line, label_free_line
        from adpipe.service.pages import templates

        shown = []
        for task in list(request.app.state.tasks.values()):
            status = request.app.state.statuses[task.name]
            report = await run_in_threadpool(served_report, task) if status.loaded else None
            entry: dict[str, Any] = {"task": task, "status": status, "report": report}
            if report is not None and report.rows:
                entry.update(
                    figure=drift_figure(report).to_html(full_html=False, include_plotlyjs=False),
                    table=drift_table(report),
                    guard=guard_line(report),
                    label_free=label_free_line(report),
                )
            shown.append(entry)
        return templates.TemplateResponse(request, "monitor.html", {"shown": shown, "plotly_js": PLOTLY_JS})

    @router.get(PLOTLY_JS, include_in_schema=False)
    def plotly_js() -> Response:
        from plotly.offline import get_plotlyjs

        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(get_plotlyjs(), media_type="application/javascript", headers=headers)

    return router


def _drift_route(router: APIRouter, task: Task) -> None:
    name = task.name

    async def drift(request: Request) -> DriftReport:
        task = request.app.state.tasks[name]
        status = request.app.state.statuses[task.name]
        if not status.loaded:
            raise HTTPException(503, f"the {task.name} model is not loaded: {status.missing}")
        report = await run_in_threadpool(served_report, task)
        if report is None:
            raise _no_reference(task)
        return report

    router.add_api_route(
        f"/api/v1/{task.name}/drift",
        drift,
        methods=["GET"],
        response_model=DriftReport,
        summary=f"{task.title}: drift of this worker's recent answers against the training data",
        tags=[task.name],
    )


def _set_window_gauges(tasks: dict[str, Task]) -> None:
    for name, task in list(tasks.items()):
        if task.window is not None:
            MONITOR_WRITING.labels(name).set(0 if task.window.write_error else 1)
            MONITOR_UNWRITTEN.labels(name).set(task.window.unwritten)


def _check_drift(tasks: dict[str, Task], checked: dict[str, tuple[Task, int]]) -> None:
    """Set ``adpipe_drift_flagged`` of every task whose window changed since its last check (on a thread)."""
    for name, task in list(tasks.items()):
        window = task.window
        if window is None or task.reference_ is None or checked.get(name) == (task, window.added):
            continue
        checked[name] = (task, window.added)
        report = served_report(task) if len(window) >= DRIFT_MIN_ROWS else None
        DRIFT_FLAGGED.labels(name).set(len(report.drifted) if report is not None else 0)


async def watch_windows(tasks: dict[str, Task]) -> None:
    """Until cancelled (the app's lifespan runs it in each worker): the window gauges every second, the drift
    verdicts every ``DRIFT_CHECK_SECONDS``."""
    checked: dict[str, tuple[Task, int]] = {}
    last_drift = time.monotonic()
    while True:
        try:
            _set_window_gauges(tasks)
            if time.monotonic() - last_drift >= DRIFT_CHECK_SECONDS:
                last_drift = time.monotonic()
                await asyncio.to_thread(_check_drift, tasks, checked)
        except Exception:  # a bug: logged, and the watch goes on
            log.exception("monitor windows not checked")
        await asyncio.sleep(1.0)
