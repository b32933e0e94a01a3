"""Conversion rate for one profile: the saved regressor's rate (or the mean baseline's, when no model beat
it), an interval of ± the cross-validated MAE, and the inputs that pushed it most."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adpipe.conversion import SPEC
from adpipe.conversion.models import BASELINE, FEATURES
from adpipe.conversion.report import ConversionReport
from adpipe.reports import read_report
from adpipe.serving.adapter import Prediction, Reliability
from adpipe.serving.explain import linear_contributions, tree_contributions
from adpipe.serving.profiles import PROFILE_EXAMPLE, ProfileTask
from features.profiles import CTR, PREDICT_SCHEMA, TARGET, USER_ID, feature_frame


class ConversionRate(ProfileTask):
    spec = SPEC
    title = "Conversion rate for one profile"
    schema = PREDICT_SCHEMA
    exclude = (USER_ID, TARGET)
    effect_unit = "conversion rate"
    example = {**PROFILE_EXAMPLE, CTR: 0.193}

    def is_baseline(self) -> bool:
        return self.metadata.get("chosen") == BASELINE

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        X = feature_frame(table, FEATURES)
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
