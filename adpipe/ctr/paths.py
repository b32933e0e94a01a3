"""Click-through's name and files, without importing its machinery (the CLI's help and the task list read them)."""

from adpipe import config

TASK = "ctr"
MODEL_FILE = config.MODELS_DIR / "ctr.joblib"
PARAMS_FILE = config.PARAMS_DIR / "ctr.json"
VALIDATION_REPORT = config.REPORTS_DIR / "ctr_validation.json"
SEED_APPROACH_REPORT = config.REPORTS_DIR / "ctr_seed_approach.json"
HOLDOUT_REPORT = config.REPORTS_DIR / "ctr_holdout.json"
PREDICTIONS_FILE = config.PREDICTIONS_DIR / "ctr_predictions.csv"
DEFAULT_STUDY = "ctr-forward"  # the Optuna study `ctr tune` resumes
