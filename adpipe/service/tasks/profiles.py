"""The two tasks on one user profile (``user_profiles_for_ads.csv`` rows): its conversion rate, and its segment.

The profile's ``User ID`` is not an input: the service numbers the records itself, so a batch never trips the
loader's unique-id rule over ids a client did not choose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from adpipe import conversion
from adpipe.conversion.report import ConversionReport
from adpipe.reports import MeanStd, read_report
from adpipe.segments.cli import WARNINGS
from adpipe.segments.report import SegmentsReport
from adpipe.segments.source import SPECS, Source, model_path, report_path
from adpipe.service.explain import centre_contributions, linear_contributions, tree_contributions
from adpipe.service.tasks.base import Prediction, Reliability, TableTask
from features.profiles import CTR, PREDICT_SCHEMA, TARGET, USER_ID, checked_profiles, feature_frame, load_profiles

_PROFILE = {
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


class ConversionRate(ProfileTask):
    name = "conversion"
    title = "Conversion rate for one profile"
    model_file = conversion.MODEL_FILE
    report_file = conversion.VALIDATION_REPORT
    make = (("conversion", "train", "--repeats", "1", "--permutations", "19"),)
    schema = PREDICT_SCHEMA
    exclude = (USER_ID, TARGET)
    effect_unit = "conversion rate"
    example = {**_PROFILE, CTR: 0.193}

    def is_baseline(self) -> bool:
        return self.metadata.get("chosen") == conversion.BASELINE

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        X = feature_frame(table, conversion.FEATURES)
        # The baseline predicts the training mean whatever the inputs: its pipeline's encoding is skipped.
        predicted = (self.model[-1] if self.is_baseline() else self.model).predict(X)
        mae = self.reliability_.model.mean if self.reliability_ is not None else None
        contributions = None
        if explain and not self.is_baseline():
            contributions = tree_contributions(self.model, X) or linear_contributions(self.model, X)
        contributions = contributions or [None] * len(X)
        which = "the mean baseline (no model beat it)" if self.is_baseline() else self.metadata["chosen"]
        return [
            Prediction(
                prediction=float(value),
                label=f"{value:.4f} by {which}",
                interval=[max(0.0, value - mae), min(1.0, value + mae)] if mae is not None else None,
                top_inputs=top,
            )
            for value, top in zip(predicted, contributions, strict=True)
        ]

    def reliability(self, path: Path) -> Reliability | None:
        report = read_report(path, ConversionReport)
        model = report.baseline if self.is_baseline() else report.models[self.metadata["chosen"]]
        protocol = report.protocol
        return Reliability(
            metric="MAE",
            model=model.mae,
            baseline=report.baseline.mae,
            baseline_name="the training mean",
            higher_is_better=False,
            protocol=f"{protocol.folds} folds x {protocol.repeats} repeats, {protocol.n_users} users; "
            "interval: prediction ± the cross-validated MAE",
            note=(
                "The saved model is only the baseline: no model beat the training mean significantly, so every "
                f"profile gets the same rate. {report.verdict}"
            )
            if self.is_baseline()
            else report.verdict,
        )


class Segment(ProfileTask):
    name = "segments"
    title = "Segment for one profile"
    model_file = model_path(Source.profiles)
    report_file = report_path(Source.profiles)
    make = (("segment", "fit", "--source", "profiles", "--bootstraps", "5", "--shuffles", "2"),)
    schema = PREDICT_SCHEMA
    exclude = (USER_ID, TARGET, CTR)
    effect_unit = "squared distance to the runner-up centre minus to its own"
    example = _PROFILE

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        X = feature_frame(table, SPECS[Source.profiles])
        # KMeans assigns the nearest centre: the distances give the segment (numbered by size, as
        # adpipe.segments.models.assign_segments does) without encoding the profiles a second time.
        distances, contributions = centre_contributions(self.model, X)
        relabel = np.asarray(self.metadata["relabel"])
        by_segment = np.empty_like(distances)
        by_segment[:, relabel] = distances
        descriptions = self.metadata["descriptions"]
        return [
            Prediction(
                prediction=int(segment),
                label=f"segment {segment}: {descriptions.get(int(segment), '')}",
                distances={str(s): float(d) for s, d in enumerate(row)},
                top_inputs=top if explain else None,
            )
            for segment, row, top in zip(by_segment.argmin(axis=1), by_segment, contributions, strict=True)
        ]

    def reliability(self, path: Path) -> Reliability | None:
        report = read_report(path, SegmentsReport)
        return Reliability(
            metric="silhouette",
            model=MeanStd(mean=report.silhouette, std=0.0),
            baseline=report.shuffled_silhouette,
            baseline_name="the same profiles with each column shuffled",
            higher_is_better=True,
            protocol=f"k = {report.chosen_k} ({report.chosen_by}); stability (adjusted Rand over "
            f"{report.stability.n_bootstraps} bootstraps) {report.stability.adjusted_rand.mean:.2f}",
            note=WARNINGS.get(report.structure),
        )
