"""The typed reports of ``ctr validate`` (``reports/ctr_validation.json``), ``ctr seed-approach`` and
``ctr holdout``. Field names are the JSON keys; scripts read the files.

``ctr_validation.json`` keeps, for the protocol that ran (``primary``), the keys it always had (``protocol``,
``model``, ``baselines`` ``majority``/``logistic``, ``duplicates_found``), and adds ``protocols`` (forward and
random side by side: probability quality, reliability, baselines), ``random_minus_forward`` and ``audit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from adpipe.reports import MeanStd, Report
from adpipe.validation import FoldMetrics, summarize_binary

RELIABILITY_BINS = 10


class ClassReport(Report):
    """One class's mean precision, recall and F1 over the folds, and its support summed over them."""

    precision: float
    recall: float
    f1: float
    support: int


class BinarySummary(Report):
    """A binary classifier's yes/no figures over the folds (:func:`adpipe.validation.summarize_binary`)."""

    roc_auc: MeanStd
    accuracy: MeanStd
    precision: MeanStd
    recall: MeanStd
    f1: MeanStd
    classification_report: dict[str, ClassReport]
    confusion: list[list[int]]

    @classmethod
    def from_folds(cls, results: Sequence[FoldMetrics], **extra: Any) -> Any:
        return cls.model_validate({**summarize_binary(results), **extra})


class ModelSummary(BinarySummary):
    """The click model over the folds, with its threshold and the params it was built from."""

    threshold: MeanStd
    features: list[str]
    imbalance: str
    calibration: str
    params_source: dict[str, Any]
    blend: float = 0.0  # the logistic baseline's weight in the probability (0 in reports written before it)

    @property
    def name(self) -> str:
        """The model in words: LightGBM, or LightGBM blended with the logistic baseline."""
        return f"LightGBM + logistic baseline (weight {self.blend:g})" if self.blend else "LightGBM"


class ReliabilityBin(Report):
    """Held-out impressions whose predicted probability fell in ``[lower, upper)``: how many, the mean
    prediction and the observed click rate."""

    lower: float
    upper: float
    n: int
    predicted: float
    observed: float


def reliability_table(truth: np.ndarray, probability: np.ndarray) -> tuple[list[ReliabilityBin], float]:
    """Predicted vs observed click rate in :data:`RELIABILITY_BINS` equal-width bins (empty bins left out),
    and the expected calibration error: the bins' |predicted - observed|, weighted by their share of rows."""
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(probability, edges[1:-1]), 0, RELIABILITY_BINS - 1)
    bins, ece = [], 0.0
    for number in range(RELIABILITY_BINS):
        inside = which == number
        if not inside.any():
            continue
        predicted, observed = float(probability[inside].mean()), float(truth[inside].mean())
        lower, upper = float(edges[number]), float(edges[number + 1])
        bins.append(
            ReliabilityBin(lower=lower, upper=upper, n=int(inside.sum()), predicted=predicted, observed=observed)
        )
        ece += inside.mean() * abs(predicted - observed)
    return bins, float(ece)


def background_entropy(rate: float) -> float:
    """The log-loss of predicting the click rate ``rate`` for every impression of data clicked at that rate."""
    p = min(max(rate, 1e-15), 1 - 1e-15)
    return float(-(p * np.log(p) + (1 - p) * np.log(1 - p)))


def normalized_entropy(log_loss: float, background: float) -> float:
    """Log-loss over the entropy of the training data's click rate (He et al. 2014, Facebook): below 1, the
    model knows more than the background click rate; 1, nothing more."""
    return log_loss / background_entropy(background)


def calibration_ratio(truth: np.ndarray, probability: np.ndarray) -> float:
    """Expected clicks (the probabilities' sum) over observed clicks: 1 is right on average; above 1, the model
    promises more clicks than came."""
    observed = float(np.sum(truth))
    return float(np.sum(probability)) / observed if observed else float("inf")


class ProbabilityFigures(Report):
    """What a CTR team reads, over the folds: ranking (ROC-AUC, PR-AUC), probability quality (log-loss, its
    normalized entropy, Brier, the calibration ratio, the reliability table and its ECE, pooled over every
    held-out prediction) and the yes/no figures at the model's threshold."""

    roc_auc: MeanStd
    pr_auc: MeanStd
    log_loss: MeanStd
    brier: MeanStd
    ece: float
    f1: MeanStd
    precision: MeanStd
    recall: MeanStd
    reliability: list[ReliabilityBin]
    normalized_entropy: MeanStd | None = None  # None in reports written before it was measured
    calibration_ratio: MeanStd | None = None

    @classmethod
    def from_folds(cls, results: Sequence[FoldMetrics], backgrounds: Sequence[float]) -> ProbabilityFigures:
        """``backgrounds``: each fold's training click rate, the normalized entropy's reference."""
        truth = np.concatenate([r["truth"] for r in results])
        probability = np.concatenate([r["probability"] for r in results])
        bins, ece = reliability_table(truth, probability)
        names = ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall")
        figures = {name: MeanStd.over([r[name] for r in results]) for name in names}
        entropy = [normalized_entropy(r["log_loss"], rate) for r, rate in zip(results, backgrounds, strict=True)]
        ratio = [calibration_ratio(r["truth"], r["probability"]) for r in results]
        return cls(
            **figures,
            ece=ece,
            reliability=bins,
            normalized_entropy=MeanStd.over(entropy),
            calibration_ratio=MeanStd.over(ratio),
        )


class ProtocolFigures(Report):
    """One protocol's figures: the model and the baselines (``base_rate``, ``logistic``) on the same folds."""

    description: str
    model: ProbabilityFigures
    baselines: dict[str, ProbabilityFigures]


class AuditRow(Report):
    """One feature group: alone, and the model with every group but this one, under both protocols.

    ``new_values_auc``: the group alone on the forward folds, its held-out impressions given values no
    training row has (:func:`features.ctr.with_new_values`): what is left on another export.
    """

    group: str
    forward_auc: float
    random_auc: float
    new_values_auc: float
    without_forward_auc: float
    without_random_auc: float
    flagged: bool
    reason: str


class AuditScore(Report):
    """The model with every feature group, under both protocols and on new values."""

    forward_auc: float
    random_auc: float
    new_values_auc: float


class ValidationProtocol(Report):
    """How the folds of the primary protocol were drawn, and what the data held."""

    name: str
    folds: int
    repeats: int
    seed: int
    gap: int
    stratified: bool
    groups: str
    n_groups: int
    n_rows: int
    clicked_share: float
    threshold: str
    data: str


class ValidationReport(Report):
    """The model and its baselines on the folds of the primary protocol (top-level keys), both protocols side
    by side (``protocols``), and the feature-group audit."""

    protocol: ValidationProtocol
    model: ModelSummary
    baselines: dict[str, BinarySummary]
    duplicates_found: int
    primary: str
    protocols: dict[str, ProtocolFigures]
    random_minus_forward: dict[str, float]
    audit: list[AuditRow]
    audit_all_groups: AuditScore | None
    warnings: list[str]


class LeakyScore(Report):
    """The seed project's way: fitted on every row, scored on a part of those same rows."""

    how: str
    accuracy: float
    roc_auc: float


class HonestSummary(BinarySummary):
    """The same forest through grouped folds."""

    protocol: dict[str, int]
    groups: str


class SeedApproachReport(Report):
    features: list[str]
    leaky: LeakyScore
    honest: HonestSummary


class HeldOutScore(Report):
    """A fitted model's scores on one block of impressions it never saw."""

    roc_auc: float
    log_loss: float
    brier: float
    normalized_entropy: float | None = None  # None in reports written before it was measured
    calibration_ratio: float | None = None

    @classmethod
    def of(cls, truth: np.ndarray, probability: np.ndarray, background: float, **extra: Any) -> Any:
        """The scores of ``probability`` on ``truth``; ``background``: the training click rate (the normalized
        entropy's reference)."""
        loss = float(log_loss(truth, probability, labels=[0, 1]))
        return cls(
            roc_auc=float(roc_auc_score(truth, probability)),
            log_loss=loss,
            brier=float(brier_score_loss(truth, probability)),
            normalized_entropy=normalized_entropy(loss, background),
            calibration_ratio=calibration_ratio(truth, probability),
            **extra,
        )


class ExportScore(HeldOutScore):
    """A model trained on the training part and scored on the held-out export, beside what forward
    validation of that training part promised."""

    promised_auc: MeanStd


class NestedWindow(Report):
    """One outer forward window: the params the search chose on its past alone, and each model's scores on it."""

    fold: int
    n_train: int
    n_test: int
    inner_score: float  # the chosen params' mean score on the inner folds (the search's own figure)
    chosen: dict[str, Any]
    scores: dict[str, HeldOutScore]


class NestedSummary(Report):
    """One model over the outer windows."""

    roc_auc: MeanStd
    log_loss: MeanStd
    normalized_entropy: MeanStd
    calibration_ratio: MeanStd


class NestedReport(Report):
    """Nested forward validation (``ctr nested``): in each outer forward window a search on the window's past
    only (inner forward folds) chooses the params, and the window scores what it chose, beside the params file
    (chosen by a search on these same outer windows: optimistic) and the logistic baseline."""

    outer: str
    inner: str
    metric: str
    trials: int
    params_file: str
    windows: list[NestedWindow]
    models: dict[str, NestedSummary]
    data: str

    @classmethod
    def summarise(cls, windows: list[NestedWindow], **about: Any) -> NestedReport:
        names = list(windows[0].scores) if windows else []
        figures = ("roc_auc", "log_loss", "normalized_entropy", "calibration_ratio")
        models = {
            name: NestedSummary(**{f: MeanStd.over([getattr(w.scores[name], f) for w in windows]) for f in figures})
            for name in names
        }
        return cls(windows=windows, models=models, **about)


class PairedDifference(Report):
    """One figure of the default minus the same figure of the logistic baseline on the export, with a 95 % paired
    bootstrap interval (the export's rows resampled, both models scored on each resample): an interval holding 0
    is a difference this export cannot tell from chance."""

    metric: str
    difference: float
    low: float
    high: float
    resamples: int


class HoldoutReport(Report):
    """Another export made from the reference file: its last ``months`` held out, and every impression of a
    city seen in them removed from training; which of its values training has seen, and the scores."""

    months: list[str]
    n_train: int
    n_export: int
    n_removed_for_cities: int
    seen_in_training: dict[str, float]
    clicked_share: dict[str, float]
    features: list[str]
    models: dict[str, ExportScore]
    data: str
    against_logistic: list[PairedDifference] = []  # empty in reports written before it was measured


class CandidateFigures(Report):
    """One candidate on one protocol: means over its folds (or the one export)."""

    roc_auc: float
    log_loss: float
    normalized_entropy: float
    calibration_ratio: float

    @classmethod
    def of_folds(cls, figures: ProbabilityFigures) -> CandidateFigures:
        entropy, ratio = figures.normalized_entropy, figures.calibration_ratio
        assert entropy is not None and ratio is not None  # measured by from_folds
        return cls(
            roc_auc=figures.roc_auc.mean,
            log_loss=figures.log_loss.mean,
            normalized_entropy=entropy.mean,
            calibration_ratio=ratio.mean,
        )

    @classmethod
    def of_score(cls, score: HeldOutScore) -> CandidateFigures:
        return cls.model_validate(score.model_dump(include=set(cls.model_fields)))


class CandidatesReport(Report):
    """``ctr candidates``: each candidate (by name) on each protocol (by name, described in ``protocols``)."""

    protocols: dict[str, str]
    candidates: dict[str, dict[str, CandidateFigures]]
    params_file: str
    data: str
    baseline: str  # the candidate the others are held against

    def worse_than_baseline(self, name: str) -> list[str]:
        """The protocols on which candidate ``name``'s log-loss is above the baseline's (issue 24's rule)."""
        baseline = self.candidates[self.baseline]
        return [protocol for protocol, f in self.candidates[name].items() if f.log_loss > baseline[protocol].log_loss]
