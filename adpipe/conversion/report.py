"""The typed report of ``conversion validate`` / ``train`` (``reports/conversion_validation.json``) and the saved
model's metadata: what the terminal, the dashboard and the service read. Field names are the JSON keys; model
names, which are data, are dictionary keys."""

from __future__ import annotations

from adpipe.reference import InputReference
from adpipe.reports import MeanStd, Report


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
