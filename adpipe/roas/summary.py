"""``roas summary``: the campaigns aggregated by one key (campaign, age, gender, interest or a mapped segment), for a
marketer's table of where the money went."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adpipe import config
from adpipe.io import write_csv
from adpipe.roas.defaults import summary_path
from features.campaign_mapping import CampaignMapping
from features.campaigns import read_campaigns, summarize
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE
from features.tables.bad_rows import ReadingRecord, RowPolicy


def summary(
    data: str | Path = config.CAMPAIGNS_FILE,
    by: str = "campaign",
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    output: str | Path | None = None,
    mapping: CampaignMapping | None = None,
    policy: RowPolicy | None = None,
) -> tuple[pd.DataFrame, ReadingRecord]:
    """The aggregated table by ``by``, written as CSV (``reports/roas_summary_<by>.csv`` unless ``output``), and
    how the export was read.

    A table, not a report tree: one row per group, the columns of :func:`features.campaigns.summarize`.
    """
    read = read_campaigns(data, mapping, policy)
    table = summarize(read.table, by, value_enquiry, value_sale, mapping)
    write_csv(output if output is not None else summary_path(by), table)
    return table, read.reading
