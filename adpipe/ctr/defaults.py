"""The CTR task's file paths and study name, apart from the modules that use them: the
commands' options (and ``--help``) are built from these without loading pandas, LightGBM or Optuna."""

from __future__ import annotations

from adpipe import config

TASK = "ctr"
MODEL_FILE = config.MODELS_DIR / "ctr.joblib"
PARAMS_FILE = config.PARAMS_DIR / "ctr.json"
VALIDATION_REPORT = config.REPORTS_DIR / "ctr_validation.json"
SEED_APPROACH_REPORT = config.REPORTS_DIR / "ctr_seed_approach.json"
HOLDOUT_REPORT = config.REPORTS_DIR / "ctr_holdout.json"
NESTED_REPORT = config.REPORTS_DIR / "ctr_nested.json"
CANDIDATES_REPORT = config.REPORTS_DIR / "ctr_candidates.json"
PREDICTIONS_FILE = config.PREDICTIONS_DIR / "ctr_predictions.csv"
DEFAULT_STUDY = "ctr-forward"
