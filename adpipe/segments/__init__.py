"""User segments for targeting (``model.py segment``): KMeans on profile or ClickStream features, and how real
the segments are.

- ``source``: which users (profiles or ClickStream), how they are read, where outputs go;
- ``models``: the segmentation pipeline (encoders, then KMeans) and its size-ordered numbering;
- ``structure``: the checks (scores per k, bootstrap stability, the column-shuffled null) and the verdict;
- ``profile``: the per-segment profile table and the words that describe a segment;
- ``evaluation``: fit (a protocol in, a typed report out), assign, profile;
- ``report``: the typed report and the saved model's metadata (field names are the JSON keys);
- ``cli``: the commands and their terminal output.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from adpipe.segments.cli import WARNINGS, app
from adpipe.segments.defaults import TASK, Source, model_path, profile_path, report_path

if TYPE_CHECKING:
    from adpipe.segments.models import assign_segments
    from adpipe.segments.source import SPECS, load_source

__all__ = [
    "SPECS",
    "TASK",
    "WARNINGS",
    "Source",
    "app",
    "assign_segments",
    "load_source",
    "model_path",
    "profile_path",
    "report_path",
]

# pandas and scikit-learn are imported on first use of these names, not with the package: the CLI imports it to
# build its commands, and `--help` should not wait for them.
_LAZY = {
    "assign_segments": "adpipe.segments.models",
    "SPECS": "adpipe.segments.source",
    "load_source": "adpipe.segments.source",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
