"""``GET /metrics``: the service's Prometheus metrics — requests and their latency per route, what was predicted
per task, the answers the input guard warned about, the versions of the models served and whether each is the
promoted one, the drift each worker's window shows, whether the windows still write their files, and the workers
that exited (``deploy/alerts.yml`` alerts on them).

Under ``serve`` every gunicorn worker counts in its own files in ``PROMETHEUS_MULTIPROC_DIR`` (set by
:mod:`adpipe.service.cli` before this module imports prometheus_client) and a scrape, answered by any one worker,
sums them all: a counter reads the same whichever worker answers. In one process (a test client) the default
registry is read.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from collections.abc import Sequence

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adpipe.serving.adapter import Prediction

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "unmatched"  # the route label of every path no route serves: a scanner's URLs make one series
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other is "other"
# Seconds: a single record answers in milliseconds, a batch of 1000 or a budget plan in up to seconds.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A regressor's predicted value: a conversion rate (0–1) or a ROAS (a ratio, mostly 0–50), on one log scale.
VALUE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0)

disable_created_metrics()  # no `_created` series: half the scrape, and the multiprocess mode has none anyway

REQUESTS = Counter(
    "adpipe_http_requests", "Requests answered, by route template, method and status.", ["route", "method", "status"]
)
LATENCY = Histogram(
    "adpipe_http_request_duration_seconds",
    "Time from a request's arrival to its answer's last byte, by route template, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
PREDICTIONS = Counter(
    "adpipe_predictions", "Answers of the classifiers and segmentations, by task and class.", ["task", "label"]
)
PREDICTED_VALUE = Histogram(
    "adpipe_predicted_value", "Values predicted by the regressors, by task.", ["task"], buckets=VALUE_BUCKETS
)
GUARDED = Counter(
    "adpipe_guarded_answers",
    "Answers served with an input-guard warning, by task and reason (one count per answer and reason).",
    ["task", "reason"],
)
MODEL_INFO = Gauge(
    "adpipe_model_info", "The model each task serves (1), by version.", ["task", "version"], multiprocess_mode="livemax"
)
# The gauges below are set by each worker once a second (the lowest worker's value, or the highest, is the one an
# alert needs): a worker that died takes its values with it.
MODEL_PROMOTED = Gauge(
    "adpipe_model_promoted",
    "1 when the worker serves the version its task's promotions log names; 0 when it serves another (a promoted "
    "version it refused), its working file with nothing promoted, or no model. The lowest worker's value.",
    ["task"],
    multiprocess_mode="livemin",
)
SWAPS_REFUSED = Counter(
    "adpipe_model_swaps_refused",
    "Promoted versions a worker refused to serve (unreadable, or cannot predict the task's example), by task.",
    ["task"],
)
DRIFT_FLAGGED = Gauge(
    "adpipe_drift_flagged",
    "Inputs (and the predictions) the last drift check of a worker's window called drifted; the highest worker's.",
    ["task"],
    multiprocess_mode="livemax",
)
MONITOR_WRITING = Gauge(
    "adpipe_monitor_writing",
    "0 when a worker's window could not write its Parquet files to serve --monitor-dir (a full disk), else 1. "
    "The lowest worker's value.",
    ["task"],
    multiprocess_mode="livemin",
)
MONITOR_UNWRITTEN = Gauge(
    "adpipe_monitor_unwritten_rows",
    "Served rows dropped from the Parquet files while their writes failed, summed over the live workers.",
    ["task"],
    multiprocess_mode="livesum",
)
WORKER_EXITS = Counter(
    "adpipe_worker_exits", "Workers that exited, counted by the gunicorn master (which forks a new one in its place)."
)


def observe(task: str, predictions: Sequence[Prediction]) -> None:
    """Count answers served for ``task``: a class per classifier answer, the value of a regressor's (a float), and
    each reason the guard gave. Classes and reasons are counted in bulk: one increment each per batch."""
    values = [p.prediction for p in predictions if isinstance(p.prediction, float)]
    if values:
        histogram = PREDICTED_VALUE.labels(task)
        for value in values:
            histogram.observe(value)
    classes = Tally(str(p.prediction) for p in predictions if not isinstance(p.prediction, float))
    reasons = Tally(kind for p in predictions for kind in {warning.kind for warning in p.warnings})
    for label, count in classes.items():
        PREDICTIONS.labels(task, label).inc(count)
    for reason, count in reasons.items():
        GUARDED.labels(task, reason).inc(count)


class RequestMetrics:
    """ASGI middleware counting and timing every HTTP request by its route's path template (never the raw URL,
    whose values would make a series each), method and status; a request that raised counts as a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED  # set by the router on a match
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (route, method, str(status))
            REQUESTS.labels(*labels).inc()
            LATENCY.labels(*labels).observe(time.perf_counter() - start)


def _collected() -> CollectorRegistry:
    """What a scrape reads: every worker's files under ``serve``, else this process's own registry."""
    if MULTIPROCESS_ENV not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


COLLECTED = _collected()


def scrape(request: Request) -> Response:
    """The metrics in Prometheus' text format, summed over the workers."""
    for status in request.app.state.statuses.values():
        if status.loaded:
            MODEL_INFO.labels(status.task, status.version).set(1)
    return Response(generate_latest(COLLECTED), media_type=CONTENT_TYPE_PLAIN_0_0_4)


def instrument(app: FastAPI) -> None:
    """Count every request of ``app`` and serve ``GET /metrics`` (left out of the API document)."""
    app.add_middleware(RequestMetrics)
    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
