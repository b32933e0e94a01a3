"""Hyperparameter files: the checks every task's params file goes through before a model is built.

A params file is a small JSON object (tracked in ``params/``, overwritten by a task's ``tune``):
``task``, ``lightgbm`` (LightGBM's scikit-learn parameters), a few task-specific choices and ``source``
(how it was made). Its shape is a pydantic model (:class:`ParamsFile`, one subclass per task), and the
parameters inside ``lightgbm`` meet :data:`LIGHTGBM_RULES`. A file that names an unknown key, parameter
or choice, or gives a LightGBM parameter a value of the wrong type or out of its range, is refused with
one line naming the file and the key, so a typo never reaches LightGBM and never silently falls back to
a default. Neither does a mistyped ``--params`` path: only the task's default file may be missing (then
the built-in defaults apply).
"""

from __future__ import annotations

import math
import sys
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
from lightgbm import LGBMClassifier
from lightgbm.basic import LightGBMError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adpipe.errors import DataError, OptionError, first_line
from adpipe.io import read_json

# Fixed for reproducibility, never searched: deterministic, single-threaded LightGBM.
LIGHTGBM_FIXED = {"verbose": -1, "deterministic": True, "force_row_wise": True, "n_jobs": 1}


@dataclass(frozen=True)
class Rule:
    """What a LightGBM parameter may be: a kind, and a range (``low_open``: the low end itself is excluded)."""

    kind: Literal["int", "float", "bool", "str"]
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()

    def allows(self, value: Any) -> bool:
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "str":
            return isinstance(value, str) and (not self.choices or value in self.choices)
        number = type(value) is int or (self.kind == "float" and type(value) is float and math.isfinite(value))
        if not number:
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        return above and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return f"one of {', '.join(self.choices)}" if self.choices else "a string"
        what = "a whole number" if self.kind == "int" else "a number"
        if self.low is not None and self.high is not None and not self.low_open:
            return f"{what} from {self.low:g} to {self.high:g}"
        bounds = []
        if self.low is not None:
            bounds.append(f"above {self.low:g}" if self.low_open else f"of at least {self.low:g}")
        if self.high is not None:
            bounds.append(f"at most {self.high:g}")
        return " ".join([what, " and ".join(bounds)]).strip()


# LightGBM's own limits (its docs' "constraints"), checked before any work starts.
LIGHTGBM_RULES = {
    "n_estimators": Rule("int", 1),
    "learning_rate": Rule("float", 0, low_open=True),
    "num_leaves": Rule("int", 2, 131072),
    "max_depth": Rule("int"),  # <= 0: no limit
    "min_child_samples": Rule("int", 0),
    "min_child_weight": Rule("float", 0),
    "min_split_gain": Rule("float", 0),
    "subsample": Rule("float", 0, 1, low_open=True),
    "subsample_freq": Rule("int", 0),
    "subsample_for_bin": Rule("int", 1),
    "colsample_bytree": Rule("float", 0, 1, low_open=True),
    "reg_alpha": Rule("float", 0),
    "reg_lambda": Rule("float", 0),
    "path_smooth": Rule("float", 0),
    "extra_trees": Rule("bool"),
    "boosting_type": Rule("str", choices=("gbdt", "dart", "rf")),
    "importance_type": Rule("str", choices=("split", "gain")),
    "objective": Rule("str"),
}


class ParamsFile(BaseModel):
    """The keys every task's params file has; a task's subclass adds its choices (a ``Literal`` lists the allowed
    values). A field's description says what its value must be in the message about a wrong one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: str = Field(description="the name of a task")
    lightgbm: dict[str, Any] = Field(description="an object of LightGBM parameters")
    source: dict[str, Any] = Field(description="an object saying how the file was made")


def _json(value: Any) -> str:
    """A value as it is written in the JSON file (``true``, ``"many"``), for messages."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def lightgbm_keys(*, managed: set[str] = frozenset(), extra: set[str] = frozenset()) -> set[str]:
    """The LightGBM parameters a params file may set: the scikit-learn API's, minus the fixed ones and
    those a task sets through its own keys (``managed``), plus core parameters it allows (``extra``)."""
    return (set(LGBMClassifier().get_params()) - set(LIGHTGBM_FIXED) - {"random_state"} - set(managed)) | set(extra)


def read_params_file(path: str | Path, *, default: str | Path) -> Any | None:
    """The JSON of the params file at ``path``; None when ``path`` is the task's ``default`` file and it does
    not exist yet (the caller uses its built-in defaults, and a note on stderr says so).

    Any other path that does not exist is an error, so a mistyped ``--params`` never trains the defaults.
    """
    path = Path(path)
    if path.exists():
        return read_json(path)
    if path.resolve() != Path(default).resolve():
        raise DataError(
            f"no such params file: check the path, or leave --params out to use {default} "
            "(or the built-in defaults while that does not exist)",
            path=path,
        )
    print(f"note: {path} does not exist yet: using the built-in default params", file=sys.stderr)
    return None


def check_params_file(
    params: Any,
    source: str | Path,
    *,
    task: str,
    shape: type[ParamsFile],
    defaults: Mapping[str, Any],
    allowed_lightgbm: set[str],
    lightgbm_hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``params`` with the ``defaults`` filled in, checked against the task's ``shape`` (keys, types, choices) and
    LightGBM's parameters (names, types, ranges); in the defaults' key order."""
    if not isinstance(params, dict):
        raise DataError("must hold a JSON object", path=source)
    given = {**defaults, **params}
    try:
        checked = shape.model_validate(given).model_dump()
    except ValidationError as error:
        raise DataError(_shape_problem(error, shape, given), path=source) from error
    if checked["task"] != task:
        raise DataError(f"is for task {_json(checked['task'])}, not {task!r}", path=source)
    lightgbm = checked["lightgbm"]
    bad = set(lightgbm) - allowed_lightgbm
    if bad:
        hints = "".join(f" ({hint})" for key, hint in (lightgbm_hints or {}).items() if key in bad)
        raise DataError(f"unknown LightGBM parameter(s) {sorted(bad)}{hints}", path=source)
    for key, value in lightgbm.items():
        rule = LIGHTGBM_RULES.get(key)
        if rule is not None and not rule.allows(value):
            raise DataError(f"'lightgbm.{key}' must be {rule.describe()}, got {_json(value)}", path=source)
    return {key: checked[key] for key in defaults}


def _shape_problem(error: ValidationError, shape: type[ParamsFile], given: Mapping[str, Any]) -> str:
    """The unknown keys, or else the first key whose value does not fit ``shape``, in the words of the file."""
    problems = error.errors()
    unknown = sorted(str(problem["loc"][0]) for problem in problems if problem["type"] == "extra_forbidden")
    if unknown:
        return f"unknown key(s) {unknown}; known: {sorted(shape.model_fields)}"
    key = str(problems[0]["loc"][0])
    field = shape.model_fields[key]
    choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is Literal else ()
    expected = f"one of {list(choices)}" if choices else field.description
    return f"'{key}' must be {expected}, got {_json(given[key])}"


@contextmanager
def lightgbm_refusal(params_file: str | Path) -> Iterator[None]:
    """LightGBM's refusal of parameters each of which passed the checks (a combination, such as
    ``boosting_type: rf`` without bagging, or an unknown ``objective``) as bad input in ``params_file``.

    Wraps the fits of a command whose LightGBM parameters come from a params file; the data it fits
    have been checked by then, so what LightGBM refuses is the parameters.
    """
    try:
        yield
    except LightGBMError as error:
        raise DataError(f"LightGBM refused these parameters: {first_line(error)}", path=params_file) from error


def apply_options(
    params: dict[str, Any], choices: Mapping[str, tuple[str, ...]], **options: str | None
) -> dict[str, Any]:
    """Checked ``params`` with the command-line ``options`` that were given (not None) in place of their keys;
    a bad option value is blamed on its option (``--imbalance``), not on the params file."""
    given = {key: value for key, value in options.items() if value is not None}
    for key, value in given.items():
        if value not in choices[key]:
            option = "--" + key.replace("_", "-")
            raise OptionError(f"must be one of {', '.join(choices[key])}, got {value!r}", option=option)
    return {**params, **given}
