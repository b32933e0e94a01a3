"""Hyperparameter files: the checks every task's params file goes through before a model is built.

A params file is a small JSON object (tracked in ``params/``, overwritten by a task's ``tune``):
``task``, ``lightgbm`` (LightGBM's scikit-learn parameters), a few task-specific choices and ``source``
(how it was made). A file that names an unknown key, parameter or choice is refused with one line,
so a typo never silently falls back to a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightgbm import LGBMClassifier

from adpipe.errors import DataError

# Fixed for reproducibility, never searched: deterministic, single-threaded LightGBM.
LIGHTGBM_FIXED = {"verbose": -1, "deterministic": True, "force_row_wise": True, "n_jobs": 1}


def lightgbm_keys(*, managed: set[str] = frozenset(), extra: set[str] = frozenset()) -> set[str]:
    """The LightGBM parameters a params file may set: the scikit-learn API's, minus the fixed ones and
    those a task sets through its own keys (``managed``), plus core parameters it allows (``extra``)."""
    return (set(LGBMClassifier().get_params()) - set(LIGHTGBM_FIXED) - {"random_state"} - set(managed)) | set(extra)


def check_params_file(
    params: Any,
    source: str | Path,
    *,
    task: str,
    defaults: Mapping[str, Any],
    allowed_lightgbm: set[str],
    choices: Mapping[str, tuple[str, ...]],
    lightgbm_hints: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``params`` checked against the task's keys, LightGBM parameters and choices, with defaults filled in."""
    if not isinstance(params, dict):
        raise DataError("must hold a JSON object", path=source)
    unknown = set(params) - set(defaults)
    if unknown:
        raise DataError(f"unknown key(s) {sorted(unknown)}; known: {sorted(defaults)}", path=source)
    if params.get("task", task) != task:
        raise DataError(f"is for task {params['task']!r}, not {task!r}", path=source)
    lightgbm = params.get("lightgbm", defaults["lightgbm"])
    if not isinstance(lightgbm, dict):
        raise DataError("'lightgbm' must be an object of LightGBM parameters", path=source)
    bad = set(lightgbm) - allowed_lightgbm
    if bad:
        hints = "".join(f" ({hint})" for key, hint in (lightgbm_hints or {}).items() if key in bad)
        raise DataError(f"unknown LightGBM parameter(s) {sorted(bad)}{hints}", path=source)
    for key, allowed in choices.items():
        if params.get(key, defaults[key]) not in allowed:
            raise DataError(f"'{key}' must be one of {list(allowed)}, got {params[key]!r}", path=source)
    return {**defaults, **params, "lightgbm": lightgbm}
