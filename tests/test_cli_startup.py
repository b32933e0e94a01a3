"""``python model.py --help``, and every sub-command's ``--help``, load none of the libraries the work needs.

The commands import their implementation where their work starts, so the help is printed in a fraction of a
second. Checked deterministically rather than timed: a fresh interpreter imports ``model``, asks every command
for its help through the real entry point, then lists the heavy libraries that were loaded, each with the line
of our code that imported it first.
"""

from __future__ import annotations

import json
import subprocess
import sys

from adpipe import config

# What a command may import only once it runs. (pydantic is not listed: Typer itself loads it to parse options.)
HEAVY = (
    "pandas",
    "numpy",
    "polars",
    "lightgbm",
    "sklearn",
    "optuna",
    "plotly",
    "dask",
    "distributed",
    "scipy",
    "imblearn",
    "duckdb",
    "fastapi",
    "prometheus_client",
)

# Run in a fresh interpreter: a finder at the front of sys.meta_path notes, for the first import of each heavy
# library, the innermost frame of the project's code on the stack; then every command path prints its help.
_PROBE = """
import contextlib, io, json, sys
from pathlib import Path

HEAVY = set(sys.argv[1].split(","))
ROOT = Path.cwd().resolve()
importers = {}


class NoteImporter:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY and top not in importers:
            frame = sys._getframe(1)
            while frame is not None:
                file = Path(frame.f_code.co_filename)
                if file.is_absolute() and ROOT in file.parents and "site-packages" not in file.parts:
                    importers[top] = f"{file.relative_to(ROOT)}:{frame.f_lineno}"
                    break
                frame = frame.f_back
            else:
                importers[top] = "outside the project"
        return None


sys.meta_path.insert(0, NoteImporter())

import typer

import model

root = typer.main.get_command(model.app)


def paths(command, prefix):
    yield prefix
    if hasattr(command, "list_commands"):
        context = command.context_class(command, info_name="model.py")
        for name in command.list_commands(context):
            yield from paths(command.get_command(context, name), [*prefix, name])


helped = []
for path in paths(root, []):
    with contextlib.redirect_stdout(io.StringIO()) as shown, contextlib.suppress(SystemExit):
        root.main([*path, "--help"], prog_name="model.py")
    if "Usage:" not in shown.getvalue():
        raise SystemExit(f"no help for {path}: {shown.getvalue()!r}")
    helped.append(" ".join(path))
loaded = sorted(name for name in HEAVY if name in sys.modules)
print(json.dumps({"helped": helped, "loaded": {name: importers.get(name, "?") for name in loaded}}))
"""


def test_help_of_every_command_loads_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(HEAVY)],
        cwd=config.PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"", "predict", "ctr validate", "roas summary", "serve", "bench run", "report"} <= set(result["helped"])
    loaded = [f"{name} (first imported by {where})" for name, where in result["loaded"].items()]
    assert not loaded, "--help loaded: " + "; ".join(loaded)
