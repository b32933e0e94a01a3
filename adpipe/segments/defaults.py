"""The segmentation task's sources, output paths and check sizes, apart from the modules that use them: the
commands' options (and ``--help``) are built from these without loading pandas or scikit-learn."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from adpipe import config

TASK = "segments"
DEFAULT_BOOTSTRAPS = 20
DEFAULT_SHUFFLES = 5


class Source(StrEnum):
    """Which users a segmentation is for."""

    profiles = "profiles"
    clickstream = "clickstream"


def model_path(source: Source) -> Path:
    return config.MODELS_DIR / f"segments_{source.value}.joblib"


def report_path(source: Source) -> Path:
    return config.REPORTS_DIR / f"segments_{source.value}.json"


def profile_path(source: Source) -> Path:
    return config.REPORTS_DIR / f"segments_{source.value}_profile.csv"
