"""Every path the project reads or writes, in one place, so scripts and tests agree on them."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Reference data lives beside the project and is copied in by `make data`, never committed.
SHARED_DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"

# Main task (ClickStream) inputs: the challenge's own layout.
TRAIN_DIR = PROJECT_ROOT / "train"
TEST_DIR = PROJECT_ROOT / "test"
USERS_TRAIN_FILE = "user_train.csv"
SESSIONS_TRAIN_FILE = "session_train.csv"
USERS_TEST_FILE = "user_test.csv"
SESSIONS_TEST_FILE = "session_test.csv"

# Sibling task inputs, copied from ../shared/data by `make data`.
DATA_DIR = PROJECT_ROOT / "data"
CTR_FILE = DATA_DIR / "ctr" / "ad_10000records.csv"
CAMPAIGNS_FILE = DATA_DIR / "campaigns" / "KAG_conversion_data.csv"
PROFILES_FILE = DATA_DIR / "profiles" / "user_profiles_for_ads.csv"
PROCESSED_DIR = DATA_DIR / "processed"

# Outputs (all git-ignored except the tracked params files).
MODELS_DIR = PROJECT_ROOT / "models"
REPORTS_DIR = PROJECT_ROOT / "reports"
PREDICTIONS_DIR = PROJECT_ROOT / "predictions"
PREDICTIONS_FILE = PREDICTIONS_DIR / "predictions.json"


def monitor_report(task: str) -> Path:
    """Where ``model.py monitor --task TASK`` writes its report; the report page's Monitoring section reads it."""
    return REPORTS_DIR / f"monitor_{task}.json"


# Hyperparameters: small tracked text files that `make tune` overwrites.
PARAMS_DIR = PROJECT_ROOT / "params"
CLICKSTREAM_PARAMS_FILE = PARAMS_DIR / "clickstream.json"

DEFAULT_SEED = 42

# Optuna storage of `tune` (any SQLAlchemy URL; SQLite needs no server) and its git-ignored file.
DEFAULT_STORAGE = f"sqlite:///{PROJECT_ROOT / 'optuna.db'}"
# The main task's study there: what its `tune` writes and the dashboard's tuning history reads.
DEFAULT_STUDY = "clickstream"
