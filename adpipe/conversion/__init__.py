"""Conversion rate from a user profile (``model.py conversion``): regressors against a mean baseline, and a
permutation test that decides whether any of them is worth saving.

- ``models``: the regressors and the mean baseline, each behind the profile preprocessing in one pipeline;
- ``permutation``: the max-T permutation test of each model's R² gain over the baseline;
- ``evaluation``: validate (a protocol in, a typed report out), train, predict;
- ``report``: the typed report and the saved model's metadata (field names are the JSON keys);
- ``cli``: the commands and their terminal output.
"""

from adpipe.conversion.cli import app
from adpipe.conversion.evaluation import MODEL_FILE, TASK, VALIDATION_REPORT
from adpipe.conversion.models import BASELINE, FEATURES

__all__ = ["BASELINE", "FEATURES", "MODEL_FILE", "TASK", "VALIDATION_REPORT", "app"]
