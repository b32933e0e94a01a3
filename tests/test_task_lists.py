"""One list of tasks: adpipe/tasks.py. A tuple, list or set literal naming two or more tasks anywhere else in
adpipe/, tests/ or model.py (a parametrize over literal task names included) fails, with its file and line: code
and tests derive every list of tasks from adpipe.tasks.TASKS, so adding a task is one line.

A literal that must name tasks says why on its first line: ``# names tasks: <the reason>``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from adpipe import config
from adpipe.tasks import TASKS

ROOT = config.PROJECT_ROOT
THE_LIST = ROOT / "adpipe" / "tasks.py"
NAMES = {task.name for task in TASKS}
EXCEPTION = re.compile(r"#\s*names tasks:\s*(\S.*)?$")


def task_lists(source: str, names: set[str]) -> Iterator[tuple[int, list[str]]]:
    """Each literal naming two or more of ``names``, by line, unless its first line states the exception with a
    reason."""
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Tuple | ast.List | ast.Set):
            continue
        named = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in names]
        if len(set(named)) < 2:
            continue
        stated = EXCEPTION.search(lines[node.lineno - 1])
        if stated is None or not stated.group(1):
            yield node.lineno, named


def test_no_list_of_tasks_outside_the_task_list() -> None:
    files = [*ROOT.glob("adpipe/**/*.py"), *ROOT.glob("tests/**/*.py"), ROOT / "model.py"]
    found = [
        f"{path.relative_to(ROOT)}:{line}: {', '.join(named)}"
        for path in sorted(files)
        if path != THE_LIST
        for line, named in sorted(task_lists(path.read_text(), NAMES))
    ]
    assert not found, "lists of tasks outside adpipe/tasks.py (iterate adpipe.tasks.TASKS):\n" + "\n".join(found)


def test_the_check_finds_lists_and_parametrize_and_takes_stated_exceptions() -> None:
    names = {"ctr", "roas", "segments"}  # names tasks: the check's own example
    source = (
        'ALL = ("ctr", "roas")\n'
        '@pytest.mark.parametrize("task", ["roas", "segments"])\n'
        "def test_it(task): ...\n"
        'ONE = ("ctr", "other")\n'
        'KEPT = {"ctr", "roas"}  # names tasks: the two the old format knew\n'
        'BARE = ["ctr", "roas"]  # names tasks:\n'
    )
    assert sorted(line for line, _ in task_lists(source, names)) == [1, 2, 6]
