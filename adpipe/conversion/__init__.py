"""Conversion rate from a user profile (``model.py conversion``): regressors against a mean baseline, and a
permutation test that decides whether any of them is worth saving.

- ``models``: the regressors and the mean baseline, each behind the profile preprocessing in one pipeline;
- ``permutation``: the max-T permutation test of each model's R² gain over the baseline;
- ``evaluation``: validate (a protocol in, a typed report out), train, predict;
- ``report``: the typed report and the saved model's metadata (field names are the JSON keys);
- ``cli``: the commands and their terminal output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adpipe.conversion.cli import app
from adpipe.conversion.defaults import BASELINE, MODEL_FILE, TASK, VALIDATION_REPORT

if TYPE_CHECKING:
    from adpipe.conversion.models import FEATURES

__all__ = ["BASELINE", "FEATURES", "MODEL_FILE", "TASK", "VALIDATION_REPORT", "app"]


def __getattr__(name: str) -> Any:
    """``FEATURES`` (the profile columns, with scikit-learn), imported on first use rather than with the CLI."""
    if name != "FEATURES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from adpipe.conversion.models import FEATURES

    return FEATURES
