"""The import layering: every import, module-level or inside a function, points down or sideways within its own
package, never up; no circle anywhere; no private name imported from another package.

Layers, lowest first: the core (errors, paths, atomic files, fold arithmetic); ``features/`` (feature definitions
and the loaders and schemas they read); the machinery the tasks share (typed reports, params checks, CLI
support, tuning, the service's adapter base, the dashboard's page); the task packages; and the applications
that iterate over the task list (CLI entry point, service, dashboard builder, load test, benchmark).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from adpipe import config

ROOT = config.PROJECT_ROOT
TASK_PACKAGES = ("adpipe.clickstream", "adpipe.ctr", "adpipe.roas", "adpipe.segments", "adpipe.conversion")
CORE = ("adpipe.errors", "adpipe.config", "adpipe.io", "adpipe.protocol", "adpipe.validation")
SHARED = (
    "adpipe.reports",
    "adpipe.reference",
    "adpipe.drift",
    "adpipe.drift_calibration",
    "adpipe.service.window",
    "adpipe.params",
    "adpipe.cli_support",
    "adpipe.task",
    "adpipe.versions",
    "adpipe.tuning",
    "adpipe.service.adapter",
    "adpipe.service.records",
    "adpipe.service.coalesce",
    "adpipe.service.explain",
    "adpipe.service.profiles",
    "adpipe.dashboard.page",
    "adpipe.dashboard.sources",
    "adpipe.explore",
)
# A task package may use another's public API where its data is that task's: segments of ClickStream users
# read them with the main task's loader.
SIDEWAYS = {("adpipe.segments", "adpipe.clickstream")}
LAYER_NAMES = ("core", "features", "shared machinery", "tasks", "applications")


def _within(module: str, prefixes: tuple[str, ...]) -> str | None:
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def layer(module: str) -> int:
    if _within(module, CORE):
        return 0
    if _within(module, ("features",)):
        return 1
    if _within(module, SHARED):
        return 2
    if _within(module, TASK_PACKAGES):
        return 3
    return 4


def project_modules() -> dict[str, Path]:
    files = [*ROOT.glob("adpipe/**/*.py"), *ROOT.glob("features/*.py"), ROOT / "model.py"]
    modules = {}
    for path in files:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, list[str]]]:
    """Every project module ``name`` imports (anywhere in the file), with the names it takes from it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    yield submodule, []
                elif base in modules:
                    yield base, [alias.name]


def graph() -> dict[str, dict[str, list[str]]]:
    modules = project_modules()
    edges: dict[str, dict[str, list[str]]] = {}
    for name, path in modules.items():
        edges[name] = {}
        for target, names in imports(name, path, modules):
            if target != name:
                edges[name].setdefault(target, []).extend(names)
    return edges


def _package(module: str) -> str:
    return _within(module, TASK_PACKAGES) or module.rpartition(".")[0] or module


def test_the_walker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The walker finds an import inside a function body, which a circle closed lazily would hide behind."""
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from adpipe.tasks import TASKS\n    import adpipe.io\n")
    found = dict(imports("adpipe.fake", source, project_modules()))
    assert {"adpipe.tasks", "adpipe.io"} <= set(found)


def test_no_import_points_up() -> None:
    upward = []
    for importer, targets in graph().items():
        for target in targets:
            same_task = _within(importer, TASK_PACKAGES) and _within(importer, TASK_PACKAGES) == _within(
                target, TASK_PACKAGES
            )
            if layer(target) > layer(importer) and not same_task:
                upward.append(
                    f"{importer} ({LAYER_NAMES[layer(importer)]}) imports {target} ({LAYER_NAMES[layer(target)]})"
                )
    assert not upward, "imports pointing up a layer:\n" + "\n".join(sorted(upward))


def test_task_packages_import_each_other_only_where_declared() -> None:
    sideways = set()
    for importer, targets in graph().items():
        for target in targets:
            a, b = _within(importer, TASK_PACKAGES), _within(target, TASK_PACKAGES)
            if a and b and a != b and (a, b) not in SIDEWAYS:
                sideways.add(f"{importer} imports {target}")
    assert not sideways, "a task package importing another:\n" + "\n".join(sorted(sideways))


def test_no_circle() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(" <-> ".join(sorted(component)))

    for node in edges:
        if node not in index:
            visit(node)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_private_name_crosses_a_package() -> None:
    crossing = []
    for importer, targets in graph().items():
        for target, names in targets.items():
            private = [n for n in names if n.startswith("_")]
            if private and _package(importer) != _package(target):
                crossing.append(f"{importer} imports {', '.join(private)} from {target}")
    assert not crossing, "private names imported from another package:\n" + "\n".join(crossing)


@pytest.mark.parametrize("module", ["features", "features.clickstream", "features.schema"])
def test_features_import_no_task_package(module: str) -> None:
    """features/ sits below the tasks: a check that the layer rule above covers it (it would fail otherwise)."""
    assert layer(module) < layer("adpipe.clickstream.engines")


def test_every_import_of_ours_resolves() -> None:
    """Imports inside functions (the CLI's, kept lazy for a fast --help) run only when their command does: a name
    moved or renamed would fail there, at a user's run. Each one is resolved here instead."""
    import importlib

    modules = project_modules()
    unresolved = []
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules):
                continue
            target = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(target, alias.name) and f"{node.module}.{alias.name}" not in modules:
                    unresolved.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module} has no {alias.name}")
    assert not unresolved, "imports that fail when they run:\n" + "\n".join(unresolved)
