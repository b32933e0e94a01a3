"""Return on ad spend and the click-to-conversion funnel on the Facebook campaign data (``model.py roas``).

- ``models``: the estimators and the model factories (baselines, reference, LightGBM, multi-task MLP);
- ``evaluation``: validation on grouped and plain folds (a protocol in, a typed report out), train, predict,
  the where-to-spend summaries;
- ``report``: the typed reports (their field names are the JSON keys);
- ``plan/``: where the next dollar should go (pooled value-vs-spend curves per segment, the budget split, its
  back-test, the commands ``curves``, ``plan``, ``plan-validate``, their reports and views);
- ``cli`` (with ``options`` for the options the commands share): the commands and their terminal output;
- ``service``, ``dashboard`` (with ``plan.dashboard``): its service adapter and dashboard section;
- ``defaults``: its name, files and option defaults (light: the CLI reads them).
"""

from adpipe import config
from adpipe.roas import defaults
from adpipe.roas.cli import app
from adpipe.task import TaskSpec

_SUMMARIES = ("campaign", "age", "gender", "interest")
_DATA, _FEW = ("--data", str(config.CAMPAIGNS_FILE)), ("--folds", "2", "--repeats", "1")
SPEC = TaskSpec(
    name=defaults.TASK,
    title="ROAS and funnel",
    cli=app,
    command="roas",
    model_file=defaults.MODEL_FILE,
    train=("roas", "train"),
    report_file=defaults.VALIDATION_REPORT,
    report="adpipe.roas.report:RoasValidationReport",
    headline="adpipe.roas.report:headline",
    service="adpipe.roas.service:ReturnOnAdSpend",
    dashboard="adpipe.roas.dashboard:section",
    quick=(("roas", "validate"), ("roas", "train")),
    make=(
        ("roas", "validate"),
        ("roas", "train"),  # the served model, kept as a version (so `make report` leaves it for the service)
        ("roas", "funnel"),
        *(("roas", "summary", "--by", by) for by in _SUMMARIES),
        ("roas", "curves"),
        ("roas", "plan-validate"),
        ("roas", "plan"),
    ),
    make_minutes=2,
    small=(  # `make roas` without the funnel, on 2 folds x 1 repeat: the plan reads the validation made beside it
        ("roas", "validate", *_DATA, *_FEW, "--report", str(defaults.VALIDATION_REPORT)),
        ("roas", "train", *_DATA, "--model", str(defaults.MODEL_FILE)),
        *(("roas", "summary", *_DATA, "--by", by, "--output", str(defaults.summary_path(by))) for by in _SUMMARIES),
        ("roas", "curves", *_DATA, "--report", str(defaults.CURVES_REPORT)),
        ("roas", "plan-validate", *_DATA, *_FEW, "--report", str(defaults.PLAN_VALIDATION_REPORT)),
        ("roas", "plan", *_DATA, *_FEW, "--validation", str(defaults.PLAN_VALIDATION_REPORT))
        + ("--report", str(defaults.PLAN_REPORT)),
    ),
    outputs=(
        defaults.VALIDATION_REPORT,
        defaults.MODEL_FILE,
        defaults.FUNNEL_REPORT,
        defaults.CURVES_REPORT,
        defaults.PLAN_REPORT,
        defaults.PLAN_VALIDATION_REPORT,
    ),
    load_target=(25.0, 400.0),
)
