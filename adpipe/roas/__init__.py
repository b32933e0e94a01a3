"""Return on ad spend and the click-to-conversion funnel on the Facebook campaign data (``model.py roas``).

- ``models``: the estimators and the model factories (baselines, reference, LightGBM, multi-task MLP);
- ``evaluation``: validation on grouped and plain folds (a protocol in, a typed report out), train, predict,
  the where-to-spend summaries;
- ``report``: the typed reports (their field names are the JSON keys);
- ``cli``: the commands and their terminal output.
"""

from adpipe.roas.cli import app

__all__ = ["app"]
