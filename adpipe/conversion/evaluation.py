"""Validation of the conversion-rate models (a protocol in, a typed report out), training and prediction.

``Conversion Rates`` in the profiles data may carry little or no signal, so no model is believed on its
cross-validated score alone: the permutation test compares each model's gain over the mean baseline with the
gains the same models reach on shuffled targets. When no model beats the baseline significantly, ``train``
saves the baseline (the training mean), not a model that only fits noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from adpipe import config
from adpipe.conversion.defaults import (
    ALPHA,
    BASELINE,
    DEFAULT_PERMUTATIONS,
    MODEL_FILE,
    PROTOCOL,
    REGRESSORS,
    TASK,
    VALIDATION_REPORT,
)
from adpipe.conversion.models import FEATURES, build_model
from adpipe.conversion.permutation import permutation_test
from adpipe.conversion.report import (
    ConversionProtocol,
    ConversionReport,
    Decision,
    ModelFigures,
    PermutationTest,
    RegressionFigures,
    TrainedModel,
)
from adpipe.io import load_model, write_csv
from adpipe.reference import WARNINGS_COLUMN, InputReference, PredictionReference, guard_rows
from adpipe.reports import MeanStd, write_report
from adpipe.validation import (
    FoldMetrics,
    Protocol,
    cross_validate,
    make_splits,
    regression_evaluator,
    require_trainable,
)
from adpipe.versions import save_trained
from features.profiles import TARGET, USER_ID, feature_frame, load_profiles


def load_training(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """The model's inputs (every profile column but the id and the target) and the target."""
    table = load_profiles(path)
    require_trainable(table[TARGET], path, TARGET, classes=False)
    return feature_frame(table, FEATURES), table[TARGET]


def summarise(results: Sequence[FoldMetrics], baseline: Sequence[FoldMetrics]) -> RegressionFigures:
    """Mean ± std over the folds of each metric, and of the gain in R² over the baseline fold by fold."""

    def over_folds(metric: str) -> MeanStd:
        return MeanStd.over([r[metric] for r in results])

    gains = [r["r2"] - b["r2"] for r, b in zip(results, baseline, strict=True)]
    return RegressionFigures(
        r2=over_folds("r2"), mae=over_folds("mae"), rmse=over_folds("rmse"), r2_gain=MeanStd.over(gains)
    )


def decide(models: dict[str, ModelFigures], baseline: RegressionFigures, alpha: float) -> Decision:
    """Signal when some model's adjusted p-value is at most ``alpha`` and its repeated-CV R² beats the baseline.

    The best such model (by repeated-CV R²) is the one ``train`` saves; without one, the baseline.
    """
    baseline_r2 = baseline.r2.mean
    winners = [name for name, m in models.items() if m.p_value_adjusted <= alpha and m.r2.mean > baseline_r2]
    if not winners:
        name, smallest = min(models.items(), key=lambda item: item[1].p_value_adjusted)
        return Decision(
            signal=False,
            chosen=BASELINE,
            verdict=(
                f"no signal: no model beats the mean baseline significantly (smallest adjusted p-value "
                f"{smallest.p_value_adjusted:.3f} for {name}, alpha {alpha}); train saves the baseline"
            ),
        )
    chosen = max(winners, key=lambda name: models[name].r2.mean)
    return Decision(
        signal=True,
        chosen=chosen,
        verdict=(
            f"signal: {chosen} beats the mean baseline (R² {models[chosen].r2.mean:.4f} vs {baseline_r2:.4f}, "
            f"adjusted p-value {models[chosen].p_value_adjusted:.3f} <= {alpha}); train saves {chosen}"
        ),
    )


def validate(
    input_path: str | Path = config.PROFILES_FILE,
    protocol: Protocol = PROTOCOL,
    models: Sequence[str] = REGRESSORS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    alpha: float = ALPHA,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> ConversionReport:
    """Repeated K-fold of each model and the mean baseline on the same folds, then the permutation test on one
    K-fold of the same seed."""
    X, y = load_training(input_path)
    with threadpool_limits(limits=1):  # one BLAS/OpenMP thread: the machine is shared, and it is faster here
        splits = make_splits(y, protocol)
        folds = {
            name: cross_validate(
                lambda name=name: build_model(name, protocol.seed),
                X,
                y,
                splits,
                regression_evaluator(),
                description=name,
                progress=progress,
            )
            for name in (*models, BASELINE)
        }
        permutation_folds = Protocol(folds=protocol.folds, repeats=1, seed=protocol.seed, stratify=False)
        permutation = permutation_test(
            {name: lambda name=name: build_model(name, protocol.seed) for name in models},
            X,
            y,
            make_splits(y, permutation_folds),
            n_permutations,
            protocol.seed,
            progress=progress,
        )
    baseline = summarise(folds[BASELINE], folds[BASELINE])
    figures = {
        name: ModelFigures(
            **vars(summarise(folds[name], folds[BASELINE])),
            p_value=permutation[name].p_value,
            p_value_adjusted=permutation[name].p_value_adjusted,
        )
        for name in models
    }
    report = ConversionReport(
        input=str(input_path),
        target=TARGET,
        features=FEATURES.columns,
        protocol=ConversionProtocol(
            folds=protocol.folds,
            repeats=protocol.repeats,
            seed=protocol.seed,
            kind="repeated K-fold (not stratified)",
            n_users=len(y),
        ),
        models=figures,
        baseline=baseline,
        permutation_test=PermutationTest(
            statistic=f"mean R² gain over the mean baseline, {protocol.folds}-fold x 1 repeat",
            method="max-T (Westfall-Young): p_value_adjusted holds the family-wise error over the models",
            n_permutations=n_permutations,
            seed=protocol.seed,
            folds=protocol.folds,
            models=permutation,
        ),
        alpha=alpha,
        **vars(decide(figures, baseline, alpha)),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report


def train(
    input_path: str | Path = config.PROFILES_FILE,
    protocol: Protocol = PROTOCOL,
    models: Sequence[str] = REGRESSORS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    alpha: float = ALPHA,
    model_file: str | Path = MODEL_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> tuple[ConversionReport, TrainedModel]:
    """Validate, then fit on every user the model the verdict chose (the baseline when there is no signal)."""
    report = validate(input_path, protocol, models, n_permutations, alpha, report_file, progress)
    X, y = load_training(input_path)
    model = build_model(report.chosen, protocol.seed).fit(X, y)
    # The chosen model's predictions on one repeat of the same folds (what served predictions drift from).
    held_out = Protocol(folds=protocol.folds, repeats=1, seed=protocol.seed, stratify=False)
    with threadpool_limits(limits=1):
        folds = cross_validate(
            lambda: build_model(report.chosen, protocol.seed),
            X,
            y,
            make_splits(y, held_out),
            _predicted,
            progress=False,
        )
    text = f"repeated K-fold (validate's splitter), {held_out.folds} folds x 1 repeat, seed {held_out.seed}"
    predictions = PredictionReference.of(
        np.concatenate([fold["predicted"] for fold in folds]), f"{text}: {report.chosen}"
    )
    trained = TrainedModel(
        task=TASK,
        chosen=report.chosen,
        signal=report.signal,
        verdict=report.verdict,
        n_users=len(y),
        target_mean=float(y.mean()),
        features=FEATURES.columns,
        protocol=report.protocol,
        seed=protocol.seed,
        reference=InputReference.from_frame(X[FEATURES.guarded], predictions),
    )
    save_trained(model_file, model, trained.model_dump(), [input_path])
    return report, trained


def _predicted(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
    return {"predicted": np.asarray(model.predict(X), dtype="float64")}


def predict(
    input_path: str | Path, output: str | Path, model_file: str | Path = MODEL_FILE
) -> tuple[pd.DataFrame, TrainedModel, str]:
    """Predict the conversion rate of every user in ``input_path`` (its target column, if any, is ignored), with
    each user's warnings from the model's training reference; and their summary line."""
    model, metadata = load_model(model_file, task=TASK)
    trained = TrainedModel.model_validate(metadata)
    table = load_profiles(input_path, target_required=False)
    guarded = guard_rows(trained.reference, table)
    predicted = pd.DataFrame(
        {
            USER_ID: table[USER_ID],
            f"predicted {TARGET}": model.predict(feature_frame(table, FEATURES)),
            WARNINGS_COLUMN: guarded.messages,
        }
    )
    write_csv(output, predicted)
    return predicted, trained, guarded.summary
