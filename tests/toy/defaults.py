"""The toy task's name and files, apart from the modules that use them."""

from __future__ import annotations

from adpipe import config

TASK = "toy"
MODEL_FILE = config.MODELS_DIR / "toy.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "toy_validation.json"
FACTOR = 2.0  # what the toy model multiplies by
