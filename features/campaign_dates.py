"""The date of a campaign export's row: one column in any common format, or year/month/day columns.

Exports differ: ISO dates, ``d/m/Y`` in Europe, ``m/d/Y`` in the US, month names, no year at all in a
one-season export. A format is chosen only if it reads every value; day-first and month-first are told
apart by a value above 12, and a column where both read every value is refused as ambiguous (the mapping's
``date_format`` settles it). Without a year column the year is the mapping's ``assumed_year``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from adpipe.errors import DataError
from features.schema import check_rows

DATE = "date"
# Formats that cannot be confused with one another; the ambiguous pairs are tried separately below.
_PLAIN_FORMATS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%b %d %Y",
    "%B %d %Y",
)
_DAY_OR_MONTH_FIRST = tuple(
    (f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}") for sep in "/.-" for year in ("%Y", "%y")
)
_MONTHS = {
    name.lower(): number
    for number in range(1, 13)
    for name in (pd.Timestamp(2000, number, 1).strftime("%B"), pd.Timestamp(2000, number, 1).strftime("%b"))
}


def _reads_all(text: pd.Series, fmt: str) -> pd.Series | None:
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    return parsed if parsed.notna().all() else None


def parse_date(path: Path, values: pd.Series, column: str, date_format: str | None) -> pd.Series:
    """``values`` as dates: by ``date_format`` if given, else by the one common format that reads them all."""
    text = values.astype("string").str.strip()
    check_rows(path, column, text.isna().to_numpy(), values, "is not a date (role 'date': it may not be empty)")
    if date_format is not None:
        parsed = pd.to_datetime(text, format=date_format, errors="coerce")
        check_rows(path, column, parsed.isna().to_numpy(), values, f"is not a date like {date_format} (role 'date')")
        return parsed.rename(DATE)
    for fmt in _PLAIN_FORMATS:
        parsed = _reads_all(text, fmt)
        if parsed is not None:
            return parsed.rename(DATE)
    for day_first, month_first in _DAY_OR_MONTH_FIRST:
        by_day, by_month = _reads_all(text, day_first), _reads_all(text, month_first)
        if by_day is not None and by_month is not None and not by_day.equals(by_month):
            raise DataError(
                f"role 'date': every value reads as both {day_first} and {month_first} (no day above 12): "
                f"set date_format in the mapping",
                path=path,
                column=column,
            )
        if by_day is not None or by_month is not None:
            return (by_day if by_day is not None else by_month).rename(DATE)
    # No format reads every value: name the first value that none of them reads.
    readable = np.zeros(len(text), dtype=bool)
    for fmt in (*_PLAIN_FORMATS, *(f for pair in _DAY_OR_MONTH_FIRST for f in pair)):
        readable |= pd.to_datetime(text, format=fmt, errors="coerce").notna().to_numpy()
    unreadable = ~readable if (~readable).any() else np.ones(len(text), dtype=bool)
    problem = "is not a date in a common format (role 'date'; set date_format in the mapping)"
    if readable.all():
        problem = "mixes date formats (role 'date'; set date_format in the mapping)"
    check_rows(path, column, unreadable, values, problem)
    raise AssertionError("unreachable")


def _month_numbers(path: Path, months: pd.Series) -> pd.Series:
    text = months.astype("string").str.strip().str.lower()
    numbers = pd.to_numeric(text, errors="coerce").fillna(text.map(_MONTHS)).astype("Float64")
    bad = numbers.isna() | (numbers < 1) | (numbers > 12) | (numbers != numbers.round())
    check_rows(
        path, str(months.name), bad.to_numpy(dtype=bool), months, "is not a month (1-12 or a name; role 'month')"
    )
    return numbers.astype("int64")


def _whole(path: Path, values: pd.Series, role: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | (numbers != numbers.round())
    check_rows(path, str(values.name), bad.to_numpy(dtype=bool), values, f"is not a whole number (role '{role}')")
    return numbers.astype("int64")


def parse_year_month_day(
    path: Path, years: pd.Series | None, months: pd.Series, days: pd.Series, assumed_year: int
) -> pd.Series:
    """Dates from separate columns: month as a number or a name; ``assumed_year`` when there is no year column."""
    year = _whole(path, years, "year") if years is not None else pd.Series(assumed_year, index=months.index)
    parts = pd.DataFrame({"year": year, "month": _month_numbers(path, months), "day": _whole(path, days, "day")})
    dates = pd.to_datetime(parts, errors="coerce")
    check_rows(path, str(days.name), dates.isna().to_numpy(), days, "is not a day of its month (role 'day')")
    return dates.rename(DATE)
