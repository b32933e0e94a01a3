"""The main task's name and default files, apart from the modules that use them: the commands' options (and
``--help``) are built from these without loading pandas, LightGBM or Optuna. Its study's name is the project's
default, ``config.DEFAULT_STUDY``."""

from __future__ import annotations

from adpipe import config

TASK = "clickstream"
PARAMS_FILE = config.CLICKSTREAM_PARAMS_FILE
MODEL_FILE = config.MODELS_DIR / "clickstream.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "validation.json"
