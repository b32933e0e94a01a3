"""Typed reports: what each task's evaluation returns, and what the terminal, the dashboard and the
service read.

A report is a tree of frozen pydantic models (:class:`Report`). It is written with orjson under the field
names, so the JSON keys are the field names, and read back into the same types by :func:`read_report`,
which validates it with pydantic: a key the model does not declare, or one it lacks, is an error.
Where a missing or older report is no error (the figure the service shows, a model's card), :func:`read_typed`
reads it as None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from adpipe.errors import DataError
from adpipe.io import read_json, write_json
from adpipe.validation import mean_std

ReportType = TypeVar("ReportType", bound="Report")


def _python_value(value: Any) -> Any:
    """``value`` with numpy scalars and arrays (inside lists and dicts too) as the python values they hold."""
    if isinstance(value, dict):
        return {_python_value(key): _python_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_python_value(item) for item in value]
    to_python = getattr(value, "tolist", None)  # numpy's, without importing numpy here
    return to_python() if callable(to_python) else value


class Report(BaseModel):
    """A report or a part of one: frozen, and refusing any key it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _numpy_as_python(cls, value: Any) -> Any:
        """Figures computed with numpy are stored as python values, so an int stays an int (orjson wrote
        numpy values as the python ones they hold)."""
        return _python_value(value)


class MeanStd(Report):
    """A figure over folds: its mean and (population) standard deviation."""

    mean: float
    std: float

    @classmethod
    def over(cls, values: Sequence[float]) -> MeanStd:
        """The figure over ``values``, computed as everywhere else (:func:`adpipe.validation.mean_std`)."""
        return cls(**mean_std(values))


HEADLINE_DIGITS = 3  # every place prints a headline with these decimals, so the same figure reads the same


class Headline(Report):
    """The one figure a task quotes for its claim: measured on data no choice saw (nested or unseen folds where the
    task has them), beside its baseline on the same folds, and how it was measured.

    Each task names the function that makes it (``TaskSpec.headline``); the report's overview card and section, the
    Models table, the service's index and task page, and every served answer read it from there, never from a
    report field of their own. Other figures stay on the page, labelled as what they are.
    """

    metric: str
    model: MeanStd
    baseline: MeanStd
    baseline_name: str
    higher_is_better: bool
    protocol: str  # how it was measured, for the "how this was measured" detail
    note: str | None = None

    @property
    def figure(self) -> str:
        """The figure as every place prints it: ``0.831 ± 0.012``."""
        return f"{self.model.mean:.{HEADLINE_DIGITS}f} ± {self.model.std:.{HEADLINE_DIGITS}f}"

    @property
    def text(self) -> str:
        """``ROC-AUC 0.831 ± 0.012``."""
        return f"{self.metric} {self.figure}"

    @property
    def against(self) -> str:
        """The baseline in words, on the same folds: ``logistic regression 0.820 ± 0.010``."""
        base = self.baseline
        return f"{self.baseline_name} {base.mean:.{HEADLINE_DIGITS}f} ± {base.std:.{HEADLINE_DIGITS}f}"


def write_report(path: str | Path, report: Report) -> Path:
    """Write a report as indented JSON, atomically."""
    if not isinstance(report, Report):
        raise TypeError(f"a report is an adpipe.reports.Report, got {type(report).__name__}")
    return write_json(path, report.model_dump())


def read_report(path: str | Path, report_type: type[ReportType]) -> ReportType:
    """Read a JSON report written by :func:`write_report` back into ``report_type``, key by key."""
    path = Path(path)
    try:
        return report_type.model_validate(read_json(path), strict=True)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '$'}: {e['msg']}" for e in error.errors())
        message = f"is not a {report_type.__name__} report ({problems}); rerun the command that writes it"
        raise DataError(message, path=path) from error


def read_typed(path: Path, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)``, or None when the report is missing or not the expected shape (the page says so)."""
    if not path.exists():
        return None
    try:
        return reader(path)
    except (DataError, KeyError, TypeError, ValueError):
        return None
