"""The ROAS task's files, protocol and option values, apart from the modules that use them: the commands'
options (and ``--help``) are built from these without loading pandas, LightGBM or scikit-learn."""

from __future__ import annotations

from typing import Literal

from adpipe import config
from adpipe.protocol import Protocol

TASK = "roas"
MODEL_FILE = config.MODELS_DIR / "roas.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "roas_validation.json"
FUNNEL_REPORT = config.REPORTS_DIR / "funnel_validation.json"
PROTOCOL = Protocol(folds=5, repeats=3, seed=config.DEFAULT_SEED, stratify=False)

# The campaign data's terms (features.campaigns re-exports them beside the columns).
Mode = Literal["planned", "delivery"]
SummaryBy = Literal["campaign", "age", "gender", "interest"]
DEFAULT_VALUE_ENQUIRY = 5.0
DEFAULT_VALUE_SALE = 100.0
GROUP = "fb_campaign_id"
