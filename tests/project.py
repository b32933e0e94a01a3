"""A temporary project for the tests that need every task's outputs: the reference data linked in, and each task's
model, reports and dashboard inputs made by its own ``small`` commands (:attr:`adpipe.task.TaskSpec.small`) with
their project paths moved into it. Made once per test run, by the first test that asks, and removed at exit.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.task import Argv, TaskSpec

# project path -> path under ../shared/data (the Makefile's DATA_MAP, for the folders the tasks read)
DATA_LINKS = {"train": "clickstream/train", "test": "clickstream/test", "data/ctr": "ctr"}
DATA_LINKS |= {"data/campaigns": "campaigns", "data/profiles": "profiles"}


def in_root(argv: Argv, root: Path) -> list[str]:
    """``argv`` with every project path in it moved to the same place under ``root``."""
    moved = []
    for argument in argv:
        path = Path(argument)
        inside = path.is_absolute() and path.is_relative_to(config.PROJECT_ROOT)
        moved.append(str(root / path.relative_to(config.PROJECT_ROOT)) if inside else argument)
    return moved


def link_data(root: Path) -> None:
    """The reference data under ``root`` where the project keeps it (links, nothing copied)."""
    for link, shared in DATA_LINKS.items():
        source = config.SHARED_DATA_DIR / shared
        if not source.exists():
            pytest.fail(f"reference data missing: {source} (../shared/data must sit beside the project)")
        (root / link).parent.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(source)


def make_outputs(task: TaskSpec, root: Path) -> None:
    """Run ``task``'s small commands in-process, reading and writing under ``root``."""
    from model import build_app

    app = build_app()
    for argv in task.small:
        command = in_root(argv, root)
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, f"{' '.join(command)}: {result.output}"


@functools.cache
def small_project() -> Path:
    """A project root holding the reference data and every task's small outputs (the funnel, ClickStream
    segments, the study and the benchmark are left out: their dashboard panels say which command fills them)."""
    from adpipe.tasks import TASKS

    root = Path(tempfile.mkdtemp(prefix="adpipe-test-project-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    link_data(root)
    for task in TASKS:
        make_outputs(task, root)
    return root
