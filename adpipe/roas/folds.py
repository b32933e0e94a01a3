"""How many folds an export can give, and which protocol is its natural one (docs/roas.md, "Few groups").

A grouped split keeps each group's rows on one side, so it cannot have more folds than the export has groups: a
small export (three campaigns) gets as many folds as it has groups, and says so; one group cannot be validated
on held-out groups at all. An export with a date asks "what happens next period?" more than "on other
campaigns?": the forward protocol (windows in date order) is then the natural one, and the output says so.
Every grouped split of ``roas`` (validate, funnel, plan's ranking back-test, plan-validate) takes its folds here.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from adpipe.errors import OptionError
from adpipe.validation import Protocol

FORWARD_NOTE = (
    "this export has a date: the natural protocol is forward in time (fit on the past, score the next period); "
    "`roas plan-validate` runs it as its forward windows"
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
