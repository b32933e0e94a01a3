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

from adpipe.segments.cli import WARNINGS, app
from adpipe.segments.models import assign_segments
from adpipe.segments.source import SPECS, TASK, Source, load_source, model_path, profile_path, report_path

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
