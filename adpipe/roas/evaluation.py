"""Validation of the ROAS and funnel models (a protocol in, a typed report out), training, prediction and the
where-to-spend summaries.

Every model is validated on the project's protocol (repeated K-fold) twice: with folds grouped by
``fb_campaign_id`` (the ads of one campaign share audience and budget, so none of them may sit on both sides
of a split) and with plain folds, so the difference shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import load_model, write_csv
from adpipe.reference import WARNINGS_COLUMN, InputReference, PredictionReference, guard_rows
from adpipe.reports import write_report
from adpipe.roas.defaults import FUNNEL_REPORT, MODEL_FILE, PLAN_WINDOWS, PROTOCOL, TASK, VALIDATION_REPORT
from adpipe.roas.folds import fitted_protocol, period_splits
from adpipe.roas.models import (
    BASELINES,
    LABELS,
    LIGHTGBM_PARAMS,
    MEAN_BASELINE,
    MEDIAN_BASELINE,
    ROAS_MODEL,
    ModelFactories,
    funnel_models,
    roas_models,
)
from adpipe.roas.report import (
    GROUPINGS,
    CampaignProtocol,
    ConversionValues,
    FunnelGrouping,
    FunnelMode,
    FunnelValidationReport,
    RegressionSummary,
    RoasGrouping,
    RoasMode,
    RoasModelSummary,
    RoasValidationReport,
    SetAside,
    SpearmanTarget,
    TrainedModel,
    Verdict,
)
from adpipe.validation import (
    FoldMetrics,
    Protocol,
    Split,
    cross_validate,
    make_splits,
    regression_evaluator,
    require_trainable,
)
from adpipe.versions import save_trained
from features.campaign_dates import DATE
from features.campaign_mapping import CampaignMapping
from features.campaigns import (
    BUDGET,
    FUNNEL_TARGETS,
    MODES,
    TargetRows,
    categorical_features,
    funnel_rows,
    load_planned_ads,
    mapped,
    mode_features,
    model_inputs,
    read_campaigns,
    roas_rows,
    segment_categories,
)
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE, GROUP, Mode
from features.tables.bad_rows import RowPolicy

SPEARMAN_TARGET = 0.60


def _fold_metrics(
    models: ModelFactories,
    X: pd.DataFrame,
    y: pd.Series | pd.DataFrame,
    splits: Sequence[Split],
    targets: Sequence[str] | None,
    label: str,
    progress: bool,
) -> dict[str, list[FoldMetrics]]:
    """Every model on the same folds: each fold's figures, per model."""
    evaluate = regression_evaluator(targets)
    return {
        name: cross_validate(factory, X, y, splits, evaluate, description=f"{label}: {name}", progress=progress)
        for name, factory in models.items()
    }


def roas_summaries(folds: dict[str, list[FoldMetrics]]) -> dict[str, RoasModelSummary]:
    """Each model's figures, with the folds on which its MAE was worse than the median baseline's on that fold."""
    median = folds[MEDIAN_BASELINE]
    summaries = {}
    for name, results in folds.items():
        figures = RegressionSummary.from_folds(results)
        worse = sum(bool(r["mae"] > b["mae"]) for r, b in zip(results, median, strict=True))
        summaries[name] = RoasModelSummary(**dict(figures), folds_mae_worse_than_median=worse)
    return summaries


def roas_verdict(models: dict[str, RoasModelSummary]) -> Verdict:
    """The model with the best Spearman (then MAE) among those with a lower MAE than both baselines, or none."""
    baseline_mae = min(models[b].mae.mean for b in BASELINES)
    beating = [n for n in models if n not in BASELINES and models[n].mae.mean < baseline_mae]
    if not beating:
        text = f"no model beats the baselines: none has an MAE below {baseline_mae:.4f}; use the median ROAS"
        return Verdict(best=None, text=text)
    best = max(beating, key=lambda n: (models[n].spearman.mean, -models[n].mae.mean))
    figures = models[best]
    return Verdict(
        best=best,
        text=(
            f"best: {LABELS[best]} (Spearman {figures.spearman.mean:.4f}, MAE {figures.mae.mean:.4f} "
            f"< best baseline MAE {baseline_mae:.4f}; R² {figures.r2.mean:.4f} vs mean baseline "
            f"{models[MEAN_BASELINE].r2.mean:.4f})"
        ),
    )


def funnel_verdict(models: dict[str, dict[str, RegressionSummary]], target: str) -> Verdict:
    """The model with the best R² among those beating the mean baseline on both R² and MAE, or none."""
    base = models[MEAN_BASELINE][target]

    def beats(figures: RegressionSummary) -> bool:
        return figures.r2.mean > base.r2.mean and figures.mae.mean < base.mae.mean

    beating = [n for n in models if n != MEAN_BASELINE and beats(models[n][target])]
    if not beating:
        return Verdict(best=None, text=f"{target}: no model beats the mean baseline on both R² and MAE")
    best = max(beating, key=lambda n: models[n][target].r2.mean)
    figures = models[best][target]
    return Verdict(
        best=best,
        text=(
            f"{target}: best {LABELS[best]} (R² {figures.r2.mean:.4f}, MAE {figures.mae.mean:.4f} "
            f"vs mean baseline {base.mae.mean:.4f})"
        ),
    )


def group_key(mapping: CampaignMapping | None) -> str:
    """The column the grouped folds keep together: the reference's campaign, or the mapping's ``group``."""
    if not mapped(mapping):
        return GROUP
    if mapping.group is None:
        raise DataError(
            "role 'group' is missing: validation keeps a group's rows on one side of each split; "
            "map one (e.g. --column group=CAMPAIGN_COLUMN)"
        )
    return mapping.group


def _grouping_names(mapping: CampaignMapping | None, windows: int | None = None) -> dict[str, str]:
    names = {"grouped": f"GroupKFold by {group_key(mapping)}", "ungrouped": "KFold"}
    return names if windows is None else {**names, "forward": f"forward in time, {windows} expanding windows by date"}


def grouping_splits(rows: TargetRows, protocol: Protocol, group: str = GROUP) -> dict[str, list[Split]]:
    """The folds of ``protocol`` twice: grouped by campaign, and plain."""
    index = pd.Series(np.arange(len(rows.table)))
    return {
        "grouped": make_splits(index, protocol, groups=rows.table[group].to_numpy()),
        "ungrouped": make_splits(index, protocol),
    }


def _protocol(
    protocol: Protocol, rows: TargetRows, mapping: CampaignMapping | None, notes: list[str], windows: int | None = None
) -> CampaignProtocol:
    return CampaignProtocol(
        notes=notes,
        **protocol.as_dict(),
        groupings=_grouping_names(mapping, windows),
        n_rows=len(rows.table),
        n_groups=int(rows.table[group_key(mapping)].nunique()),
        windows=windows,
    )


def validate(
    data: str | Path = config.CAMPAIGNS_FILE,
    protocol: Protocol = PROTOCOL,
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    report_file: str | Path | None = VALIDATION_REPORT,
    progress: bool = True,
    mapping: CampaignMapping | None = None,
    policy: RowPolicy | None = None,
    windows: int = PLAN_WINDOWS,
) -> RoasValidationReport:
    """ROAS models in both modes, grouped and ungrouped folds and, on an export with a date, ``windows`` expanding
    windows forward in time (its natural protocol), beside the baselines; written as JSON."""
    group = group_key(mapping)
    read = read_campaigns(data, mapping, policy)
    rows = roas_rows(read.table, value_enquiry, value_sale)
    require_trainable(rows.target, data, BUDGET, classes=False)  # ROAS is defined on the ads with spend
    dated = DATE in rows.table
    protocol, notes = fitted_protocol(protocol, rows.table[group], dated)
    splits = grouping_splits(rows, protocol, group)
    if dated:  # a wrong --windows stops here, before any fit
        splits["forward"] = period_splits(rows.table[DATE].to_numpy(), windows)
    features, categories = mode_features(mapping), segment_categories(rows.table, mapping)
    names = _grouping_names(mapping, windows if dated else None)
    modes: dict[str, RoasMode] = {}
    with threadpool_limits(1):
        for mode in MODES:
            X = model_inputs(rows.table, features[mode], categories)
            parts = {}
            for grouping in splits:
                folds = _fold_metrics(
                    roas_models(protocol.seed), X, rows.target, splits[grouping], None, mode, progress
                )
                models = roas_summaries(folds)
                parts[grouping] = RoasGrouping(grouping=names[grouping], models=models, verdict=roas_verdict(models))
            modes[mode] = RoasMode(features=list(features[mode]), **parts)
    delivery = modes["delivery"].grouped.models
    reached = delivery[ROAS_MODEL].spearman.mean
    report = RoasValidationReport(
        task="roas",
        data=str(data),
        values=ConversionValues(enquiry=value_enquiry, sale=value_sale),
        set_aside=SetAside(rows=rows.n_set_aside, reason=rows.reason),
        protocol=_protocol(protocol, rows, mapping, notes, windows if dated else None),
        modes=modes,
        value=mapping.value_text() if mapped(mapping) else None,
        reading=read.reading,
        target=SpearmanTarget(
            spearman_at_least=SPEARMAN_TARGET,
            mode="delivery",
            grouping="grouped",
            model=ROAS_MODEL,
            spearman=reached,
            reached=reached >= SPEARMAN_TARGET,
            mae_not_worse_than_median_baseline=delivery[ROAS_MODEL].mae.mean <= delivery[MEDIAN_BASELINE].mae.mean,
            folds_mae_worse_than_median=delivery[ROAS_MODEL].folds_mae_worse_than_median,
        ),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report


def validate_funnel(
    data: str | Path = config.CAMPAIGNS_FILE,
    protocol: Protocol = PROTOCOL,
    report_file: str | Path | None = FUNNEL_REPORT,
    progress: bool = True,
    mapping: CampaignMapping | None = None,
    policy: RowPolicy | None = None,
) -> FunnelValidationReport:
    """The multi-task funnel model against one LightGBM per target, the reference and the mean baseline."""
    sales = mapping.sales if mapped(mapping) else "Approved_Conversion"
    if sales is None:
        raise DataError(
            "role 'conversion' is missing: the funnel follows a conversion per click; map one (conversion=NAME)"
        )
    group = group_key(mapping)
    read = read_campaigns(data, mapping, policy)
    rows = funnel_rows(read.table, sales)
    protocol, notes = fitted_protocol(protocol, rows.table[group], DATE in rows.table)
    splits = grouping_splits(rows, protocol, group)
    categories, names = segment_categories(rows.table, mapping), _grouping_names(mapping)
    modes: dict[str, FunnelMode] = {}
    with threadpool_limits(1):
        for mode in MODES:
            features = mode_features(mapping)[mode]
            X = model_inputs(rows.table, features, categories)
            parts = {}
            for grouping in GROUPINGS:
                candidates = funnel_models(features, protocol.seed, categorical_features(mapping))
                folds = _fold_metrics(candidates, X, rows.target, splits[grouping], FUNNEL_TARGETS, mode, progress)
                models = {
                    name: {t: RegressionSummary.from_folds([r[t] for r in results]) for t in FUNNEL_TARGETS}
                    for name, results in folds.items()
                }
                verdict = {t: funnel_verdict(models, t) for t in FUNNEL_TARGETS}
                parts[grouping] = FunnelGrouping(grouping=names[grouping], models=models, verdict=verdict)
            modes[mode] = FunnelMode(features=list(features), **parts)
    report = FunnelValidationReport(
        task="funnel",
        data=str(data),
        targets={
            "sales_per_click": f"{sales} / Clicks",
            "click_drop_off": f"1 - min(1, {sales} / Clicks)",
        },
        set_aside=SetAside(rows=rows.n_set_aside, reason=rows.reason),
        protocol=_protocol(protocol, rows, mapping, notes),
        modes=modes,
        reading=read.reading,
    )
    if report_file is not None:
        write_report(report_file, report)
    return report


def _predicted(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
    return {"predicted": model.predict(X)}


def held_out_predictions(
    rows: TargetRows, X: pd.DataFrame, seed: int, mapping: CampaignMapping | None
) -> PredictionReference | None:
    """The ROAS model's predictions on one repeat of validate's grouped folds (plain folds when a mapping has no
    group; fewer folds when there are fewer groups; none below two)."""
    group = mapping.group if mapped(mapping) else GROUP
    groups = rows.table[group].to_numpy() if group is not None else None
    folds = min(PROTOCOL.folds, len(np.unique(groups)) if groups is not None else len(X))
    if folds < 2:
        return None
    protocol = Protocol(folds, 1, seed, stratify=False)
    splits = make_splits(pd.Series(np.arange(len(X))), protocol, groups)
    with threadpool_limits(1):
        results = cross_validate(roas_models(seed)[ROAS_MODEL], X, rows.target, splits, _predicted, progress=False)
    folding = f"GroupKFold by {group}" if groups is not None else "KFold (the mapping has no group)"
    text = f"{folding}, {folds} folds x 1 repeat, seed {seed} (validate's splitter)"
    return PredictionReference.of(np.concatenate([fold["predicted"] for fold in results]), text)


def train(
    data: str | Path = config.CAMPAIGNS_FILE,
    model_file: str | Path = MODEL_FILE,
    mode: Mode = "planned",
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
    seed: int = config.DEFAULT_SEED,
    mapping: CampaignMapping | None = None,
    policy: RowPolicy | None = None,
) -> TrainedModel:
    """Fit the ROAS model of ``mode`` on every ad with spend and save it with how it was made and its training
    reference (the inputs as read; the derived ratios are not guarded)."""
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    read = read_campaigns(data, mapping, policy)
    rows = roas_rows(read.table, value_enquiry, value_sale)
    require_trainable(rows.target, data, BUDGET, classes=False)  # ROAS is defined on the ads with spend
    features, categories = mode_features(mapping)[mode], segment_categories(rows.table, mapping)
    X = model_inputs(rows.table, features, categories)
    with threadpool_limits(1):
        model = roas_models(seed)[ROAS_MODEL]().fit(X, rows.target)
    inputs = rows.table[[name for name in features if name in rows.table]]
    trained = TrainedModel(
        task=TASK,
        model=ROAS_MODEL,
        mode=mode,
        features=list(features),
        values=ConversionValues(enquiry=value_enquiry, sale=value_sale),
        seed=seed,
        lightgbm=LIGHTGBM_PARAMS,
        n_ads=len(rows.table),
        set_aside=SetAside(rows=rows.n_set_aside, reason=rows.reason),
        categories=categories,
        reference=InputReference.from_frame(inputs, held_out_predictions(rows, X, seed, mapping)),
        reading=read.reading,
    )
    save_trained(model_file, model, trained.model_dump(), [data])
    return trained


def predict(
    input_file: str | Path,
    output: str | Path,
    model_file: str | Path = MODEL_FILE,
    mapping: CampaignMapping | None = None,
) -> tuple[pd.DataFrame, str]:
    """Predicted ROAS for each ad of ``input_file`` (no outcome columns needed), written as CSV with each ad's
    warnings from the model's training reference; and their summary line."""
    model, metadata = load_model(model_file, task=TASK)
    trained = TrainedModel.model_validate(metadata)
    table = load_planned_ads(input_file, trained.mode, mapping)
    X = model_inputs(table, trained.features, trained.categories)
    with threadpool_limits(1):
        predicted = model.predict(X)
    group = mapping.group if mapped(mapping) else GROUP
    shown = list(dict.fromkeys(c for c in ("ad_id", group, *trained.features) if c in table))
    guarded = guard_rows(trained.reference, table)
    result = table[shown].assign(predicted_roas=predicted, **{WARNINGS_COLUMN: guarded.messages})
    write_csv(output, result)
    return result, guarded.summary
