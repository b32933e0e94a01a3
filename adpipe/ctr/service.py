"""Click-through for one impression: the click probability, the yes/no at the saved threshold, and the inputs
(target-encoded keys and numbers) that pushed its log-odds most."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from adpipe.ctr import SPEC
from adpipe.ctr.models import decision_threshold
from adpipe.serving.adapter import Prediction, TableTask
from adpipe.serving.explain import final_model_inputs, tree_contributions
from features.ctr import TIMESTAMP, TIMESTAMP_FORMATS, UNLABELLED_SCHEMA, build_features, impressions, load_impressions


class ClickThrough(TableTask):
    spec = SPEC
    title = "Click-through for one impression"
    schema = UNLABELLED_SCHEMA
    effect_unit = "log-odds of a click"
    example = {
        "Daily Time Spent on Site": 62.26,
        "Age": 32,
        "Area Income": 69481.85,
        "Daily Internet Usage": 172.83,
        "Ad Topic Line": "Decentralized real-time circuit",
        "City": "Lisafort",
        "Gender": "Male",
        "Country": "Svalbard & Jan Mayen Islands",
        "Timestamp": "6/9/2016 21:43",
    }

    def attach(self, model: Any, metadata: dict[str, Any], reports_dir: Path) -> None:
        """As every task attaches its model; a blended model's effects say they are its trees' part only."""
        super().attach(model, metadata, reports_dir)
        click_model = getattr(model, "estimator_", None)  # a file that is no decision model fails its example check
        if getattr(click_model, "logistic_", None) is not None:
            self.effect_unit = (
                f"log-odds of a click in LightGBM's trees ({1 - click_model.blend:.0%} of the probability; a logistic "
                "regression on the four numbers makes the rest)"
            )

    def key(self, records: Sequence[BaseModel]) -> Hashable | None:
        """The fields set and the timestamps' format: the loader picks one format per file, the first that reads
        every timestamp, so records are read together only when each one's own first format is the same.

        ``datetime.strptime`` finds a record's first format in microseconds (pandas takes a millisecond a
        record); where the two ever disagreed, the loader would refuse the shared file and the coalescer would
        predict each request alone, as it does for any refusal.
        """
        fields = super().key(records)
        formats = {_first_format(record.model_dump(by_alias=True).get(TIMESTAMP)) for record in records}
        return (fields, formats.pop()) if fields is not None and len(formats) == 1 else None

    def load(self, path: Path) -> pd.DataFrame:
        return load_impressions(path, labelled=False)

    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        return impressions(table, path, labelled=False)

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        # Only the inputs the model uses, encoded once: the wrappers and the pipeline pass predict_proba through to
        # the final model, whose probability at the threshold is the decision and whose trees explain it.
        click_model = self.model.estimator_
        features = build_features(table, click_model.columns)
        final, inputs = final_model_inputs(self.model, features)
        positive = list(self.model.classes_).index(1)
        # LightGBM's probability, blended with the logistic baseline's as the model's predict_proba does; the trees
        # explain their part.
        probability = click_model.blended(final.predict_proba(inputs), features)[:, positive]
        clicked = np.where(probability >= decision_threshold(self.model), 1, 0)
        contributions = (tree_contributions(final, inputs) if explain else None) or [None] * len(inputs)
        return [
            Prediction(
                prediction=int(c),
                label=f"{'clicked' if c == 1 else 'not clicked'} (probability {p:.1%}, "
                f"threshold {self.metadata['threshold']:.3f})",
                probabilities={"clicked": float(p), "not clicked": float(1.0 - p)},
                top_inputs=top,
            )
            for c, p, top in zip(clicked, probability, contributions, strict=True)
        ]

    def class_probabilities(self, prediction: Prediction) -> list[float] | None:
        """[not clicked, clicked]: the answer names its probabilities by label, the reference its classes 0 and 1."""
        given = prediction.probabilities
        return None if given is None else [given["not clicked"], given["clicked"]]


def _first_format(stamp: str | None) -> int:
    """The position in TIMESTAMP_FORMATS of the first format that reads ``stamp`` (-1: none, or no stamp)."""
    if stamp is None:
        return -1
    for position, fmt in enumerate(TIMESTAMP_FORMATS):
        try:
            datetime.strptime(stamp.strip(), fmt)
        except ValueError:
            continue
        return position
    return -1
