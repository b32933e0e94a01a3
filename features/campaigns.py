"""Facebook campaign ads: the loader, the ROAS and funnel definitions, and the model inputs.

One row per ad. A *planned* ad is known by its campaign, its audience and its budget; once it runs it
also has *delivery* figures (Impressions, Clicks, Spent); its *outcomes* are Total_Conversion
(enquiries) and Approved_Conversion (sales). Everything derived from the outcomes (value, ROAS, the
funnel) is a target, never an input: :func:`refuse_outcomes` guards every feature list.

The data has no separate budget column: an ad's planned budget is read from ``Spent`` (a planned-ad
file may call it ``budget``), so the planned mode uses audience, campaign and ``Spent``; the delivery
mode adds Impressions, Clicks and the ratios CTR, cost per click and cost per thousand impressions.

Any other export is read through a :class:`~features.campaign_mapping.CampaignMapping` (``mapping=``): its
segment dimensions take the place of campaign and audience, its conversions or revenue give the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adpipe.errors import DataError
from features.campaign_mapping import VALUE, CampaignMapping, read_mapped, read_through
from features.campaign_rules import impossible_rows, quirks
from features.choices import GROUP, Mode, SummaryBy
from features.schema import Column, TableSchema, check_rows, check_unique
from features.tables import read_table, reader_for
from features.tables.bad_rows import RowPolicy, Settled, settle

MODES: tuple[Mode, ...] = ("planned", "delivery")

AGE_BANDS = ("30-34", "35-39", "40-44", "45-49")
GENDERS = ("F", "M")

BUDGET = "Spent"
OUTCOME_COLUMNS = ("Total_Conversion", "Approved_Conversion")
DERIVED_TARGETS = ("conversion_value", "roas", "sales_per_click", "click_drop_off")
ROAS = "roas"
FUNNEL_TARGETS = ("sales_per_click", "click_drop_off")

PLANNED_FEATURES = ("xyz_campaign_id", "age", "gender", "interest", BUDGET)
DELIVERY_INPUTS = ("Impressions", "Clicks")
DELIVERY_FEATURES = (*PLANNED_FEATURES, *DELIVERY_INPUTS, "ctr", "cpc", "cpm")
FEATURES: dict[Mode, tuple[str, ...]] = {"planned": PLANNED_FEATURES, "delivery": DELIVERY_FEATURES}
CATEGORICAL_FEATURES = ("xyz_campaign_id", "age", "gender", "interest")

SUMMARY_KEYS: dict[SummaryBy, str] = {
    "campaign": "xyz_campaign_id",
    "age": "age",
    "gender": "gender",
    "interest": "interest",
}

_IDS = (Column("ad_id", "int"), Column("xyz_campaign_id", "int"), Column(GROUP, "int"))
_AUDIENCE = (
    Column("age", "str", allowed=AGE_BANDS),
    Column("gender", "str", allowed=GENDERS),
    Column("interest", "int"),
)
CAMPAIGN_SCHEMA = TableSchema(
    "Facebook campaign",
    ",",
    (
        *_IDS,
        *_AUDIENCE,
        Column("Impressions", "int"),
        Column("Clicks", "int"),
        Column(BUDGET, "float"),
        *(Column(name, "int") for name in OUTCOME_COLUMNS),
    ),
)
# A planned ad needs its campaign, audience and budget; ids and delivery figures are read when present.
PLANNED_AD_SCHEMA = TableSchema(
    "planned ads",
    ",",
    (
        Column("ad_id", "int", required=False),
        Column("xyz_campaign_id", "int"),
        Column(GROUP, "int", required=False),
        *_AUDIENCE,
        Column(BUDGET, "float", aliases=("budget",)),
        Column("Impressions", "int", required=False),
        Column("Clicks", "int", required=False),
    ),
)
_NON_NEGATIVE = ("Impressions", "Clicks", BUDGET, *OUTCOME_COLUMNS)


def _check_values(path: Path, table: pd.DataFrame) -> None:
    """The rules a column type cannot say (the schema already refuses non-finite numbers): no negative count or
    spend, no more clicks than impressions."""
    for column in _NON_NEGATIVE:
        if column in table:
            check_rows(path, column, table[column].to_numpy() < 0, table[column], "is negative")
    if "Clicks" in table and "Impressions" in table:
        more = table["Clicks"].to_numpy() > table["Impressions"].to_numpy()
        check_rows(path, "Clicks", more, table["Clicks"], "is more clicks than the ad's Impressions")


def mapped(mapping: CampaignMapping | None) -> bool:
    """Whether ``mapping`` is a user's (read through it) rather than the reference file's built-in one."""
    return mapping is not None and not mapping.built_in


def mode_features(mapping: CampaignMapping | None = None) -> dict[Mode, tuple[str, ...]]:
    """Each mode's model inputs: the mapping's segment dimensions in place of campaign and audience."""
    if not mapped(mapping):
        return FEATURES
    planned = (*mapping.segment, BUDGET)
    return {"planned": planned, "delivery": (*planned, *DELIVERY_FEATURES[len(PLANNED_FEATURES) :])}


def categorical_features(mapping: CampaignMapping | None = None) -> tuple[str, ...]:
    return mapping.segment if mapped(mapping) else CATEGORICAL_FEATURES


def segment_categories(table: pd.DataFrame, mapping: CampaignMapping | None) -> dict[str, list[str]]:
    """The categories of each text segment, as seen in training (a mapped export; the reference's are fixed)."""
    if not mapped(mapping):
        return {}
    text = [s for s in mapping.segment if not pd.api.types.is_numeric_dtype(table[s])]
    return {s: sorted(table[s].dropna().unique().tolist()) for s in text}


def load_campaigns(path: str | Path, mapping: CampaignMapping | None = None) -> pd.DataFrame:
    """The campaign rows of :func:`read_campaigns`, any impossible row refused."""
    return read_campaigns(path, mapping).table


def read_campaigns(
    path: str | Path, mapping: CampaignMapping | None = None, policy: RowPolicy | None = None
) -> Settled:
    """Read the campaign file: every column typed, ``ad_id`` unique, impossible rows (features.campaign_rules)
    refused or set aside as ``policy`` says; and how it was read.

    With a user's ``mapping``, the export is read through it (:func:`~features.campaign_mapping.read_through`).
    """
    if mapped(mapping):
        return read_through(path, mapping, policy=policy)
    path, policy = Path(path), policy or RowPolicy()
    read = reader_for(path, CAMPAIGN_SCHEMA, options=policy.read_options()).read_rows()
    check_unique(path, read.table.reset_index(drop=True), "ad_id")
    counts = dict.fromkeys(("Impressions", "Clicks", BUDGET, *OUTCOME_COLUMNS), "a count or spend")
    broken = impossible_rows(read.table, counts, "Clicks", "Impressions")
    return settle(read, broken, lambda kept: quirks(kept, "Clicks", OUTCOME_COLUMNS[1:], None), policy, BUDGET)


def load_planned_ads(path: str | Path, mode: Mode, mapping: CampaignMapping | None = None) -> pd.DataFrame:
    """Read ads to predict: outcome columns are not needed (and not read); delivery mode needs its figures."""
    if mapped(mapping):
        roles = ("spend", "segment", *(("impressions", "clicks") if mode == "delivery" else ()))
        return checked_planned_ads(read_mapped(path, mapping, roles), path, mode)
    return checked_planned_ads(read_table(path, PLANNED_AD_SCHEMA), path, mode)


def checked_planned_ads(table: pd.DataFrame, path: str | Path, mode: Mode) -> pd.DataFrame:
    """Ads as read, with the rules across rows and columns checked (errors name ``path``)."""
    path = Path(path)
    if mode == "delivery":
        absent = [c for c in DELIVERY_INPUTS if c not in table]
        if absent:
            raise DataError(
                f"missing column '{absent[0]}': the saved model uses delivery figures (Impressions, Clicks)",
                path=path,
                column=absent[0],
            )
    _check_values(path, table)
    if "ad_id" in table:  # one prediction per ad
        check_unique(path, table, "ad_id")
    no_budget = table[BUDGET].to_numpy() <= 0
    check_rows(path, BUDGET, no_budget, table[BUDGET], "is not a positive budget: ROAS is undefined without spend")
    return table


def conversion_value(table: pd.DataFrame, value_enquiry: float, value_sale: float) -> pd.Series:
    """What an ad's conversions are worth: ``value_enquiry`` per enquiry plus ``value_sale`` per sale.

    A mapped export carries its value (its mapping's conversion values or revenue): the two are not used then.
    """
    if VALUE in table:
        return table[VALUE]
    if value_enquiry < 0 or value_sale < 0:
        raise ValueError(f"conversion values must not be negative, got {value_enquiry} and {value_sale}")
    return value_enquiry * table["Total_Conversion"] + value_sale * table["Approved_Conversion"]


@dataclass(frozen=True)
class TargetRows:
    """The rows a target is defined on, and how many ads were set aside (and why)."""

    table: pd.DataFrame
    target: pd.Series | pd.DataFrame
    n_set_aside: int
    reason: str


def roas_rows(table: pd.DataFrame, value_enquiry: float, value_sale: float) -> TargetRows:
    """ROAS = conversion value / Spent, on the ads with Spent > 0 (the others have no ROAS)."""
    spent = table[BUDGET] > 0
    kept = table[spent].reset_index(drop=True)
    roas = (conversion_value(kept, value_enquiry, value_sale) / kept[BUDGET]).rename(ROAS)
    return TargetRows(kept, roas, int((~spent).sum()), "Spent == 0: no spend, so no return on it")


def funnel_rows(table: pd.DataFrame, sales: str = "Approved_Conversion") -> TargetRows:
    """Sales per click and click drop-off (share of clicking users who did not buy), on ads with Clicks > 0.

    Facebook attributes a sale to an ad without requiring a click on it, so a few ads have more sales
    than clicks: their drop-off is capped at 0 (sales per click is kept as it is).
    """
    clicked = table["Clicks"] > 0
    kept = table[clicked].reset_index(drop=True)
    per_click = kept[sales] / kept["Clicks"]
    target = pd.DataFrame({"sales_per_click": per_click, "click_drop_off": 1.0 - per_click.clip(upper=1.0)})
    return TargetRows(kept, target, int((~clicked).sum()), "Clicks == 0: no clicking users to convert")


def refuse_outcomes(columns: Iterable[str]) -> None:
    """Raise if an outcome column, or anything derived from one, is asked for as a model input."""
    leaked = [c for c in columns if c in OUTCOME_COLUMNS or c in DERIVED_TARGETS]
    if leaked:
        raise DataError(
            f"outcome column(s) {', '.join(leaked)} cannot be model inputs: the targets are derived from them",
            column=leaked[0],
        )


def model_inputs(
    table: pd.DataFrame, features: Iterable[str], categories: dict[str, list[str]] | None = None
) -> pd.DataFrame:
    """The model's input frame: exactly ``features`` (outcomes refused), delivery ratios computed here.

    Ratios with a zero denominator are missing (NaN), which every model of the task handles. A text column
    of ``categories`` (a mapped export's segments, as trained on) is categorical, an unseen value missing.
    """
    categories = categories or {}
    features = tuple(features)
    refuse_outcomes(features)
    frame = pd.DataFrame(index=table.index)
    impressions = table["Impressions"].where(table["Impressions"] > 0) if "Impressions" in table else None
    clicks = table["Clicks"].where(table["Clicks"] > 0) if "Clicks" in table else None
    derived = {
        "ctr": lambda: table["Clicks"] / impressions,
        "cpc": lambda: table[BUDGET] / clicks,
        "cpm": lambda: 1000.0 * table[BUDGET] / impressions,
    }
    for name in features:
        if name in derived:
            frame[name] = derived[name]().astype("float64")
        elif name not in table:
            raise DataError(f"missing column '{name}' needed as a model input", column=name)
        elif name in categories:
            frame[name] = pd.Categorical(table[name], categories=categories[name])
        elif name == "age":
            frame[name] = pd.Categorical(table[name], categories=AGE_BANDS)
        elif name == "gender":
            frame[name] = pd.Categorical(table[name], categories=GENDERS)
        else:
            frame[name] = table[name].astype("float64")
    return frame


def summary_keys(mapping: CampaignMapping | None = None) -> dict[str, str]:
    """What ``--by`` offers and the column each groups by: the reference's terms, or a mapping's segments."""
    return {s: s for s in mapping.segment} if mapped(mapping) else dict(SUMMARY_KEYS)


def summarize(
    table: pd.DataFrame, by: str, value_enquiry: float, value_sale: float, mapping: CampaignMapping | None = None
) -> pd.DataFrame:
    """ROAS, CTR, cost per click and cost per sale per group, with the counts behind each figure.

    Every figure is a ratio of sums over the group's ads with spend; ads with Spent == 0 are counted
    in ``n_set_aside`` only, as for the per-ad ROAS. A mapped export's conversions are summed one column
    each (under their own names), and its cost per sale is per its last conversion.
    """
    keys = summary_keys(mapping)
    if by not in keys:
        raise ValueError(f"--by must be one of {', '.join(keys)}, got {by!r}")
    key = keys[by]
    counts = {"enquiries": "Total_Conversion", "sales": "Approved_Conversion"}
    if mapped(mapping):
        counts = {c.column: c.column for c in mapping.conversion}
    frame = table.assign(
        value=conversion_value(table, value_enquiry, value_sale),
        with_spend=table[BUDGET] > 0,
    )
    spent = frame[frame["with_spend"]]
    sums = spent.groupby(key, observed=True).agg(
        n_ads=(BUDGET, "size"),
        impressions=("Impressions", "sum"),
        clicks=("Clicks", "sum"),
        spent=(BUDGET, "sum"),
        **{name: (column, "sum") for name, column in counts.items()},
        value=("value", "sum"),
    )
    set_aside = frame[~frame["with_spend"]].groupby(key, observed=True).size().rename("n_set_aside")
    summary = sums.join(set_aside, how="outer").fillna(0)
    whole = () if mapped(mapping) else tuple(counts)  # a mapped export's conversions may be fractional
    for column in ("n_ads", "impressions", "clicks", *whole, "n_set_aside"):
        summary[column] = summary[column].astype("int64")
    summary["roas"] = summary["value"] / summary["spent"].where(summary["spent"] > 0)
    summary["ctr_percent"] = 100.0 * summary["clicks"] / summary["impressions"].where(summary["impressions"] > 0)
    summary["cost_per_click"] = summary["spent"] / summary["clicks"].where(summary["clicks"] > 0)
    sales = summary[list(counts)[-1]] if counts else None
    summary["cost_per_sale"] = summary["spent"] / sales.where(sales > 0) if sales is not None else float("nan")
    summary = summary.reset_index().rename(columns={key: by})
    columns = [by, "n_ads", "n_set_aside", "impressions", "clicks", "spent", *counts, "value"]
    return summary[[*columns, "roas", "ctr_percent", "cost_per_click", "cost_per_sale"]].sort_values(
        ["roas", by], ascending=[False, True], na_position="last", ignore_index=True
    )
