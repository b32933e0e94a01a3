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
