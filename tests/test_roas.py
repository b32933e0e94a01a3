"""ROAS and the funnel: definitions, the loader's value rules, the leakage guard, grouped folds, the summary, the
commands and their typed reports, and the CLI on bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import read_json
from adpipe.reports import read_report
from adpipe.roas import evaluation
from adpipe.roas.models import MEDIAN_BASELINE, ROAS_MODEL
from adpipe.roas.report import FunnelValidationReport, RoasValidationReport
from adpipe.validation import Protocol
from features.campaigns import (
    DELIVERY_FEATURES,
    FEATURES,
    OUTCOME_COLUMNS,
    PLANNED_FEATURES,
    funnel_rows,
    load_campaigns,
    load_planned_ads,
    model_inputs,
    refuse_outcomes,
    roas_rows,
    summarize,
)
from model import app

runner = CliRunner()
COLUMNS = [
    "ad_id",
    "xyz_campaign_id",
    "fb_campaign_id",
    "age",
    "gender",
    "interest",
    "Impressions",
    "Clicks",
    "Spent",
    "Total_Conversion",
    "Approved_Conversion",
]


def hand_made() -> pd.DataFrame:
    """Five ads in three campaigns: one without spend or clicks, one with more sales than clicks."""
    rows = [
        (1, 916, 10, "30-34", "M", 15, 1000, 10, 20.0, 4, 1),
        (2, 916, 10, "30-34", "M", 15, 500, 0, 0.0, 1, 0),
        (3, 936, 11, "45-49", "F", 16, 2000, 4, 8.0, 2, 0),
        (4, 936, 12, "45-49", "F", 20, 800, 2, 10.0, 3, 3),
        (5, 1178, 12, "45-49", "F", 20, 4000, 20, 50.0, 10, 2),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def synthetic_ads(n_campaigns: int = 300, seed: int = 0) -> pd.DataFrame:
    """Campaign-like ads where the sales rate depends on the age band (so a model has something to find)."""
    rng = np.random.default_rng(seed)
    rows, ad_id = [], 1
    for campaign in range(n_campaigns):
        xyz = int(rng.choice([916, 936, 1178]))
        age = str(rng.choice(["30-34", "35-39", "40-44", "45-49"]))
        gender, interest = str(rng.choice(["M", "F"])), int(rng.choice([10, 16, 20, 29]))
        sale_rate = {"30-34": 0.3, "35-39": 0.1, "40-44": 0.03, "45-49": 0.01}[age]
        for _ in range(int(rng.integers(1, 4))):
            impressions = int(rng.lognormal(9, 1))
            clicks = int(rng.binomial(impressions, 0.002)) if rng.random() > 0.1 else 0
            spent = round(clicks * float(rng.uniform(1.0, 2.0)), 2)
            sales = int(rng.binomial(clicks, sale_rate)) if clicks else 0
            enquiries = sales + int(rng.poisson(1))
            rows.append(
                (ad_id, xyz, 1000 + campaign, age, gender, interest, impressions, clicks, spent, enquiries, sales)
            )
            ad_id += 1
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture
def ads_file(tmp_path: Path) -> Path:
    path = tmp_path / "ads.csv"
    synthetic_ads().to_csv(path, index=False)
    return path


def test_roas_is_value_over_spent_and_sets_aside_ads_without_spend() -> None:
    rows = roas_rows(hand_made(), value_enquiry=5, value_sale=100)
    assert rows.n_set_aside == 1
    assert rows.table["ad_id"].tolist() == [1, 3, 4, 5]
    assert rows.target.tolist() == pytest.approx([(20 + 100) / 20, 10 / 8, (15 + 300) / 10, (50 + 200) / 50])
    doubled = roas_rows(hand_made(), value_enquiry=10, value_sale=0)
    assert doubled.target.tolist() == pytest.approx([40 / 20, 20 / 8, 30 / 10, 100 / 50])
    with pytest.raises(ValueError, match="must not be negative"):
        roas_rows(hand_made(), value_enquiry=-1, value_sale=100)


def test_funnel_targets_on_ads_with_clicks_drop_off_capped() -> None:
    rows = funnel_rows(hand_made())
    assert rows.n_set_aside == 1 and 2 not in rows.table["ad_id"].tolist()
    assert rows.target["sales_per_click"].tolist() == pytest.approx([0.1, 0.0, 1.5, 0.1])
    # ad 4 has 3 sales from 2 clicks: nobody who clicked dropped off.
    assert rows.target["click_drop_off"].tolist() == pytest.approx([0.9, 1.0, 0.0, 0.9])


def test_outcome_columns_are_refused_as_inputs() -> None:
    for column in (*OUTCOME_COLUMNS, "roas", "conversion_value", "sales_per_click"):
        with pytest.raises(DataError, match="cannot be model inputs"):
            refuse_outcomes(["age", column])
        with pytest.raises(DataError, match=column):
            model_inputs(hand_made(), (*PLANNED_FEATURES, column))
    for features in FEATURES.values():
        refuse_outcomes(features)
    X = model_inputs(hand_made(), DELIVERY_FEATURES)
    assert list(X.columns) == list(DELIVERY_FEATURES)
    assert np.isnan(X["cpc"].iloc[1]) and X["ctr"].iloc[0] == pytest.approx(0.01)


def test_grouped_folds_keep_each_campaign_on_one_side() -> None:
    rows = roas_rows(synthetic_ads(), 5, 100)
    splits = evaluation.grouping_splits(rows, Protocol(folds=5, repeats=2, seed=1, stratify=False))
    campaigns = rows.table["fb_campaign_id"].to_numpy()
    for split in splits["grouped"]:
        assert not set(campaigns[split.train]) & set(campaigns[split.test])
    straddling = [bool(set(campaigns[s.train]) & set(campaigns[s.test])) for s in splits["ungrouped"]]
    assert any(straddling)


def test_summary_counts_and_sums_add_up() -> None:
    table = hand_made()
    by_age = summarize(table, "age", 5, 100).set_index("age")
    assert by_age["n_ads"].sum() + by_age["n_set_aside"].sum() == len(table)
    assert by_age.loc["30-34", "n_set_aside"] == 1
    assert by_age["spent"].sum() == pytest.approx(table["Spent"].sum())
    older = table[table["age"] == "45-49"]
    assert by_age.loc["45-49", "roas"] == pytest.approx((5 * 15 + 100 * 5) / older["Spent"].sum())
    assert by_age.loc["45-49", "cost_per_sale"] == pytest.approx(older["Spent"].sum() / 5)
    assert by_age.loc["45-49", "ctr_percent"] == pytest.approx(100 * 26 / 6800)
    by_campaign = summarize(table, "campaign", 5, 100)
    assert by_campaign["sales"].sum() == table.loc[table["Spent"] > 0, "Approved_Conversion"].sum()
    with pytest.raises(ValueError, match="--by"):
        summarize(table, "city", 5, 100)


def test_validate_finds_the_planted_signal_and_writes_the_report(ads_file: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "roas.json"
    result = runner.invoke(
        app,
        ["roas", "validate", "--data", str(ads_file), "--folds", "3", "--repeats", "1", "--report", str(report_file)],
    )
    assert result.exit_code == 0, result.output
    raw = read_json(report_file)["modes"]["planned"]["grouped"]["models"][ROAS_MODEL]
    assert set(raw) == {"r2", "mae", "spearman", "folds_mae_worse_than_median"} and set(raw["mae"]) == {"mean", "std"}
    report = read_report(report_file, RoasValidationReport)
    assert report.set_aside.rows == int((synthetic_ads()["Spent"] == 0).sum())
    grouped = report.modes["planned"].grouped
    assert grouped.grouping == "GroupKFold by fb_campaign_id"
    model, median = grouped.models[ROAS_MODEL], grouped.models[MEDIAN_BASELINE]
    assert median.folds_mae_worse_than_median == 0
    assert model.spearman.mean > 0.3
    assert model.mae.mean < median.mae.mean
    assert report.target.spearman == report.modes["delivery"].grouped.models[ROAS_MODEL].spearman.mean
    assert "target Spearman >= 0.60" in result.output
    assert f"{model.spearman.mean:.4f}" in result.output


def test_reports_read_back_equal_to_what_validation_returned(ads_file: Path, tmp_path: Path) -> None:
    protocol = Protocol(folds=2, repeats=1, seed=3, stratify=False)
    roas_report = evaluation.validate(ads_file, protocol, report_file=tmp_path / "roas.json", progress=False)
    assert read_report(tmp_path / "roas.json", RoasValidationReport) == roas_report
    funnel_report = evaluation.validate_funnel(ads_file, protocol, report_file=tmp_path / "funnel.json", progress=False)
    assert read_report(tmp_path / "funnel.json", FunnelValidationReport) == funnel_report
    with pytest.raises(DataError, match="is not a RoasValidationReport report"):
        read_report(tmp_path / "funnel.json", RoasValidationReport)


def test_funnel_command_reports_every_model_per_target(ads_file: Path, tmp_path: Path) -> None:
    report_file = tmp_path / "funnel.json"
    args = ["roas", "funnel", "--data", str(ads_file), "--folds", "2", "--repeats", "1", "--report", str(report_file)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    grouping = read_report(report_file, FunnelValidationReport).modes["delivery"].ungrouped
    expected = {"mean_baseline", "gradient_boosting_reference", "lightgbm_per_target", "multitask_mlp"}
    assert set(grouping.models) == expected
    assert set(grouping.models["multitask_mlp"]) == {"sales_per_click", "click_drop_off"}
    assert set(grouping.verdict) == {"sales_per_click", "click_drop_off"}
    assert grouping.verdict["click_drop_off"].text in result.output


def test_train_then_predict_planned_ads_ignores_outcome_columns(ads_file: Path, tmp_path: Path) -> None:
    model_file = tmp_path / "roas.joblib"
    result = runner.invoke(app, ["roas", "train", "--data", str(ads_file), "--model", str(model_file)])
    assert result.exit_code == 0, result.output
    planned = synthetic_ads(n_campaigns=10, seed=1)
    planned = planned[planned["Spent"] > 0]
    bare = planned[["xyz_campaign_id", "age", "gender", "interest", "Spent"]].rename(columns={"Spent": "budget"})
    bare.to_csv(tmp_path / "bare.csv", index=False)
    planned.assign(Total_Conversion=999, Approved_Conversion=999).to_csv(tmp_path / "full.csv", index=False)
    outputs = []
    for name in ("bare", "full"):
        out = tmp_path / f"{name}_predictions.csv"
        args = ["roas", "predict", "--input", str(tmp_path / f"{name}.csv"), "--output", str(out)]
        result = runner.invoke(app, [*args, "--model", str(model_file)])
        assert result.exit_code == 0, result.output
        outputs.append(pd.read_csv(out)["predicted_roas"].to_numpy())
    assert len(outputs[0]) == len(planned)
    np.testing.assert_allclose(outputs[0], outputs[1])


def test_summary_command_writes_csv(ads_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "by_gender.csv"
    result = runner.invoke(app, ["roas", "summary", "--data", str(ads_file), "--by", "gender", "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["n_ads"].sum() + table["n_set_aside"].sum() == len(synthetic_ads())


def _set(column: str, row: int, value: object):
    """An edit of the hand-made table: ``value`` in ``column`` at ``row`` (file line ``row + 2``)."""
    return lambda t: t.assign(**{column: t[column].astype(object).where(t.index != row, value)})


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.drop(columns=["Spent"]), "ads.csv, column 'Spent'"),
        (_set("Clicks", 2, -3), "ads.csv, column 'Clicks', line 4: value -3 is negative"),
        # Every rule the row breaks is named (-1 impressions also puts its clicks above them).
        (
            _set("Impressions", 0, -1),
            "ads.csv: 1 impossible row(s) of 5: 'Impressions' is negative (a count or spend): "
            "1 row(s), line(s) 2; 'Clicks' is more clicks than the row's 'Impressions'",
        ),
        (_set("Approved_Conversion", 4, -2), "ads.csv, column 'Approved_Conversion', line 6: value -2 is negative"),
        (_set("Spent", 3, -10.0), "ads.csv, column 'Spent', line 5: value -10.0 is negative"),
        (_set("Spent", 1, "inf"), "ads.csv, column 'Spent', line 3: value 'inf' is not a finite"),
        (_set("Spent", 4, "-inf"), "ads.csv, column 'Spent', line 6"),
        (_set("Spent", 1, "NaN"), "ads.csv, column 'Spent', line 3"),
        (_set("Clicks", 3, 801), "ads.csv, column 'Clicks', line 5: value 801 is more clicks than the row's"),
        (lambda t: t.assign(ad_id=[1, 2, 3, 3, 5]), "ads.csv, column 'ad_id': duplicate ad_id 3 on lines 4, 5"),
        (_set("age", 0, "18-24"), "ads.csv, column 'age', line 2"),
    ],
)
@pytest.mark.parametrize("command", [["summary", "--output"], ["validate", "--report"]])
def test_bad_campaign_file_exits_1_with_one_line_naming_file_column_and_line(
    tmp_path: Path, edit, expected: str, command: list[str]
) -> None:
    path, out = tmp_path / "ads.csv", tmp_path / "out"
    edit(hand_made()).to_csv(path, index=False)
    result = runner.invoke(app, ["roas", *command, str(out), "--data", str(path)])
    assert result.exit_code == 1
    assert expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_options_are_usage_errors_exit_2(tmp_path: Path) -> None:
    path, out = tmp_path / "ads.csv", tmp_path / "out"
    hand_made().to_csv(path, index=False)
    usages = (
        ["summary", "--by", "city"],
        ["train", "--mode", "live"],
        ["funnel", "--folds", "1"],
        ["validate", "--value-sale", "-1", "--report", str(out)],
        ["summary", "--value-enquiry", "-0.5", "--output", str(out)],
    )
    for usage in usages:
        result = runner.invoke(app, ["roas", *usage, "--data", str(path)])
        assert result.exit_code == 2, usage
        assert f"Invalid value for '{usage[1]}'" in result.output
    assert not out.exists()


def test_planned_ads_loader_applies_the_same_value_rules(tmp_path: Path) -> None:
    path = tmp_path / "planned.csv"
    planned = hand_made().drop(columns=list(OUTCOME_COLUMNS))
    _set("Clicks", 0, 1001)(planned).to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'Clicks', line 2: value 1001 is more clicks"):
        load_planned_ads(path, "delivery")
    _set("Spent", 2, "inf")(planned).to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'Spent', line 4: value 'inf' is not a finite"):
        load_planned_ads(path, "planned")
    planned.assign(ad_id=[1, 1, 3, 4, 5]).to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'ad_id': duplicate ad_id 1 on lines 2, 3"):
        load_planned_ads(path, "planned")
    planned.drop(columns=["ad_id"]).to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'Spent', line 3: value 0.0 is not a positive budget"):
        load_planned_ads(path, "planned")


def test_predict_without_model_or_with_missing_columns_fails_clearly(ads_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.csv"
    result = runner.invoke(app, ["roas", "predict", "--input", str(ads_file), "--output", str(out), "--model", "none"])
    assert result.exit_code == 1 and "run the roas train command first" in result.output
    model_file = tmp_path / "delivery.joblib"
    args = ["roas", "train", "--data", str(ads_file), "--mode", "delivery", "--model", str(model_file)]
    assert runner.invoke(app, args).exit_code == 0
    hand_made()[list(PLANNED_FEATURES)].to_csv(tmp_path / "planned.csv", index=False)
    args = [
        "roas",
        "predict",
        "--input",
        str(tmp_path / "planned.csv"),
        "--output",
        str(out),
        "--model",
        str(model_file),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "missing column 'Impressions'" in result.output
    assert not out.exists()


@pytest.mark.skipif(not config.CAMPAIGNS_FILE.exists(), reason="reference data not copied (make data)")
def test_reference_data_loads_with_its_known_counts() -> None:
    table = load_campaigns(config.CAMPAIGNS_FILE)
    assert len(table) == 1143
    assert roas_rows(table, 5, 100).n_set_aside == 207
    assert funnel_rows(table).n_set_aside == 207
