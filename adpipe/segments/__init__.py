"""User segments for targeting (``model.py segment``): KMeans on profile or ClickStream features, and how real
the segments are.

- ``source``: which users (profiles or ClickStream), how they are read, where outputs go;
- ``models``: the segmentation pipeline (encoders, then KMeans) and its size-ordered numbering;
- ``structure``: the checks (scores per k, bootstrap stability, the column-shuffled null) and the verdict;
- ``profile``: the per-segment profile table and the words that describe a segment;
- ``evaluation``: fit (a protocol in, a typed report out), assign, profile;
- ``report``: the typed report and the saved model's metadata (field names are the JSON keys);
- ``cli``: the commands and their terminal output.
- ``service``, ``dashboard``: its service adapter (profiles) and dashboard section;
- ``defaults``: its name, files and option defaults (light: the CLI reads them).
"""

from adpipe import config
from adpipe.segments import defaults
from adpipe.segments.cli import app
from adpipe.segments.defaults import Source
from adpipe.task import TaskSpec

_PROFILES = ("--source", "profiles", "--input", str(config.PROFILES_FILE))
_PROFILES += ("--model", str(defaults.model_path(Source.profiles)))
SPEC = TaskSpec(
    name=defaults.TASK,
    title="Segments",
    cli=app,
    command="segment",
    model_file=defaults.model_path(Source.profiles),  # the served one; ClickStream users' model sits beside it
    report_file=defaults.report_path(Source.profiles),
    train=("segment", "fit"),
    report="adpipe.segments.report:SegmentsReport",
    headline="adpipe.segments.report:headline",
    service="adpipe.segments.service:Segment",
    dashboard="adpipe.segments.dashboard:section",
    quick=(("segment", "fit", "--source", "profiles", "--bootstraps", "5", "--shuffles", "2"),),
    make=tuple(
        ("segment", step, "--source", source.value)
        for source in (Source.profiles, Source.clickstream)
        for step in ("fit", "profile")
    ),
    make_minutes=1,
    small=(
        ("segment", "fit", *_PROFILES, "--k-range", "2-3", "--bootstraps", "2", "--shuffles", "2")
        + ("--report", str(defaults.report_path(Source.profiles))),
        ("segment", "profile", *_PROFILES, "--output", str(defaults.profile_path(Source.profiles))),
    ),
    outputs=(defaults.report_path(Source.profiles), defaults.report_path(Source.clickstream)),
    load_target=(25.0, 400.0),
)
