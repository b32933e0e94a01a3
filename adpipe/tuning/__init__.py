"""The one tuning loop: an Optuna study over a task's search space, scored by the validation protocol.

A task (:class:`TuningTask`) says what to sample and how to cross-validate one sample; this package does
the rest for every task alike: it opens (or resumes) a study in any SQLAlchemy storage (SQLite for one
machine, PostgreSQL for workers on several), refuses a study made for another task, metric or protocol,
reports each fold's running mean so a pruner can stop hopeless trials, shows a progress bar, keeps
every finished trial on Ctrl-C, and at the end writes the best parameters to the task's params file,
once and atomically, with the study, the trial and its score (mean ± std over the folds).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adpipe.tuning.command import tune_command

if TYPE_CHECKING:
    from adpipe.tuning.loop import run_tuning
    from adpipe.tuning.study import OnFold, TuningTask, open_storage, open_study

__all__ = ["OnFold", "TuningTask", "open_storage", "open_study", "run_tuning", "tune_command"]

# Optuna is imported on first use of these names, not with the package: the CLI imports tune_command to build
# its commands, and `--help` should not wait for Optuna.
_LAZY = {
    "run_tuning": "adpipe.tuning.loop",
    "OnFold": "adpipe.tuning.study",
    "TuningTask": "adpipe.tuning.study",
    "open_storage": "adpipe.tuning.study",
    "open_study": "adpipe.tuning.study",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
