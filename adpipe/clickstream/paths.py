"""The main task's name and files, without importing its machinery (the CLI's help and the task list read them)."""

from adpipe import config

TASK = "clickstream"
MODEL_FILE = config.MODELS_DIR / "clickstream.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "validation.json"
PARAMS_FILE = config.CLICKSTREAM_PARAMS_FILE
DEFAULT_STUDY = "clickstream"  # the Optuna study `tune` resumes
