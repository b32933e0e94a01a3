"""Typed reports: what each task's evaluation returns, and what the terminal, the dashboard and the
service read.

A report is a tree of frozen dataclasses. It is written with orjson (which serialises dataclasses and
numpy values natively) under the field names, so the JSON keys are the field names, and read back into
the same types by :func:`read_report`, which checks every key against the dataclass it fills.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from adpipe.errors import DataError
from adpipe.io import read_json, write_json
from adpipe.validation import mean_std

T = TypeVar("T")


@dataclass(frozen=True)
class MeanStd:
    """A figure over folds: its mean and (population) standard deviation."""

    mean: float
    std: float

    @classmethod
    def over(cls, values: Sequence[float]) -> MeanStd:
        """The figure over ``values``, computed as everywhere else (:func:`adpipe.validation.mean_std`)."""
        return cls(**mean_std(values))


def write_report(path: str | Path, report: Any) -> Path:
    """Write a report dataclass as indented JSON, atomically."""
    if not dataclasses.is_dataclass(report):
        raise TypeError(f"a report is a dataclass, got {type(report).__name__}")
    return write_json(path, report)


def read_report(path: str | Path, report_type: type[T]) -> T:
    """Read a JSON report written by :func:`write_report` back into ``report_type``."""
    path = Path(path)
    try:
        return from_dict(report_type, read_json(path))
    except (TypeError, ValueError, KeyError) as error:
        message = f"is not a {report_type.__name__} report ({error}); rerun the command that writes it"
        raise DataError(message, path=path) from error


def from_dict(report_type: Any, data: Any, where: str = "$") -> Any:
    """Build ``report_type`` (a dataclass, or a list/dict/union of them) from parsed JSON."""
    origin = typing.get_origin(report_type)
    if report_type is Any or report_type is object:
        return data
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(report_type)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return from_dict(option, data, where)
            except (TypeError, ValueError, KeyError) as error:
                errors.append(str(error))
        raise ValueError(f"{where}: matches none of {report_type} ({'; '.join(errors)})")
    if origin in (list, tuple):
        if not isinstance(data, list):
            raise ValueError(f"{where}: expected a list, got {type(data).__name__}")
        (item,) = typing.get_args(report_type)[:1] or (Any,)
        values = [from_dict(item, value, f"{where}[{i}]") for i, value in enumerate(data)]
        return values if origin is list else tuple(values)
    if origin is dict:
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        _, value_type = typing.get_args(report_type) or (str, Any)
        return {key: from_dict(value_type, value, f"{where}.{key}") for key, value in data.items()}
    if dataclasses.is_dataclass(report_type):
        return _dataclass_from_dict(report_type, data, where)
    if report_type is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if isinstance(report_type, type) and not isinstance(data, report_type):
        raise ValueError(f"{where}: expected {report_type.__name__}, got {data!r}")
    return data


def _dataclass_from_dict(report_type: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object for {report_type.__name__}, got {type(data).__name__}")
    hints = typing.get_type_hints(report_type)
    fields = {f.name: f for f in dataclasses.fields(report_type)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown} for {report_type.__name__}")
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = from_dict(hints[name], data[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: missing key '{name}' for {report_type.__name__}")
    return report_type(**values)
