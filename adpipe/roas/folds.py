"""How many folds an export can give, and which protocol is its natural one (docs/roas.md, "Few groups, and
exports with a date").

A grouped split keeps each group's rows on one side, so it cannot have more folds than the export has groups: a
small export (three campaigns) gets as many folds as it has groups, and says so; one group cannot be validated
on held-out groups at all. An export with a date asks "what happens next period?" more than "on other
campaigns?": the forward protocol (windows in date order) is then the natural one, and the output says so.
Every grouped split of ``roas`` (validate, funnel, plan's ranking back-test, plan-validate) takes its folds here,
and the forward windows of ``validate`` and ``plan-validate`` (:func:`period_splits`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from adpipe.errors import OptionError
from adpipe.validation import Protocol, Split, forward_splits

FORWARD_NOTE = (
    "this export has a date: the natural protocol is forward in time (fit on the past, score the next period), "
    "run on --windows expanding windows by `roas validate` and `roas plan-validate` (their 'forward in time' part)"
)


def fitted_folds(protocol: Protocol, groups: pd.Series) -> tuple[Protocol, list[str]]:
    """``protocol`` with at most as many folds as ``groups`` has distinct values (at least 2), and the note that
    says so when it changed. More folds than rows stays the usage error it is."""
    n_groups = int(groups.nunique())
    if n_groups < 2:
        raise OptionError(
            f"the export has {n_groups} group(s) in '{groups.name}': validation on held-out groups needs at least "
            "2 (map another group column)",
            option="--folds",
        )
    if n_groups < protocol.folds <= len(groups):
        note = f"only {n_groups} groups in '{groups.name}': {n_groups} folds instead of {protocol.folds}"
        return replace(protocol, folds=n_groups), [note]
    return protocol, []


def fitted_protocol(protocol: Protocol, groups: pd.Series, has_date: bool) -> tuple[Protocol, list[str]]:
    """:func:`fitted_folds`, and with a date the note that the forward protocol is the natural one."""
    protocol, notes = fitted_folds(protocol, groups)
    return protocol, [*notes, FORWARD_NOTE] if has_date else notes


def period_splits(dates: pd.Series | np.ndarray, windows: int) -> list[Split]:
    """Expanding windows forward in time over whole periods: :func:`~adpipe.validation.forward_splits` on the
    distinct dates, each window's dates mapped back to their rows, so a date is never split between training and
    test and every training row is dated strictly before every row it is scored on."""
    days, position = np.unique(np.asarray(dates), return_inverse=True)
    if len(days) <= windows:
        raise OptionError(
            f"{len(days)} distinct dates cannot give {windows} forward windows (at least {windows + 1} needed)",
            option="--windows",
        )
    rows = [(np.isin(position, s.train), np.isin(position, s.test)) for s in forward_splits(days, windows)]
    return [Split(0, fold, np.flatnonzero(train), np.flatnonzero(test)) for fold, (train, test) in enumerate(rows)]
