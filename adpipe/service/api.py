"""The JSON API, version 1: per task, one record or a batch (at most ``MAX_BATCH``), each answer with the
model's version and its validation figure beside its baseline.

Endpoints await their task's coalescer (adpipe.serving.coalesce), whose own thread predicts: a CPU-bound
prediction never runs on the event loop, and no thread-pool hop sits between a request and the queue. The
request types are each task's record model (derived from its loader's schema), so validation and the OpenAPI
document come from the same types.
"""

import os
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, create_model

from adpipe.reports import Headline
from adpipe.service.metrics import observe
from adpipe.service.registry import ModelStatus, starting
from adpipe.serving.adapter import Action, Prediction, Task, refuse_unguarded
from adpipe.serving.records import RecordError

VERSION = "v1"
MAX_BATCH = 1000
RETRY_AFTER_SECONDS = 10  # an action still starting in the answering worker: when to ask again (the header)
Explain = Annotated[
    bool,
    Query(
        description="Add the inputs that pushed each prediction most (LightGBM's tree contributions cost about "
        "2 ms a row for a 600-tree model: batches leave them out unless asked)."
    ),
]

Strict = Annotated[
    bool,
    Query(
        description="Refuse (422 naming the field) any input outside its training range or a category never seen "
        "in training, instead of answering with a warning (``serve --strict-inputs`` makes every request strict)."
    ),
]


def strict_inputs(request: Request, strict: bool) -> bool:
    """Whether this request refuses inputs outside the training reference: asked, or the server is strict."""
    return strict or bool(getattr(request.app.state, "strict_inputs", False))


class Answer(BaseModel):
    """A prediction with the model that made it and how reliable that model is."""

    task: str
    model_version: str
    effect_unit: str
    prediction: Prediction
    validation: Headline | None  # the task's headline figure (adpipe.reports.Headline)


class BatchAnswer(BaseModel):
    """Predictions in the order of the records sent."""

    task: str
    model_version: str
    effect_unit: str
    predictions: list[Prediction]
    validation: Headline | None  # the task's headline figure (adpipe.reports.Headline)


class Health(BaseModel):
    """Whether every model is served, and what each one is, in the worker process that answered."""

    status: str
    worker: int  # the process id: each worker swaps to a newly promoted version on its own
    models: list[ModelStatus]
    # Per task, why this worker's window stopped writing its Parquet files (serve --monitor-dir); answers go on.
    monitor_not_written: dict[str, str] = {}
    # The task actions this worker is still starting ("roas plan": fitting its curves), answered 503 meanwhile;
    # predictions are served all along. Empty: the worker is ready for every request.
    starting: dict[str, str] = {}


def current(request: Request, name: str) -> Task:
    """The task ``name`` as served now: read once per request, before its first await, so that one version answers
    it whole (a newly promoted version replaces the adapter: adpipe.service.live)."""
    return request.app.state.tasks[name]


def current_action(task: Task, name: str) -> Action:
    """The served adapter's action ``name`` (each adapter has its own)."""
    return next(action for action in task.actions() if action.name == name)


def serving(request: Request, task: Task) -> ModelStatus:
    """The task's model status, or a 503 naming the command that makes the missing model."""
    status = request.app.state.statuses[task.name]
    if not status.loaded:
        raise HTTPException(status_code=503, detail=f"the {task.name} model is not loaded: {status.missing}")
    return status


def available(request: Request, task: Task, action: Action) -> None:
    """The task's model is served and the action started, or a 503 saying why not: with a Retry-After while the
    worker is still starting it (in the background: :meth:`Action.start_in_background`). An action nobody started
    (a test client without the lifespan) is started by this call, which waits for it."""
    serving(request, task)
    if action.starting:
        detail = f"{task.name} {action.name} not ready yet: {action.starting}; retry in {RETRY_AFTER_SECONDS} s"
        raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    action.started()
    if action.unavailable:
        raise HTTPException(status_code=503, detail=f"{task.name} {action.name} unavailable: {action.unavailable}")


def _action_route(router: APIRouter, task: Task, action: Action) -> None:
    request_type, answer_type, name, action_name = action.request, action.answer, task.name, action.name

    async def act(request: Request, body: Annotated[request_type, Body()]) -> answer_type:
        served = current(request, name)
        action = current_action(served, action_name)
        await run_in_threadpool(available, request, served, action)  # the first call may wait for the start
        return await run_in_threadpool(action.run, body)

    router.add_api_route(
        f"/{task.name}/{action.name}",
        act,
        methods=["POST"],
        response_model=answer_type,
        summary=action.title,
        description=(action.__doc__ or "").strip(),
        tags=[task.name],
    )


def _routes(router: APIRouter, task: Task) -> None:
    record_type, name = task.record, task.name
    batch_type = create_model(
        f"{record_type.__name__}Batch",
        records=(list[record_type], Field(min_length=1, max_length=MAX_BATCH)),
        __doc__=f"At most {MAX_BATCH} records.",
        __config__=ConfigDict(extra="forbid"),  # a misspelt option beside "records" is a 422, not ignored
    )

    async def predict_one(
        request: Request, record: Annotated[record_type, Body()], explain: Explain = True, strict: Strict = False
    ) -> Answer:
        task = current(request, name)
        status = serving(request, task)
        try:
            (prediction,) = await task.coalesced([record], explain)
        except RecordError as error:
            # One record is the body itself, not the first of a list.
            error.location = (error.location or [])[2:]
            raise
        if strict_inputs(request, strict):
            refuse_unguarded([prediction], batch=False)
        observe(task.name, [prediction])
        return Answer(
            task=task.name,
            model_version=status.version,
            effect_unit=task.effect_unit,
            prediction=prediction,
            validation=status.validation,
        )

    async def predict_batch(
        request: Request, batch: Annotated[batch_type, Body()], explain: Explain = False, strict: Strict = False
    ) -> BatchAnswer:
        task = current(request, name)
        status = serving(request, task)
        predictions = await task.coalesced(batch.records, explain)
        if strict_inputs(request, strict):
            refuse_unguarded(predictions, batch=True)
        observe(task.name, predictions)
        return BatchAnswer(
            task=task.name,
            model_version=status.version,
            effect_unit=task.effect_unit,
            predictions=predictions,
            validation=status.validation,
        )

    router.add_api_route(
        f"/{task.name}/predict", predict_one, methods=["POST"], summary=f"{task.title}", tags=[task.name]
    )
    router.add_api_route(
        f"/{task.name}/predict-batch",
        predict_batch,
        methods=["POST"],
        summary=f"{task.title}: a batch of such records (at most {MAX_BATCH})",
        tags=[task.name],
    )
    for action in task.actions():
        _action_route(router, task, action)


def api_router(tasks: dict[str, Task]) -> APIRouter:
    """``/api/v1/<task>/predict``, ``/api/v1/<task>/predict-batch`` and ``/api/v1/<task>/<action>`` for each of the
    task's own actions, for every task."""
    router = APIRouter(prefix=f"/api/{VERSION}")
    for task in tasks.values():
        _routes(router, task)
    return router


def health(request: Request) -> Health:
    """Which models are loaded, their versions, when and from what data they were trained."""
    statuses = list(request.app.state.statuses.values())
    failing = {
        name: task.window.write_error
        for name, task in request.app.state.tasks.items()
        if task.window is not None and task.window.write_error
    }
    status = "ok" if all(s.loaded for s in statuses) else "degraded"
    return Health(
        status=status,
        worker=os.getpid(),
        models=statuses,
        monitor_not_written=failing,
        starting=starting(request.app.state.tasks),
    )
