"""The data sets' terms that the CLI's options offer, importable without pandas or Polars: a command's
``--help`` is built from them before any data is read. The loaders in this folder use the same names."""

from __future__ import annotations

from typing import Literal

# Synthetic ClickStream data (features/synth.py): the largest split `synth` writes.
MAX_USERS = 10**9
MAX_SESSIONS_PER_USER = 1000

# The campaign export (features/campaigns.py): which columns describe an ad as planned (spend, audience) or as
# delivered too, what its summaries group by, its grouping key, and a conversion's default values.
Mode = Literal["planned", "delivery"]
SummaryBy = Literal["campaign", "age", "gender", "interest"]
GROUP = "fb_campaign_id"
DEFAULT_VALUE_ENQUIRY = 5.0
DEFAULT_VALUE_SALE = 100.0

# The click-through data's groups of model inputs (features.ctr.FEATURE_GROUPS has their columns), in order.
CTR_FEATURE_GROUP_NAMES = ("numeric", "gender", "calendar", "text", "values", "timestamp", "pairs")
