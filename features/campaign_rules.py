"""Which campaign rows are impossible and which are only odd: the rules across a row's columns, the same for the
reference file and any mapped export (docs/roas.md, "Bad rows").

Impossible (a rule: the policy refuses the file or sets the row aside): a negative spend, count or revenue, more
clicks than impressions (a click with zero impressions included). No ad server can deliver them, and a model fed
one learns from a number that did not happen. A negative revenue is a refund: ROAS per row and the curves need a
row's value to be what the spend bought, which a refund booked on a later day is not; it belongs netted into the
sale's row before export, so it is set aside and named rather than silently summed.

Quirks (a warning, counted in the report; the row is kept): conversions above clicks (view-through conversions
are credited without a click), value without conversions (attribution windows move the value to another day),
exact duplicate rows (a platform repeats a row when two breakdowns are the same). Each is something a real
platform reports, and each figure is still the platform's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.tables.rules import Broken


def _rows(table: pd.DataFrame, flags: pd.Series | np.ndarray) -> np.ndarray:
    return table.index.to_numpy()[np.asarray(flags, dtype=bool)].astype(np.int64)


def impossible_rows(
    table: pd.DataFrame,
    counts: dict[str, str],
    clicks: str | None,
    impressions: str | None,
    revenue: str | None = None,
) -> list[Broken]:
    """The rules ``table`` (indexed by the file's rows) breaks: ``counts`` maps each spend or count column to its
    role (negative: impossible); clicks above impressions; a negative ``revenue`` (a refund)."""
    broken = []
    for column, role in counts.items():
        if column in table:
            broken.append(Broken(column, f"is negative ({role})", _rows(table, table[column].to_numpy() < 0)))
    if clicks in table and impressions in table:
        more = table[clicks].to_numpy() > table[impressions].to_numpy()
        broken.append(Broken(clicks, f"is more clicks than the row's '{impressions}'", _rows(table, more)))
    if revenue is not None and revenue in table:
        refund = table[revenue].to_numpy() < 0
        broken.append(Broken(revenue, "is negative (a refund: net it into its sale's row)", _rows(table, refund)))
    return [rule for rule in broken if len(rule.rows)]


def quirks(table: pd.DataFrame, clicks: str | None, conversions: Sequence[str], revenue: str | None) -> dict[str, int]:
    """How many rows show each quirk (kept, warned of)."""
    found = {"exact duplicate rows": int(table.duplicated().sum())}
    present = [c for c in conversions if c in table]
    if clicks in table and present:
        above = np.zeros(len(table), dtype=bool)
        for column in present:
            above |= table[column].fillna(0).to_numpy() > table[clicks].to_numpy()
        found["conversions above clicks (view-through)"] = int(above.sum())
    if revenue is not None and revenue in table and present:
        none = (table[present].fillna(0) == 0).all(axis=1).to_numpy()
        found["value without conversions"] = int((none & (table[revenue].fillna(0).to_numpy() > 0)).sum())
    return found
