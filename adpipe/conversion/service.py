"""Conversion rate for one profile: the saved regressor's rate (or the mean baseline's, when no model beat
it), an interval of ± the cross-validated MAE, and the inputs that pushed it most."""

from __future__ import annotations

import pandas as pd

from adpipe.conversion import SPEC
from adpipe.conversion.models import BASELINE, FEATURES
from adpipe.serving.adapter import Prediction
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
