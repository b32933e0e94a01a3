"""The list of tasks. The CLI, the service, the dashboard, the load test and ``make report`` iterate over it:
adding a task is one package exporting a :class:`~adpipe.task.TaskSpec` and one line here (docs/tasks.md)."""

from __future__ import annotations

from adpipe import clickstream, conversion, ctr, roas, segments
from adpipe.errors import OptionError
from adpipe.task import TaskSpec

TASKS: tuple[TaskSpec, ...] = (
    clickstream.SPEC,
    ctr.SPEC,
    conversion.SPEC,
    segments.SPEC,
    roas.SPEC,
)


def by_name(name: str) -> TaskSpec:
    """The task called ``name``, or a usage error listing them."""
    for task in TASKS:
        if task.name == name:
            return task
    raise OptionError(f"no task {name!r}; the tasks are {', '.join(t.name for t in TASKS)}", option="TASK")
