"""The main task's default files and study name, apart from the modules that use them: the commands'
options (and ``--help``) are built from these without loading pandas, LightGBM or Optuna."""

from __future__ import annotations

from adpipe import config

MODEL_FILE = config.MODELS_DIR / "clickstream.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "validation.json"
DEFAULT_STUDY = "clickstream"

# The largest synthetic split `synth` writes (features/synth.py checks them too).
MAX_USERS = 10**9
MAX_SESSIONS_PER_USER = 1000
