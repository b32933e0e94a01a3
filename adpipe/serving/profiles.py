"""What the two tasks on one user profile (``user_profiles_for_ads.csv`` rows) share as served tasks: the
loader without the target, and the example profile their forms start from.

The profile's ``User ID`` is not an input: the service numbers the records itself, so a batch never trips the
loader's unique-id rule over ids a client did not choose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from adpipe.serving.adapter import TableTask
from features.profiles import USER_ID, checked_profiles, load_profiles

PROFILE_EXAMPLE = {
    "Age": "25-34",
    "Gender": "Female",
    "Location": "Suburban",
    "Language": "Hindi",
    "Education Level": "Technical",
    "Likes and Reactions": 5640,
    "Followed Accounts": 190,
    "Device Usage": "Mobile Only",
    "Time Spent Online (hrs/weekday)": 4.5,
    "Time Spent Online (hrs/weekend)": 1.7,
    "Ad Interaction Time (sec)": 25,
    "Income Level": "20k-40k",
    "Top Interests": "Digital Marketing",
}


class ProfileTask(TableTask):
    """A task on profile rows; the loader is ``load_profiles`` without the target."""

    schema = None
    id_column = USER_ID

    def load(self, path: Path) -> pd.DataFrame:
        return load_profiles(path, target_required=False)

    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        return checked_profiles(table, path)

    def extra_columns(self, n: int) -> dict[str, list[Any]]:
        return {USER_ID: [str(i + 1) for i in range(n)]}
