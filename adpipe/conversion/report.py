"""The typed report of ``conversion validate`` / ``train`` (``reports/conversion_validation.json``) and the saved
model's metadata: what the terminal, the dashboard and the service read. Field names are the JSON keys; model
names, which are data, are dictionary keys."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adpipe.conversion.defaults import BASELINE, VALIDATION_REPORT
from adpipe.reference import InputReference
from adpipe.reports import Headline, MeanStd, Report, read_report


class RegressionFigures(Report):
    """One model over the repeated K-fold: mean ± std of each metric, and of its R² gain over the mean baseline
    on the same fold."""

    r2: MeanStd
    mae: MeanStd
    rmse: MeanStd
    r2_gain: MeanStd


class ModelFigures(RegressionFigures):
    """A model beside the baseline: its figures and its permutation-test p-values (own, and max-T adjusted)."""

    p_value: float
    p_value_adjusted: float


class PermutationResult(Report):
    """One model in the permutation test: its real R² gain, the gain on shuffled targets, and the p-values."""

    r2_gain: float
    null_r2_gain: MeanStd
    p_value: float
    p_value_adjusted: float


class PermutationTest(Report):
    """How the test was run, and each model's result."""

    statistic: str
    method: str
    n_permutations: int
    seed: int
    folds: int
    models: dict[str, PermutationResult]


class ConversionProtocol(Report):
    """The folds every model and the baseline were scored on."""

    folds: int
    repeats: int
    seed: int
    kind: str
    n_users: int


class Decision(Report):
    """Whether some model has significant signal, which model ``train`` saves, and why, in one sentence."""

    signal: bool
    chosen: str
    verdict: str


class ConversionReport(Report):
    """``conversion validate``: every model and the mean baseline on the same folds, the permutation test, and
    the decision (its fields inline, as :class:`Decision`)."""

    input: str
    target: str
    features: list[str]
    protocol: ConversionProtocol
    models: dict[str, ModelFigures]
    baseline: RegressionFigures
    permutation_test: PermutationTest
    alpha: float
    signal: bool
    chosen: str
    verdict: str


class TrainedModel(Report):
    """How a saved conversion model was made; stored beside it (as a dictionary) and read back by ``predict``."""

    task: str
    chosen: str
    signal: bool
    verdict: str
    n_users: int
    target_mean: float
    features: list[str]
    protocol: ConversionProtocol
    seed: int
    # The training range of every input, for the service's guard (adpipe.reference); None in older files.
    reference: InputReference | None = None


def headline(reports: Path, model: Mapping[str, Any]) -> Headline:
    """The saved model's cross-validated MAE beside the mean baseline's on the same folds: the model is chosen by
    the permutation test on these folds, so a model that only matched the baseline is saved as the baseline."""
    report = read_report(reports / VALIDATION_REPORT.name, ConversionReport)
    chosen = model.get("chosen", report.chosen)
    figures = report.baseline if chosen == BASELINE else report.models[chosen]
    protocol = report.protocol
    note = report.verdict
    if chosen == BASELINE:
        note = (
            "The saved model is only the baseline: no model beat the training mean significantly, so every profile "
            f"gets the same rate. {report.verdict}"
        )
    return Headline(
        metric="MAE",
        model=figures.mae,
        baseline=report.baseline.mae,
        baseline_name="the training mean",
        higher_is_better=False,
        protocol=f"{protocol.folds} folds x {protocol.repeats} repeats, {protocol.n_users} users; "
        "interval: prediction ± the cross-validated MAE",
        note=note,
    )
