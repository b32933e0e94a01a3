"""Conversion rate's name and files, without importing its machinery (the CLI's help and the task list read them)."""

from adpipe import config

TASK = "conversion"
MODEL_FILE = config.MODELS_DIR / "conversion.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "conversion_validation.json"
