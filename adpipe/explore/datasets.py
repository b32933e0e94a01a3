"""The fact builders of the data sets the project knows: campaigns (the reference file or any export, through
``features/campaign_mapping.py``), CTR impressions and ClickStream sessions with their users.

They live in the explore kit, not in the task packages: each only reads a data set through its loader in
``features/`` (one level down), so the page, the CLI and a later server route use them without importing a task.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import polars as pl

from adpipe.explore.facts import DATE, NO_DATE, ROWS, Dimension, Facts, Kpi, fact_frame
from features import campaign_mapping
from features.campaign_mapping import CampaignMapping
from features.clickstream_loaders import load_sessions, load_users, sessions_source, users_file
from features.ctr import GENDER, MALE, TARGET, TIMESTAMP, load_impressions
from features.tables.bad_rows import RowPolicy

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
HOURS = tuple(f"{h:02d}" for h in range(24))
AGE_BANDS = ((0, 25, "<25"), (25, 35, "25-34"), (35, 45, "35-44"), (45, 55, "45-54"), (55, 200, "55+"))


def _iso(dates: pd.Series) -> list[str | None]:
    return [None if pd.isna(d) else d for d in pd.to_datetime(dates).dt.strftime("%Y-%m-%d")]


def _as_text(values: pd.Series) -> list[str | None]:
    """A dimension as text: the mapped reader reads a column of whole numbers ("15") as int64."""
    text = values.astype(str) if pd.api.types.is_integer_dtype(values) else values
    return [None if pd.isna(v) else str(v) for v in text]


def campaign_facts(path: str | Path, mapping: CampaignMapping | None = None, policy: RowPolicy | None = None) -> Facts:
    """An ad (or ad-day) per fact: spend, impressions, clicks, each conversion and the value, by the mapping's
    segments and group (and its date). ``conversions`` are the last conversion listed (the sale). Impossible rows
    are refused or set aside as ``policy`` says; the notes say how the export was read."""
    path, mapping = Path(path), mapping or campaign_mapping.built_in()
    read = campaign_mapping.read_through(path, mapping, policy=policy)
    table = read.table
    names = list(dict.fromkeys(s for s in (*mapping.segment, mapping.group) if s is not None))
    written = {n: _as_text(table[n]) for n in names}
    measures = {
        "spend": table[campaign_mapping.SPEND],
        "impressions": table[campaign_mapping.IMPRESSIONS],
        "clicks": table[campaign_mapping.CLICKS],
        "value": table[campaign_mapping.VALUE],
    }
    measures |= {c.column: table[c.column] for c in mapping.conversion}
    kpis = [Kpi("spend", "Spend", "spend", unit="$"), Kpi("impressions", "Impressions", "impressions")]
    kpis.append(Kpi("clicks", "Clicks", "clicks"))
    if mapping.sales is not None:
        measures["conversions"] = table[mapping.sales]
        kpis.append(Kpi("conversions", f"Conversions ({mapping.sales})", "conversions"))
    kpis += [
        Kpi("value", "Value", "value", unit="$"),
        Kpi("ctr", "CTR", "clicks", "impressions", unit="%", better="higher"),
        Kpi("cpc", "CPC", "spend", "clicks", unit="$", better="lower"),
        Kpi("cpm", "CPM", "spend", "impressions", scale=1000.0, unit="$", better="lower"),
    ]
    if mapping.sales is not None:
        kpis += [
            Kpi("conversion_rate", "Conversion rate", "conversions", "clicks", unit="%", better="higher"),
            Kpi("cpa", "CPA", "spend", "conversions", unit="$", better="lower"),
        ]
    kpis.append(Kpi("roas", "ROAS", "value", "spend", better="higher"))
    has_date = campaign_mapping.DATE in table
    dates = {DATE: _iso(table[campaign_mapping.DATE])} if has_date else {}
    frame = fact_frame({n: written[n] for n in names}, measures, **dates)
    notes = (f"Read through the mapping: value = {mapping.value_text()}.", *(() if has_date else (NO_DATE,)))
    notes += tuple(read.reading.lines())
    return Facts(
        "campaigns",
        f"Campaigns: {path.name}",
        frame,
        (ROWS, *measures),
        tuple(Dimension(n, n) for n in names),
        tuple(kpis),
        has_date,
        notes=notes,
    )


def _age_band(ages: pd.Series) -> list[str]:
    bands = pd.Series("", index=ages.index, dtype=object)
    for low, high, label in AGE_BANDS:
        bands[(ages >= low) & (ages < high)] = label
    return bands.tolist()


def ctr_facts(path: str | Path) -> Facts:
    """An impression per fact (clicks: ``Clicked on Ad``), by the timestamp's day, hour and weekday, city,
    country, ad topic, age band and gender."""
    path = Path(path)
    table = load_impressions(path, labelled=True)
    stamps = table[TIMESTAMP]
    gender = table[MALE].map({1.0: "Male", 0.0: "Female"})
    dimensions = {
        "hour": stamps.dt.strftime("%H"),
        "weekday": stamps.dt.strftime("%a"),
        "City": table["City"],
        "Country": table["Country"],
        "Ad Topic Line": table["Ad Topic Line"],
        "age band": _age_band(table["Age"]),
        GENDER: gender,
    }
    measures = {"impressions": [1.0] * len(table), "clicks": table[TARGET]}
    orders = {"hour": HOURS, "weekday": WEEKDAYS, "age band": tuple(label for _, _, label in AGE_BANDS)}
    return Facts(
        "ctr",
        f"Ad impressions: {path.name}",
        fact_frame(dimensions, measures, **{DATE: _iso(stamps)}),
        (ROWS, *measures),
        tuple(Dimension(name, name, orders.get(name)) for name in dimensions),
        (
            Kpi("impressions", "Impressions", "impressions"),
            Kpi("clicks", "Clicks", "clicks"),
            Kpi("ctr", "Click rate", "clicks", "impressions", unit="%", better="higher"),
        ),
        has_date=True,
    )


SESSION_DIMENSIONS = ("device_type", "browser", "operating_system", "country")
USER = "user_id"  # the distinct key: a session's user


def clickstream_facts(folders: dict[str, str | Path], user_columns: pl.DataFrame | None = None) -> Facts:
    """A session per fact (page views, duration in seconds), by session date, device, browser, OS, country, the
    user's category and the split; users counted distinct (the user id rides in every row and cube row).

    ``folders`` maps a split ("train", "test") to its folder. ``user_columns`` (``user_id`` plus text columns, e.g.
    a ``segment`` or the predicted ``marketing_target``) adds a dimension per column; users it lacks get ""."""
    parts = []
    for split, folder in folders.items():
        users = load_users(users_file(folder, split), split)[[USER, "user_category"]]  # type: ignore[arg-type]
        sessions = load_sessions(sessions_source(folder, split))  # type: ignore[arg-type]
        parts.append(sessions.merge(users, on=USER, how="left").assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    dimensions = {name: table[name].astype(object) for name in (*SESSION_DIMENSIONS, "user_category", "split")}
    extra = []
    if user_columns is not None:
        joined = pl.DataFrame({USER: table[USER].astype(str)}).join(user_columns, on=USER, how="left")
        extra = [c for c in user_columns.columns if c != USER]
        dimensions |= {name: joined[name].to_list() for name in extra}
    measures = {
        "sessions": [1.0] * len(table),
        "page_views": table["page_views"],
        "duration": table["session_duration"],
    }
    frame = fact_frame(dimensions, measures, **{DATE: _iso(table["timestamp"]), USER: table[USER].astype(str)})
    return Facts(
        "clickstream",
        "ClickStream sessions",
        frame,
        (ROWS, *measures),
        tuple(Dimension(name, name) for name in dimensions),
        (
            Kpi("sessions", "Sessions", "sessions"),
            Kpi("users", "Users (distinct)", USER),
            Kpi("page_views", "Page views", "page_views"),
            Kpi("page_views_per_session", "Page views per session", "page_views", "sessions"),
            Kpi("duration_per_session", "Duration per session", "duration", "sessions", unit="s"),
            Kpi("sessions_per_user", "Sessions per user", "sessions", USER),
            Kpi("page_views_per_user", "Page views per user", "page_views", USER),
        ),
        has_date=True,
        distinct=USER,
    )
