"""Click-through prediction: will this impression be clicked (``Clicked on Ad``)? Probability and yes/no.

The model is one pipeline fitted on a training part only: out-of-fold target encoding of the text
keys (:data:`features.ctr.FEATURE_SETS`), median imputation of the numbers, the optional resampling,
then LightGBM; a wrapper picks the yes/no threshold on out-of-fold predictions of that same training
part (max F1) unless one is given. Validation groups identical rows so that no copy straddles a fold,
or, with ``--group-by``, whole cities, countries or ad topics, so the score is on values never seen.

Entry points for a tuner: :func:`build_ctr_model` (params → unfitted probability pipeline),
:func:`check_params`, and :func:`cross_validate_params` with ``decide=False`` (fold ROC-AUCs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from lightgbm import LGBMClassifier
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import (
    FixedThresholdClassifier,
    StratifiedKFold,
    TunedThresholdClassifierCV,
    train_test_split,
)
from sklearn.preprocessing import StandardScaler, TargetEncoder

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.errors import DataError
from adpipe.io import load_model, read_json, save_model, write_csv, write_json
from adpipe.params import LIGHTGBM_FIXED, check_params_file, lightgbm_keys
from adpipe.validation import (
    FoldMetrics,
    IdenticalRowsKFold,
    Protocol,
    Split,
    binary_evaluator,
    cross_validate,
    make_splits,
    mean_std,
    summarize_binary,
)
from features.ctr import (
    FEATURE_SETS,
    NUMERIC_FEATURES,
    TARGET,
    build_features,
    count_duplicates,
    duplicate_groups,
    load_impressions,
)

TASK = "ctr"
MODEL_FILE = config.MODELS_DIR / "ctr.joblib"
PARAMS_FILE = config.PARAMS_DIR / "ctr.json"
VALIDATION_REPORT = config.REPORTS_DIR / "ctr_validation.json"
SEED_APPROACH_REPORT = config.REPORTS_DIR / "ctr_seed_approach.json"
PREDICTIONS_FILE = config.PREDICTIONS_DIR / "ctr_predictions.csv"

IMBALANCE_STRATEGIES = ("none", "weights", "oversample", "smote")
# --group-by NAME: hold out whole values of this input column.
GROUP_BY = {"city": "City", "country": "Country", "ad_topic": "Ad Topic Line"}
# Inner folds of the training part whose out-of-fold predictions choose the max-F1 threshold.
THRESHOLD_FOLDS = 3
# Inner folds of the target encoder's cross fitting (sklearn's default).
ENCODER_FOLDS = 5
# The baseline model: a logistic regression on the four numeric columns only.
BASELINE_NUMERIC = NUMERIC_FEATURES[:4]
# The seed project's forest: the four numeric columns and the 0/1 gender, 100 trees.
SEED_FEATURES = NUMERIC_FEATURES[:5]
SEED_TEST_SHARE = 0.2

DEFAULT_PARAMS: dict[str, Any] = {
    "task": TASK,
    "features": "pairs",
    "imbalance": "none",
    "lightgbm": {
        "n_estimators": 300,
        "learning_rate": 0.04,
        "num_leaves": 7,
        "min_child_samples": 40,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.3,
        "reg_lambda": 5.0,
    },
    "source": {"kind": "default", "note": "hand-set defaults (see README, Click-through prediction)"},
}
_LIGHTGBM_KEYS = lightgbm_keys(managed={"class_weight"})


def check_params(params: Any, source: str | Path = "params") -> dict[str, Any]:
    """Refuse unknown keys, feature sets, imbalance strategies or LightGBM parameters; fill in defaults."""
    return check_params_file(
        params,
        source,
        task=TASK,
        defaults=DEFAULT_PARAMS,
        allowed_lightgbm=_LIGHTGBM_KEYS,
        choices={"features": tuple(FEATURE_SETS), "imbalance": IMBALANCE_STRATEGIES},
    )


def load_params(path: str | Path = PARAMS_FILE, **overrides: str | None) -> dict[str, Any]:
    """The params file (the defaults when it does not exist), with the non-empty ``overrides`` applied."""
    path = Path(path)
    params = read_json(path) if path.exists() else dict(DEFAULT_PARAMS)
    return check_params({**params, **{k: v for k, v in overrides.items() if v is not None}}, path)


def build_ctr_model(params: dict[str, Any], seed: int = config.DEFAULT_SEED) -> Pipeline:
    """A fresh, unfitted probability model: encode → (resample) → LightGBM, all fitted on its training data.

    The target encoder cross-fits its training rows; a resampler runs after it (so no copy of a row
    feeds another row's encoding) and only while fitting (imblearn skips it when predicting).
    """
    params = check_params(params)
    encode = ColumnTransformer(
        [
            (
                "target",
                TargetEncoder(cv=StratifiedKFold(ENCODER_FOLDS, shuffle=True, random_state=seed)),
                list(FEATURE_SETS[params["features"]]),
            ),
            ("numeric", SimpleImputer(strategy="median", keep_empty_features=True), list(NUMERIC_FEATURES)),
        ]
    )
    steps: list[tuple[str, Any]] = [("encode", encode)]
    if params["imbalance"] == "oversample":
        steps.append(("resample", RandomOverSampler(random_state=seed)))
    elif params["imbalance"] == "smote":
        steps.append(("resample", SMOTE(random_state=seed)))
    class_weight = "balanced" if params["imbalance"] == "weights" else None
    lightgbm = LGBMClassifier(random_state=seed, class_weight=class_weight, **LIGHTGBM_FIXED, **params["lightgbm"])
    steps.append(("lightgbm", lightgbm))
    return Pipeline(steps)


def build_decision_model(
    params: dict[str, Any], seed: int = config.DEFAULT_SEED, threshold: float | None = None
) -> TunedThresholdClassifierCV | FixedThresholdClassifier:
    """The probability model with its yes/no threshold: ``threshold``, or the max-F1 one of the training part.

    The max-F1 threshold is read from out-of-fold predictions over :data:`THRESHOLD_FOLDS` folds of the
    training data (identical rows kept in one fold); the model is then refitted on all of it.
    """
    model = build_ctr_model(params, seed)
    if threshold is not None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"--threshold must be between 0 and 1, got {threshold}")
        return FixedThresholdClassifier(model, threshold=threshold)
    folds = IdenticalRowsKFold(n_splits=THRESHOLD_FOLDS, shuffle=True, random_state=seed)
    return TunedThresholdClassifierCV(model, scoring="f1", cv=folds)


def decision_threshold(model: TunedThresholdClassifierCV | FixedThresholdClassifier) -> float:
    """The probability at or above which a fitted decision model says 'clicked'."""
    if isinstance(model, TunedThresholdClassifierCV):
        return float(model.best_threshold_)
    return float(model.threshold)


def threshold_rule(threshold: float | None) -> str:
    """How the threshold is chosen, in words, for the report and the model's metadata."""
    if threshold is None:
        return f"max F1 on {THRESHOLD_FOLDS}-fold out-of-fold predictions of each training part"
    return f"fixed at {threshold} (--threshold)"


def labelled_data(path: str | Path) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    """Model inputs, target and the loaded table of a labelled impressions file."""
    table = load_impressions(path, labelled=True)
    return build_features(table), table[TARGET], table


def fold_groups(table: pd.DataFrame, group_by: str | None) -> np.ndarray:
    """Group ids for the folds: identical rows, or the values of the ``group_by`` column."""
    if group_by is None:
        return duplicate_groups(table)
    if group_by not in GROUP_BY:
        raise ValueError(f"--group-by must be one of {', '.join(GROUP_BY)}, got {group_by!r}")
    return table[GROUP_BY[group_by]].fillna("<missing>").to_numpy()


def cross_validate_params(
    params: dict[str, Any],
    X: pd.DataFrame,
    y: pd.Series,
    splits: list[Split],
    seed: int = config.DEFAULT_SEED,
    *,
    threshold: float | None = None,
    decide: bool = True,
    on_fold: Callable[[int, FoldMetrics], None] | None = None,
    progress: bool = True,
) -> list[FoldMetrics]:
    """The model ``params`` describe, through ``splits`` (shared by validate and a tuner).

    ``decide=False`` skips the threshold layer: ROC-AUC is the same (the threshold does not change the
    probabilities) at a quarter of the cost, but the yes/no figures are then at 0.5.
    """

    evaluate = binary_evaluator()

    def make_model() -> Any:
        return build_decision_model(params, seed, threshold) if decide else build_ctr_model(params, seed)

    def evaluate_with_threshold(model: Any, X_test: pd.DataFrame, y_test: pd.Series) -> FoldMetrics:
        return {**evaluate(model, X_test, y_test), "threshold": decision_threshold(model)}

    return cross_validate(
        make_model,
        X,
        y,
        splits,
        evaluate_with_threshold if decide else evaluate,
        description="LightGBM",
        on_fold=on_fold,
        progress=progress,
    )


def logistic_baseline() -> Pipeline:
    """The plain baseline: a logistic regression on the numeric columns, imputed and scaled in the folds."""
    numeric = ColumnTransformer([("numeric", SimpleImputer(strategy="median"), list(BASELINE_NUMERIC))])
    return Pipeline([("numeric", numeric), ("scale", StandardScaler()), ("logistic", LogisticRegression())])


def validate(
    data: str | Path = config.CTR_FILE,
    protocol: Protocol = Protocol(folds=5, repeats=3),
    params_file: str | Path = PARAMS_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    *,
    group_by: str | None = None,
    threshold: float | None = None,
    imbalance: str | None = None,
    features: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Repeated grouped K-fold of the model and of two baselines on the same folds; writes the JSON report."""
    params = load_params(params_file, imbalance=imbalance, features=features)
    X, y, table = labelled_data(data)
    groups = fold_groups(table, group_by)
    splits = make_splits(y, protocol, groups)
    model_folds = cross_validate_params(params, X, y, splits, protocol.seed, threshold=threshold, progress=progress)
    evaluate = binary_evaluator()
    baselines = {
        "majority": cross_validate(
            lambda: DummyClassifier(strategy="most_frequent"), X, y, splits, evaluate, progress=False
        ),
        "logistic": cross_validate(
            logistic_baseline, X, y, splits, evaluate, description="logistic", progress=progress
        ),
    }
    report = {
        "protocol": {
            **protocol.as_dict(),
            "stratified": True,
            "groups": f"{GROUP_BY[group_by]} values" if group_by else "identical rows (label ignored)",
            "n_groups": int(pd.Series(groups).nunique()),
            "n_rows": len(y),
            "clicked_share": float(y.mean()),
            "threshold": threshold_rule(threshold),
            "data": str(data),
        },
        "model": {
            **summarize_binary(model_folds),
            "threshold": mean_std([f["threshold"] for f in model_folds]),
            "features": params["features"],
            "imbalance": params["imbalance"],
            "params_source": params["source"],
        },
        "baselines": {name: summarize_binary(folds) for name, folds in baselines.items()},
        "duplicates_found": count_duplicates(table),
    }
    if report_file is not None:
        write_json(report_file, report)
    return report


def train(
    data: str | Path = config.CTR_FILE,
    params_file: str | Path = PARAMS_FILE,
    model_file: str | Path = MODEL_FILE,
    seed: int = config.DEFAULT_SEED,
    *,
    threshold: float | None = None,
    imbalance: str | None = None,
    features: str | None = None,
) -> dict[str, Any]:
    """Fit on every labelled row, choose the threshold (unless given), and save both with how they were made."""
    params = load_params(params_file, imbalance=imbalance, features=features)
    X, y, table = labelled_data(data)
    model = build_decision_model(params, seed, threshold).fit(X, y)
    metadata = {
        "task": TASK,
        "params": params,
        "seed": seed,
        "threshold": decision_threshold(model),
        "threshold_rule": threshold_rule(threshold),
        "n_rows": len(y),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().sort_index().items()},
        "duplicates_found": count_duplicates(table),
        "data": str(data),
    }
    save_model(model_file, model, metadata)
    return metadata


def predict(
    input_file: str | Path, output: str | Path = PREDICTIONS_FILE, model_file: str | Path = MODEL_FILE
) -> pd.DataFrame:
    """The input's rows and columns plus ``click_probability`` and ``clicked`` (0/1 at the saved threshold)."""
    model, _ = load_model(model_file, task=TASK)
    table = load_impressions(input_file, labelled=False)
    X = build_features(table)
    # The output keeps the input's own columns and text exactly as they were.
    rows = pd.read_csv(input_file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if len(rows) != len(X):
        raise DataError(f"read {len(X)} impressions but {len(rows)} CSV rows: check for blank lines", path=input_file)
    positive = list(model.classes_).index(1)
    rows["click_probability"] = np.round(model.predict_proba(X)[:, positive], 6)
    rows["clicked"] = model.predict(X).astype("int64")
    write_csv(output, rows)
    return rows


def seed_approach(
    data: str | Path = config.CTR_FILE,
    protocol: Protocol = Protocol(folds=5, repeats=3),
    report_file: str | Path | None = SEED_APPROACH_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """The seed project's random forest, scored its way (fit on all rows, scored on 20% of them) and honestly."""
    X, y, table = labelled_data(data)
    X = X[list(SEED_FEATURES)]

    def forest() -> Pipeline:
        return Pipeline(
            [
                ("impute", SimpleImputer(strategy="median")),
                ("forest", RandomForestClassifier(n_estimators=100, random_state=protocol.seed, n_jobs=1)),
            ]
        )

    everything = forest().fit(X, y)
    _, X_part, _, y_part = train_test_split(X, y, test_size=SEED_TEST_SHARE, random_state=protocol.seed)
    splits = make_splits(y, protocol, duplicate_groups(table))
    honest = cross_validate(forest, X, y, splits, binary_evaluator(), description="forest", progress=progress)
    report = {
        "features": list(SEED_FEATURES),
        "leaky": {
            "how": f"fit on all {len(y)} rows, scored on a {SEED_TEST_SHARE:.0%} split of the same rows",
            "accuracy": float(accuracy_score(y_part, everything.predict(X_part))),
            "roc_auc": float(roc_auc_score(y_part, everything.predict_proba(X_part)[:, 1])),
        },
        "honest": {"protocol": protocol.as_dict(), "groups": "identical rows", **summarize_binary(honest)},
    }
    if report_file is not None:
        write_json(report_file, report)
    return report


# --- command line: `python model.py ctr ...` ----------------------------------------------------------------

app = typer.Typer(
    help="Click-through prediction on ad impressions: validate, train, predict.",
    add_completion=False,
    no_args_is_help=True,
)

DataFile = typer.Option(config.CTR_FILE, "--data", help="Labelled impressions CSV.")
ParamsOption = typer.Option(PARAMS_FILE, "--params", help="Hyperparameters (JSON); the defaults when missing.")
ModelOption = typer.Option(MODEL_FILE, "--model", help="Where the fitted model is saved / read.")
SeedOption = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the folds, the encoder and LightGBM.")
ThresholdOption = typer.Option(
    None, "--threshold", help="Fixed yes/no threshold; default: max F1 in the training part."
)
ImbalanceOption = typer.Option(None, "--imbalance", help="none, weights, oversample or smote [default: params].")
FeaturesOption = typer.Option(None, "--features", help="basic, values or pairs [default: params].")

_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


def _metric_rows(parts: dict[str, dict[str, Any]]) -> list[list[Any]]:
    return [[name, *(v for m in _METRICS for v in (part[m]["mean"], part[m]["std"]))] for name, part in parts.items()]


@app.command("validate")
def validate_command(
    data: Path = DataFile,
    folds: int = typer.Option(5, "--folds", help="K of the grouped, stratified K-fold."),
    repeats: int = typer.Option(3, "--repeats", help="How many times the K-fold is redrawn."),
    seed: int = SeedOption,
    imbalance: str | None = ImbalanceOption,
    group_by: str | None = typer.Option(None, "--group-by", help="Hold out whole city, country or ad_topic values."),
    threshold: float | None = ThresholdOption,
    features: str | None = FeaturesOption,
    params: Path = ParamsOption,
    report: Path = typer.Option(VALIDATION_REPORT, "--report", help="Where the JSON report goes."),
) -> None:
    """Grouped repeated K-fold: ROC-AUC, accuracy, precision, recall, F1 of the model and two baselines."""
    protocol = Protocol(folds=folds, repeats=repeats, seed=seed)
    with exit_on_error(keeps=report):
        result = validate(
            data,
            protocol,
            params,
            report,
            group_by=group_by,
            threshold=threshold,
            imbalance=imbalance,
            features=features,
        )
    about, model = result["protocol"], result["model"]
    balance = "close to balanced" if 0.4 <= about["clicked_share"] <= 0.6 else "imbalanced"
    typer.echo(
        f"{folds} folds x {repeats} repeats, seed {seed}, {about['n_rows']} rows "
        f"({about['clicked_share']:.1%} clicked: {balance}), groups: {about['groups']} "
        f"({about['n_groups']}); {result['duplicates_found']} exact duplicate rows found"
    )
    typer.echo(f"model: LightGBM, features {model['features']}, imbalance {model['imbalance']}")
    parts = {"LightGBM": model, **{f"{n} baseline": p for n, p in result["baselines"].items()}}
    header = ["model", *(h for m in _METRICS for h in (m, "±std"))]
    typer.echo(format_table(header, _metric_rows(parts)))
    typer.echo(
        f"\nthreshold: {about['threshold']}: {model['threshold']['mean']:.3f} ± {model['threshold']['std']:.3f}"
        " (baselines: logistic at 0.5, majority always the most frequent class)"
    )
    typer.echo("LightGBM classification report (mean over folds; support summed over repeats):")
    report_rows = [
        [label, r["precision"], r["recall"], r["f1"], r["support"]]
        for label, r in model["classification_report"].items()
    ]
    typer.echo(format_table(["clicked", "precision", "recall", "f1", "support"], report_rows))
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    data: Path = DataFile,
    params: Path = ParamsOption,
    model: Path = ModelOption,
    seed: int = SeedOption,
    threshold: float | None = ThresholdOption,
    imbalance: str | None = ImbalanceOption,
    features: str | None = FeaturesOption,
) -> None:
    """Fit the model on every labelled row, choose its threshold, and save both."""
    with exit_on_error(keeps=model):
        metadata = train(data, params, model, seed, threshold=threshold, imbalance=imbalance, features=features)
    typer.echo(
        f"trained on {metadata['n_rows']} rows (features {metadata['params']['features']}, imbalance "
        f"{metadata['params']['imbalance']}); threshold {metadata['threshold']:.3f} ({metadata['threshold_rule']})"
        f" -> {model}"
    )


@app.command("predict")
def predict_command(
    input_file: Path = typer.Option(..., "--input", help="Impressions CSV without the label."),
    output: Path = typer.Option(PREDICTIONS_FILE, "--output", help="The CSV to write."),
    model: Path = ModelOption,
) -> None:
    """Write the input's rows with click_probability and clicked (0/1 at the saved threshold)."""
    with exit_on_error(keeps=output):
        rows = predict(input_file, output, model)
    typer.echo(f"wrote {len(rows)} rows ({int(rows['clicked'].sum())} predicted clicks) to {output}")


@app.command("seed-approach")
def seed_approach_command(
    data: Path = DataFile,
    folds: int = typer.Option(5, "--folds", help="K of the honest grouped K-fold."),
    repeats: int = typer.Option(3, "--repeats", help="How many times the K-fold is redrawn."),
    seed: int = SeedOption,
    report: Path = typer.Option(SEED_APPROACH_REPORT, "--report", help="Where the JSON report goes."),
) -> None:
    """The seed project's random forest: its leaky figure (scored on rows it was fitted on) and its honest one."""
    protocol = Protocol(folds=folds, repeats=repeats, seed=seed)
    with exit_on_error(keeps=report):
        result = seed_approach(data, protocol, report)
    leaky, honest = result["leaky"], result["honest"]
    typer.echo(f"random forest on {', '.join(result['features'])}")
    rows = [
        [f"leaky: {leaky['how']}", leaky["accuracy"], leaky["roc_auc"]],
        [
            f"honest: {folds} folds x {repeats} repeats, seed {seed}, identical rows grouped",
            honest["accuracy"]["mean"],
            honest["roc_auc"]["mean"],
        ],
    ]
    typer.echo(format_table(["scored", "accuracy", "roc_auc"], rows))
    typer.echo(f"report -> {report}")
