"""The import layering: every import, module-level or inside a function, points down a floor or stays on its own,
never up (except the named few below); no circle anywhere; no private name imported from another package.

Floors by location, lowest first (docs/tasks.md draws them):

0. core: the ``adpipe`` package and the root modules in :data:`CORE` (errors, paths, atomic files, folds);
1. ``features/``: the data sets (schemas, loaders, feature definitions);
2. kits, what a task implements or uses: the root modules in :data:`KIT_MODULES` (typed reports, params checks,
   CLI support, the task's spec, model versions) and the packages ``adpipe/tuning``, ``adpipe/serving`` (what a
   task implements to be served) and ``adpipe/sections`` (what a dashboard section uses); and, by its place at
   the root, the registry ``adpipe/tasks.py``;
3. tasks: the packages of the specs in :data:`adpipe.tasks.TASKS`;
4. apps, which host the tasks by iterating over that list: ``model.py``, the service, the dashboard, the
   benchmark and the task-list commands.

The registry lists the tasks, so it imports them: the one import allowed up (:data:`UPWARD`). Importing it
loads every task, so only the apps do.

A module that fits no floor fails: a new module is placed here, on purpose, by the one who adds it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from adpipe import config
from adpipe.task import TaskSpec
from adpipe.tasks import TASKS

ROOT = config.PROJECT_ROOT


def task_package(spec: TaskSpec) -> str:
    """The package of a task (``adpipe.ctr``), read off the modules its spec names: its report, adapter and
    section, which docs/tasks.md keeps in the task's one package."""
    modules = [reference.partition(":")[0] for reference in (spec.report, spec.service, spec.dashboard)]
    packages = {".".join(module.split(".")[:2]) for module in modules}
    assert len(packages) == 1, f"task {spec.name}'s parts live in several packages: {sorted(packages)}"
    return packages.pop()


CORE = ("adpipe.errors", "adpipe.config", "adpipe.io", "adpipe.protocol", "adpipe.validation")
FEATURES = ("features",)
KIT_MODULES = (
    "adpipe.reports",
    "adpipe.reference",
    "adpipe.drift",
    "adpipe.drift_calibration",
    "adpipe.params",
    "adpipe.cli_support",
    "adpipe.task",
    "adpipe.versions",
    "adpipe.tasks",  # the registry: at the root, below the tasks it imports (UPWARD)
)
KITS = (*KIT_MODULES, "adpipe.tuning", "adpipe.serving", "adpipe.sections", "adpipe.explore")
TASK_PACKAGES = tuple(task_package(spec) for spec in TASKS)
APPS = ("model", "adpipe.service", "adpipe.dashboard", "adpipe.bench", "adpipe.commands", "adpipe.faults")
FLOORS = ("core", "features", "kits", "tasks", "apps")

# The imports allowed to point up a floor, each with its reason. Short on purpose: a new one is a design decision.
UPWARD = {
    ("adpipe.tasks", "tasks"): "the registry: the task list is made of the task packages' specs, so it imports them",
}
# A task package may use another's public API where its data is that task's: segments of ClickStream users
# read them with the main task's loader.
SIDEWAYS = {("adpipe.segments", "adpipe.clickstream")}


def _within(module: str, prefixes: tuple[str, ...]) -> str | None:
    return next((p for p in prefixes if module == p or module.startswith(p + ".")), None)


def floor(module: str) -> int | None:
    """The floor ``module`` sits on by its location, or None when it fits none."""
    if module == "adpipe" or _within(module, CORE):
        return 0
    placed = [
        _within(module, FEATURES),
        _within(module, KITS),
        _within(module, TASK_PACKAGES),
        _within(module, APPS),
    ]
    return next((number for number, found in enumerate(placed, start=1) if found), None)


def project_modules() -> dict[str, Path]:
    files = [*ROOT.glob("adpipe/**/*.py"), *ROOT.glob("features/**/*.py"), ROOT / "model.py"]
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


def test_every_module_sits_on_a_floor() -> None:
    unplaced = sorted(module for module in project_modules() if floor(module) is None)
    assert not unplaced, "modules on no floor (place them in tests/test_layers.py):\n" + "\n".join(unplaced)


def upward_imports() -> list[tuple[str, str, str | None]]:
    """Every import from a lower floor to a higher one: importer, target, and the named exception allowing it."""
    upward = []
    for importer, targets in graph().items():
        for target in targets:
            low, high = floor(importer), floor(target)
            if low is not None and high is not None and high > low:
                allowed = next((key for key in UPWARD if _within(importer, key[:1]) and key[1] == FLOORS[high]), None)
                upward.append((importer, target, allowed and UPWARD[allowed]))
    return upward


def test_only_apps_import_the_registry() -> None:
    """Importing the task list imports every task: below the apps that would be an import up in disguise."""
    below = sorted(
        m for m, targets in graph().items() if "adpipe.tasks" in targets and floor(m) != FLOORS.index("apps")
    )
    assert not below, "the registry imported below the apps:\n" + "\n".join(below)


def test_no_import_points_up_but_the_named_few() -> None:
    upward = upward_imports()
    print(f"imports pointing up a floor: {len(upward)}, under {len(UPWARD)} named exception(s)")
    for importer, target, reason in upward:
        print(f"  {importer} -> {target}: {reason or 'NOT ALLOWED'}")
    refused = [
        f"{importer} ({FLOORS[floor(importer)]}) imports {target} ({FLOORS[floor(target)]})"
        for importer, target, reason in upward
        if reason is None
    ]
    assert not refused, "imports pointing up a floor:\n" + "\n".join(sorted(refused))
    unused = set(UPWARD.values()) - {reason for _, _, reason in upward}
    assert not unused, f"named exceptions no import needs any more (remove them): {sorted(unused)}"
    assert len(UPWARD) <= 2


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
    """features/ sits below the tasks: a check that the floor rule above covers it (it would fail otherwise)."""
    assert floor(module) < floor("adpipe.clickstream.engines")


def test_the_task_floor_is_the_task_list() -> None:
    """The task floor is derived from the list: one package per spec, the one exporting that very spec."""
    import importlib

    assert len(set(TASK_PACKAGES)) == len(TASKS)
    for spec, package in zip(TASKS, TASK_PACKAGES, strict=True):
        assert importlib.import_module(package).SPEC is spec


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
