"""Another export, made from the reference file: does the model rank tomorrow's impressions in new cities as
well as forward validation promised?

The export is the file's last ``months`` calendar months; the training part is every earlier impression
whose city does not appear in the export (so every export city is new, and so are most of its ad texts).
Both parts are written as CSV files and go through the code of ``ctr train`` and ``ctr predict`` as a
user's files would; the export's labels are only read back to score the predictions. The promise is the forward
validation of the same training part, the figure a user would have seen before predicting.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap
from sklearn.metrics import log_loss, roc_auc_score

from adpipe import config
from adpipe.ctr import pipeline
from adpipe.ctr.defaults import HOLDOUT_REPORT, PARAMS_FILE
from adpipe.ctr.evaluation import labelled_data, probability_evaluator
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.models import LOGISTIC_BASELINE, ClickModel, logistic_baseline, seed_forest
from adpipe.ctr.params import load_params
from adpipe.ctr.report import ExportScore, HoldoutReport, PairedDifference
from adpipe.errors import DataError, OptionError
from adpipe.io import save_model, write_csv
from adpipe.reports import MeanStd, write_report
from adpipe.validation import cross_validate
from features.ctr import TARGET, TARGET_COLUMN, TIMESTAMP, load_impressions

DEFAULT = "default model (params file)"
RESAMPLES = 1000  # of the paired bootstrap of the default minus the logistic baseline
METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": roc_auc_score,
    "log_loss": lambda truth, probability: log_loss(truth, probability, labels=[0, 1]),
}
# The export's columns whose values the report says training has seen (share of export rows).
SEEN_COLUMNS = ("Ad Topic Line", "City", "Country", "Daily Time Spent on Site", "Area Income", "Timestamp")


def split_export(table: pd.DataFrame, months: int) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Row positions of the training part and of the export, the export's months (``YYYY-MM``), and how many
    earlier impressions were left out of training because their city appears in the export."""
    if months < 1:
        raise ValueError(f"--months must be at least 1, got {months}")
    period = table[TIMESTAMP].dt.to_period("M")
    known = sorted(period.dropna().unique())
    if len(known) <= months:
        message = f"the file spans {len(known)} month(s): holding out {months} leaves nothing to train on"
        raise OptionError(message, option="--months")
    export = period.isin(known[-months:]).to_numpy()
    cities = set(table.loc[export, "City"].dropna())
    earlier = period.notna().to_numpy() & ~export
    train = earlier & ~table["City"].isin(cities).to_numpy()
    removed = int(earlier.sum() - train.sum())
    return np.flatnonzero(train), np.flatnonzero(export), [str(p) for p in known[-months:]], removed


def paired_difference(
    truth: np.ndarray, model: np.ndarray, baseline: np.ndarray, metric: str, seed: int
) -> PairedDifference:
    """``metric`` of ``model`` minus that of ``baseline`` on the same rows, with its 95 % paired bootstrap
    interval (scipy's ``bootstrap``, percentile method, :data:`RESAMPLES` resamples of the rows)."""
    score = METRICS[metric]

    def difference(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        return float(score(t, a) - score(t, b))

    result = bootstrap(
        (truth, model, baseline),
        difference,
        paired=True,
        vectorized=False,
        n_resamples=RESAMPLES,
        method="percentile",
        random_state=seed,
    )
    interval = result.confidence_interval
    return PairedDifference(
        metric=metric,
        difference=difference(truth, model, baseline),
        low=float(interval.low),
        high=float(interval.high),
        resamples=RESAMPLES,
    )


def holdout(
    data: str | Path = config.CTR_FILE,
    months: int = 1,
    params_file: str | Path = PARAMS_FILE,
    report_file: str | Path | None = HOLDOUT_REPORT,
    *,
    folds: int = 5,
    seed: int = config.DEFAULT_SEED,
    features: list[str] | None = None,
    out_dir: str | Path | None = None,
) -> HoldoutReport:
    """Make the export, fit on the rest and predict it as ``ctr train`` and ``ctr predict`` do (from CSV files),
    and score it beside the forward validation of the training part; the logistic baseline and the seed
    project's forest go through the same two parts. ``out_dir`` keeps the CSV files, the model and the
    predictions, so the same run can be repeated with the commands."""
    params = load_params(params_file, features=features)
    X, y, table = labelled_data(data)
    rows = pd.read_csv(data, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if len(rows) != len(table):
        raise DataError(f"read {len(table)} impressions but {len(rows)} CSV rows: check for blank lines", path=data)
    label = next(name for name in (TARGET, *TARGET_COLUMN.aliases) if name in rows.columns)
    train, export, export_months, removed = split_export(table, months)
    train_rows, export_rows = rows.iloc[train], rows.iloc[export].drop(columns=[label])
    with tempfile.TemporaryDirectory() as scratch:
        train_file, export_file = Path(scratch) / "train.csv", Path(scratch) / "export.csv"
        train_rows.to_csv(train_file, index=False)
        export_rows.to_csv(export_file, index=False)
        model, metadata = pipeline.fit(train_file, params_file, seed, features=features, held_out=False)
        predicted = pipeline.predicted_rows(model, export_file, load_impressions(export_file, labelled=False))
        X_train, y_train, train_table = labelled_data(train_file)
    if out_dir is not None:
        for name, frame in {"train.csv": train_rows, "export.csv": export_rows, "predictions.csv": predicted}.items():
            write_csv(Path(out_dir) / name, frame)
        save_model(Path(out_dir) / "model.joblib", model, {**metadata, "data": str(Path(out_dir) / "train.csv")})
    X_export, truth = X.iloc[export], y.to_numpy()[export]
    splits = make_folds(train_table, CtrProtocol(folds=folds, repeats=1, seed=seed, name="forward"))

    def promised(make_model: Callable[[], Any]) -> MeanStd:
        results = cross_validate(make_model, X_train, y_train, splits, probability_evaluator(), progress=False)
        return MeanStd.over([r["roc_auc"] for r in results])

    probabilities = {DEFAULT: predicted["click_probability"].to_numpy(dtype=float)}
    makers = {
        DEFAULT: lambda: ClickModel.from_params(params, seed),
        LOGISTIC_BASELINE: logistic_baseline,
        "seed forest": lambda: seed_forest(seed),
    }
    for name in (LOGISTIC_BASELINE, "seed forest"):
        probabilities[name] = makers[name]().fit(X_train, y_train).predict_proba(X_export)[:, 1]
    models = {
        name: ExportScore.of(truth, probabilities[name], float(y_train.mean()), promised_auc=promised(makers[name]))
        for name in makers
    }
    against = [
        paired_difference(truth, probabilities[DEFAULT], probabilities[LOGISTIC_BASELINE], metric, seed)
        for metric in ("roc_auc", "log_loss")
    ]
    report = HoldoutReport(
        months=export_months,
        n_train=len(train),
        n_export=len(export),
        n_removed_for_cities=removed,
        seen_in_training={
            column: float(table[column].iloc[export].isin(set(table[column].iloc[train])).mean())
            for column in SEEN_COLUMNS
        },
        clicked_share={"train": float(y_train.mean()), "export": float(truth.mean())},
        features=params["features"],
        models=models,
        data=str(data),
        against_logistic=against,
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
