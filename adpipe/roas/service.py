"""Return on ad spend for one planned ad (campaign, audience, budget; with delivery figures when the saved model
uses them), with a typical-error band and the inputs that pushed its log(1 + ROAS) most."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adpipe.reports import read_report
from adpipe.roas import SPEC
from adpipe.roas.models import MEDIAN_BASELINE, ROAS_MODEL
from adpipe.roas.report import RoasValidationReport
from adpipe.service.adapter import Prediction, Reliability, TableTask
from adpipe.service.explain import tree_contributions
from features.campaigns import PLANNED_AD_SCHEMA, checked_planned_ads, load_planned_ads, model_inputs


class ReturnOnAdSpend(TableTask):
    spec = SPEC
    title = "Return on ad spend for one ad"
    schema = PLANNED_AD_SCHEMA
    id_column = "ad_id"
    effect_unit = "log(1 + ROAS), before the model's MAE scaling"
    example = {
        "xyz_campaign_id": 1178,
        "age": "30-34",
        "gender": "M",
        "interest": 10,
        "Spent": 120.5,
        "Impressions": 45000,
        "Clicks": 30,
    }

    def load(self, path: Path) -> pd.DataFrame:
        return load_planned_ads(path, self.metadata.get("mode", "planned"))

    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        return checked_planned_ads(table, path, self.metadata.get("mode", "planned"))

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        X = model_inputs(table, self.metadata["features"])
        predicted = self.model.predict(X)
        mae = self.reliability_.model.mean if self.reliability_ is not None else None
        contributions = (tree_contributions(self.model, X) if explain else None) or [None] * len(X)
        return [
            Prediction(
                prediction=float(value),
                label=f"ROAS {value:.2f} (value returned per unit spent, {self.metadata['mode']} mode)",
                interval=[max(0.0, value - mae), value + mae] if mae is not None else None,
                top_inputs=top,
            )
            for value, top in zip(predicted, contributions, strict=True)
        ]

    def reliability(self, path: Path) -> Reliability | None:
        report = read_report(path, RoasValidationReport)
        mode = self.metadata.get("mode", "planned")
        grouped = report.modes[mode].grouped
        model = grouped.models[ROAS_MODEL]
        protocol = report.protocol
        return Reliability(
            metric="MAE",
            model=model.mae,
            baseline=grouped.models[MEDIAN_BASELINE].mae,
            baseline_name="the training median",
            higher_is_better=False,
            protocol=f"{grouped.grouping}, {protocol.folds} folds x {protocol.repeats} repeats, {mode} mode; "
            f"Spearman {model.spearman.mean:.2f}; interval: prediction ± the cross-validated MAE",
        )
