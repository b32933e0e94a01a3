"""The conversion task's files, protocol, test settings and model names, apart from the modules that use them:
the commands' options (and ``--help``) are built from these without loading pandas or scikit-learn."""

from __future__ import annotations

from adpipe import config
from adpipe.protocol import Protocol

TASK = "conversion"
MODEL_FILE = config.MODELS_DIR / "conversion.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "conversion_validation.json"
PROTOCOL = Protocol(folds=5, repeats=5, seed=config.DEFAULT_SEED, stratify=False)
ALPHA = 0.05
DEFAULT_PERMUTATIONS = 39

BASELINE = "mean baseline"
REGRESSORS = ("linear", "svr", "knn", "random_forest", "lightgbm")
