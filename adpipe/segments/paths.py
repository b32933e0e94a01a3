"""Segments' name and files, by source, without importing its machinery (the CLI's help and the task list read
them)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from adpipe import config

TASK = "segments"


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
