"""The toy task's typed report: its model's error beside its baseline's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adpipe.reports import Headline, MeanStd, Report, read_report
from tests.toy.defaults import VALIDATION_REPORT


class ToyReport(Report):
    model_mae: float
    baseline_mae: float


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    figures = read_report(reports / VALIDATION_REPORT.name, ToyReport)
    return Headline(
        metric="MAE",
        model=MeanStd(mean=figures.model_mae, std=0.0),
        baseline=MeanStd(mean=figures.baseline_mae, std=0.0),
        baseline_name="zero",
        higher_is_better=False,
        protocol="none: a toy",
    )
