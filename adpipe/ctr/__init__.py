"""Click-through prediction: will this impression be clicked (``Clicked on Ad``)? Probability and yes/no.

- ``params``: what ``params/ctr.json`` may hold, and the task's file paths;
- ``models``: the click model (:class:`~adpipe.ctr.models.ClickModel`), its threshold, the baselines;
- ``evaluation`` and ``report``: validation and the seed project's figures, as typed reports;
- ``pipeline``: train and save, predict another file;
- ``tuning``: the Optuna search space; ``cli``: the commands (``app``, with ``tune`` registered).
"""

from adpipe.ctr.cli import app

__all__ = ["app"]
