"""The code's shape (issue 33, DEVELOPERS.md): no module over 400 lines, and no function with more than 10
parameters but a Typer command, whose parameters are its options. A function below a command takes the typed
options value the command builds (e.g. ``adpipe.roas.plan.options.PlanData``, ``adpipe.ctr.options.
ValidationOptions``) rather than its options one by one."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from adpipe import config

ROOT = config.PROJECT_ROOT
MAX_LINES = 400
MAX_PARAMETERS = 10
# "path:function" -> why it may take more than MAX_PARAMETERS parameters. None today.
PARAMETER_EXCEPTIONS: dict[str, str] = {}


def python_files() -> list[Path]:
    """The project's own modules: adpipe/, features/, tests/ and model.py."""
    return sorted(p for top in ("adpipe", "features", "tests") for p in (ROOT / top).rglob("*.py")) + [
        ROOT / "model.py"
    ]


def _registers(node: ast.expr) -> bool:
    """``<app>.command`` or ``<app>.callback``, called or not."""
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr in ("command", "callback")


def registered(tree: ast.AST) -> set[str]:
    """Functions registered by a call rather than a decorator: ``app.command("serve")(serve_command)``."""
    return {
        node.args[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _registers(node.func) and node.args and isinstance(node.args[0], ast.Name)
    }


def is_typer_command(function: ast.FunctionDef | ast.AsyncFunctionDef, commands: Collection[str] = ()) -> bool:
    """Decorated by ``@<app>.command(...)`` or ``@<app>.callback(...)``, or registered by name in ``commands``."""
    return function.name in commands or any(_registers(d) for d in function.decorator_list)


def parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Every parameter (positional, keyword-only, ``*args``, ``**kwargs``) but ``self`` and ``cls``."""
    arguments = function.args
    names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
    names += [a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None]
    return len([name for name in names if name not in ("self", "cls")])


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def long_signatures(path: Path, commands: Collection[str]) -> list[tuple[str, int]]:
    """``path:function`` and its parameter count, for each function over the limit that is no Typer command
    (``commands``: the functions registered by a call anywhere, e.g. model.py's ``cli.command("explore")(...)``)."""
    relative = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(), relative)
    return [
        (f"{relative}:{f.name}", parameter_count(f))
        for f in functions(tree)
        if parameter_count(f) > MAX_PARAMETERS and not is_typer_command(f, commands)
    ]


def test_the_counter_tells_a_typer_command_from_a_long_signature() -> None:
    eleven = ", ".join(f"p{i}" for i in range(11))
    source = (
        f"@app.command('x')\ndef command({eleven}): ...\n"
        f"@app.callback()\ndef callback({eleven}): ...\n"
        f"def helper({eleven}): ...\n"
        f"def registered_later({eleven}): ...\n"
        "app.command('later')(registered_later)\n"
        f"class C:\n    def method(self, {', '.join(f'p{i}' for i in range(10))}): ...\n"
        "def star(a, *args, b, **kwargs): ...\n"
    )
    tree = ast.parse(source)
    found = {f.name: (parameter_count(f), is_typer_command(f, registered(tree))) for f in functions(tree)}
    assert found == {
        "command": (11, True),
        "callback": (11, True),
        "helper": (11, False),
        "registered_later": (11, True),
        "method": (10, False),
        "star": (4, False),
    }


def test_no_function_but_a_typer_command_takes_more_than_10_parameters() -> None:
    commands = set().union(*(registered(ast.parse(path.read_text())) for path in python_files()))
    found = {name: count for path in python_files() for name, count in long_signatures(path, commands)}
    unexplained = {name: count for name, count in found.items() if name not in PARAMETER_EXCEPTIONS}
    assert not unexplained, f"more than {MAX_PARAMETERS} parameters: pass the command's options value instead"
    stale = set(PARAMETER_EXCEPTIONS) - set(found)
    assert not stale, f"exceptions no longer needed: {sorted(stale)}"


@pytest.mark.parametrize("path", python_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_module_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES}): split it by concern"
