"""The HTML pages: one form per task (fields generated from the task's record model, pre-filled with its
example), an upload form for the task's CSV files, the answer beside the model's validation figure, and the
dashboard of ``make report`` at ``/report``. Server-rendered with Jinja2: no build step, no CDN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData, UploadFile

from adpipe.service.api import available, current, current_action
from adpipe.service.echo import elide
from adpipe.service.keys import KEY_COOKIE, KEY_PAGE, unauthorised
from adpipe.service.metrics import observe
from adpipe.serving.adapter import Action, Task, refuse_unguarded
from adpipe.serving.records import RecordError

TEMPLATES = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")  # what a browser's form sends


def form_fields(record: type[BaseModel], example: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs of a record model's form: name, input kind, choices, whether required, and the example value."""
    schema = record.model_json_schema()
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema["properties"].items():
        options = [o for o in spec.get("anyOf", [spec]) if o.get("type") != "null"]
        kind = options[0] if options else spec
        choices = kind.get("enum") or (["TRUE", "FALSE"] if kind.get("type") == "boolean" else None)
        value = example.get(name, "")
        if isinstance(value, bool):
            value = "TRUE" if value else "FALSE"
        fields.append(
            {
                "name": name,
                "kind": "number" if kind.get("type") in ("integer", "number") else "text",
                "step": "1" if kind.get("type") == "integer" else "any",
                "choices": choices,
                "required": name in required,
                "value": value,
            }
        )
    return fields


def _errors(error: ValidationError | RecordError) -> list[str]:
    """One line per error, naming its field; a long one (quoting a huge value) cut in the middle."""
    if isinstance(error, RecordError):  # with strict inputs, every refused value (``others``)
        lines = [
            f"{'.'.join(map(str, e.location))}: {e.message}" if e.location else str(e) for e in [error, *error.others]
        ]
    else:
        lines = [f"{'.'.join(str(part) for part in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()]
    return [elide(line) for line in lines]


def _action_states(task: Task, loaded: bool, acted: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What each of the task's actions shows: its template (by its name in the loader), its form's values, and,
    for the action just submitted, its answer or errors."""
    states = []
    for action in task.actions():
        state: dict[str, Any] = {"action": action, "include": f"{task.name}/{action.template.name}"}
        if loaded and action.unavailable is None and not action.starting:
            state["values"] = action.form_values()
        if acted is not None and acted["action"] is action:
            state.update(acted)
        states.append(state)
    return states


def _page(request: Request, task: Task, status_code: int = 200, **context: Any) -> HTMLResponse:
    status = request.app.state.statuses[task.name]
    acted = context.pop("acted", None)
    context["actions"] = _action_states(task, status.loaded, acted)
    submitted = context.pop("submitted", None)
    fields = form_fields(task.form_record, task.form_example)
    if submitted is not None:
        for field in fields:
            field["value"] = submitted.get(field["name"], "")
    page = {
        "task": task,
        "status": status,
        "fields": fields,
        "pasted": submitted.get(task.pasted_table, "") if submitted is not None else task.pasted_example(),
        **context,
    }
    return templates.TemplateResponse(request, "task.html", page, status_code=status_code)


def _serving(request: Request, task: Task) -> None:
    if not request.app.state.statuses[task.name].loaded:
        raise HTTPException(
            503, f"the {task.name} model is not loaded: {request.app.state.statuses[task.name].missing}"
        )


async def _form(request: Request) -> FormData:
    """The submitted form. A body of another kind (JSON, text, XML, none at all) is a 415: Starlette would read it
    as an empty form, which a task whose fields are all optional answers as if it were one (a 200)."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        raise HTTPException(415, f"a form is expected here (sent as {' or '.join(FORM_TYPES)})")
    return await request.form()


def page_router(tasks: dict[str, Task]) -> APIRouter:
    """``/`` (the index), ``/<task>`` (form, answer, upload) and ``/<task>/<action>`` (each of the task's own
    forms) for every task, ``/key`` (a browser's API key) and ``/report``."""
    router = APIRouter(include_in_schema=False)
    templates.env.globals["task_names"] = list(tasks)  # the navigation, in the task list's order
    # An action's template is found under its task's name: "roas/plan.html" in the task's templates folder.
    folders = {name: {str(a.template.parent) for a in task.actions()} for name, task in tasks.items()}
    templates.env.loader = ChoiceLoader(
        [FileSystemLoader(TEMPLATES), PrefixLoader({name: FileSystemLoader(sorted(f)) for name, f in folders.items()})]
    )

    @router.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "index.html", {"tasks": tasks, "statuses": request.app.state.statuses}
        )

    @router.get(KEY_PAGE, response_class=HTMLResponse)
    def key_form(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "key.html", {"keys_on": request.app.state.api_keys is not None})

    @router.post(KEY_PAGE, response_model=None)
    async def enter_key(request: Request) -> Response:
        """An accepted key is kept in the browser's cookie (HttpOnly, same-site) and the index follows."""
        keys = request.app.state.api_keys
        key = (await _form(request)).get("api_key")
        if keys is not None and not (isinstance(key, str) and keys.accepts(key)):
            return unauthorised(KEY_PAGE)
        answer = RedirectResponse("/", status_code=303)
        if keys is not None:
            secure = request.url.scheme == "https"
            answer.set_cookie(KEY_COOKIE, str(key), httponly=True, samesite="strict", secure=secure)
        return answer

    @router.get("/report", response_model=None)
    def report(request: Request) -> Response:
        path = request.app.state.report_file
        if not path.exists():
            raise HTTPException(404, f"no report yet: `make report` writes {path.name}")
        return FileResponse(path, media_type="text/html")

    for task in tasks.values():
        _task_routes(router, task)
    return router


def _task_routes(router: APIRouter, task: Task) -> None:
    name = task.name

    async def show(request: Request) -> HTMLResponse:
        task = current(request, name)
        if request.app.state.statuses[task.name].loaded:
            await run_in_threadpool(_start, task)  # at once when the worker started them, as it does
        return _page(request, task)

    async def submit(request: Request) -> HTMLResponse:
        task = current(request, name)
        _serving(request, task)
        form = {key: value for key, value in (await _form(request)).items() if isinstance(value, str)}
        values = {key: value for key, value in form.items() if value.strip() != "" and key != task.pasted_table}
        try:
            answer = await task.answer_form(values, form.get(task.pasted_table or "", ""))
            if getattr(request.app.state, "strict_inputs", False):
                refuse_unguarded([answer], batch=False)
        except (ValidationError, RecordError) as error:
            return _page(request, task, 422, errors=_errors(error), submitted=form)
        observe(task.name, [answer])
        return _page(request, task, answer=answer, submitted=form)

    async def upload(request: Request) -> HTMLResponse:
        task = current(request, name)
        _serving(request, task)
        form = await _form(request)
        files, names = {}, {}
        for file_name in task.upload_files:
            part = form.get(file_name)
            if not isinstance(part, UploadFile) or not part.filename:
                return _page(request, task, 422, upload_errors=[f"{file_name}: choose a CSV file to upload"])
            files[file_name], names[file_name] = await part.read(), part.filename
        try:
            ids, answers = await run_in_threadpool(task.predict_upload, files, names)
        except RecordError as error:
            return _page(request, task, 422, upload_errors=[elide(str(error))])
        observe(task.name, answers)
        return _page(request, task, rows=list(zip(ids, answers, strict=True)))

    for action in task.actions():
        _action_routes(router, task, action)
    router.add_api_route(f"/{task.name}", show, methods=["GET"], response_class=HTMLResponse)
    router.add_api_route(f"/{task.name}", submit, methods=["POST"], response_class=HTMLResponse)
    router.add_api_route(f"/{task.name}/upload", upload, methods=["POST"], response_class=HTMLResponse)


def _start(task: Task) -> None:
    """Start the actions nobody started (a test client without the lifespan); one still starting is shown so."""
    for action in task.actions():
        if not action.starting:
            action.started()


def _action_routes(router: APIRouter, task: Task, action: Action) -> None:
    name, action_name = task.name, action.name

    async def submit(request: Request) -> HTMLResponse:
        task = current(request, name)
        action = current_action(task, action_name)
        await run_in_threadpool(available, request, task, action)  # a 503 while it is still starting
        form = {key: value for key, value in (await _form(request)).items() if isinstance(value, str)}
        values = {key: value for key, value in form.items() if value.strip() != ""}
        acted: dict[str, Any] = {"action": action, "values": form}
        try:
            body = action.request.model_validate(action.form_request(values))
            answer = await run_in_threadpool(action.run, body)
        except (ValidationError, RecordError) as error:
            return _page(request, task, 422, acted={**acted, "errors": _errors(error)})
        return _page(request, task, acted={**acted, "answer": answer})

    router.add_api_route(f"/{task.name}/{action.name}", submit, methods=["POST"], response_class=HTMLResponse)
