"""What a read does with impossible rows, in one place for every command that reads a campaign export: refuse the
file naming every rule broken, or set the rows aside into a file beside the report (docs/roas.md, "Bad rows").

A reader finds the rows that break a column's rules (:meth:`~features.tables.reader.TableReader.read_rows`), a
loader adds its rules across columns (clicks above impressions, negative spend); :func:`settle` applies the
:class:`RowPolicy` the command built from its options, and the :class:`ReadingRecord` says what happened: for the
terminal and the report. Quirks (view-through conversions, value without conversions, duplicates) are counted
as warnings and kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from adpipe.errors import DataError, OptionError
from features.tables.reader import ReadOptions, RowsRead
from features.tables.rules import Broken

BadRows = Literal["refuse", "skip"]
DEFAULT_MAX_BAD_ROWS = "1%"
_SHOWN_LINES = 3  # lines named per rule in a refusal
_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class RowPolicy:
    """``--bad-rows``, ``--max-bad-rows`` (a count, or a share of the rows read: ``1%``), ``--decimal`` and
    ``--sheet`` as one value, and where set-aside rows go (``<report stem>.rejected.csv``; None: nowhere)."""

    bad_rows: BadRows = "refuse"
    max_bad_rows: str = DEFAULT_MAX_BAD_ROWS
    decimal: str | None = None
    sheet: str | None = None
    rejected: Path | None = None

    def __post_init__(self) -> None:
        if _LIMIT.match(self.max_bad_rows) is None:
            message = f"expected a count or a percentage (5, 1%), got {self.max_bad_rows!r}"
            raise OptionError(message, option="--max-bad-rows")
        if self.decimal not in (None, ".", ","):
            raise OptionError(f"the decimal mark is '.' or ',', got {self.decimal!r}", option="--decimal")

    @classmethod
    def beside(cls, output: Path, **options: object) -> RowPolicy:
        """The policy whose rejected rows go beside ``output``: ``<stem>.rejected.csv``."""
        return cls(rejected=output.with_name(f"{output.stem}.rejected.csv"), **options)  # type: ignore[arg-type]

    def read_options(self) -> ReadOptions:
        return ReadOptions(decimal=self.decimal, sheet=self.sheet)

    def limit(self, n_rows: int) -> int:
        """The most rows ``skip`` may set aside out of ``n_rows``."""
        number, percent = _LIMIT.match(self.max_bad_rows).groups()  # type: ignore[union-attr]
        return int(float(number) * n_rows / 100.0) if percent else int(float(number))


class ReadingRecord(BaseModel):
    """How an export was read: what was not data (title lines, totals rows), the rules broken and the rows set
    aside, the warnings counted."""

    model_config = ConfigDict(frozen=True)
    rows_read: int
    skipped: list[str] = []
    bad_rows: BadRows = "refuse"
    broken: dict[str, int] = {}
    set_aside_rows: int = 0
    set_aside_spend: float = 0.0
    rejected_file: str | None = None
    warnings: dict[str, int] = {}

    def lines(self) -> list[str]:
        """The record for the terminal: one line each for what was skipped, set aside and warned of."""
        out = []
        if self.skipped:
            out.append(f"not data, skipped: {'; '.join(self.skipped)}")
        if self.set_aside_rows:
            rules = ", ".join(f"{rule} ({n})" for rule, n in self.broken.items())
            out.append(
                f"set aside {self.set_aside_rows} of {self.rows_read} rows (spend {self.set_aside_spend:,.2f}) "
                f"-> {self.rejected_file}: {rules}"
            )
        if self.warnings:
            out.append("warnings (rows kept): " + ", ".join(f"{w}: {n}" for w, n in self.warnings.items()))
        return out


@dataclass(frozen=True)
class Settled:
    """The rows a command goes on with (index 0..n-1), the file's 0-based data row of each, how they were read."""

    table: pd.DataFrame
    reading: ReadingRecord
    rows: np.ndarray


def _refusal(read: RowsRead, broken: Sequence[Broken], bad: np.ndarray, limit: int | None) -> DataError:
    """One line: a single rule as a value's error (its column, first line and value), several each with a count
    and their first lines."""
    advice = (
        f"more than --max-bad-rows ({limit} rows): refused even with --bad-rows skip"
        if limit is not None
        else "set aside with --bad-rows skip"
    )
    if len(broken) == 1:
        rule = broken[0]
        first = int(rule.rows[0])
        value = _shown(read, rule, first)
        message = f"value {value} {rule.problem} ({len(rule.rows)} bad value(s) in this column; {advice})"
        return read.reader.row_error(message, first, rule.column)  # its line (a CSV's, a sheet's) or row (Parquet)
    parts = []
    for rule in broken:
        lines = ", ".join(str(read.reader.line(r)) for r in rule.rows[:_SHOWN_LINES])
        more = ", …" if len(rule.rows) > _SHOWN_LINES else ""
        parts.append(f"{rule.text}: {len(rule.rows)} row(s), {read.reader.place}(s) {lines}{more}")
    message = f"{len(bad)} impossible row(s) of {len(read.table)}: {'; '.join(parts)} ({advice})"
    return DataError(message, path=read.path)


def _shown(read: RowsRead, rule: Broken, row: int) -> str:
    """The value of ``rule``'s column on ``row``: as read when the reader read it, else as written."""
    value = read.table.at[row, rule.column] if rule not in read.broken and rule.column in read.table else None
    if value is None or pd.isna(value):
        written = read.reader.raw_rows(np.array([row]))
        name = next((n for n, c in read.reader.rename.items() if c == rule.column), rule.column)
        return repr(written[name].iloc[0]) if name in written else "(missing)"
    return repr(value.item() if isinstance(value, np.generic) else value)


def settle(
    read: RowsRead,
    broken: Sequence[Broken],
    warnings: Callable[[pd.DataFrame], Mapping[str, int]],
    policy: RowPolicy,
    spend: str | None,
) -> Settled:
    """``read``'s rows under ``policy``: without broken rules, all of them; else refused in one line naming every
    rule, or (``skip``, at most ``--max-bad-rows`` rows) all but the broken ones, those written to the policy's
    rejected file (the line, the row as written, the rules) when there is one. ``warnings`` counts the quirks of
    the rows kept."""
    # A value the reader already refused (-inf spend) is named once, by the reader's rule.
    named = {}
    for rule in read.broken:
        named[rule.column] = np.union1d(named.get(rule.column, np.array([], dtype=np.int64)), rule.rows)
    broken = [Broken(r.column, r.problem, np.setdiff1d(r.rows, named.get(r.column, []))) for r in broken]
    broken = [*read.broken, *(rule for rule in broken if len(rule.rows))]
    bad = np.unique(np.concatenate([rule.rows for rule in broken])) if broken else np.array([], dtype=np.int64)
    if len(bad) and policy.bad_rows == "refuse":
        raise _refusal(read, broken, bad, None)
    limit = policy.limit(len(read.table))
    if len(bad) > limit:
        raise _refusal(read, broken, bad, limit)
    set_aside_spend = 0.0
    if len(bad):
        if spend is not None and spend in read.table:
            spent = read.table.loc[bad, spend].to_numpy(dtype=float)
            set_aside_spend = float(np.nansum(np.clip(spent, 0.0, None)))  # a negative spend was never spent
        if policy.rejected is not None:
            _write_rejected(read, broken, bad, policy.rejected)
    kept = read.table.drop(index=bad)
    table = kept.reset_index(drop=True)
    for name in read.whole:
        if name in table and table[name].notna().all():
            table[name] = table[name].astype("int64")  # as a clean file's: the set-aside rows held its gaps
    record = ReadingRecord(
        rows_read=len(read.table),
        skipped=list(read.skipped),
        bad_rows=policy.bad_rows,
        broken={rule.text: len(rule.rows) for rule in broken},
        set_aside_rows=len(bad),
        set_aside_spend=set_aside_spend,
        rejected_file=str(policy.rejected) if len(bad) and policy.rejected is not None else None,
        warnings={name: n for name, n in warnings(kept).items() if n},
    )
    return Settled(table, record, kept.index.to_numpy())


def _write_rejected(read: RowsRead, broken: Sequence[Broken], bad: np.ndarray, path: Path) -> None:
    from adpipe.io import write_csv

    rules: dict[int, list[str]] = {}
    for rule in broken:
        for row in rule.rows:
            rules.setdefault(int(row), []).append(rule.text)
    rows = read.reader.raw_rows(bad)
    rejected = pd.DataFrame({"line": [read.reader.line(r) for r in bad]})
    rejected = pd.concat([rejected, rows.reset_index(drop=True)], axis=1)
    rejected["rule"] = ["; ".join(rules[int(r)]) for r in bad]
    write_csv(path, rejected)
