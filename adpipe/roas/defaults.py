"""The ROAS task's files, protocol and option values, apart from the modules that use them: the commands'
options (and ``--help``) are built from these without loading pandas, LightGBM or scikit-learn."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from adpipe import config
from adpipe.protocol import Protocol

TASK = "roas"
MODEL_FILE = config.MODELS_DIR / "roas.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "roas_validation.json"
FUNNEL_REPORT = config.REPORTS_DIR / "funnel_validation.json"
PROTOCOL = Protocol(folds=5, repeats=3, seed=config.DEFAULT_SEED, stratify=False)
CURVES_REPORT = config.REPORTS_DIR / "roas_curves.json"
PLAN_REPORT = config.REPORTS_DIR / "roas_plan.json"
PLAN_VALIDATION_REPORT = config.REPORTS_DIR / "roas_plan_validation.json"


def summary_path(by: str) -> Path:
    """Where `roas summary --by BY` writes its table."""
    return config.REPORTS_DIR / f"roas_summary_{by}.csv"


PLAN_BY = "xyz_campaign_id,age,gender"  # the segment level of the budget plan: campaign x age x gender
PLAN_WINDOWS = 5  # `roas plan-validate` on an export with a date: expanding windows forward in time

# What `roas plan` maximises: expected value, expected conversions (enquiries), or spend while the marginal ROAS
# stays above a floor.
Objective = Literal["value", "conversions", "target-roas"]
# `roas plan` keeps each segment within [1/F, F] x today's split of the budget by default: the setting whose
# promised and realised gains `roas plan-validate` back-tests.
DEFAULT_MAX_CHANGE = 2.0
