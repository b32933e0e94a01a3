"""The fact layer: a data set as additive measures over dimensions, and every KPI defined once as a ratio of sums.

A :class:`Facts` is a tidy Polars table, one row per fact (an ad, an ad-day, an impression, a session), with
additive measures (spend, clicks, sessions, ...), text dimensions (every value the string the page shows and a
slicer's ``<option>`` carries), an optional ISO date column and an optional *distinct* key (the user of a
session: distinct users are not additive, so the key stays in every row and every cube, and the count of
distinct keys among the filtered rows is taken where the filter is applied). A KPI is ``scale * numerator /
denominator`` of two totals (a measure's sum or the distinct count), never a mean of per-row ratios; without a
denominator it is the total itself. :func:`aggregate` is the one aggregation (Polars) the page's cube and any
server answer use; the page's script applies the same definitions, shipped in its payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from adpipe.errors import DataError

DATE = "date"  # the ISO day (YYYY-MM-DD) of a fact, when the data set has one
ROWS = "rows"  # every fact table's count of source rows: the measure a cube keeps of how many rows it sums
WEEK = "week"  # a grouping, not a column: the ISO Monday starting a fact's week (the page's weekly trend)
NO_DATE = (  # the note of facts without a date; the page shows it once, where the date slicers would be
    "This data has no date column: no date range, no presets and no trend. Map a 'date' role (or year/month/day) "
    "to get them."
)


@dataclass(frozen=True)
class Kpi:
    """``scale * numerator / denominator`` of totals; no denominator: the numerator's total.
    The value is undefined (None, an empty card) when no row matches or the denominator is 0."""

    name: str
    label: str
    numerator: str
    denominator: str | None = None
    scale: float = 1.0
    unit: str = ""  # how the page formats it: "", "%", "$" or "s"
    better: str | None = None  # "higher" or "lower": the colour of a change against the previous period


@dataclass(frozen=True)
class Dimension:
    """A column to slice by; ``order`` fixes the options' order where the values have a natural one."""

    name: str
    label: str
    order: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Facts:
    """One data set's facts: ``frame`` holds the measures (floats), the dimensions (strings; a missing value is
    ""), :data:`DATE` (ISO strings) when ``has_date``, and the ``distinct`` key column when there is one. A fact
    file (:func:`read_facts`) has Enum dimensions and a Date, which every function here reads alike."""

    name: str
    title: str
    frame: pl.DataFrame
    measures: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    kpis: tuple[Kpi, ...]
    has_date: bool
    distinct: str | None = None  # the key counted distinct (a total named like the column)
    notes: tuple[str, ...] = field(default=())  # what the page says about the data (no date, how it was read)
    # the rows are sorted by the distinct key, then the date (a fact file): its distinct count, overall or per day or
    # week, is the kept rows where the key (or the day) changes, with no hashing (:func:`_first_of_key`)
    distinct_sorted: bool = False

    def __post_init__(self) -> None:
        totals = {*self.measures, *([self.distinct] if self.distinct else [])}
        for kpi in self.kpis:
            unknown = {kpi.numerator, kpi.denominator} - totals - {None}
            if unknown:
                raise ValueError(f"KPI {kpi.name!r} uses {sorted(unknown)}, not a measure of {self.name}")

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]


def fact_frame(
    dimensions: Mapping[str, Sequence[object]], measures: Mapping[str, Sequence[object]], **keys: Sequence[object]
) -> pl.DataFrame:
    """One fact per position: the dimensions as strings (missing: ""), :data:`ROWS` (1 per fact) and the measures
    as floats (missing: 0), then ``keys`` as given (the date, a distinct key)."""
    texts = [
        dimension_text(pl.Series(name, list(values), dtype=pl.String, strict=False))
        for name, values in dimensions.items()
    ]
    numbers = [
        pl.Series(name, values, dtype=pl.Float64, strict=False).fill_null(0.0) for name, values in measures.items()
    ]
    height = len(numbers[0])
    extra = [pl.Series(name, values, strict=False) for name, values in keys.items()]
    return pl.DataFrame([*texts, pl.Series(ROWS, [1.0] * height), *numbers, *extra])


def dimension_text(values: pl.Series) -> pl.Series:
    """A dimension's values as the strings the page shows: missing becomes ""."""
    return values.cast(pl.String).fill_null("")


@dataclass(frozen=True)
class Filter:
    """Which facts count: the values kept per dimension (absent: all) and an inclusive ISO date range."""

    values: Mapping[str, Sequence[str]] = field(default_factory=dict)
    date_from: str | None = None
    date_to: str | None = None

    def expression(self, facts: Facts) -> pl.Expr:
        conditions = [pl.col(name).is_in(list(kept)) for name, kept in self.values.items()]
        day = date.fromisoformat if facts.has_date and facts.frame.schema[DATE] == pl.Date else str
        if self.date_from is not None:
            conditions.append(pl.col(DATE) >= day(self.date_from))
        if self.date_to is not None:
            conditions.append(pl.col(DATE) <= day(self.date_to))
        return pl.all_horizontal(conditions) if conditions else pl.lit(True)


FIRST = "__first_of_key"  # a kept row whose distinct key (or grouping) differs from the kept row before it


def _counts_by_change(facts: Facts, by: Sequence[str]) -> bool:
    """The rows' order (the key, then the date) makes a distinct count a count of changes: overall, by day or week."""
    return facts.distinct_sorted and len(by) <= 1 and set(by) <= {DATE, WEEK}


def _first_of_key(facts: Facts, by: Sequence[str]) -> pl.Expr:
    """1 where a kept row starts a run of its key (within its day or week when grouped by it), else 0: summed per
    group, the distinct count, in one pass with no hash table (at 10^7 facts 3 times faster than ``n_unique`` per
    day). Only valid on :func:`_counts_by_change`'s rows."""
    changed = [pl.col(name).ne_missing(pl.col(name).shift()) for name in (facts.distinct, *by)]
    return pl.any_horizontal(changed).fill_null(True).cast(pl.Float64).alias(FIRST)


def _totals(facts: Facts, kpis: Sequence[Kpi], by: Sequence[str]) -> list[pl.Expr]:
    """The measures' sums and the distinct count the ``kpis`` use (every measure when they are all the KPIs)."""
    used = ({ROWS} | {t for k in kpis for t in (k.numerator, k.denominator)}) if kpis != facts.kpis else None
    sums = [pl.col(m).sum().cast(pl.Float64) for m in facts.measures if used is None or m in used]
    if facts.distinct is None or (used is not None and facts.distinct not in used):
        return sums
    if _counts_by_change(facts, by):
        return [*sums, pl.col(FIRST).sum().alias(facts.distinct)]
    return [*sums, pl.col(facts.distinct).n_unique().cast(pl.Float64)]


def _kpi(kpi: Kpi) -> pl.Expr:
    """The KPI over a frame of totals: None where no row matched or its denominator is 0."""
    matched = pl.col(ROWS) > 0
    if kpi.denominator is None:
        return pl.when(matched).then(pl.col(kpi.numerator) * kpi.scale).alias(kpi.name)
    usable = matched & (pl.col(kpi.denominator) != 0)
    return pl.when(usable).then(kpi.scale * pl.col(kpi.numerator) / pl.col(kpi.denominator)).alias(kpi.name)


def _week(facts: Facts) -> pl.Expr:
    day = pl.col(DATE) if facts.frame.schema[DATE] == pl.Date else pl.col(DATE).str.to_date("%Y-%m-%d")
    return day.dt.truncate("1w").alias(WEEK)


def aggregate(
    facts: Facts, where: Filter | None = None, by: Sequence[str] = (), kpis: Sequence[str] | None = None
) -> pl.DataFrame:
    """The totals and KPIs of the facts ``where`` keeps, one row per value of ``by`` (columns, or :data:`WEEK`;
    one row overall without it; with no fact kept, that row has 0 rows and every KPI null). ``kpis``: only these
    KPIs and the totals they use (a chart of sessions then skips counting distinct users, the costly total)."""
    chosen = facts.kpis if kpis is None else tuple(k for k in facts.kpis if k.name in kpis)
    frame = facts.frame.lazy().filter((where or Filter()).expression(facts))
    keys = [_week(facts) if name == WEEK else pl.col(name) for name in by]
    if _counts_by_change(facts, by):
        frame = frame.with_columns(keys).with_columns(_first_of_key(facts, by))
        keys = [pl.col(name) for name in by]
    grouped = frame.group_by(keys).agg(_totals(facts, chosen, by)).sort(list(by)) if by else None
    totals = grouped if grouped is not None else frame.select(_totals(facts, chosen, by))
    return totals.with_columns([_kpi(k) for k in chosen]).collect()


def kpi_values(facts: Facts, where: Filter | None = None) -> dict[str, float | None]:
    """Every KPI of the facts ``where`` keeps: what each card shows."""
    row = aggregate(facts, where).row(0, named=True)
    return {k.name: row[k.name] for k in facts.kpis}


def cube(facts: Facts) -> Facts:
    """The facts summed over every dimension, the date and the distinct key: the same KPIs for any filter on
    those columns, in as many rows as there are distinct combinations (what a large data set embeds)."""
    keys = [*facts.dimension_names, *([DATE] if facts.has_date else []), *([facts.distinct] if facts.distinct else [])]
    summed = facts.frame.group_by(keys).agg([pl.col(m).sum() for m in facts.measures]).sort(keys)
    return Facts(
        facts.name,
        facts.title,
        summed,
        facts.measures,
        facts.dimensions,
        facts.kpis,
        facts.has_date,
        facts.distinct,
        (*facts.notes, f"Embedded as a cube: {summed.height:,} rows summing {facts.frame.height:,} facts."),
    )


FACTS_METADATA = "adpipe.explore.facts"  # the Parquet key holding a fact file's description


def describe(facts: Facts) -> dict:
    """The facts' description (what a page or a served answer needs besides the rows): names, dimensions, KPIs,
    each dimension's values, the ISO date span, the number of facts."""
    frame = facts.frame
    dates = [frame[DATE].min(), frame[DATE].max()] if facts.has_date else None
    return {
        "name": facts.name,
        "title": facts.title,
        "measures": list(facts.measures),
        "dimensions": [asdict(d) for d in facts.dimensions],
        "kpis": [asdict(k) for k in facts.kpis],
        "has_date": facts.has_date,
        "distinct": facts.distinct,
        "notes": list(facts.notes),
        "rows": frame.height,
        "values": {d.name: sorted(frame[d.name].cast(pl.String).unique().to_list()) for d in facts.dimensions},
        "dates": [None if d is None else str(d) for d in dates] if dates else None,
    }


def write_facts(facts: Facts, path: str | Path) -> Path:
    """The facts as one Parquet file for the service (``serve --explore-data``), laid out for speed at 10^7 facts:
    each dimension an Enum (a filter or a grouping compares small integers, not strings), the date a Date, the
    distinct key as dense integer codes with the rows sorted by it, then by the date (a distinct count, overall or
    per day, then needs no hashing: :attr:`Facts.distinct_sorted`); the description (:func:`describe`) in the
    file's metadata."""
    described = describe(facts)
    enums = [pl.col(d).cast(pl.Enum(described["values"][d])) for d in facts.dimension_names]
    frame = facts.frame.with_columns(enums)
    if facts.has_date:
        frame = frame.with_columns(pl.col(DATE).str.to_date("%Y-%m-%d"))
    if facts.distinct is not None:
        codes = pl.col(facts.distinct).rank("dense").cast(pl.UInt32)
        frame = frame.with_columns(codes).sort(_run_order(facts.distinct, facts.has_date))
    path = Path(path)
    frame.write_parquet(path, metadata={FACTS_METADATA: json.dumps(described)})
    return path


def _run_order(distinct: str | None, has_date: bool) -> list[str]:
    """The order of a fact file's rows that :attr:`Facts.distinct_sorted` counts on: the key, then the date."""
    return [name for name in (distinct, DATE if has_date else None) if name is not None]


def read_facts(path: str | Path) -> tuple[Facts, dict]:
    """A fact file (:func:`write_facts`) in memory, and its description. A file written before its rows were sorted
    by the date within the key is sorted here (once per worker, about a second at 10^7 facts)."""
    described = fact_file_description(path)
    frame = pl.read_parquet(path)
    order = _run_order(described["distinct"], described["has_date"])
    if order and not frame.select(pl.struct(order).is_sorted()).item():
        frame = frame.sort(order)
    facts = Facts(
        described["name"],
        described["title"],
        frame,
        tuple(described["measures"]),
        tuple(
            Dimension(d["name"], d["label"], tuple(d["order"]) if d["order"] else None) for d in described["dimensions"]
        ),
        tuple(Kpi(**k) for k in described["kpis"]),
        described["has_date"],
        described["distinct"],
        tuple(described["notes"]),
        distinct_sorted=described["distinct"] is not None,
    )
    return facts, described


def fact_file_description(path: str | Path) -> dict:
    """What :func:`write_facts` put in the file's metadata (a file it did not write: a one-line error)."""
    try:
        text = pl.read_parquet_metadata(path).get(FACTS_METADATA)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise DataError(f"cannot read the fact file: {error.__class__.__name__}", path=path) from error
    if text is None:
        raise DataError(
            "not a fact file (write one with `python model.py explore ... --output FILE.parquet`)", path=path
        )
    return json.loads(text)
