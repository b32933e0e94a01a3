"""The toy task's typed report: its model's error beside its baseline's."""

from __future__ import annotations

from adpipe.reports import Report


class ToyReport(Report):
    model_mae: float
    baseline_mae: float
