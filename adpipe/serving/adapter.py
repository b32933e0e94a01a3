"""What every served task shares: the answer's types, and a task over one CSV table read by its loader.

A task knows its saved model file (and the quick command that makes it), its request record (derived from its
loader's schema), how to read records or an uploaded CSV through that loader, and how to turn the model's
output into :class:`Prediction` objects with the inputs that pushed each one most. Its headline figure
(:class:`~adpipe.reports.Headline`, the task's one quoted figure, read from the reports its task wrote) travels
beside every answer.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from adpipe.errors import DataError
from adpipe.reference import NO_REFERENCE, STRICT_KINDS, InputReference, InputWarning
from adpipe.reports import Headline
from adpipe.serving.coalesce import Coalescer
from adpipe.serving.explain import Contribution
from adpipe.serving.records import RecordError, read_files, record_error, record_model, rows_of
from adpipe.serving.window import ServedWindow
from adpipe.task import TaskSpec
from features.schema import TableSchema
from features.schema_records import records_table

log = logging.getLogger("adpipe.service")

# At most this many records are predicted in one call when concurrent requests are coalesced.
MAX_COALESCED = 1000


class Prediction(BaseModel):
    """One record's answer: the value, in words, its probabilities or interval, and what pushed it most."""

    prediction: int | float | str
    label: str
    probabilities: dict[str, float] | None = None
    interval: list[float] | None = None
    distances: dict[str, float] | None = None
    top_inputs: list[Contribution] | None = None
    warnings: list[InputWarning] = []  # inputs outside the training range, unseen or imputed (adpipe.reference)


class Action(ABC):
    """A task's own endpoint beside predict, e.g. a budget plan: ``POST /api/v1/<task>/<name>`` takes its
    ``request`` and answers its ``answer``; the task's page includes its ``template`` (a form and its answer),
    posted to ``/<task>/<name>``. The service's API and pages iterate over each adapter's :meth:`Task.actions`
    and name none of them.

    :meth:`start` does the expensive work once per worker (after the fork: the loaders' engine must not start
    its threads before it), so that :meth:`run` costs milliseconds. The server runs it on a thread of its own
    (:meth:`start_in_background`): the worker answers predictions at once, and this action says it is
    :attr:`starting` (a 503 with a Retry-After) until it is done. Bad input is a ``RecordError`` whose
    ``location`` is the request's field: a 422 naming it, like a refused record.
    """

    name: str  # the URL segment
    title: str  # the form's heading and the API's summary
    request: type[BaseModel]
    answer: type[BaseModel]
    template: Path  # a Jinja2 file (the form and its answer); a task's templates share one folder
    preparing = "being prepared"  # what :meth:`start` does, as :attr:`starting` says it

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._since: float | None = None  # when a background start began (monotonic seconds)
        self.unavailable: str | None = None  # why the action cannot answer (a 503 says it), or None

    def start(self) -> None:
        """The work done once before the first request (fitting, reading reports); sets ``unavailable`` if it
        cannot be done."""
        return None

    def started(self) -> None:
        """:meth:`start`, once (a request that comes first, as in a test client without the lifespan, waits for
        it)."""
        with self._lock:
            if not self._done.is_set():
                self.start()
                self._done.set()

    def start_in_background(self, task: str) -> threading.Thread:
        """:meth:`started` on a daemon thread, so that the worker serves meanwhile; a start that raises leaves the
        action unavailable, logged with its trace (nobody else would see it)."""
        self._since = time.monotonic()

        def run() -> None:
            began = time.monotonic()
            try:
                self.started()
            except Exception as error:  # a bug: this action is not served, the worker and its predictions are
                log.exception("%s %s failed to start", task, self.name)
                self.unavailable = f"its start failed ({type(error).__name__}: {error}; logged on the server)"
                self._done.set()
            if self.unavailable:
                log.warning("%s %s not served: %s", task, self.name, self.unavailable)
            else:
                log.info("%s %s ready in %.1f s", task, self.name, time.monotonic() - began)

        thread = threading.Thread(target=run, name=f"start {task} {self.name}", daemon=True)
        thread.start()
        return thread

    @property
    def starting(self) -> str | None:
        """What a background start is still doing, and for how long, or None once done (or never begun)."""
        if self._since is None or self._done.is_set():
            return None
        return f"{self.preparing} in this worker ({time.monotonic() - self._since:.0f} s so far)"

    @abstractmethod
    def run(self, request: BaseModel) -> BaseModel:
        """The answer to a validated request (CPU-bound: the service runs it in its thread pool)."""

    def form_request(self, form: dict[str, str]) -> dict[str, Any]:
        """The request a submitted form stands for (``form``: its non-empty fields)."""
        return form

    def form_values(self) -> dict[str, Any]:
        """The values the form starts with."""
        return {}


class Task(ABC):
    """A served model: its file, the command that makes it, its records, its predictions and its headline figure."""

    spec: TaskSpec  # the task's description; a subclass that sets it takes its name and files from it
    name: str
    model_file: Path  # the service reads the same file name in its models folder
    report_file: Path  # the validation report beside whose figures every answer is shown
    title: str  # the page's heading
    record: type[BaseModel]
    example: dict[str, Any]
    effect_unit: str
    upload_files: tuple[str, ...]  # the CSV files an upload carries (the challenge's names)
    form_subject = "record"  # what the form describes: "The record"
    pasted_table: str | None = None  # the form's field for pasted CSV rows beside the record, if it has one
    pasted_title = ""
    pasted_help = ""  # trusted HTML, the project's own

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "spec" in cls.__dict__:
            cls.name, cls.model_file, cls.report_file = cls.spec.name, cls.spec.model_file, cls.spec.report_file

    def __init__(self) -> None:
        self.model: Any = None
        self.metadata: dict[str, Any] = {}
        self.reliability_: Headline | None = None  # the task's headline figure, beside every answer
        self.reference_: InputReference | None = None
        self.reports_dir: Path | None = None
        self.window: ServedWindow | None = None  # what this worker served lately (set by the service)
        explained, plain = partial(self.predict, explain=True), partial(self.predict, explain=False)
        self._coalescers = {
            True: Coalescer(explained, self.key, MAX_COALESCED),
            False: Coalescer(plain, self.key, MAX_COALESCED),
        }

    def attach(self, model: Any, metadata: dict[str, Any], reports_dir: Path) -> None:
        """Serve ``model`` (loaded once, before the server forks its workers) with its report's figures."""
        self.model, self.metadata, self.reports_dir = model, metadata, Path(reports_dir)
        self.reliability_ = self.spec.headline_of(reports_dir, metadata)
        try:
            self.reference_ = InputReference.read(metadata)
        except ValueError:  # a reference of another shape: served as a model without one
            self.reference_ = None

    def close(self) -> None:
        """This model is no longer served (a newer version took its place): its predicting threads end once the
        requests already queued are answered, and its window's rows are written (when it writes any)."""
        for coalescer in self._coalescers.values():
            coalescer.close()
        if self.window is not None:
            self.window.flush()

    def guarded(self, inputs: pd.DataFrame, predictions: list[Prediction]) -> list[Prediction]:
        """``predictions`` (one per row of ``inputs``, the records as loaded) with the warnings of the model's
        training reference on each row's inputs; a model saved without a reference says so on every answer."""
        if self.reference_ is None:
            for prediction in predictions:
                prediction.warnings = [*prediction.warnings, InputWarning(kind="no_reference", message=NO_REFERENCE)]
            return predictions
        values = self.reference_.values_of(inputs)
        for prediction, warnings in zip(predictions, self.reference_.check_values(values, len(inputs)), strict=True):
            prediction.warnings = [*prediction.warnings, *warnings]
        if self.window is not None:
            self.window.add(values, *self.answered(predictions))
        return predictions

    def answered(
        self, predictions: Sequence[Prediction]
    ) -> tuple[list[Any], list[list[float] | None], list[list[str]]]:
        """What drift reads of each answer: the prediction, its class probabilities, its warnings' kinds."""
        return (
            [p.prediction for p in predictions],
            [self.class_probabilities(p) for p in predictions],
            [[w.kind for w in p.warnings] for p in predictions],
        )

    def class_probabilities(self, prediction: Prediction) -> list[float] | None:
        """The answer's probabilities in the order of the classes its model's reference counted (the positive
        class last for a binary model), for the label-free score; None when they do not name those classes."""
        held_out = self.reference_.predictions if self.reference_ is not None else None
        given = prediction.probabilities
        if held_out is None or held_out.classes is None or given is None or set(given) != set(held_out.classes):
            return None
        return [given[c] for c in held_out.classes]

    def batch(self, source: Path) -> tuple[pd.DataFrame, list[Prediction]]:
        """Every row of a file (or folder) the task's loader reads: the inputs as the guard reads them, and the
        guarded answers (without explanations). For ``model.py monitor``."""
        raise DataError(f"the {self.name} task cannot read a batch file for monitoring yet", path=source)

    @abstractmethod
    def predict(self, records: Sequence[BaseModel], explain: bool = True) -> list[Prediction]:
        """Answers for validated request records, in their order; ``explain`` adds the inputs that pushed each."""

    @property
    def form_record(self) -> type[BaseModel]:
        """The record the form's fields are made from."""
        return self.record

    @property
    def form_example(self) -> dict[str, Any]:
        """The values the form starts with."""
        return self.example

    def actions(self) -> Sequence[Action]:
        """The task's own endpoints and forms beside predict (:class:`Action`); the same objects every call."""
        return ()

    def pasted_example(self) -> str:
        """The rows the pasted-table field starts with."""
        return ""

    def load_test_records(self, batch_size: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """What the load test sends: one record, and a batch of at most ``batch_size`` (the example repeated)."""
        return self.example, [self.example] * batch_size

    async def answer_form(self, values: dict[str, str], pasted: str) -> Prediction:
        """The answer to a submitted form: its field ``values`` (empty ones left out) and the pasted rows."""
        (answer,) = await self.coalesced([self.form_record.model_validate(values)])
        return answer

    async def coalesced(self, records: Sequence[BaseModel], explain: bool = True) -> list[Prediction]:
        """:meth:`predict`, sharing one call with the concurrent requests that have the same :meth:`key`."""
        return await self._coalescers[explain](records)

    def key(self, records: Sequence[BaseModel]) -> Hashable | None:
        """What records must share to be read in one file as they are alone (None: they differ among themselves).

        Here: the same fields set, which decides the columns of the file.
        """
        fields = {tuple(sorted(record.model_dump(exclude_none=True))) for record in records}
        return fields.pop() if len(fields) == 1 else None

    @abstractmethod
    def predict_upload(self, files: dict[str, bytes], names: dict[str, str]) -> tuple[list[str], list[Prediction]]:
        """Answers for every row of uploaded CSVs (``files`` by their challenge names), with each row's id."""


class TableTask(Task):
    """A task whose input is one CSV table: the records are rows of ``schema``, read by ``load``."""

    schema: TableSchema
    exclude: tuple[str, ...] = ()
    id_column: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "schema", None) is not None and "record" not in cls.__dict__:
            name = "".join(part.title() for part in cls.name.split("_")) + "Record"
            cls.record = record_model(cls.schema, name, exclude=cls.exclude, example=cls.example)
            cls.upload_files = (f"{cls.name}.csv",)

    @abstractmethod
    def load(self, path: Path) -> pd.DataFrame:
        """The task's loader (exactly the CLI's) on one CSV path: an upload."""

    @abstractmethod
    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        """What the loader does past reading the file (its rules across rows and columns), on records' table."""

    @abstractmethod
    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        """Predictions for a loaded table."""

    def extra_columns(self, n: int) -> dict[str, list[Any]]:
        """Columns the loader requires that a request record does not carry (generated keys)."""
        return {}

    def _read(self, files: dict[str, bytes], shown: dict[str, str] | None = None) -> pd.DataFrame:
        (name,) = files
        return read_files(files, lambda folder: self.load(folder / name), shown)

    def predict(self, records: Sequence[BaseModel], explain: bool = True) -> list[Prediction]:
        """Records, each already checked field by field against the loader's schema, go to the loader's
        remaining rules as the table its reader would give for their CSV (no file is written or parsed)."""
        rows = rows_of(records, **self.extra_columns(len(records)))
        path = Path(self.upload_files[0])
        try:
            try:
                table = self.check(records_table(rows, self.schema, path=path), path)
            except DataError as error:
                raise record_error(error) from error
            return self.guarded(table, self.answer(table, explain))
        except RecordError as error:
            where = [error.row] if error.row is not None and 0 <= error.row < len(records) else []
            error.location = ["records", *where, *([error.column] if where and error.column else [])]
            raise

    def batch(self, source: Path) -> tuple[pd.DataFrame, list[Prediction]]:
        table = self.load(source)
        return table, self.guarded(table, self.answer(table, explain=False))

    def predict_upload(self, files: dict[str, bytes], names: dict[str, str]) -> tuple[list[str], list[Prediction]]:
        table = self._read(files, names)
        ids = table[self.id_column].astype(str).tolist() if self.id_column in table else None
        return ids or [str(i + 1) for i in range(len(table))], self.guarded(table, self.answer(table))


def refuse_unguarded(predictions: Sequence[Prediction], batch: bool) -> None:
    """Strict inputs: a ``RecordError`` (a 422) naming every input outside its training range or unseen in
    training (the first, then ``others``), located at ``records.N.field`` in a batch or at ``field`` in a single
    record."""
    refused = []
    for row, prediction in enumerate(predictions):
        for warning in prediction.warnings:
            if warning.kind in STRICT_KINDS:
                error = RecordError(f"{warning.message} (strict inputs)", row=row, column=warning.field)
                error.location = ["records", row, warning.field] if batch else [warning.field]
                refused.append(error)
    if refused:
        refused[0].others = refused[1:]
        raise refused[0]
