"""``ctr validate``'s options as one typed value: the command builds it from its options and
:func:`adpipe.ctr.evaluation.validate` takes it whole. Light: no pandas or LightGBM."""

from __future__ import annotations

from dataclasses import dataclass

from adpipe import config


@dataclass(frozen=True)
class ValidationOptions:
    """The protocols (``primary`` fills the report's original keys; ``repeats`` redraws the random folds, ``gap``
    spaces the forward ones, ``group_by`` holds out whole values in the random ones), the overrides of the params
    file (None: the file's), and whether the feature audit runs."""

    primary: str = "forward"
    folds: int = 5
    repeats: int = 3
    gap: int = 0
    seed: int = config.DEFAULT_SEED
    group_by: str | None = None
    threshold: float | None = None
    imbalance: str | None = None
    features: list[str] | None = None
    calibration: str | None = None
    audit: bool = True
