"""Return on ad spend and the click-to-conversion funnel on the Facebook campaign data (``model.py roas``).

Every model is validated on the project's protocol (repeated K-fold), twice: with folds grouped by
``fb_campaign_id`` (the ads of one campaign share audience and budget, so none of them may sit on
both sides of a split) and with plain folds, so the difference shows. Each is reported beside a mean
and a median baseline and a gradient boosting reference (scikit-learn's HistGradientBoostingRegressor,
squared error on the raw target, as XGBoost's default objective).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer
from lightgbm import LGBMRegressor
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.multioutput import MultiOutputRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from adpipe import config
from adpipe.cli_support import exit_on_error, format_table
from adpipe.io import load_model, save_model, write_csv, write_json
from adpipe.params import LIGHTGBM_FIXED
from adpipe.validation import (
    FoldMetrics,
    Protocol,
    Split,
    cross_validate,
    make_splits,
    mean_std,
    regression_evaluator,
)
from features.campaigns import (
    CATEGORICAL_FEATURES,
    DEFAULT_VALUE_ENQUIRY,
    DEFAULT_VALUE_SALE,
    FEATURES,
    FUNNEL_TARGETS,
    GROUP,
    MODES,
    SUMMARY_KEYS,
    Mode,
    TargetRows,
    funnel_rows,
    load_campaigns,
    load_planned_ads,
    model_inputs,
    roas_rows,
    summarize,
)

TASK = "roas"
MODEL_FILE = config.MODELS_DIR / "roas.joblib"
VALIDATION_REPORT = config.REPORTS_DIR / "roas_validation.json"
FUNNEL_REPORT = config.REPORTS_DIR / "funnel_validation.json"
PROTOCOL = Protocol(folds=5, repeats=3, seed=config.DEFAULT_SEED, stratify=False)
METRICS = ("r2", "mae", "spearman")
SPEARMAN_TARGET = 0.60
GROUPINGS = ("grouped", "ungrouped")

MEAN_BASELINE, MEDIAN_BASELINE, REFERENCE = "mean_baseline", "median_baseline", "gradient_boosting_reference"
ROAS_MODEL = "lightgbm_log"
UNSCALED_MODEL = "lightgbm_log_unscaled"
FUNNEL_MODEL = "multitask_mlp"
LABELS = {
    MEAN_BASELINE: "mean baseline",
    MEDIAN_BASELINE: "median baseline",
    REFERENCE: "gradient boosting reference",
    UNSCALED_MODEL: "LightGBM, log target",
    ROAS_MODEL: "LightGBM, log target, MAE-scaled",
    "lightgbm_per_target": "LightGBM, one per target",
    FUNNEL_MODEL: "multi-task MLP (2 outputs)",
}
BASELINES = (MEAN_BASELINE, MEDIAN_BASELINE)

# Fixed for reproducibility: one thread, one seed. Small, shallow trees: ~900 ads, noisy small counts.
LIGHTGBM_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.02,
    "num_leaves": 3,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
}


def absolute_error_scale(y: np.ndarray, predicted: np.ndarray) -> float:
    """The factor ``c`` that minimises ``sum |y - c * predicted|``: the median of ``y / predicted`` weighted by
    ``predicted`` (rows predicted 0 do not depend on ``c``)."""
    y, predicted = np.asarray(y, dtype=float), np.asarray(predicted, dtype=float)
    positive = predicted > 0
    if not positive.any():
        return 1.0
    ratio, weight = y[positive] / predicted[positive], predicted[positive]
    order = np.argsort(ratio, kind="stable")
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


class ScaledLogTargetRegressor(RegressorMixin, BaseEstimator):
    """Fit ``estimator`` on ``log1p(y)``; scale its back-transformed predictions for the smallest absolute error.

    The log target orders the ads (ROAS is heavy-tailed); back-transformed predictions sit at a
    geometric-mean level, which costs absolute error. One factor, learnt on inner out-of-fold
    predictions of the training part only, moves them to the level of least absolute error. A
    positive factor keeps the order, so the Spearman correlation is the log model's own.
    """

    def __init__(self, estimator: BaseEstimator, inner_folds: int = 3, seed: int = config.DEFAULT_SEED) -> None:
        self.estimator = estimator
        self.inner_folds = inner_folds
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any) -> ScaledLogTargetRegressor:
        y = np.asarray(y, dtype=float)
        log_y = np.log1p(y)
        inner = KFold(self.inner_folds, shuffle=True, random_state=self.seed)
        out_of_fold = np.expm1(cross_val_predict(clone(self.estimator), X, log_y, cv=inner)).clip(min=0)
        self.scale_ = absolute_error_scale(y, out_of_fold)
        self.estimator_ = clone(self.estimator).fit(X, log_y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.scale_ * np.expm1(self.estimator_.predict(X)).clip(min=0)


def _lightgbm(seed: int) -> LGBMRegressor:
    return LGBMRegressor(random_state=seed, **LIGHTGBM_FIXED, **LIGHTGBM_PARAMS)


def _reference(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(categorical_features="from_dtype", random_state=seed)


def _multitask_mlp(features: Sequence[str], seed: int) -> Pipeline:
    """Two outputs from one hidden layer (the shared representation); inputs and targets scaled in-fold."""
    categories = [c for c in features if c in CATEGORICAL_FEATURES]
    numbers = [c for c in features if c not in CATEGORICAL_FEATURES]
    prepare = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=10), categories),
            (
                "numbers",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median")),
                        ("log", FunctionTransformer(np.log1p)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numbers,
            ),
        ]
    )
    mlp = MLPRegressor(hidden_layer_sizes=(16,), alpha=10.0, learning_rate_init=0.01, max_iter=500, random_state=seed)
    return Pipeline([("prepare", prepare), ("mlp", TransformedTargetRegressor(mlp, transformer=StandardScaler()))])


def roas_models(seed: int) -> dict[str, Callable[[], BaseEstimator]]:
    """Factories of the ROAS models, baselines first."""
    return {
        MEAN_BASELINE: lambda: DummyRegressor(strategy="mean"),
        MEDIAN_BASELINE: lambda: DummyRegressor(strategy="median"),
        REFERENCE: lambda: _reference(seed),
        UNSCALED_MODEL: lambda: TransformedTargetRegressor(_lightgbm(seed), func=np.log1p, inverse_func=np.expm1),
        ROAS_MODEL: lambda: ScaledLogTargetRegressor(_lightgbm(seed), seed=seed),
    }


def funnel_models(features: Sequence[str], seed: int) -> dict[str, Callable[[], BaseEstimator]]:
    """Factories of the funnel models (two outputs each), the mean baseline first."""
    return {
        MEAN_BASELINE: lambda: DummyRegressor(strategy="mean"),
        REFERENCE: lambda: MultiOutputRegressor(_reference(seed)),
        "lightgbm_per_target": lambda: MultiOutputRegressor(_lightgbm(seed)),
        FUNNEL_MODEL: lambda: _multitask_mlp(features, seed),
    }


def _summarize(results: Sequence[FoldMetrics], targets: Sequence[str] | None) -> dict[str, Any]:
    if targets is None:
        return {m: mean_std([r[m] for r in results]) for m in METRICS}
    return {t: {m: mean_std([r[t][m] for r in results]) for m in METRICS} for t in targets}


def _compare(
    models: dict[str, Callable[[], BaseEstimator]],
    X: pd.DataFrame,
    y: pd.Series | pd.DataFrame,
    splits: Sequence[Split],
    targets: Sequence[str] | None,
    label: str,
    progress: bool,
) -> dict[str, Any]:
    """Every model on the same folds, summarised.

    With a median baseline among the models (ROAS), each also counts the folds where its MAE was
    worse than the median baseline's on the same fold.
    """
    evaluate = regression_evaluator(targets)
    folds = {
        name: cross_validate(factory, X, y, splits, evaluate, description=f"{label}: {name}", progress=progress)
        for name, factory in models.items()
    }
    out = {name: _summarize(results, targets) for name, results in folds.items()}
    if MEDIAN_BASELINE in folds:
        for name, results in folds.items():
            worse = sum(r["mae"] > b["mae"] for r, b in zip(results, folds[MEDIAN_BASELINE], strict=True))
            out[name]["folds_mae_worse_than_median"] = int(worse)
    return out


def roas_verdict(models: dict[str, Any]) -> dict[str, Any]:
    """The model with the best Spearman (then MAE) among those with a lower MAE than both baselines, or none."""
    baseline_mae = min(models[b]["mae"]["mean"] for b in BASELINES)
    beating = [n for n in models if n not in BASELINES and models[n]["mae"]["mean"] < baseline_mae]
    if not beating:
        return {
            "best": None,
            "text": f"no model beats the baselines: none has an MAE below {baseline_mae:.4f}; use the median ROAS",
        }
    best = max(beating, key=lambda n: (models[n]["spearman"]["mean"], -models[n]["mae"]["mean"]))
    figures = models[best]
    return {
        "best": best,
        "text": (
            f"best: {LABELS[best]} (Spearman {figures['spearman']['mean']:.4f}, MAE {figures['mae']['mean']:.4f} "
            f"< best baseline MAE {baseline_mae:.4f}; R² {figures['r2']['mean']:.4f} vs mean baseline "
            f"{models[MEAN_BASELINE]['r2']['mean']:.4f})"
        ),
    }


def funnel_verdict(models: dict[str, Any], target: str) -> dict[str, Any]:
    """The model with the best R² among those beating the mean baseline on both R² and MAE, or none."""
    base = models[MEAN_BASELINE][target]
    beating = [
        n
        for n in models
        if n != MEAN_BASELINE
        and models[n][target]["r2"]["mean"] > base["r2"]["mean"]
        and models[n][target]["mae"]["mean"] < base["mae"]["mean"]
    ]
    if not beating:
        return {"best": None, "text": f"{target}: no model beats the mean baseline on both R² and MAE"}
    best = max(beating, key=lambda n: models[n][target]["r2"]["mean"])
    figures = models[best][target]
    return {
        "best": best,
        "text": (
            f"{target}: best {LABELS[best]} (R² {figures['r2']['mean']:.4f}, MAE {figures['mae']['mean']:.4f} "
            f"vs mean baseline {base['mae']['mean']:.4f})"
        ),
    }


def _grouping_splits(rows: TargetRows, protocol: Protocol) -> dict[str, list[Split]]:
    index = pd.Series(np.arange(len(rows.table)))
    return {
        "grouped": make_splits(index, protocol, groups=rows.table[GROUP].to_numpy()),
        "ungrouped": make_splits(index, protocol),
    }


def _protocol(protocol: Protocol, rows: TargetRows) -> dict[str, Any]:
    return {
        **protocol.as_dict(),
        "groupings": {"grouped": f"GroupKFold by {GROUP}", "ungrouped": "KFold"},
        "n_rows": len(rows.table),
        "n_groups": int(rows.table[GROUP].nunique()),
        "spearman_of_a_constant_prediction": 0.0,
    }


def validate(
    data: str | Path = config.CAMPAIGNS_FILE,
    protocol: Protocol = PROTOCOL,
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """ROAS models in both modes, grouped and ungrouped folds, beside the baselines; written as JSON."""
    rows = roas_rows(load_campaigns(data), value_enquiry, value_sale)
    splits = _grouping_splits(rows, protocol)
    report: dict[str, Any] = {
        "task": "roas",
        "data": str(data),
        "values": {"enquiry": value_enquiry, "sale": value_sale},
        "set_aside": {"rows": rows.n_set_aside, "reason": rows.reason},
        "protocol": _protocol(protocol, rows),
        "modes": {},
    }
    with threadpool_limits(1):
        for mode in MODES:
            X = model_inputs(rows.table, FEATURES[mode])
            part: dict[str, Any] = {"features": list(FEATURES[mode])}
            for grouping in GROUPINGS:
                models = _compare(roas_models(protocol.seed), X, rows.target, splits[grouping], None, mode, progress)
                part[grouping] = {
                    "grouping": report["protocol"]["groupings"][grouping],
                    "models": models,
                    "verdict": roas_verdict(models),
                }
            report["modes"][mode] = part
    delivery = report["modes"]["delivery"]["grouped"]["models"]
    reached = delivery[ROAS_MODEL]["spearman"]["mean"]
    worse_folds = delivery[ROAS_MODEL]["folds_mae_worse_than_median"]
    report["target"] = {
        "spearman_at_least": SPEARMAN_TARGET,
        "mode": "delivery",
        "grouping": "grouped",
        "model": ROAS_MODEL,
        "spearman": reached,
        "reached": reached >= SPEARMAN_TARGET,
        "mae_not_worse_than_median_baseline": delivery[ROAS_MODEL]["mae"]["mean"]
        <= delivery[MEDIAN_BASELINE]["mae"]["mean"],
        "folds_mae_worse_than_median": worse_folds,
    }
    if report_file is not None:
        write_json(report_file, report)
    return report


def validate_funnel(
    data: str | Path = config.CAMPAIGNS_FILE,
    protocol: Protocol = PROTOCOL,
    report_file: str | Path | None = FUNNEL_REPORT,
    progress: bool = True,
) -> dict[str, Any]:
    """The multi-task funnel model against one LightGBM per target, the reference and the mean baseline."""
    rows = funnel_rows(load_campaigns(data))
    splits = _grouping_splits(rows, protocol)
    report: dict[str, Any] = {
        "task": "funnel",
        "data": str(data),
        "targets": {
            "sales_per_click": "Approved_Conversion / Clicks",
            "click_drop_off": "1 - min(1, Approved_Conversion / Clicks)",
        },
        "set_aside": {"rows": rows.n_set_aside, "reason": rows.reason},
        "protocol": _protocol(protocol, rows),
        "modes": {},
    }
    with threadpool_limits(1):
        for mode in MODES:
            features = FEATURES[mode]
            X = model_inputs(rows.table, features)
            part: dict[str, Any] = {"features": list(features)}
            for grouping in GROUPINGS:
                models = _compare(
                    funnel_models(features, protocol.seed),
                    X,
                    rows.target,
                    splits[grouping],
                    FUNNEL_TARGETS,
                    mode,
                    progress,
                )
                part[grouping] = {
                    "grouping": report["protocol"]["groupings"][grouping],
                    "models": models,
                    "verdict": {t: funnel_verdict(models, t) for t in FUNNEL_TARGETS},
                }
            report["modes"][mode] = part
    if report_file is not None:
        write_json(report_file, report)
    return report


def train(
    data: str | Path = config.CAMPAIGNS_FILE,
    model_file: str | Path = MODEL_FILE,
    mode: Mode = "planned",
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    seed: int = config.DEFAULT_SEED,
) -> dict[str, Any]:
    """Fit the ROAS model of ``mode`` on every ad with spend and save it with how it was made."""
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    rows = roas_rows(load_campaigns(data), value_enquiry, value_sale)
    X = model_inputs(rows.table, FEATURES[mode])
    with threadpool_limits(1):
        model = roas_models(seed)[ROAS_MODEL]().fit(X, rows.target)
    metadata = {
        "task": TASK,
        "model": ROAS_MODEL,
        "mode": mode,
        "features": list(FEATURES[mode]),
        "values": {"enquiry": value_enquiry, "sale": value_sale},
        "seed": seed,
        "lightgbm": LIGHTGBM_PARAMS,
        "n_ads": len(rows.table),
        "set_aside": {"rows": rows.n_set_aside, "reason": rows.reason},
    }
    save_model(model_file, model, metadata)
    return metadata


def predict(input_file: str | Path, output: str | Path, model_file: str | Path = MODEL_FILE) -> pd.DataFrame:
    """Predicted ROAS for each ad of ``input_file`` (no outcome columns needed), written as CSV."""
    model, metadata = load_model(model_file, task=TASK)
    table = load_planned_ads(input_file, metadata["mode"])
    X = model_inputs(table, metadata["features"])
    with threadpool_limits(1):
        predicted = model.predict(X)
    shown = [c for c in ("ad_id", GROUP, *metadata["features"]) if c in table]
    result = table[shown].assign(predicted_roas=predicted)
    write_csv(output, result)
    return result


def summary_path(by: str) -> Path:
    return config.REPORTS_DIR / f"roas_summary_{by}.csv"


def summary(
    data: str | Path = config.CAMPAIGNS_FILE,
    by: str = "campaign",
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    output: str | Path | None = None,
) -> pd.DataFrame:
    """The aggregated table by ``by``, written as CSV (``reports/roas_summary_<by>.csv`` unless ``output``)."""
    table = summarize(load_campaigns(data), by, value_enquiry, value_sale)
    write_csv(output if output is not None else summary_path(by), table)
    return table


app = typer.Typer(help=__doc__, add_completion=False, no_args_is_help=True)

Data = typer.Option(config.CAMPAIGNS_FILE, "--data", help="The campaign CSV (KAG_conversion_data.csv layout).")
ValueEnquiry = typer.Option(DEFAULT_VALUE_ENQUIRY, "--value-enquiry", help="Value of one enquiry (Total_Conversion).")
ValueSale = typer.Option(DEFAULT_VALUE_SALE, "--value-sale", help="Value of one sale (Approved_Conversion).")
Folds = typer.Option(PROTOCOL.folds, "--folds", help="K of the K-fold.")
Repeats = typer.Option(PROTOCOL.repeats, "--repeats", help="How many times the K-fold is redrawn.")
Seed = typer.Option(config.DEFAULT_SEED, "--seed", help="Seed of the folds and the models.")
ModelFile = typer.Option(MODEL_FILE, "--model", help="Where the fitted ROAS model is saved / read.")


def _metric_rows(models: dict[str, Any], target: str | None = None, n_folds: int = 0) -> list[list[object]]:
    rows = []
    for name, figures in models.items():
        part = figures if target is None else figures[target]
        row = [LABELS[name], *(v for m in METRICS for v in (part[m]["mean"], part[m]["std"]))]
        if "folds_mae_worse_than_median" in part:
            row.append(f"{part['folds_mae_worse_than_median']}/{n_folds}")
        rows.append(row)
    return rows


_HEADER = ["model", "r2", "±std", "mae", "±std", "spearman", "±std"]


def _print_protocol(report: dict[str, Any]) -> None:
    p = report["protocol"]
    set_aside = report["set_aside"]
    typer.echo(
        f"{p['folds']} folds x {p['repeats']} repeats, seed {p['seed']}; {p['n_rows']} ads in {p['n_groups']} "
        f"{GROUP}s; {set_aside['rows']} ads set aside ({set_aside['reason']})"
    )


@app.command("validate")
def validate_command(
    data: Path = Data,
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    report: Path = typer.Option(VALIDATION_REPORT, "--report", help="Where the JSON report goes."),
) -> None:
    """ROAS per ad: R², MAE, Spearman of each model vs the baselines, planned and delivery inputs."""
    with exit_on_error(keeps=report):
        result = validate(data, Protocol(folds, repeats, seed, stratify=False), value_enquiry, value_sale, report)
    _print_protocol(result)
    n_folds = folds * repeats
    typer.echo(f"ROAS = ({value_enquiry:g} x enquiries + {value_sale:g} x sales) / Spent")
    for mode, part in result["modes"].items():
        for grouping in GROUPINGS:
            typer.echo(f"\n{mode} inputs ({', '.join(part['features'])}), {part[grouping]['grouping']}:")
            header = [*_HEADER, "folds MAE > median"]
            typer.echo(format_table(header, _metric_rows(part[grouping]["models"], n_folds=n_folds)))
            typer.echo(part[grouping]["verdict"]["text"])
    target = result["target"]
    status = "reached" if target["reached"] else "NOT reached"
    typer.echo(
        f"\ntarget Spearman >= {target['spearman_at_least']:.2f} (delivery, grouped): {status} "
        f"({target['spearman']:.4f}); MAE not worse than the median baseline: "
        f"{'yes' if target['mae_not_worse_than_median_baseline'] else 'no'} on average, "
        f"worse on {target['folds_mae_worse_than_median']} of {n_folds} folds"
    )
    typer.echo(f"report -> {report}")


@app.command("funnel")
def funnel_command(
    data: Path = Data,
    folds: int = Folds,
    repeats: int = Repeats,
    seed: int = Seed,
    report: Path = typer.Option(FUNNEL_REPORT, "--report", help="Where the JSON report goes."),
) -> None:
    """Sales per click and click drop-off: the multi-task MLP vs one LightGBM per target and the baselines."""
    with exit_on_error(keeps=report):
        result = validate_funnel(data, Protocol(folds, repeats, seed, stratify=False), report)
    _print_protocol(result)
    for mode, part in result["modes"].items():
        for grouping in GROUPINGS:
            for target in FUNNEL_TARGETS:
                typer.echo(f"\n{target}, {mode} inputs, {part[grouping]['grouping']}:")
                typer.echo(format_table(_HEADER, _metric_rows(part[grouping]["models"], target)))
            for target in FUNNEL_TARGETS:
                typer.echo(part[grouping]["verdict"][target]["text"])
    typer.echo(f"report -> {report}")


@app.command("train")
def train_command(
    data: Path = Data,
    mode: str = typer.Option("planned", "--mode", help="planned (campaign, audience, budget) or delivery (+ figures)."),
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    seed: int = Seed,
    model: Path = ModelFile,
) -> None:
    """Fit the ROAS model (LightGBM, log target, MAE-scaled) on every ad with spend and save it."""
    with exit_on_error(keeps=model):
        metadata = train(data, model, mode, value_enquiry, value_sale, seed)
    typer.echo(
        f"trained ({mode} inputs: {', '.join(metadata['features'])}) on {metadata['n_ads']} ads, "
        f"{metadata['set_aside']['rows']} set aside ({metadata['set_aside']['reason']}) -> {model}"
    )


@app.command("predict")
def predict_command(
    input_file: Path = typer.Option(..., "--input", help="Planned ads: campaign, audience and Spent (or budget)."),
    output: Path = typer.Option(..., "--output", help="The CSV of predicted ROAS to write."),
    model: Path = ModelFile,
) -> None:
    """Predicted ROAS per planned ad with the saved model (outcome columns are neither needed nor read)."""
    with exit_on_error(keeps=output):
        result = predict(input_file, output, model)
    typer.echo(f"wrote {len(result)} predictions to {output}")


@app.command("summary")
def summary_command(
    data: Path = Data,
    by: str = typer.Option("campaign", "--by", help=f"One of: {', '.join(SUMMARY_KEYS)}."),
    value_enquiry: float = ValueEnquiry,
    value_sale: float = ValueSale,
    output: Path | None = typer.Option(None, "--output", help="CSV to write [default: reports/roas_summary_<by>.csv]"),
) -> None:
    """ROAS, CTR, cost per click and per sale by campaign, age, gender or interest, with the counts behind them."""
    path = output if output is not None else summary_path(by)
    with exit_on_error(keeps=path):
        table = summary(data, by, value_enquiry, value_sale, path)
    rows = [[v if v == v else "-" for v in row] for row in table.astype(object).itertuples(index=False)]
    typer.echo(format_table(list(table.columns), rows))
    typer.echo(f"ratios of sums over the ads with spend; n_set_aside = ads with Spent == 0 left out\n-> {path}")
