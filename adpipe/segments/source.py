"""Which users a segmentation is for (ad-platform profiles or ClickStream users), how they are read, and where
each source's model and reports go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adpipe import config
from adpipe.clickstream.engines import build_features, load_split
from adpipe.errors import DataError
from adpipe.segments.defaults import Source
from features.clickstream import FEATURE_COLUMNS
from features.profiles import CTR, PROFILE_FEATURES, TARGET, USER_ID, FeatureSpec, feature_frame, load_profiles

# Profiles: CTR and conversion rate are what a segment is targeted for, so they are reported, not clustered.
PROFILE_OUTCOMES = (CTR, TARGET)
SPECS = {
    Source.profiles: PROFILE_FEATURES.without(*PROFILE_OUTCOMES),
    Source.clickstream: FeatureSpec(numeric=FEATURE_COLUMNS),
}


@dataclass(frozen=True)
class SegmentData:
    """The users to segment: raw input columns, outcomes reported per segment (never clustered), ids."""

    features: pd.DataFrame
    outcomes: pd.DataFrame
    ids: pd.Series
    spec: FeatureSpec
    origin: str
    paths: tuple[Path, ...] = ()  # the files or folders read (a model's card hashes them)


def _clickstream_folder(folder: Path) -> pd.DataFrame:
    if not folder.is_dir():
        raise DataError("expected a ClickStream folder holding user_*.csv and session_*.csv", path=folder)
    split = "train" if (folder / config.USERS_TRAIN_FILE).exists() else "test"
    return build_features(load_split(folder, split))


def load_source(source: Source, input_path: str | Path | None = None, *, outcomes_required: bool = True) -> SegmentData:
    """Profiles (a CSV) or ClickStream users (a split folder; by default train/ and test/ together).

    Only the spec's columns become features: the ClickStream target (or test id) beside them is never clustered.
    """
    spec = SPECS[source]
    if source is Source.profiles:
        path = Path(input_path) if input_path is not None else config.PROFILES_FILE
        table = load_profiles(path, target_required=outcomes_required)
        outcomes = table[[c for c in PROFILE_OUTCOMES if c in table]].reset_index(drop=True)
        return SegmentData(feature_frame(table, spec), outcomes, table[USER_ID], spec, str(path), (path,))
    folders = [Path(input_path)] if input_path is not None else [config.TRAIN_DIR, config.TEST_DIR]
    table = pd.concat([_clickstream_folder(folder) for folder in folders])
    ids = pd.Series(table.index, name="user_id")
    features = feature_frame(table.reset_index(drop=True), spec)
    origin = " + ".join(str(folder) for folder in folders)
    return SegmentData(features, pd.DataFrame(index=features.index), ids, spec, origin, tuple(folders))
