"""Click-through prediction: will this impression be clicked (``Clicked on Ad``)? Probability and yes/no.

- ``params``: what ``params/ctr.json`` may hold;
- ``models``: the click model (:class:`~adpipe.ctr.models.ClickModel`), its threshold, the baselines;
- ``evaluation`` and ``report``: validation and the seed project's figures, as typed reports;
- ``pipeline``: train and save, predict another file;
- ``tuning``: the Optuna search space; ``cli``: the commands (``app``, with ``tune`` registered).
- ``service``, ``dashboard``: its service adapter and dashboard section;
- ``defaults``: its name, files and option defaults (light: the CLI reads them).
"""

from adpipe import config
from adpipe.ctr import defaults
from adpipe.ctr.cli import app
from adpipe.task import TaskSpec

_DATA = ("--data", str(config.CTR_FILE), "--threshold", "0.5")
SPEC = TaskSpec(
    name=defaults.TASK,
    title="Click-through (CTR)",
    cli=app,
    command="ctr",
    model_file=defaults.MODEL_FILE,
    train=("ctr", "train"),
    report_file=defaults.VALIDATION_REPORT,
    report="adpipe.ctr.report:ValidationReport",
    headline="adpipe.ctr.headline:headline",
    service="adpipe.ctr.service:ClickThrough",
    dashboard="adpipe.ctr.dashboard:section",
    quick=(("ctr", "validate", "--repeats", "1"), ("ctr", "train")),
    make=(
        ("ctr", "seed-approach"),
        ("ctr", "validate"),
        ("ctr", "nested"),
        ("ctr", "candidates"),
        ("ctr", "holdout"),
        ("ctr", "train"),
    ),
    make_minutes=4,
    small=(  # a fixed threshold: no inner folds to choose it, so each command takes seconds
        ("ctr", "validate", *_DATA, "--folds", "2", "--repeats", "1", "--no-audit")
        + ("--report", str(defaults.VALIDATION_REPORT)),
        ("ctr", "train", *_DATA, "--model", str(defaults.MODEL_FILE)),
    ),
    outputs=(defaults.VALIDATION_REPORT, defaults.NESTED_REPORT, defaults.MODEL_FILE),
    load_target=(25.0, 400.0),
)
