"""A budget plan beside the KPIs: each planned segment's response curve and plan row, keyed by its values of the
facts' dimensions, so the page shows the segments the slicers keep (a segment is kept when one of its rows is).

A kit type: the app that hosts a page reads the plan from its task's reports and passes it in; the kit only
checks that the plan's segments are the facts' and ships them in the payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PlanSegment:
    """One segment's plan row and its response curve (expected value at each total spend of ``curve_spend``)."""

    name: str
    values: tuple[str, ...]  # its value of each of the plan's ``by`` dimensions, as the facts write them
    today: float
    value_today: float  # the expected value at today's spend
    planned: float
    expected_value: float
    interval: tuple[float, float]  # the expected value's 80% interval
    marginal_roas: float  # the value of the next dollar at the planned spend
    curve_spend: tuple[float, ...]
    curve_value: tuple[float, ...]


@dataclass(frozen=True)
class Plan:
    """A plan over segments of the dimensions ``by``, and the line saying where it comes from."""

    by: tuple[str, ...]
    segments: tuple[PlanSegment, ...]
    basis: str


def mismatch(plan: Plan, dimensions: Mapping[str, Sequence[str]]) -> str | None:
    """Why ``plan`` does not apply to facts with these dimensions (name -> values), or None when it does."""
    absent = [name for name in plan.by if name not in dimensions]
    if absent:
        return f"the plan's segments are by {', '.join(absent)}, which these data do not have"
    unknown = [
        s.name for s in plan.segments if any(v not in dimensions[b] for b, v in zip(plan.by, s.values, strict=True))
    ]
    if unknown:
        return f"{len(unknown)} of the plan's segments are not in these data ({unknown[0]}, ...)"
    return None


def plan_payload(plan: Plan, dimensions: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """The plan as the page's script reads it: each segment's dimension codes beside its numbers."""
    names = list(dimensions)
    return {
        "by": list(plan.by),
        "dims": [names.index(b) for b in plan.by],
        "basis": plan.basis,
        "segments": [
            {
                "name": s.name,
                "codes": [list(dimensions[b]).index(v) for b, v in zip(plan.by, s.values, strict=True)],
                "today": s.today,
                "valueToday": s.value_today,
                "planned": s.planned,
                "value": s.expected_value,
                "low": s.interval[0],
                "high": s.interval[1],
                "marginal": s.marginal_roas,
                "spend": list(s.curve_spend),
                "curve": list(s.curve_value),
            }
            for s in plan.segments
        ],
    }
