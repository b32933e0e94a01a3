"""The options of ``roas curves``, ``roas plan`` and ``roas plan-validate`` as typed values: what the three read
(:class:`PlanData`) and what a plan is asked for (:class:`PlanChoices`). The commands build them from their
options, the service from a request, and every function below takes them whole. Light: ``--by`` is declared
here for the commands' help, before any data is read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe.roas import defaults

if TYPE_CHECKING:
    from adpipe.roas.plan.solver import Limits
    from features.campaign_mapping import CampaignMapping
    from features.tables.bad_rows import RowPolicy

By = typer.Option(
    None,
    "--by",
    help=f"Segment columns, comma-separated (one or a combination) [default: {defaults.PLAN_BY}; with a mapping, "
    "its segments but its group].",
)


def segment_level(text: str | None, mapping: CampaignMapping) -> list[str]:
    """``--by`` as columns; without it, the default level, or a mapping's segments other than its group."""
    if text is None:
        # A mapping's segments other than its group: held-out campaigns are then segments seen in training.
        text = defaults.PLAN_BY if mapping.built_in else ",".join(s for s in mapping.segment if s != mapping.group)
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class PlanData:
    """What the three commands read: the export, the segment level, the values of a conversion, the mapping of
    its columns (None: the reference file's own layout) and the policy for its impossible rows."""

    data: str | Path
    by: Sequence[str]
    value_enquiry: float
    value_sale: float
    mapping: CampaignMapping | None = None
    policy: RowPolicy | None = None  # how impossible rows are handled (None: refused)

    @property
    def values(self) -> tuple[float, float]:
        """(enquiry, sale): the conversion values the curves are of."""
        return self.value_enquiry, self.value_sale


@dataclass(frozen=True)
class PlanChoices:
    """What ``roas plan`` (and the service's plan) is asked for: the budget (None: today's total), the limits,
    the objective and its ROAS floor, and the two overrides."""

    budget: float | None
    limits: Limits
    objective: defaults.Objective = "value"
    target_roas: float | None = None
    allow_extrapolation: bool = False
    force: bool = False

    @classmethod
    def from_options(
        cls,
        budget: float | None,
        objective: defaults.Objective,
        target_roas: float | None,
        minimum: Sequence[str],
        maximum: Sequence[str],
        max_change: float | None,
        fix: Sequence[str],
        allow_extrapolation: bool,
        force: bool,
    ) -> PlanChoices:
        """``roas plan``'s options, limits parsed (``SEGMENT=AMOUNT`` or ``SEGMENT=PERCENT%``); a ``max_change``
        of None is the back-tested default, which yields to the other limits where they conflict with it."""
        from adpipe.roas.plan.solver import Limits, parse_limits

        min_spend, min_share = parse_limits(minimum, "--min")
        max_spend, max_share = parse_limits(maximum, "--max")
        given = max_change is not None
        change = max_change if max_change is not None else defaults.DEFAULT_MAX_CHANGE
        limits = Limits(min_spend, max_spend, min_share, max_share, change, tuple(fix), max_change_given=given)
        return cls(budget, limits, objective, target_roas, allow_extrapolation, force)
