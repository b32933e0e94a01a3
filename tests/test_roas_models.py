"""The ROAS and funnel estimators follow scikit-learn's conventions; the MAE scale, the verdicts and the typed
reports do what they say."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.utils.estimator_checks import check_estimator

from adpipe.reports import MeanStd, read_report, write_report
from adpipe.roas.evaluation import funnel_verdict, roas_verdict
from adpipe.roas.models import (
    FUNNEL_MODEL,
    MEAN_BASELINE,
    MEDIAN_BASELINE,
    ROAS_MODEL,
    ScaledLogTargetRegressor,
    absolute_error_scale,
    funnel_models,
    lightgbm,
    roas_models,
)
from adpipe.roas.report import (
    METRICS,
    CampaignProtocol,
    ConversionValues,
    RegressionSummary,
    RoasGrouping,
    RoasMode,
    RoasModelSummary,
    RoasValidationReport,
    SetAside,
    SpearmanTarget,
    Verdict,
)
from adpipe.validation import spearman
from features.campaigns import PLANNED_FEATURES

FACTORIES: dict[str, Callable[[], BaseEstimator]] = {
    **{f"roas {name}": factory for name, factory in roas_models(seed=7).items()},
    **{f"funnel {name}": factory for name, factory in funnel_models(PLANNED_FEATURES, seed=7).items()},
}


def _plain(value: object) -> object:
    """Parameters comparable with ``==``: an estimator (also inside a list of steps or transformers) stands for
    itself by class and parameters."""
    if isinstance(value, BaseEstimator):
        return type(value), _plain(value.get_params(deep=False))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@pytest.mark.parametrize("name", FACTORIES)
def test_every_model_is_a_regressor_whose_clone_and_params_round_trip(name: str) -> None:
    model = FACTORIES[name]()
    assert is_regressor(model)
    twin = clone(model)
    assert twin is not model and type(twin) is type(model)
    assert _plain(twin.get_params(deep=True)) == _plain(model.get_params(deep=True))
    rebuilt = type(model)(**model.get_params(deep=False))
    assert _plain(rebuilt.get_params(deep=True)) == _plain(model.get_params(deep=True))
    assert _plain(clone(model).set_params(**model.get_params(deep=False)).get_params()) == _plain(model.get_params())


def test_scaled_log_target_regressor_passes_scikit_learns_estimator_checks() -> None:
    assert ScaledLogTargetRegressor.__mro__.index(BaseEstimator) > 1  # the mixin comes first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_estimator(ScaledLogTargetRegressor(Ridge()))


def test_scaled_log_target_regressor_refuses_negative_targets_and_predicting_unfitted() -> None:
    X = pd.DataFrame({"x": np.arange(12.0)})
    with pytest.raises(ValueError, match="non-negative target"):
        ScaledLogTargetRegressor(Ridge()).fit(X, np.arange(12.0) - 1)
    with pytest.raises(NotFittedError):
        ScaledLogTargetRegressor(Ridge()).predict(X)


def test_the_scale_is_learnt_out_of_fold_and_keeps_the_order() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"budget": rng.uniform(1, 100, 400), "noise": rng.normal(size=400)})
    y = rng.lognormal(mean=2 - np.log(X["budget"]) / 2, sigma=1.0)
    scaled = ScaledLogTargetRegressor(lightgbm(seed=1), seed=1).fit(X, y)
    inner = KFold(3, shuffle=True, random_state=1)
    out_of_fold = np.expm1(cross_val_predict(lightgbm(seed=1), X, np.log1p(y), cv=inner)).clip(min=0)
    assert scaled.scale_ == pytest.approx(absolute_error_scale(y, out_of_fold))  # never from in-sample predictions
    unscaled = np.expm1(scaled.estimator_.predict(X)).clip(min=0)
    assert scaled.scale_ != pytest.approx(absolute_error_scale(y, unscaled))
    np.testing.assert_allclose(scaled.predict(X), scaled.scale_ * unscaled)
    assert spearman(y, scaled.predict(X)) == pytest.approx(spearman(y, unscaled))


def test_absolute_error_scale_minimises_mae_and_spearman_of_constant_is_zero() -> None:
    rng = np.random.default_rng(0)
    y, predicted = rng.lognormal(size=200), rng.lognormal(size=200)
    best = absolute_error_scale(y, predicted)
    grid = np.linspace(0.01, 5, 2000)
    assert np.abs(y - best * predicted).sum() <= min(np.abs(y - c * predicted).sum() for c in grid) + 1e-9
    assert absolute_error_scale(y, np.zeros_like(y)) == 1.0
    assert spearman([1, 2, 3], [5, 5, 5]) == 0.0
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)


def _figures(r2: float, mae: float, rho: float, worse: int = 0) -> RoasModelSummary:
    return RoasModelSummary(
        r2=MeanStd(mean=r2, std=0.1),
        mae=MeanStd(mean=mae, std=0.5),
        spearman=MeanStd(mean=rho, std=0.05),
        folds_mae_worse_than_median=worse,
    )


def test_roas_verdict_crowns_no_model_when_none_beats_the_baselines() -> None:
    models = {
        MEAN_BASELINE: _figures(0.0, 12.0, 0.0, 5),
        MEDIAN_BASELINE: _figures(-0.1, 9.0, 0.0),
        ROAS_MODEL: _figures(0.1, 9.5, 0.5, 4),
    }
    verdict = roas_verdict(models)
    assert verdict.best is None and "no model beats the baselines" in verdict.text
    models[ROAS_MODEL] = _figures(0.0, 8.5, 0.5)
    assert roas_verdict(models).best == ROAS_MODEL


def _summary(*figures: tuple[float, float]) -> RegressionSummary:
    """A summary from (mean, std) of r2, mae and spearman, in that order."""
    return RegressionSummary(
        **{m: MeanStd(mean=mean, std=std) for m, (mean, std) in zip(METRICS, figures, strict=True)}
    )


def test_funnel_verdict_needs_both_r2_and_mae_better_than_the_mean_baseline() -> None:
    base = _summary((0.0, 0.0), (0.15, 0.01), (0.0, 0.0))
    better_r2_only = _summary((0.2, 0.1), (0.16, 0.01), (0.1, 0.1))
    models = {MEAN_BASELINE: {"sales_per_click": base}, FUNNEL_MODEL: {"sales_per_click": better_r2_only}}
    assert funnel_verdict(models, "sales_per_click").best is None
    models[FUNNEL_MODEL] = {"sales_per_click": _summary((0.2, 0.1), (0.12, 0.01), (0.0, 0.0))}
    assert funnel_verdict(models, "sales_per_click").best == FUNNEL_MODEL


def test_a_report_written_and_read_back_equals_the_original(tmp_path) -> None:
    models = {MEAN_BASELINE: _figures(0.0, 12.0, 0.0, 3), MEDIAN_BASELINE: _figures(-0.1, 9.0, 0.0)}
    grouping = RoasGrouping(grouping="KFold", models=models, verdict=Verdict(best=None, text="none"))
    report = RoasValidationReport(
        task="roas",
        data="ads.csv",
        values=ConversionValues(enquiry=5.0, sale=100.0),
        set_aside=SetAside(rows=2, reason="Spent == 0"),
        protocol=CampaignProtocol(
            folds=3,
            repeats=1,
            seed=42,
            groupings={"grouped": "GroupKFold", "ungrouped": "KFold"},
            n_rows=10,
            n_groups=4,
        ),
        modes={"planned": RoasMode(features=["age"], grouped=grouping, ungrouped=grouping)},
        target=SpearmanTarget(
            spearman_at_least=0.6,
            mode="delivery",
            grouping="grouped",
            model=ROAS_MODEL,
            spearman=0.55,
            reached=False,
            mae_not_worse_than_median_baseline=True,
            folds_mae_worse_than_median=0,
        ),
    )
    write_report(tmp_path / "r.json", report)
    assert read_report(tmp_path / "r.json", RoasValidationReport) == report
