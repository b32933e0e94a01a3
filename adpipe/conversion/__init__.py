"""Conversion rate from a user profile (``model.py conversion``): regressors against a mean baseline, and a
permutation test that decides whether any of them is worth saving.

- ``models``: the regressors and the mean baseline, each behind the profile preprocessing in one pipeline;
- ``permutation``: the max-T permutation test of each model's R² gain over the baseline;
- ``evaluation``: validate (a protocol in, a typed report out), train, predict;
- ``report``: the typed report and the saved model's metadata (field names are the JSON keys);
- ``cli``: the commands and their terminal output.
- ``service``, ``dashboard``: its service adapter and dashboard section;
- ``defaults``: its name, files and option defaults (light: the CLI reads them).
"""

from adpipe import config
from adpipe.conversion import defaults
from adpipe.conversion.cli import app
from adpipe.task import TaskSpec

SPEC = TaskSpec(
    name=defaults.TASK,
    title="Conversion rate",
    cli=app,
    command="conversion",
    model_file=defaults.MODEL_FILE,
    train=("conversion", "train"),
    report_file=defaults.VALIDATION_REPORT,
    report="adpipe.conversion.report:ConversionReport",
    headline="adpipe.conversion.report:headline",
    service="adpipe.conversion.service:ConversionRate",
    dashboard="adpipe.conversion.dashboard:section",
    quick=(("conversion", "train", "--repeats", "1", "--permutations", "19"),),
    make=(("conversion", "train"),),
    make_minutes=1,
    small=(
        ("conversion", "train", "--input", str(config.PROFILES_FILE), "--folds", "2", "--repeats", "1")
        + ("--models", "linear", "--permutations", "3", "--model", str(defaults.MODEL_FILE))
        + ("--report", str(defaults.VALIDATION_REPORT)),
    ),
    outputs=(defaults.VALIDATION_REPORT,),
    load_target=(25.0, 400.0),
)
