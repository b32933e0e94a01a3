"""Forward-in-time validation of the budget plan on an export with a date, and the curves against the synthetic
export's true ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe.errors import OptionError
from adpipe.io import read_json, write_json
from adpipe.reports import read_report, write_report
from adpipe.roas.folds import FORWARD_NOTE, period_splits
from adpipe.roas.plan.additive import AdditiveLevelCurves
from adpipe.roas.plan.backtest import CONSTANT_ROAS, CURVES
from adpipe.roas.plan.curves import VALUE, plan_frame
from adpipe.roas.plan.report import PlanValidationReport
from adpipe.roas.report import RoasValidationReport
from features.campaign_dates import DATE
from features.campaign_mapping import VALUE as MAPPED_VALUE
from features.campaign_mapping import from_file, read_mapped
from features.synth_campaigns import MAPPING_FILE, curves_path, write_export
from model import app


def test_forward_windows_never_train_on_a_later_date() -> None:
    rng = np.random.default_rng(0)
    dates = pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, 500), unit="D"))
    dates = dates.sample(frac=1.0, random_state=1).reset_index(drop=True)  # rows in no particular order
    splits = period_splits(dates, 4)
    assert len(splits) == 4
    previous_last = pd.Timestamp.min
    for split in splits:
        train, test = dates.iloc[split.train], dates.iloc[split.test]
        assert train.max() < test.min()  # every training row is dated before every row it is scored on
        assert not set(train) & set(test)  # a date is never split between the two sides
        assert len(split.train) == int((dates < test.min()).sum())  # expanding: every earlier row trains
        assert test.min() > previous_last  # the test blocks move forward and never overlap
        previous_last = test.max()
    with pytest.raises(OptionError, match="--windows"):
        period_splits(dates, 30)


def test_a_report_without_forward_reads_and_writes_it_as_null(tmp_path: Path) -> None:
    """A plan validation written before forward validation (no "forward" key) still reads; written again, the key
    is there, null."""
    from adpipe import config
    from adpipe.protocol import Protocol
    from adpipe.roas.plan.commands import validate_plan
    from adpipe.roas.plan.options import PlanData
    from adpipe.roas.report import ConversionValues

    path = tmp_path / "v.json"
    data = PlanData(config.CAMPAIGNS_FILE, ["gender"], 5.0, 100.0)
    report = validate_plan(data, Protocol(2, 1, 0, stratify=False), path, 10)
    assert report.forward is None and read_json(path)["forward"] is None
    old = read_json(path)
    del old["forward"]
    old_path = tmp_path / "old.json"
    write_json(old_path, old)
    assert read_report(old_path, PlanValidationReport) == report
    assert report.values == ConversionValues(enquiry=5.0, sale=100.0)


def test_plan_validate_runs_forward_on_a_dated_export(tmp_path: Path) -> None:
    """On the synthetic daily export the forward part exists, its windows train on the past only, the report
    round-trips, and the curves' next-period MAE and RMSE beat constant ROAS per segment."""
    export, path = tmp_path / "synth.csv", tmp_path / "v.json"
    write_export(export, days=20, seed=42)
    args = ["roas", "plan-validate", "--data", str(export), "--mapping", str(MAPPING_FILE), "--folds", "2"]
    result = CliRunner().invoke(app, [*args, "--repeats", "1", "--windows", "3", "--report", str(path)])
    assert result.exit_code == 0, result.output
    assert "forward in time (Day): 3 expanding windows" in result.stdout
    report = read_report(path, PlanValidationReport)
    write_report(tmp_path / "again.json", report)
    assert read_json(tmp_path / "again.json") == read_json(path)
    forward = report.forward
    assert forward is not None and forward.n_windows == 3 and forward.n_periods == 20
    assert forward.training_precedes_test
    assert all(w.train_last < w.test_first for w in forward.windows)
    assert forward.windows[0].train_first == "2024-03-01" and forward.windows[-1].test_last == "2024-03-20"
    curves, constant = forward.value_accuracy[CURVES], forward.value_accuracy[CONSTANT_ROAS]
    assert curves.mae.mean < 0.95 * constant.mae.mean  # measured 0.893 x
    assert curves.rmse.mean < 0.95 * constant.rmse.mean  # measured 0.867 x
    grouped = report.value_accuracy  # the targets read the grouped part, as without a date
    (mae,) = [t for t in report.targets if t.name.startswith("held-out MAE")]
    assert mae.measured == f"{grouped[CURVES].mae.mean / grouped[CONSTANT_ROAS].mae.mean:.3f} x"


def test_validate_offers_the_forward_protocol_on_a_dated_export(tmp_path: Path) -> None:
    """`roas validate` on an export with a date says the forward protocol is the natural one and runs it (every
    model on --windows expanding windows in date order) beside the grouped folds, whose figures the target reads."""
    from adpipe.roas.dashboard import baseline_comparison

    export, path = tmp_path / "synth.csv", tmp_path / "v.json"
    write_export(export, days=20, seed=42)
    args = ["roas", "validate", "--data", str(export), "--mapping", str(MAPPING_FILE), "--folds", "2"]
    result = CliRunner().invoke(app, [*args, "--repeats", "1", "--windows", "3", "--report", str(path)])
    assert result.exit_code == 0, result.output
    assert f"note: {FORWARD_NOTE}" in result.stdout
    assert "delivery inputs (" in result.stdout and "), forward in time, 3 expanding windows by date:" in result.stdout
    report = read_report(path, RoasValidationReport)
    assert report.protocol.windows == 3 and report.protocol.groupings["forward"].startswith("forward in time")
    for part in report.modes.values():
        assert part.forward is not None and set(part.forward.models) == set(part.grouped.models)
        assert all(s.folds_mae_worse_than_median <= 3 for s in part.forward.models.values())
    assert report.target.spearman == report.modes["delivery"].grouped.models[report.target.model].spearman.mean
    baseline_comparison(report)  # the dashboard's panel draws the grouped and plain folds of a dated export too
    wrong = CliRunner().invoke(app, [*args, "--windows", "20", "--report", str(tmp_path / "w.json")])
    assert wrong.exit_code == 2 and "--windows: 20 distinct dates cannot give 20 forward windows" in wrong.output


def test_curves_recover_the_synthetic_export_s_true_exponents(tmp_path: Path) -> None:
    """Fitted per campaign x placement x banner on 60 days, the planner's exponents follow the true ones of
    ``<export>.curves.json`` (seed 42: MAE 0.086, issue 37's target 0.1; the per-segment DL pooling had 0.116; a
    constant guess at their mean has MAE 0.131). A broken fit (exponent stuck at 1, or at the global curve) fails."""
    export = tmp_path / "synth.csv"
    write_export(export, days=60, seed=42)
    table = read_mapped(export, from_file(MAPPING_FILE))
    frame = plan_frame(table, table[MAPPED_VALUE], ["Campaign name", "Placement", "Banner"], DATE)
    curves = AdditiveLevelCurves().fit(frame, frame[VALUE])
    truth = read_json(curves_path(export))["curves"]
    names = [f"{c['campaign']}/{c['placement']}/{c['banner']}" for c in truth]
    true, fitted = np.array([c["b"] for c in truth]), curves.segment_coef(names)[:, 1]
    assert not curves.fallback_
    assert np.abs(fitted - true).mean() <= 0.1
    assert np.abs(fitted - true).max() <= 0.3
    assert np.corrcoef(fitted, true)[0, 1] >= 0.55
