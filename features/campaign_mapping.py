"""Any campaign export: which of the user's columns plays which role, and the canonical frame they make.

A :class:`CampaignMapping` names the columns of spend, impressions, clicks, the conversions (each with a value
per conversion) or a revenue column, the segment dimensions, an optional date (one column, or year/month/day)
and an optional grouping key. It comes from a TOML file (:func:`from_file`), from ``--column ROLE=NAME``
options (:func:`with_columns`) or, for the reference file, from :func:`built_in`. :func:`read_mapped` reads a
CSV through it: every mapped column checked (present, named once, numbers non-negative), renamed to the
canonical spend/impressions/clicks the ROAS code uses, the value per row and the date computed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adpipe.errors import DataError, OptionError
from features.campaign_dates import DATE, parse_date, parse_year_month_day
from features.campaign_rules import impossible_rows, quirks
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE, GROUP
from features.schema import Column, TableSchema, line_of
from features.tables import reader_for
from features.tables.bad_rows import RowPolicy, Settled, settle

SPEND, IMPRESSIONS, CLICKS = "Spent", "Impressions", "Clicks"
VALUE = "conversion_value"  # a mapped frame's value per row (a target, never an input)
CANONICAL = {"spend": SPEND, "impressions": IMPRESSIONS, "clicks": CLICKS}
SINGLE_ROLES = ("spend", "impressions", "clicks", "revenue", "group", "date", "year", "month", "day")
LIST_ROLES = ("conversion", "segment")
ROLES = (*SINGLE_ROLES[:3], "conversion", "revenue", "segment", *SINGLE_ROLES[4:])


class Conversion(BaseModel):
    """One conversion column and what one conversion is worth (None when a revenue column gives the value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    column: str
    value: float | None = Field(default=None, ge=0)


class CampaignMapping(BaseModel):
    """The user's column for each role; ``extra="forbid"``, so an unknown role is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    spend: str
    impressions: str
    clicks: str
    conversion: tuple[Conversion, ...] = ()
    revenue: str | None = None
    segment: tuple[str, ...] = Field(min_length=1)
    group: str | None = None
    date: str | None = None
    date_format: str | None = None
    year: str | None = None
    month: str | None = None
    day: str | None = None
    assumed_year: int = Field(default=2000, ge=1, le=9999)
    built_in: bool = False  # the reference file: read by its own schema, values from --value-enquiry/--value-sale

    @field_validator("conversion", mode="before")
    @classmethod
    def _conversion_entries(cls, value: object) -> object:
        """A conversion is ``"NAME:VALUE"``, ``"NAME"`` or ``{column, value}``."""
        if isinstance(value, (list, tuple)):
            return tuple(_conversion(v) if isinstance(v, str) else v for v in value)
        return value

    @property
    def sales(self) -> str | None:
        """The conversion the funnel follows per click: the last one listed (the deepest step)."""
        return self.conversion[-1].column if self.conversion else None

    def columns(self) -> list[tuple[str, str]]:
        """(role, column) for every mapped column, in role order."""
        single = [(role, getattr(self, role)) for role in SINGLE_ROLES]
        listed = [("conversion", c.column) for c in self.conversion] + [("segment", s) for s in self.segment]
        return [(role, column) for role, column in single + listed if column is not None]

    def value_text(self) -> str:
        """How a row's value is computed, for reports: ``Revenue`` or ``5 x Leads + 100 x Purchases``."""
        if self.revenue is not None:
            return self.revenue
        return " + ".join(f"{c.value:g} x {c.column}" for c in self.conversion)

    def check(self, source: str | Path | None = None) -> CampaignMapping:
        """Refuse what the types cannot say: a column named twice, no value, a half-given date."""
        seen: dict[str, str] = {}
        for role, column in self.columns():
            if role == "group" and column in self.segment:
                continue  # the grouping key may be one of the segments (a campaign)
            if column in seen:
                _refuse(f"role '{role}' names column '{column}', already mapped as role '{seen[column]}'", source)
            seen[column] = role
        # The canonical frame's own names: only the role that becomes one may be called so in the file.
        reserved = {name: role for role, name in (*CANONICAL.items(), ("date", DATE))}
        reserved |= dict.fromkeys((VALUE, "ctr", "cpc", "cpm"), "")
        for role, column in self.columns():
            if column in reserved and role != reserved[column]:
                _refuse(
                    f"role '{role}' names column '{column}', a name the canonical frame gives "
                    f"{'role ' + repr(reserved[column]) if reserved[column] else 'a derived figure'}: "
                    "rename the column in the file",
                    source,
                )
        if not self.conversion and self.revenue is None:
            _refuse("role 'conversion' or 'revenue': a mapping needs conversion columns or a revenue column", source)
        for conversion in self.conversion:
            if self.revenue is None and conversion.value is None:
                _refuse(
                    f"role 'conversion' column '{conversion.column}' has no value per conversion: give it as "
                    f"'{conversion.column}:VALUE' (or map a revenue column)",
                    source,
                )
            if self.revenue is not None and conversion.value is not None:
                _refuse(
                    f"role 'conversion' column '{conversion.column}' has a value, but the revenue column "
                    f"'{self.revenue}' gives the value: drop one",
                    source,
                )
        if self.date is not None and (self.year or self.month or self.day):
            _refuse(f"role 'date' ('{self.date}') and year/month/day columns: give one or the other", source)
        parts = {"month": self.month, "day": self.day}
        if (self.year or self.month or self.day) and None in parts.values():
            role = next(r for r, c in parts.items() if c is None)
            _refuse(f"role '{role}' is missing: a date from columns needs month and day (year is optional)", source)
        return self


def _conversion(text: str) -> dict[str, object]:
    name, sep, value = text.rpartition(":")
    if not sep:
        return {"column": text}
    try:
        return {"column": name, "value": float(value)}
    except ValueError:
        return {"column": text}  # a colon inside the name: no value given


def _refuse(message: str, source: str | Path | None) -> None:
    if source is None:
        raise OptionError(message, option="--column")
    raise DataError(message, path=source)


def built_in(value_enquiry: float = DEFAULT_VALUE_ENQUIRY, value_sale: float = DEFAULT_VALUE_SALE) -> CampaignMapping:
    """The reference file's roles (``KAG_conversion_data.csv``): today's column names, no date."""
    return CampaignMapping(
        spend=SPEND,
        impressions=IMPRESSIONS,
        clicks=CLICKS,
        conversion=(
            Conversion(column="Total_Conversion", value=value_enquiry),
            Conversion(column="Approved_Conversion", value=value_sale),
        ),
        segment=("xyz_campaign_id", "age", "gender", "interest"),
        group=GROUP,
        built_in=True,
    )


def _validated(data: dict[str, object], source: str | Path | None) -> CampaignMapping:
    try:
        return CampaignMapping.model_validate(data).check(source)
    except ValidationError as error:
        problem = error.errors()[0]
        role = str(problem["loc"][0]) if problem["loc"] else "mapping"
        if problem["type"] == "extra_forbidden":
            message = f"unknown role '{role}' (roles: {', '.join(ROLES)})"
        elif problem["type"] == "missing":
            message = f"role '{role}' is missing: name its column"
        else:
            message = f"role '{role}': {problem['msg']}, got {problem.get('input')!r}"
        _refuse(message, source)
        raise AssertionError("unreachable") from error


def from_file(path: str | Path) -> CampaignMapping:
    """A mapping from TOML: ``spend = "Amount spent (USD)"``, ``segment = ["Campaign name", ...]``,
    ``conversion = ["Leads:5", "Purchases:100"]`` (or ``[[conversion]]`` tables with column and value)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise DataError("mapping file not found", path=path) from error
    except IsADirectoryError as error:
        raise DataError("is a directory, expected a mapping file (TOML)", path=path) from error
    except tomllib.TOMLDecodeError as error:
        raise DataError(f"is not valid TOML: {error}", path=path) from error
    for role in LIST_ROLES:
        if isinstance(data.get(role), (str, dict)):
            data[role] = [data[role]]
    return _validated(data, path)


def with_columns(options: Sequence[str], base: CampaignMapping | None = None) -> CampaignMapping:
    """``base`` (the built-in mapping if None) with ``--column ROLE=NAME`` overrides. A list role (conversion,
    segment) given on the command line replaces the base's list; give it once per column."""
    base = base if base is not None else built_in()
    data = base.model_dump(exclude={"built_in"})
    replaced: set[str] = set()
    for option in options:
        role, sep, name = option.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not name:
            raise OptionError(f"expected ROLE=NAME, got {option!r}", option="--column")
        if role not in ROLES and role not in ("date_format", "assumed_year"):
            raise OptionError(f"unknown role '{role}' in {option!r} (roles: {', '.join(ROLES)})", option="--column")
        if role in LIST_ROLES:
            data[role] = [*(data[role] if role in replaced else ()), name]
            replaced.add(role)
        else:
            data[role] = name
    return _validated(data, None)


def resolve(
    mapping_file: Path | None, columns: Sequence[str], value_enquiry: float, value_sale: float
) -> CampaignMapping:
    """The mapping a command uses: the file's (or the built-in, at the given values), then ``--column`` overrides."""
    base = from_file(mapping_file) if mapping_file is not None else built_in(value_enquiry, value_sale)
    return with_columns(columns, base) if columns else base


# --- reading a CSV through a mapping -----------------------------------------------------------------------


def _schema(mapping: CampaignMapping) -> TableSchema:
    """Every mapped column as text or number (none required here: :func:`read_mapped` names a missing one's role)."""
    numbers = {"spend": "float", "impressions": "int", "clicks": "int", "revenue": "float", "conversion": "float"}
    columns = {}
    for role, name in mapping.columns():
        optional = role in ("conversion", "revenue")  # Ads Manager leaves a zero result empty
        columns.setdefault(name, Column(name, numbers.get(role, "str"), required=False, nullable=optional))
    labels = tuple(dict.fromkeys(s for s in (*mapping.segment, mapping.group) if s is not None))
    formats = ("csv", "xlsx", "parquet")
    return TableSchema("campaign export", ",", tuple(columns.values()), formats=formats, export=True, labels=labels)


def _integers_if_whole(values: pd.Series) -> pd.Series:
    """A segment of whole numbers (campaign or interest ids) as int64, as the reference loader has them."""
    if not pd.to_numeric(values.head(100), errors="coerce").notna().all():
        return values  # names, not ids: known from the first rows, without converting a million
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all() and (numbers == numbers.round()).all():
        return numbers.astype("int64")
    return values


def read_mapped(
    path: str | Path, mapping: CampaignMapping, roles: Sequence[str] | None = None, policy: RowPolicy | None = None
) -> pd.DataFrame:
    """``path`` read through ``mapping`` (:func:`read_through`), refusing any impossible row unless ``policy``
    sets it aside."""
    return read_through(path, mapping, roles, policy).table


def read_through(
    path: str | Path, mapping: CampaignMapping, roles: Sequence[str] | None = None, policy: RowPolicy | None = None
) -> Settled:
    """``path`` read through ``mapping``: canonical spend/impressions/clicks, conversions and segments under their
    own names, the value per row (:data:`VALUE`, when conversions or revenue are read) and :data:`DATE`; its
    impossible rows refused or set aside as ``policy`` says (default: refused), and how it was read.

    ``roles`` are the roles the file must have (all mapped ones if None); other mapped columns are read if there.
    """
    path, policy = Path(path), policy or RowPolicy()
    reader = reader_for(path, _schema(mapping), options=policy.read_options())
    present = {field.column.name for field in reader.fields()}
    required = set(roles) if roles is not None else {role for role, _ in mapping.columns()}
    for role, name in mapping.columns():
        if role in required and name not in present:
            raise DataError(f"role '{role}': the file has no column '{name}'", path=path, column=name)
    read = reader.read_rows(columns=sorted(present))
    table = read.table  # indexed by the file's data rows
    counts = {getattr(mapping, role): f"role '{role}'" for role in CANONICAL}
    counts |= {c.column: "role 'conversion'" for c in mapping.conversion}
    broken = impossible_rows(table, counts, mapping.clicks, mapping.impressions, mapping.revenue)
    names = [c.column for c in mapping.conversion]
    settled = settle(
        read, broken, lambda kept: quirks(kept, mapping.clicks, names, mapping.revenue), policy, mapping.spend
    )
    try:
        return Settled(_canonical(path, mapping, settled.table), settled.reading, settled.rows)
    except DataError as error:  # a date's line counts the rows kept: name the file's line
        if error.line is None:
            raise
        line = reader.line(int(settled.rows[error.line - line_of(0)]))
        raise DataError(error.message, path=error.path, column=error.column, line=line) from error


def _canonical(path: Path, mapping: CampaignMapping, table: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(index=table.index)
    for role, canonical in CANONICAL.items():
        name = getattr(mapping, role)
        if name in table:
            frame[canonical] = table[name]
    for conversion in mapping.conversion:
        if conversion.column in table:
            frame[conversion.column] = table[conversion.column].fillna(0.0)
    for name in dict.fromkeys(s for s in (*mapping.segment, mapping.group) if s is not None):
        if name in table:
            frame[name] = _integers_if_whole(table[name])
    value = _value(mapping, table)
    if value is not None:
        frame[VALUE] = value
    date = _date(path, mapping, table)
    if date is not None:
        frame[DATE] = date
    return frame


def _value(mapping: CampaignMapping, table: pd.DataFrame) -> pd.Series | None:
    if mapping.revenue is not None:
        return table[mapping.revenue].fillna(0.0) if mapping.revenue in table else None
    if not all(c.column in table for c in mapping.conversion):
        return None
    return sum(c.value * table[c.column].fillna(0.0) for c in mapping.conversion)


def _date(path: Path, mapping: CampaignMapping, table: pd.DataFrame) -> pd.Series | None:
    if mapping.date is not None and mapping.date in table:
        return parse_date(path, table[mapping.date], mapping.date, mapping.date_format)
    if mapping.month is not None and mapping.month in table and mapping.day in table:
        year = table[mapping.year] if mapping.year is not None and mapping.year in table else None
        return parse_year_month_day(path, year, table[mapping.month], table[mapping.day], mapping.assumed_year)
    return None
