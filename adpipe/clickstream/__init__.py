"""The main task: LightGBM for ClickStream ``marketing_target`` (1/2/3) under macro-F1.

- ``params``: what the params file (``params/clickstream.json``, written by ``make tune``) may hold;
- ``estimators``: the model it describes (feature groups, imbalance handling, LightGBM, decision rule);
- ``decision_rule``: the macro-F1 class-weight rule, fitted inside the training data;
- ``pipeline``: train on the labelled users, write the submission;
- ``evaluation`` and ``report``: repeated stratified K-fold against a baseline, as a typed report;
- ``tuning``: the Optuna search space; ``cli``: the commands.
- ``engines``: the engines that aggregate the sessions (memory, chunked, Dask in ``engine_dask``), by size;
- ``service``, ``dashboard``: its service adapter and dashboard section;
- ``defaults``: its name, files and option defaults (light: the CLI reads them).
"""

from adpipe import config
from adpipe.clickstream import defaults
from adpipe.clickstream.cli import app
from adpipe.task import TaskSpec

SPEC = TaskSpec(
    name=defaults.TASK,
    title="Main task: engagement",
    cli=app,
    command=None,
    model_file=defaults.MODEL_FILE,
    train=("train",),
    report_file=defaults.VALIDATION_REPORT,
    report="adpipe.clickstream.report:ValidationReport",
    headline="adpipe.clickstream.report:headline",
    service="adpipe.clickstream.service:Clickstream",
    dashboard="adpipe.clickstream.dashboard:section",
    quick=(("train",), ("validate", "--repeats", "1")),
    # The test users' drift against train closes the full run: the report's Monitoring section shows it.
    make=(("predict",), ("validate",), ("monitor", "--task", defaults.TASK, "--input", str(config.TEST_DIR))),
    make_minutes=1,
    small=(
        ("train", "--train-dir", str(config.TRAIN_DIR), "--model", str(defaults.MODEL_FILE)),
        ("predict", "--use-saved", "--train-dir", str(config.TRAIN_DIR), "--test-dir", str(config.TEST_DIR))
        + ("--model", str(defaults.MODEL_FILE), "--output", str(config.PREDICTIONS_FILE)),
        ("validate", "--train-dir", str(config.TRAIN_DIR), "--folds", "2", "--repeats", "1")
        + ("--report", str(defaults.VALIDATION_REPORT)),
    ),
    outputs=(
        defaults.MODEL_FILE,
        config.PREDICTIONS_FILE,
        defaults.VALIDATION_REPORT,
        config.monitor_report(defaults.TASK),
    ),
    load_target=(50.0, None),
)
