"""The segment of one profile: the nearest KMeans centre (segments numbered by size), the distance to every
centre, and the inputs that pushed it towards its own centre most."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adpipe.segments import SPEC
from adpipe.segments.defaults import Source
from adpipe.segments.source import SPECS
from adpipe.serving.adapter import Prediction
from adpipe.serving.explain import centre_contributions
from adpipe.serving.profiles import PROFILE_EXAMPLE, ProfileTask
from features.profiles import CTR, PREDICT_SCHEMA, TARGET, USER_ID, feature_frame


class Segment(ProfileTask):
    spec = SPEC
    title = "Segment for one profile"
    schema = PREDICT_SCHEMA
    exclude = (USER_ID, TARGET, CTR)
    effect_unit = "squared distance to the runner-up centre minus to its own"
    example = PROFILE_EXAMPLE

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
