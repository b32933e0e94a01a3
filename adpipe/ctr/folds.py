"""How the CTR folds are drawn: forward in time (the primary protocol) or random, grouped and stratified.

Forward: impressions ordered by ``Timestamp``, expanding windows (``TimeSeriesSplit``, ``gap`` rows skipped
before each test block); every training row is strictly earlier than every row it is scored on. This is how
a click model is used: on tomorrow's impressions. Random: stratified K-fold over groups of identical rows
(or whole cities, countries or ad topics with ``group_by``), redrawn ``repeats`` times; it rewards whatever
identifies rows inside one file, so the report shows it beside the forward figure, never alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adpipe.errors import DataError, OptionError
from adpipe.validation import Protocol, Split, forward_splits, make_splits
from features.ctr import TARGET, TIMESTAMP, duplicate_groups

PROTOCOLS = ("forward", "random")
# --group-by NAME: hold out whole values of this input column (random protocol).
GROUP_BY = {"city": "City", "country": "Country", "ad_topic": "Ad Topic Line"}


@dataclass(frozen=True)
class CtrProtocol(Protocol):
    """A :class:`~adpipe.validation.Protocol` that also names its folds: ``forward`` (``gap`` rows between the
    training window and the test block; never redrawn) or ``random`` (``repeats`` redraws)."""

    name: str = "forward"
    gap: int = 0

    def __post_init__(self) -> None:
        if self.name not in PROTOCOLS:
            raise OptionError(f"must be one of {', '.join(PROTOCOLS)}, got {self.name!r}", option="--protocol")
        if self.name == "forward" and self.repeats != 1:
            raise OptionError("forward folds are never redrawn: it applies to --protocol random", option="--repeats")
        if self.gap < 0:
            raise OptionError(f"must be 0 or more rows, got {self.gap}", option="--gap")

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "name": self.name, "gap": self.gap}

    def describe(self, group_by: str | None = None) -> str:
        """The folds in words, for the terminal and the report."""
        if self.name == "forward":
            return (
                f"{self.folds} expanding windows in Timestamp order (TimeSeriesSplit, gap {self.gap} rows), each "
                "scored on the next block; every training row strictly earlier"
            )
        grouped = f"whole {GROUP_BY[group_by]} values" if group_by else "identical rows"
        return f"{self.folds} folds x {self.repeats} repeats, seed {self.seed}, stratified, {grouped} grouped"


def fold_groups(table: pd.DataFrame, group_by: str | None) -> np.ndarray:
    """Group ids of the random folds: identical rows, or the values of the ``group_by`` column."""
    if group_by is None:
        return duplicate_groups(table)
    if group_by not in GROUP_BY:
        raise OptionError(f"must be one of {', '.join(GROUP_BY)}, got {group_by!r}", option="--group-by")
    return table[GROUP_BY[group_by]].fillna("<missing>").to_numpy()


def make_folds(
    table: pd.DataFrame, protocol: CtrProtocol, group_by: str | None = None, path: str | Path | None = None
) -> list[Split]:
    """The splits of ``protocol`` over a loaded labelled table (``path`` names it in errors)."""
    if protocol.name == "random":
        return make_splits(table[TARGET], protocol, fold_groups(table, group_by))
    missing = int(table[TIMESTAMP].isna().sum())
    if missing:
        raise DataError(
            f"{missing} impression(s) have no Timestamp: forward-in-time folds need one on every row "
            "(or use --protocol random)",
            path=path,
            column=TIMESTAMP,
        )
    return forward_splits(table[TIMESTAMP].to_numpy(), protocol.folds, protocol.gap)


def n_groups(table: pd.DataFrame, protocol: CtrProtocol, group_by: str | None = None) -> int:
    """Units that never straddle a split: distinct timestamps (forward) or fold groups (random)."""
    if protocol.name == "forward":
        return int(table[TIMESTAMP].nunique())
    return int(pd.Series(fold_groups(table, group_by)).nunique())
