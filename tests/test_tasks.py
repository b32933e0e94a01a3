"""The task list: every task's description resolves, and the commands it declares are commands the CLI takes."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

import model
from adpipe import config
from adpipe.errors import OptionError
from adpipe.sections.page import Section
from adpipe.sections.sources import Sources
from adpipe.task import TaskSpec
from adpipe.tasks import TASKS, by_name

IDS = [task.name for task in TASKS]


def test_names_and_groups_are_unique() -> None:
    assert len(set(IDS)) == len(IDS)
    groups = [task.command for task in TASKS if task.command is not None]
    assert len(set(groups)) == len(groups)


def test_an_unknown_task_is_a_usage_error_naming_the_tasks() -> None:
    with pytest.raises(OptionError, match="no task 'nope'; the tasks are clickstream, ctr"):
        by_name("nope")


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_the_description_resolves(task: TaskSpec) -> None:
    assert isinstance(task.report_type(), type)
    adapter = task.service_adapter()
    assert adapter.spec is task and adapter.name == task.name
    assert adapter.model_file == task.model_file and adapter.report_file == task.report_file
    assert callable(task.dashboard_section())
    for path in (task.model_file, task.report_file, *task.outputs):
        assert path.is_relative_to(config.PROJECT_ROOT)


def _parse(argv: tuple[str, ...]) -> typer.Context:
    """``argv`` parsed by the CLI down to its command (options checked, nothing run)."""
    command = typer.main.get_command(model.app)
    words = list(argv)
    while isinstance(command, TyperGroup):
        name = words.pop(0)
        sub = command.get_command(command.make_context("model.py", [name, "--help"], resilient_parsing=True), name)
        assert sub is not None, f"no command {name!r} in {argv}"
        command = sub
    return command.make_context(command.name or "", words)


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_its_commands_are_the_clis(task: TaskSpec) -> None:
    for argv in (task.train, *task.quick, *task.make, *task.small):
        assert _parse(argv).command.callback is not None


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_its_small_commands_name_their_files(task: TaskSpec) -> None:
    """In the tests' project (tests/project.py) a small command must not touch the project's own data and outputs:
    every file option at a project path (the tracked params aside) is named in the command, where it is moved."""
    for argv in task.small:
        for name, value in _parse(argv).params.items():
            if isinstance(value, Path) and value.is_relative_to(config.PROJECT_ROOT):
                assert value.is_relative_to(config.PARAMS_DIR) or str(value) in argv, f"{argv}: {name} at {value}"


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_its_dashboard_section_says_what_is_missing(task: TaskSpec, tmp_path: Path) -> None:
    """On an empty project the section still renders: every input is a note naming the command that makes it."""
    section, cards = task.dashboard_section()(Sources(tmp_path, storage=f"sqlite:///{tmp_path / 'none.db'}"))
    assert isinstance(section, Section) and section.panels
    assert all(card.real is None for card in cards)
