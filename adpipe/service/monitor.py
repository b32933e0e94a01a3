"""Drift of what was served, and of a batch file, against each model's training reference.

``GET /api/v1/<task>/drift`` answers the :class:`~adpipe.drift.DriftReport` of the worker's window (each worker
keeps its own, :mod:`adpipe.serving.window`: a request is answered by one worker, so two calls may read two
windows); ``/monitor`` draws every task's. ``python model.py monitor`` makes the same report for a file read by
the task's loader, and the dashboard shows it.
"""

from __future__ import annotations

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
from adpipe.serving.adapter import Task

PLOTLY_JS = "/static/plotly.js"


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
