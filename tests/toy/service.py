"""The toy task's service adapter: one number in a one-column table, the number times the model's factor out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adpipe.serving.adapter import Prediction, TableTask
from features.schema import Column, TableSchema
from features.tables import read_table
from tests.toy import SPEC

SCHEMA = TableSchema("toy", ",", (Column("x", "float"),))


class Toy(TableTask):
    spec = SPEC
    title = "The toy task"
    schema = SCHEMA
    example = {"x": 3.0}
    effect_unit = "x"

    def load(self, path: Path) -> pd.DataFrame:
        return read_table(path, SCHEMA)

    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        return table

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        factor = self.model["factor"]
        return [Prediction(prediction=float(x) * factor, label=f"{x} x {factor}") for x in table["x"]]
