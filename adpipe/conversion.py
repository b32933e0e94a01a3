"""Conversion rate from a user profile: five regressors against a mean baseline, and a permutation test.

``Conversion Rates`` in the profiles data may carry little or no signal, so no model is believed on
its cross-validated score alone: a max-T permutation test compares each model's gain over the mean
baseline with the gains the same models reach on shuffled targets. When no model beats the baseline
significantly, ``train`` saves the baseline (the training mean), not a model that only fits noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator, clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.io import load_model, save_model, write_csv, write_json
from adpipe.validation import Protocol, Split, cross_validate, make_splits, mean_std, regression_evaluator
from features.profiles import PROFILE_FEATURES, TARGET, USER_ID, feature_frame, load_profiles, make_preprocessor

TASK = "conversion"
MODEL_FILE = config.MODELS_DIR / "conversion.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "conversion_validation.json"
FEATURES = PROFILE_FEATURES.without(TARGET)
BASELINE = "mean baseline"
REGRESSORS = ("linear", "svr", "knn", "random_forest", "lightgbm")
ALPHA = 0.05
DEFAULT_PERMUTATIONS = 39
METRICS = ("r2", "mae", "rmse")


def make_regressor(name: str, seed: int = config.DEFAULT_SEED) -> BaseEstimator:
    """A fresh regressor by name (fixed, hand-set hyperparameters; one thread each)."""
    if name == "linear":
        return LinearRegression()
    if name == "svr":
        # SVR's epsilon-tube is in target units: on rates in [0, 0.1] the default would swallow every error.
        return TransformedTargetRegressor(SVR(C=1.0, epsilon=0.1), transformer=StandardScaler())
    if name == "knn":
        return KNeighborsRegressor(n_neighbors=20)
    if name == "random_forest":
        return RandomForestRegressor(
            n_estimators=50, min_samples_leaf=5, max_features=0.33, max_samples=0.5, n_jobs=1, random_state=seed
        )
    if name == "lightgbm":
        return LGBMRegressor(
            n_estimators=150,
            learning_rate=0.03,
            num_leaves=7,
            min_child_samples=20,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=seed,
            verbose=-1,
            deterministic=True,
            force_row_wise=True,
            n_jobs=1,
        )
    if name == BASELINE:
        return DummyRegressor(strategy="mean")
    raise ValueError(f"unknown model {name!r}; known: {', '.join(REGRESSORS)}")


def build_model(name: str, seed: int = config.DEFAULT_SEED) -> Pipeline:
    """Imputation, encoding and scaling, then the named regressor: one pipeline, fitted inside each fold."""
    return Pipeline([("prepare", make_preprocessor(FEATURES)), ("regressor", make_regressor(name, seed))])


def parse_models(text: str) -> tuple[str, ...]:
    """``"linear,knn"`` -> ``("linear", "knn")``, refusing unknown names."""
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in REGRESSORS]
    if not names or unknown:
        raise ValueError(f"--models must list some of {', '.join(REGRESSORS)}; got {text!r}")
    return names


def load_training(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """The model's inputs (every profile column but the id and the target) and the target."""
    table = load_profiles(path)
    return feature_frame(table, FEATURES), table[TARGET]


def permutation_test(
    make_models: dict[str, Callable[[], Pipeline]],
    X: pd.DataFrame,
    y: pd.Series,
    splits: Sequence[Split],
    n_permutations: int,
    seed: int,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Max-T permutation test of each model's mean R² gain over the mean baseline on ``splits``.

    ``y`` is shuffled ``n_permutations`` times and every model is refitted on every training part.
    ``p_value`` counts the shuffles where that model's gain reaches its real gain; ``p_value_adjusted``
    those where the best gain of any model does (Westfall–Young), which holds the family-wise error
    at alpha however many models are tried. Both are (1 + count) / (1 + n_permutations).

    The pipeline steps before the last are fitted once per fold: they must not look at ``y``
    (imputers, encoders and scalers do not), so refitting them on each shuffle would change nothing.
    """
    if n_permutations < 1:
        raise ValueError(f"--permutations must be at least 1, got {n_permutations}")
    target = y.to_numpy(dtype=float)
    prepared: dict[str, list[tuple[Any, np.ndarray, np.ndarray]]] = {}
    for name, make_model in make_models.items():
        prepared[name] = []
        for split in splits:
            pipeline = make_model()
            prepare = clone(pipeline[:-1]).fit(X.iloc[split.train])
            train_part = prepare.transform(X.iloc[split.train])
            test_part = prepare.transform(X.iloc[split.test])
            prepared[name].append((pipeline[-1], train_part, test_part))

    def gains(values: np.ndarray) -> np.ndarray:
        out = np.zeros(len(prepared))
        for position, parts in enumerate(prepared.values()):
            scores = []
            for split, (regressor, train_part, test_part) in zip(splits, parts, strict=True):
                y_train, y_test = values[split.train], values[split.test]
                fitted = clone(regressor).fit(train_part, y_train)
                baseline = r2_score(y_test, np.full(len(y_test), y_train.mean()))
                scores.append(r2_score(y_test, fitted.predict(test_part)) - baseline)
            out[position] = np.mean(scores)
        return out

    observed = gains(target)
    rng = np.random.default_rng(seed)
    null = np.array(
        [
            gains(rng.permutation(target))
            for _ in tqdm(range(n_permutations), desc="permutation test", unit="shuffle", disable=not progress)
        ]
    )
    best_null = null.max(axis=1)
    models = {
        name: {
            "r2_gain": float(observed[p]),
            "null_r2_gain": mean_std(null[:, p]),
            "p_value": float((1 + np.sum(null[:, p] >= observed[p])) / (1 + n_permutations)),
            "p_value_adjusted": float((1 + np.sum(best_null >= observed[p])) / (1 + n_permutations)),
        }
        for p, name in enumerate(prepared)
    }
    return {"n_permutations": n_permutations, "seed": seed, "models": models}


def decide(summary: dict[str, Any], permutation: dict[str, Any], alpha: float) -> dict[str, Any]:
    """Signal when some model's adjusted p-value is at most ``alpha`` and its repeated-CV R² beats the baseline.

    The best such model (by repeated-CV R²) is the one ``train`` saves; without one, the baseline.
    """
    baseline_r2 = summary[BASELINE]["r2"]["mean"]
    winners = [
        name
        for name, result in permutation["models"].items()
        if result["p_value_adjusted"] <= alpha and summary[name]["r2"]["mean"] > baseline_r2
    ]
    smallest = min(permutation["models"].items(), key=lambda item: item[1]["p_value_adjusted"])
    if not winners:
        return {
            "signal": False,
            "chosen": BASELINE,
            "verdict": (
                f"no signal: no model beats the mean baseline significantly (smallest adjusted p-value "
                f"{smallest[1]['p_value_adjusted']:.3f} for {smallest[0]}, alpha {alpha}); train saves the baseline"
            ),
        }
    chosen = max(winners, key=lambda name: summary[name]["r2"]["mean"])
    return {
        "signal": True,
        "chosen": chosen,
        "verdict": (
            f"signal: {chosen} beats the mean baseline (R² {summary[chosen]['r2']['mean']:.4f} vs "
            f"{baseline_r2:.4f}, adjusted p-value {permutation['models'][chosen]['p_value_adjusted']:.3f} "
            f"<= {alpha}); train saves {chosen}"
        ),
    }


def validate(
    input_path: str | Path = config.PROFILES_FILE,
    protocol: Protocol = Protocol(stratify=False),
    models: Sequence[str] = REGRESSORS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    alpha: float = ALPHA,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """Repeated K-fold of each model and the mean baseline on the same folds, then the permutation test."""
    with threadpool_limits(limits=1):  # one BLAS/OpenMP thread: the machine is shared, and it is faster here
        return _validate(input_path, protocol, models, n_permutations, alpha, report_file, progress)


def _validate(
    input_path: str | Path,
    protocol: Protocol,
    models: Sequence[str],
    n_permutations: int,
    alpha: float,
    report_file: str | Path | None,
    progress: bool,
) -> dict[str, Any]:
    X, y = load_training(input_path)
    splits = make_splits(y, protocol)
    evaluate = regression_evaluator()
    folds: dict[str, list[dict[str, Any]]] = {}
    for name in (*models, BASELINE):
        folds[name] = cross_validate(
            lambda name=name: build_model(name, protocol.seed),
            X,
            y,
            splits,
            evaluate,
            description=name,
            progress=progress,
        )
    summary: dict[str, Any] = {}
    for name, results in folds.items():
        summary[name] = {metric: mean_std([r[metric] for r in results]) for metric in METRICS}
        summary[name]["r2_gain"] = mean_std([r["r2"] - b["r2"] for r, b in zip(results, folds[BASELINE], strict=True)])
    permutation_protocol = Protocol(folds=protocol.folds, repeats=1, seed=protocol.seed, stratify=False)
    permutation = permutation_test(
        {name: lambda name=name: build_model(name, protocol.seed) for name in models},
        X,
        y,
        make_splits(y, permutation_protocol),
        n_permutations,
        protocol.seed,
        progress=progress,
    )
    for name, result in permutation["models"].items():
        summary[name]["p_value"] = result["p_value"]
        summary[name]["p_value_adjusted"] = result["p_value_adjusted"]
    decision = decide(summary, permutation, alpha)
    report = {
        "input": str(input_path),
        "target": TARGET,
        "features": FEATURES.columns,
        "protocol": {**protocol.as_dict(), "kind": "repeated K-fold (not stratified)", "n_users": len(y)},
        "models": {name: summary[name] for name in models},
        "baseline": summary[BASELINE],
        "permutation_test": {
            "statistic": f"mean R² gain over the mean baseline, {protocol.folds}-fold x 1 repeat",
            "method": "max-T (Westfall-Young): p_value_adjusted holds the family-wise error over the models",
            "n_permutations": n_permutations,
            "seed": protocol.seed,
            "folds": protocol.folds,
            "models": permutation["models"],
        },
        "alpha": alpha,
        "signal": decision["signal"],
        "chosen": decision["chosen"],
        "verdict": decision["verdict"],
    }
    if report_file is not None:
        write_json(report_file, report)
    return report


def train(
    input_path: str | Path = config.PROFILES_FILE,
    protocol: Protocol = Protocol(stratify=False),
    models: Sequence[str] = REGRESSORS,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    alpha: float = ALPHA,
    model_file: str | Path = MODEL_FILE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate, then fit on every user the model the verdict chose (the baseline when there is no signal).

    Returns the validation report and the saved model's metadata.
    """
    report = validate(input_path, protocol, models, n_permutations, alpha, report_file, progress)
    X, y = load_training(input_path)
    model = build_model(report["chosen"], protocol.seed).fit(X, y)
    metadata = {
        "task": TASK,
        "chosen": report["chosen"],
        "signal": report["signal"],
        "verdict": report["verdict"],
        "n_users": len(y),
        "target_mean": float(y.mean()),
        "features": FEATURES.columns,
        "protocol": report["protocol"],
        "seed": protocol.seed,
    }
    save_model(model_file, model, metadata)
    return report, metadata


def predict(
    input_path: str | Path, output: str | Path, model_file: str | Path = MODEL_FILE
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Predict the conversion rate of every user in ``input_path`` (its target column, if any, is ignored)."""
    model, metadata = load_model(model_file, task=TASK)
    table = load_profiles(input_path, target_required=False)
    predicted = pd.DataFrame(
        {USER_ID: table[USER_ID], f"predicted {TARGET}": model.predict(feature_frame(table, FEATURES))}
    )
    write_csv(output, predicted)
    return predicted, metadata


app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True)

InputFile = typer.Option(config.PROFILES_FILE, "--input", help="Profiles CSV (user_profiles_for_ads.csv layout).")
Folds = typer.Option(5, "--folds", help="K of the repeated K-fold.")
Repeats = typer.Option(5, "--repeats", help="How many times the K-fold is redrawn.")
Seed = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the folds, the shuffles and the models.")
Models = typer.Option(",".join(REGRESSORS), "--models", help="Comma-separated models to compare.")
Permutations = typer.Option(DEFAULT_PERMUTATIONS, "--permutations", help="Shuffles of the target in the test.")
Alpha = typer.Option(ALPHA, "--alpha", help="Significance level of the permutation test.")
Report = typer.Option(VALIDATION_REPORT, "--report", help="Where the JSON report goes.")
ModelFile = typer.Option(MODEL_FILE, "--model", help="Where the fitted model is saved / read.")


def _print_report(report: dict[str, Any]) -> None:
    protocol, test = report["protocol"], report["permutation_test"]
    typer.echo(
        f"{protocol['folds']} folds x {protocol['repeats']} repeats (not stratified), seed {protocol['seed']}, "
        f"{protocol['n_users']} users; permutation test: {test['n_permutations']} shuffles of the target, "
        f"{test['folds']}-fold x 1, max-T adjusted p-values (smallest possible {1 / (test['n_permutations'] + 1):.3f})"
    )
    rows = []
    for name, part in (*report["models"].items(), (BASELINE, report["baseline"])):
        p_value = part.get("p_value_adjusted")
        rows.append(
            [
                name,
                part["r2"]["mean"],
                part["r2"]["std"],
                part["mae"]["mean"],
                part["mae"]["std"],
                part["r2_gain"]["mean"],
                "-" if p_value is None else f"{p_value:.3f}",
            ]
        )
    typer.echo(format_table(["model", "r2", "±std", "mae", "±std", "r2 gain vs baseline", "p (adjusted)"], rows))
    typer.echo(report["verdict"])


@app.command("validate")
def validate_command(
    input_path: Path = InputFile,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    models: str = Models,
    permutations: int = Permutations,
    alpha: float = Alpha,
    report: Path = Report,
) -> None:
    """R², MAE per model vs a mean baseline (repeated K-fold), and the permutation test's verdict."""
    with exit_on_error(keeps=report):
        names = parse_models(models)
        result = validate(
            input_path, Protocol(folds, repeats, seed, stratify=False), names, permutations, alpha, report
        )
    _print_report(result)
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    input_path: Path = InputFile,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    models: str = Models,
    permutations: int = Permutations,
    alpha: float = Alpha,
    report: Path = Report,
    model: Path = ModelFile,
) -> None:
    """Validate, then save the chosen model, or the mean baseline when no model has significant signal."""
    with exit_on_error(keeps=model):
        names = parse_models(models)
        report_data, metadata = train(
            input_path, Protocol(folds, repeats, seed, stratify=False), names, permutations, alpha, model, report
        )
    saved = "the mean baseline" if metadata["chosen"] == BASELINE else metadata["chosen"]
    _print_report(report_data)
    typer.echo(f"saved {saved} fitted on {metadata['n_users']} users -> {model} (report -> {report})")


@app.command("predict")
def predict_command(
    input_path: Path = typer.Option(..., "--input", help="Profiles CSV to score (Conversion Rates not needed)."),
    output: Path = typer.Option(..., "--output", help="CSV to write: User ID, predicted Conversion Rates."),
    model: Path = ModelFile,
) -> None:
    """Predict the conversion rate of each user with the saved model."""
    with exit_on_error(keeps=output):
        predicted, metadata = predict(input_path, output, model)
    if metadata["chosen"] == BASELINE:
        typer.echo(f"the saved model is the mean baseline (no signal): every user gets {metadata['target_mean']:.4f}")
    typer.echo(f"wrote {len(predicted)} predictions ({metadata['chosen']}) to {output}")
