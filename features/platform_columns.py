"""A mapping proposed from an export's header: the column names Google Ads, Meta Ads Manager, LinkedIn Campaign
Manager, TikTok Ads Manager and Microsoft Advertising use for each role (docs/roas.md, "Proposed mapping").

``roas mapping`` reads only the header (found below any title lines, in any format :mod:`features.tables`
reads) and writes a TOML mapping: each role whose column it recognises, and the others as comments to fill in.
A conversion needs its value unless a revenue column gives it, so a proposal without one leaves ``VALUE`` for
the user to write.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from features.schema import Column, TableSchema
from features.tables import reader_for

# role -> platform -> names, best first. Matched without regard to case; "Amount spent (EUR)" by its prefix.
NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "spend": {
        "Google Ads": ("Cost",),
        "Meta Ads Manager": ("Amount spent (USD)", "Amount spent (EUR)", "Amount spent (GBP)", "Amount spent"),
        "LinkedIn": ("Total Spent", "Amount Spent"),
        "TikTok": ("Cost", "Total Cost"),
        "Microsoft Ads": ("Spend",),
    },
    "impressions": {
        "Google Ads": ("Impr.", "Impressions"),
        "Meta Ads Manager": ("Impressions",),
        "LinkedIn": ("Impressions",),
        "TikTok": ("Impressions",),
        "Microsoft Ads": ("Impr.", "Impressions"),
    },
    "clicks": {
        "Google Ads": ("Clicks",),
        "Meta Ads Manager": ("Link clicks", "Clicks (all)"),
        "LinkedIn": ("Clicks",),
        "TikTok": ("Clicks (Destination)", "Clicks (All)", "Clicks"),
        "Microsoft Ads": ("Clicks",),
    },
    "conversion": {
        "Google Ads": ("Conversions", "All conv."),
        "Meta Ads Manager": ("Leads", "Purchases", "Results"),
        "LinkedIn": ("Leads", "Conversions"),
        "TikTok": ("Conversions", "Complete Payment", "Purchases"),
        "Microsoft Ads": ("Conv.", "Conversions"),
    },
    "revenue": {
        "Google Ads": ("Conv. value", "All conv. value"),
        "Meta Ads Manager": ("Purchases conversion value", "Website purchases conversion value"),
        "LinkedIn": ("Conversion Value in Local Currency", "Total Conversion Value"),
        "TikTok": ("Total Purchase Value", "Total Complete Payment Value"),
        "Microsoft Ads": ("Revenue", "Conv. value"),
    },
    "segment": {
        "Google Ads": ("Campaign", "Ad group", "Device", "Network"),
        "Meta Ads Manager": ("Campaign name", "Ad set name", "Age", "Gender", "Placement", "Platform"),
        "LinkedIn": ("Campaign Name", "Campaign Group Name"),
        "TikTok": ("Campaign name", "Ad group name", "Placement"),
        "Microsoft Ads": ("Campaign name", "Ad group", "Device type"),
    },
    "group": {
        "Google Ads": ("Campaign",),
        "Meta Ads Manager": ("Campaign name",),
        "LinkedIn": ("Campaign Name",),
        "TikTok": ("Campaign name",),
        "Microsoft Ads": ("Campaign name",),
    },
    "date": {
        "Google Ads": ("Day", "Date"),
        "Meta Ads Manager": ("Day", "Reporting starts"),
        "LinkedIn": ("Start Date (in UTC)", "Date"),
        "TikTok": ("By Day", "Date"),
        "Microsoft Ads": ("Gregorian date", "Time period", "Date"),
    },
}
_LISTED = ("conversion", "segment")


def _names(role: str) -> list[str]:
    return list(dict.fromkeys(name for names in NAMES[role].values() for name in names))


def read_header(path: str | Path) -> list[str]:
    """An export's column names: its header line, below any title lines, in any format the tables layer reads."""
    known = [Column(name, required=False) for name in dict.fromkeys(n for role in NAMES for n in _names(role))]
    schema = TableSchema("campaign export", ",", tuple(known), formats=("csv", "xlsx", "parquet"), export=True)
    reader = reader_for(path, schema)
    reader.fields()
    return reader.header


def _found(header: list[str], role: str) -> list[str]:
    """The header's columns that play ``role`` on some platform, in the header's order."""
    wanted = {name.lower() for name in _names(role)}
    prefixes = ("amount spent",) if role == "spend" else ()
    return [c for c in header if c.lower() in wanted or c.lower().startswith(prefixes or ("\0",))]


def platform(header: list[str]) -> tuple[str, int] | None:
    """The platform whose names the header holds most of, and how many."""
    lowered = {c.lower() for c in header}
    counts = {
        name: sum(any(n.lower() in lowered for n in NAMES[role][name]) for role in NAMES) for name in NAMES["spend"]
    }
    best = max(counts, key=lambda name: counts[name])
    return (best, counts[best]) if counts[best] else None


def propose(header: list[str]) -> str:
    """A TOML mapping for ``header``: recognised roles set, the others commented out for the user to fill in."""
    lines = []
    found = platform(header)
    if found is not None:
        lines.append(f"# looks like a {found[0]} export ({found[1]} of its roles' column names found)")
    revenue = _found(header, "revenue")
    for role in ("spend", "impressions", "clicks", "conversion", "revenue", "segment", "group", "date"):
        columns = _found(header, role)
        if role == "conversion" and not revenue:
            columns = [f"{c}:VALUE" for c in columns]  # no revenue column: each conversion needs its value
        if role == "segment":
            columns = [c for c in columns if c not in _found(header, "date")]
        if not columns:
            lines.append(f'# {role} = "COLUMN"  # not recognised: name the column')
        elif role in _LISTED:
            lines.append(f"{role} = [{', '.join(json.dumps(c) for c in columns)}]")
        else:
            lines.append(f"{role} = {json.dumps(columns[0])}")
            lines += [f"# {role} = {json.dumps(c)}  # another candidate" for c in columns[1:]]
    if any(re.search(r":VALUE\"", line) for line in lines):
        lines.append("# replace VALUE with what one conversion is worth (or map a revenue column)")
    return "\n".join(lines) + "\n"
