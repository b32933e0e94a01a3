"""How many folds an export can give, and which protocol is its natural one (docs/roas.md, "Few groups").

A grouped split keeps each group's rows on one side, so it cannot have more folds than the export has groups: a
small export (three campaigns) gets as many folds as it has groups, and says so; one group cannot be validated
on held-out groups at all. An export with a date asks "what happens next period?" more than "on other
campaigns?": the forward protocol (windows in date order) is then the natural one, and the output says so.
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


def fitted_protocol(protocol: Protocol, groups: pd.Series, has_date: bool) -> tuple[Protocol, list[str]]:
    """``protocol`` with at most as many folds as ``groups`` has distinct values (at least 2), and the notes that
    say what changed and which protocol is the natural one. More folds than rows stays the usage error it is."""
    n_groups, notes = int(groups.nunique()), []
    if n_groups < 2:
        raise OptionError(
            f"the export has {n_groups} group(s) in '{groups.name}': validation on held-out groups needs at least "
            "2 (map another group column)",
            option="--folds",
        )
    if n_groups < protocol.folds <= len(groups):
        notes.append(f"only {n_groups} groups in '{groups.name}': {n_groups} folds instead of {protocol.folds}")
        protocol = replace(protocol, folds=n_groups)
    if has_date:
        notes.append(FORWARD_NOTE)
    return protocol, notes
