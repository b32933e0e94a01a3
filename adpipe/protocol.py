"""How the folds of a validation are drawn: apart from adpipe.validation so that the commands' defaults
(and ``--help``) do not load scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Protocol:
    """How the folds are drawn; written beside every reported figure."""

    folds: int = 5
    repeats: int = 5
    seed: int = 42
    stratify: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"folds": self.folds, "repeats": self.repeats, "seed": self.seed}
