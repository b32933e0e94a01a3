"""Where the next dollar should go (``roas plan``): the budget split across segments that maximises the expected
value on the pooled curves, within the user's limits.

Each curve is concave (exponent in [0, 1]), so the problem is convex and separable: its optimum is found
exactly on its one-variable dual (:func:`solve`). Limits become per-segment bounds first, so a conflict
is named before any solving.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from adpipe.errors import OptionError
from adpipe.roas.plan.curves import SegmentResponse

ALL_SEGMENTS = "*"
DEFAULT_EXTRAPOLATION = 2.0
N_DRAWS = 400


@dataclass(frozen=True)
class Limits:
    """The user's limits. Per-segment maps take a segment name or ``*`` (every segment); shares are of the
    budget; ``max_change`` bounds planned spend / today's split of the budget both ways; ``fixed`` segments
    keep today's spend. A default ``max_change`` (``max_change_given`` False) yields to the user's own limits
    where they conflict with it: it keeps an unconstrained plan near the data, it never refuses a limit."""

    min_spend: dict[str, float] = field(default_factory=dict)
    max_spend: dict[str, float] = field(default_factory=dict)
    min_share: dict[str, float] = field(default_factory=dict)
    max_share: dict[str, float] = field(default_factory=dict)
    max_change: float | None = None
    fixed: tuple[str, ...] = ()
    max_change_given: bool = True

    def described(self) -> dict[str, str]:
        shown = {
            "min_spend": self.min_spend,
            "max_spend": self.max_spend,
            "min_share": self.min_share,
            "max_share": self.max_share,
        }
        out = {k: ", ".join(f"{s}={v:g}" for s, v in m.items()) for k, m in shown.items() if m}
        if self.max_change is not None:
            out["max_change"] = f"{self.max_change:g}x"
        if self.fixed:
            out["fixed"] = ", ".join(self.fixed)
        return out


def parse_limits(texts: Sequence[str], option: str) -> tuple[dict[str, float], dict[str, float]]:
    """``SEGMENT=AMOUNT`` or ``SEGMENT=PERCENT%`` (``*`` for every segment): amounts, and shares of the budget."""
    amounts: dict[str, float] = {}
    shares: dict[str, float] = {}
    for text in texts:
        name, sep, number = text.rpartition("=")
        share = number.strip().endswith("%")
        try:
            figure = float(number.strip().rstrip("%"))
        except ValueError:
            figure = float("nan")
        if not sep or not name or not np.isfinite(figure) or figure < 0 or (share and figure > 100):
            raise OptionError(
                f"expected SEGMENT=AMOUNT or SEGMENT=PERCENT% with a figure >= 0, got {text!r}", option=option
            )
        (shares if share else amounts)[name] = figure / 100 if share else figure
    return amounts, shares


def _check_names(names: Sequence[str], limits: Limits) -> None:
    known = set(names) | {ALL_SEGMENTS}
    options = {
        "--min": [*limits.min_spend, *limits.min_share],
        "--max": [*limits.max_spend, *limits.max_share],
        "--fix": list(limits.fixed),
    }
    for option, named in options.items():
        unknown = [n for n in named if n not in known]
        if unknown:
            raise OptionError(f"unknown segment '{unknown[0]}' (segments: {', '.join(names[:6])}, ...)", option=option)


def _pick(mapping: dict[str, float], name: str) -> float | None:
    return mapping.get(name, mapping.get(ALL_SEGMENTS))


def spend_bounds(
    names: Sequence[str], today: np.ndarray, budget: float, limits: Limits, equality: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's lowest and highest planned spend under ``limits``; a conflict is an error naming its limits."""
    _check_names(names, limits)
    fixed_spend = sum(today[list(names).index(n)] for n in limits.fixed)
    if fixed_spend > budget:
        raise OptionError(
            f"{budget:g} is less than the fixed segments' spend today ({fixed_spend:g})", option="--budget"
        )
    scaled = today / today.sum() * budget  # today's split of this budget: what --max-change is relative to
    low, high = np.zeros(len(names)), np.full(len(names), budget)
    low_by, high_by = ["0"] * len(names), [f"--budget {budget:g}"] * len(names)
    for k, name in enumerate(names):
        lows = {
            "--min": _pick(limits.min_spend, name),
            "--min (share)": None if (s := _pick(limits.min_share, name)) is None else s * budget,
        }
        highs = {
            "--max": _pick(limits.max_spend, name),
            "--max (share)": None if (s := _pick(limits.max_share, name)) is None else s * budget,
        }
        if limits.max_change is not None:
            change_low, change_high = scaled[k] / limits.max_change, scaled[k] * limits.max_change
            if not limits.max_change_given:  # the default yields to the user's own limits
                own_low = max((v for v in lows.values() if v is not None), default=0.0)
                own_high = min((v for v in highs.values() if v is not None), default=budget)
                change_low, change_high = min(change_low, own_high), max(change_high, own_low)
            lows["--max-change"], highs["--max-change"] = change_low, change_high
        if name in limits.fixed:
            lows, highs = {"--fix": today[k]}, {"--fix": today[k]}
        for option, figure in lows.items():
            if figure is not None and figure > low[k]:
                low[k], low_by[k] = figure, f"{option} {figure:g}"
        for option, figure in highs.items():
            if figure is not None and figure < high[k]:
                high[k], high_by[k] = figure, f"{option} {figure:g}"
        if low[k] > high[k] * (1 + 1e-9):
            raise OptionError(
                f"segment {name}: its lowest spend ({low_by[k]}) is above its highest ({high_by[k]})",
                option=low_by[k].split()[0],
            )
    if low.sum() > budget * (1 + 1e-9):
        raise OptionError(
            f"{budget:g} is less than the segments' minimum spends ({low.sum():g}, set by --min, --fix, --max-change)",
            option="--budget",
        )
    if equality and high.sum() < budget * (1 - 1e-9):
        raise OptionError(
            f"{budget:g} is more than the segments' maximum spends allow ({high.sum():g}, set by --max, --fix, "
            "--max-change): raise them or lower the budget",
            option="--budget",
        )
    return low, np.minimum(high, budget)


def _best_responses(response: SegmentResponse, low: np.ndarray, high: np.ndarray, price: float) -> np.ndarray:
    """Each segment's spend in [low, high] where its marginal ROAS falls to ``price`` (bisection, all at once:
    the marginal ROAS of a concave curve decreases with spend)."""
    below, above = low.copy(), high.copy()
    for _ in range(60):
        middle = (below + above) / 2
        rising = response.marginal(middle) > price
        below, above = np.where(rising, middle, below), np.where(rising, above, middle)
    return np.where(response.marginal(low) <= price, low, np.where(response.marginal(high) >= price, high, below))


def solve(
    response: SegmentResponse, low: np.ndarray, high: np.ndarray, budget: float, floor: float | None = None
) -> np.ndarray:
    """The spend per segment that maximises the expected value with the whole budget spent, or, with a ROAS
    ``floor``, the value less ``floor`` per dollar with at most the budget spent.

    The problem is separable and concave with one budget line, so its dual has one variable, the price of a
    dollar: scipy's ``brentq`` finds the price at which the segments' best responses spend the budget. Where
    segments tie at that price (straight curves), the two sides of the price are mixed to spend it exactly.
    """
    if floor is not None:
        at_floor = _best_responses(response, low, high, floor)
        if at_floor.sum() <= budget:
            return at_floor
    cheapest = float(response.marginal(high).min()) * 0.999 - 1e-9
    dearest = float(response.marginal(low).max()) * 1.001 + 1e-9
    if _best_responses(response, low, high, dearest).sum() >= budget:
        return low
    if _best_responses(response, low, high, cheapest).sum() <= budget:
        return high
    price = brentq(
        lambda p: _best_responses(response, low, high, p).sum() - budget, cheapest, dearest, xtol=1e-12, rtol=1e-12
    )
    more = _best_responses(response, low, high, price * (1 - 1e-9))
    less = _best_responses(response, low, high, price * (1 + 1e-9))
    gap = more.sum() - less.sum()
    mix = (budget - less.sum()) / gap if gap > 0 else 0.0
    return np.clip(less + mix * (more - less), low, high)


def extrapolation_factor(planned: np.ndarray, n_ads: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """How far each segment's planned spend per ad lies outside the observed range of its ads' spend (1: inside)."""
    per_ad = planned / np.maximum(n_ads, 1)
    above = per_ad / np.maximum(high, 1e-12)
    below = np.where(per_ad > 0, low / np.maximum(per_ad, 1e-12), 1.0)
    return np.maximum(1.0, np.maximum(above, below))


def within_data(
    low: np.ndarray, high: np.ndarray, n_ads: np.ndarray, observed: tuple[np.ndarray, np.ndarray], factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """``[low, high]`` narrowed so that no segment's spend per ad leaves its observed range (``observed``: its
    ads' lowest and highest spend) by more than ``factor``. A default limit: where the user's own bounds lie
    outside it, theirs are kept; and the lows are the user's when the narrowed ones would not fit the budget."""
    lowest, highest = observed
    near_low, near_high = n_ads * lowest / factor, n_ads * highest * factor
    narrowed_low = np.where(near_low <= high, np.maximum(low, near_low), low)
    narrowed_high = np.where(near_high >= narrowed_low, np.minimum(high, near_high), high)
    return narrowed_low, narrowed_high


def held(low: np.ndarray, high: np.ndarray, keep: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The segments ``keep`` held at ``at`` (their share of today's split), within their own bounds."""
    kept = np.clip(at, low, high)
    return np.where(keep, kept, low), np.where(keep, kept, high)


@dataclass(frozen=True)
class Allocation:
    """A solved plan: planned spend, expected value per segment with 80% intervals, and the gain over today's
    split of the same budget with its 80% interval."""

    planned: np.ndarray
    baseline: np.ndarray
    value: np.ndarray
    value_interval: np.ndarray  # (segments, 2)
    marginal: np.ndarray
    gain: float
    gain_interval: tuple[float, float]
    seconds: float


def allocate(
    response: SegmentResponse,
    budget: float,
    low: np.ndarray,
    high: np.ndarray,
    floor: float | None = None,
    reallocate: bool = True,
    seed: int = 0,
) -> Allocation:
    """Solve (or, with ``reallocate`` False, keep today's split) and measure the plan on the curves' draws."""
    started = time.perf_counter()
    baseline = response.today / response.today.sum() * budget
    planned = solve(response, low, high, budget, floor) if reallocate else baseline
    seconds = time.perf_counter() - started
    draws = response.draws(N_DRAWS, seed)
    drawn_planned = np.array([response.value(planned, d) for d in draws])
    drawn_gain = drawn_planned.sum(axis=1) - np.array([response.value(baseline, d).sum() for d in draws])
    value = response.value(planned)
    return Allocation(
        planned=planned,
        baseline=baseline,
        value=value,
        value_interval=np.quantile(drawn_planned, [0.1, 0.9], axis=0).T,
        marginal=response.marginal(planned),
        gain=float(value.sum() - response.value(baseline).sum()),
        gain_interval=(float(np.quantile(drawn_gain, 0.1)), float(np.quantile(drawn_gain, 0.9))),
        seconds=seconds,
    )
