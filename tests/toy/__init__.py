"""A throw-away task made by the recipe in docs/tasks.md, for tests/test_task_recipe.py: a package exporting
``SPEC``, which a fixture adds to the task list (no other edit) to show every host picks a new task up.

- ``defaults``: its name and files; ``cli``: its one command (``model.py toy train``); ``report``: its report;
- ``service``, ``dashboard``: its service adapter and dashboard section.
"""

from adpipe.task import TaskSpec
from tests.toy import defaults
from tests.toy.cli import app

SPEC = TaskSpec(
    name=defaults.TASK,
    title="Toy task",
    cli=app,
    command="toy",
    model_file=defaults.MODEL_FILE,
    train=("toy", "train"),
    report_file=defaults.VALIDATION_REPORT,
    report="tests.toy.report:ToyReport",
    headline="tests.toy.report:headline",
    service="tests.toy.service:Toy",
    dashboard="tests.toy.dashboard:section",
    quick=(("toy", "train"),),
    make=(("toy", "train"),),
    make_minutes=0.1,
    small=(("toy", "train", "--model", str(defaults.MODEL_FILE), "--report", str(defaults.VALIDATION_REPORT)),),
    outputs=(defaults.VALIDATION_REPORT, defaults.MODEL_FILE),
    load_target=(25.0, 400.0),
)
