"""What the project knows of a task, in one place: its :class:`TaskSpec`, exported by the task's package as ``SPEC``.

The CLI (``model.py``), the service's routes and navigation, the dashboard's sections, the load test and
``make report``'s inputs iterate over the list in :mod:`adpipe.tasks`; none of them names a task. A spec names
its heavy parts (service adapter, dashboard section, report type) as ``"module:attribute"`` and imports them
only when asked, so that building the CLI's help stays fast. docs/tasks.md is the recipe for a new task.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from adpipe import io
from adpipe.errors import DataError

Argv = tuple[str, ...]  # a command as ``python model.py`` takes it: ("ctr", "validate", "--repeats", "1")


def resolve(reference: str) -> Any:
    """The object a ``"package.module:attribute"`` reference names, imported now."""
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its names, its commands, its files, and where its service adapter and dashboard section live."""

    name: str  # in URLs, model metadata, `model.py tasks make NAME` and `make task NAME=...`
    title: str  # what a person reads: the dashboard's section, the service's page
    cli: typer.Typer  # the task's commands
    command: str | None  # the CLI group they sit under (`model.py ctr ...`); None: at the top level (the main task)
    model_file: Path  # the saved model its `train` writes and the service serves
    train: Argv  # the command that writes model_file: what a missing model's message says to run
    report_file: Path  # the validation report whose figure travels beside every served answer
    report: str  # "module:Type" of that typed report
    # "module:function" (reports folder, the served model's metadata) -> adpipe.reports.Headline | None: the one
    # figure the task quotes, read by every place that shows it (docs/report.md: which figure and why)
    headline: str
    service: str  # "module:Class" of its service adapter (adpipe.serving.adapter.Task)
    dashboard: str  # "module:function" of its dashboard section: (Sources) -> (Section, cards)
    quick: tuple[Argv, ...]  # commands that make its model and report with quick settings (`serve --train-missing`)
    make: tuple[Argv, ...]  # the full run (`model.py tasks make NAME`): every output its dashboard section reads
    make_minutes: float  # about how long `make` takes on a quiet 2-core machine: what `make report` announces first
    # The smallest settings that still make its model, its report and its dashboard's main inputs, every data file
    # and output named (project paths): the tests run them with those paths moved into a temporary project.
    small: tuple[Argv, ...]
    outputs: tuple[Path, ...]  # those outputs: `make report` runs `make` for a task when one of them is missing
    load_target: tuple[float, float | None]  # the load test's targets: p99 ms of one record, predictions/s

    def __post_init__(self) -> None:
        _DECLARED[self.name] = self
        io.declare_train_command(self.name, command_line(self.train))

    def report_type(self) -> type:
        return resolve(self.report)

    def headline_of(self, reports: Path, model: Mapping[str, Any] | None = None) -> Any:
        """The task's :class:`~adpipe.reports.Headline` from the reports in ``reports``, for the model ``model``
        describes (its metadata; empty: the task's train defaults), or None when a report it needs is missing or
        of an older shape (the places that show it say which command makes it)."""
        try:
            return resolve(self.headline)(Path(reports), dict(model or {}))
        except (DataError, OSError, KeyError, TypeError, ValueError):
            return None

    def service_adapter(self) -> Any:
        """A new, empty adapter (no model attached yet)."""
        return resolve(self.service)()

    def dashboard_section(self) -> Any:
        return resolve(self.dashboard)


_DECLARED: dict[str, TaskSpec] = {}  # every spec made so far, by name: for shared code below the task list


def declared(name: str) -> TaskSpec | None:
    """The spec of task ``name`` once its package is imported (adpipe.tasks imports them all), else None."""
    return _DECLARED.get(name)


def command_line(argv: Argv) -> str:
    """``argv`` as a person types it."""
    return "python model.py " + " ".join(argv)
