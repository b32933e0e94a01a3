"""ROAS's name and files, without importing its machinery (the CLI's help and the task list read them)."""

from adpipe import config

TASK = "roas"
MODEL_FILE = config.MODELS_DIR / "roas.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "roas_validation.json"
FUNNEL_REPORT = config.REPORTS_DIR / "funnel_validation.json"
