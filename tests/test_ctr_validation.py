"""CTR validation: forward folds never train on a later impression, the audit flags a planted leak and memorised
values but passes honest inputs, the estimators keep scikit-learn's contract, and the held-out export has only
new cities and later impressions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from typer.testing import CliRunner

from adpipe import config
from adpipe.ctr.audit import audit
from adpipe.ctr.candidates import LeavesLogistic
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.holdout import split_export
from adpipe.ctr.models import ClickModel, base_rate, build_decision_model, logistic_baseline, seed_forest
from adpipe.validation import forward_splits
from features.ctr import FEATURE_GROUPS, TARGET, TIMESTAMP, build_features, load_impressions, with_new_values
from model import app

REFERENCE = config.SHARED_DATA_DIR / "ctr" / "ad_10000records.csv"
SMALL_LIGHTGBM = {"n_estimators": 40, "learning_rate": 0.1, "num_leaves": 7}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    if not REFERENCE.exists():
        pytest.fail(f"reference data missing: {REFERENCE} (../shared/data must sit beside the project)")
    return load_impressions(REFERENCE, labelled=True)


@pytest.mark.parametrize("gap", [0, 300])
def test_forward_folds_never_train_on_a_later_impression(table: pd.DataFrame, gap: int) -> None:
    shuffled = table.sample(frac=1.0, random_state=0).reset_index(drop=True)  # the file's order is not time's
    times = shuffled[TIMESTAMP].to_numpy()
    assert pd.Series(times).duplicated().sum() > 9000  # many impressions share a timestamp: ties are real
    splits = make_folds(shuffled, CtrProtocol(folds=5, repeats=1, name="forward", gap=gap))
    rank = pd.Series(times).rank(method="first").to_numpy()  # position in time order
    assert len(splits) == 5
    for before, split in zip([None, *splits], splits, strict=False):
        assert times[split.train].max() < times[split.test].min()
        assert rank[split.test].min() - rank[split.train].max() > gap
        assert np.ptp(rank[split.test]) == len(split.test) - 1  # one contiguous block of time
        if before is not None:  # expanding: each window holds the previous one and its test block, minus ties
            assert set(before.train) < set(split.train)
    assert times[splits[-1].test].max() == times.max()


def test_forward_splits_leave_ties_out_of_training() -> None:
    times = np.array([0, 0, 1, 1, 1, 1, 2, 2])  # TimeSeriesSplit(3) cuts the four 1s in two
    splits = forward_splits(times, folds=3)
    assert [list(s.test) for s in splits] == [[2, 3], [4, 5], [6, 7]]
    assert [list(s.train) for s in splits] == [[0, 1], [0, 1], [0, 1, 2, 3, 4, 5]]  # rows 2-3 tie with the test


def test_audit_flags_a_planted_leak_and_memorised_values_but_not_honest_inputs(table: pd.DataFrame) -> None:
    X, X_new, y = build_features(table), build_features(with_new_values(table)), table[TARGET]
    # The planted leak: each impression's month click rate, computed from the labels of the whole file.
    month_rate = table.groupby(table[TIMESTAMP].dt.to_period("M"))[TARGET].transform("mean").to_numpy()
    X["month_rate"], X_new["month_rate"] = month_rate, month_rate
    groups = {"numeric": FEATURE_GROUPS["numeric"], "month_rate": ("month_rate",), "text": FEATURE_GROUPS["text"]}
    forward = make_folds(table, CtrProtocol(folds=5, repeats=1, name="forward"))
    random = make_folds(table, CtrProtocol(folds=5, repeats=1, name="random"))
    rows, everything = audit(groups, X, X_new, y, forward, random, lightgbm=SMALL_LIGHTGBM, seed=0, progress=False)
    by = {row.group: row for row in rows}
    assert by["month_rate"].flagged and "time leak" in by["month_rate"].reason
    assert by["month_rate"].random_auc - by["month_rate"].forward_auc > 0.1
    assert by["text"].flagged and "memorised values" in by["text"].reason and by["text"].new_values_auc == 0.5
    assert not by["numeric"].flagged and by["numeric"].new_values_auc == pytest.approx(by["numeric"].forward_auc)
    assert by["numeric"].forward_auc > 0.75
    assert everything.forward_auc > by["numeric"].forward_auc  # the keys do help on the values this file repeats


def test_new_values_keep_numbers_and_calendar_but_no_key(table: pd.DataFrame) -> None:
    sample = table.iloc[:300]
    original, renamed = build_features(sample), build_features(with_new_values(sample))
    numbers = [c for g in ("numeric", "gender", "calendar") for c in FEATURE_GROUPS[g]]
    np.testing.assert_allclose(renamed[numbers], original[numbers], rtol=1e-12)
    for group in ("text", "values", "timestamp", "pairs"):
        for column in FEATURE_GROUPS[group]:
            if column != "male_value":  # gender has two values: every export shares them
                assert not set(renamed[column]) & set(original[column]), column


@pytest.mark.parametrize(
    "estimator",
    [
        ClickModel(),
        ClickModel(("age", "city", "city&age_value"), "oversample", "sigmoid", SMALL_LIGHTGBM, 0),
        build_decision_model({"lightgbm": SMALL_LIGHTGBM}),
        base_rate(),
        logistic_baseline(),
        seed_forest(),
        LeavesLogistic(ClickModel(lightgbm=SMALL_LIGHTGBM)),
    ],
    ids=["ClickModel", "ClickModel keys calibrated", "decision", "base_rate", "logistic", "seed forest", "leaves"],
)
def test_estimators_keep_the_scikit_learn_contract(table: pd.DataFrame, estimator) -> None:
    assert is_classifier(estimator)
    params = estimator.get_params(deep=False)
    copy = clone(estimator)
    assert copy is not estimator and copy.get_params(deep=False).keys() == params.keys()
    assert clone(copy.set_params(**params)).get_params(deep=False).keys() == params.keys()
    sample = table.iloc[:600]
    fitted = clone(estimator).fit(build_features(sample), sample[TARGET])
    assert list(fitted.classes_) == [0, 1]
    assert fitted.predict_proba(build_features(sample.iloc[:5])).shape == (5, 2)
    assert not hasattr(clone(fitted), "classes_")  # a clone is unfitted


def test_click_model_params_round_trip() -> None:
    model = ClickModel(("age",), "weights", "isotonic", {"n_estimators": 7}, 3)
    assert clone(model).get_params() == model.get_params()
    assert ClickModel(**model.get_params()).get_params() == model.get_params()


def test_the_blend_is_the_weighted_mean_of_lightgbm_and_the_baseline_row_by_row(table: pd.DataFrame) -> None:
    """``blend`` weighs the logistic baseline fitted on the same rows; each row's probability has the same bits
    whatever batch it is predicted in (a coalesced service answer equals the same record alone)."""
    sample = table.iloc[:1500]
    X, y = build_features(sample), sample[TARGET]
    alone = ClickModel(lightgbm=SMALL_LIGHTGBM, blend=0.0).fit(X, y).predict_proba(X)
    blended = ClickModel(lightgbm=SMALL_LIGHTGBM, blend=0.3).fit(X, y)
    baseline = logistic_baseline().fit(X, y).predict_proba(X)
    probability = blended.predict_proba(X)
    np.testing.assert_allclose(probability, 0.7 * alone + 0.3 * baseline, rtol=0, atol=1e-12)
    assert not np.allclose(probability, alone)
    for start, size in [(0, 1), (5, 3), (17, 10), (100, 64), (999, 257)]:
        rows = slice(start, start + size)
        np.testing.assert_array_equal(blended.predict_proba(X.iloc[rows]), probability[rows])


def test_candidates_report_names_where_a_candidate_is_worse_than_the_baseline() -> None:
    from adpipe.ctr.report import CandidateFigures, CandidatesReport

    def figures(*losses: float) -> dict[str, CandidateFigures]:
        return {
            protocol: CandidateFigures(roc_auc=0.8, log_loss=loss, normalized_entropy=0.8, calibration_ratio=1.0)
            for protocol, loss in zip(("forward", "month export"), losses, strict=True)
        }

    report = CandidatesReport(
        protocols={"forward": "", "month export": ""},
        candidates={"base": figures(0.56, 0.54), "trees": figures(0.49, 0.59), "blend": figures(0.50, 0.53)},
        params_file="p.json",
        data="d.csv",
        baseline="base",
    )
    assert report.worse_than_baseline("trees") == ["month export"]
    assert report.worse_than_baseline("blend") == []


def test_held_out_export_has_only_new_cities_and_later_impressions(table: pd.DataFrame) -> None:
    train, export, months, removed = split_export(table, 1)
    assert months == ["2016-07"] and len(export) == int((table[TIMESTAMP].dt.month == 7).sum())
    assert table[TIMESTAMP].iloc[train].max() < table[TIMESTAMP].iloc[export].min()
    assert not set(table["City"].iloc[train]) & set(table["City"].iloc[export])
    assert removed > 0 and len(train) + len(export) + removed == len(table)


def test_holdout_goes_through_train_and_predict(tmp_path: Path) -> None:
    (tmp_path / "params.json").write_text(json.dumps({"lightgbm": SMALL_LIGHTGBM}))
    args = ["--params", str(tmp_path / "params.json"), "--out-dir", str(tmp_path / "export"), "--folds", "3"]
    result = CliRunner().invoke(app, ["ctr", "holdout", *args, "--report", str(tmp_path / "holdout.json")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "holdout.json").read_text())
    assert report["seen_in_training"]["City"] == 0.0 and report["seen_in_training"]["Timestamp"] == 0.0
    assert list(report["models"]) == ["default model (params file)", "logistic baseline", "seed forest"]
    assert all(0.5 < m["roc_auc"] <= 1 and 0.5 < m["promised_auc"]["mean"] <= 1 for m in report["models"].values())
    assert all(0 < m["normalized_entropy"] < 1 and 0.5 < m["calibration_ratio"] < 2 for m in report["models"].values())
    assert "NE" in result.output and "calib" in result.output
    differences = {d["metric"]: d for d in report["against_logistic"]}
    assert list(differences) == ["roc_auc", "log_loss"]
    for name, d in differences.items():
        mine, theirs = (
            report["models"]["default model (params file)"][name],
            report["models"]["logistic baseline"][name],
        )
        assert d["difference"] == pytest.approx(mine - theirs) and d["low"] <= d["difference"] <= d["high"]
    export = pd.read_csv(tmp_path / "export" / "export.csv")
    assert TARGET not in export.columns and len(export) == report["n_export"]
    predicted = pd.read_csv(tmp_path / "export" / "predictions.csv")
    assert list(predicted.columns[-2:]) == ["click_probability", "clicked"]


def test_normalized_entropy_and_calibration_ratio_read_as_defined() -> None:
    """NE (He et al. 2014): log-loss over the entropy of the training click rate; the calibration ratio: expected
    over observed clicks."""
    from sklearn.metrics import log_loss

    from adpipe.ctr.report import background_entropy, calibration_ratio, normalized_entropy

    truth = np.array([1, 0, 0, 0] * 25)
    assert background_entropy(0.5) == pytest.approx(np.log(2))
    constant = np.full(len(truth), truth.mean())  # the test data's own rate: NE exactly 1
    assert normalized_entropy(log_loss(truth, constant), truth.mean()) == pytest.approx(1.0)
    sharper = np.where(truth == 1, 0.6, 0.1)
    assert normalized_entropy(log_loss(truth, sharper), truth.mean()) < 1
    assert calibration_ratio(truth, constant) == pytest.approx(1.0)
    assert calibration_ratio(truth, np.full(len(truth), 0.5)) == pytest.approx(2.0)  # promises twice the clicks
    assert calibration_ratio(np.zeros(4), np.full(4, 0.1)) == float("inf")


def test_nested_forward_searches_each_window_on_its_past_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each outer window's search sees only rows earlier than the window (its inner folds are drawn from the
    window's past), then the window scores what it chose beside the params file and the logistic baseline."""
    from adpipe.ctr import nested
    from adpipe.ctr.report import NestedReport
    from adpipe.reports import read_report

    seen: list[np.ndarray] = []
    original = nested.task_on

    def recording(X: pd.DataFrame, y: pd.Series, splits: list, *args: object) -> object:
        seen.append(X.index.to_numpy())  # the rows the search may read
        assert all(split.train.max() < split.test.min() for split in splits)  # inner folds: forward too
        return original(X, y, splits, *args)

    monkeypatch.setattr(nested, "task_on", recording)
    (tmp_path / "params.json").write_text(json.dumps({"lightgbm": SMALL_LIGHTGBM}))
    args = ["--params", str(tmp_path / "params.json"), "--folds", "3", "--inner-folds", "2", "--trials", "2"]
    result = CliRunner().invoke(app, ["ctr", "nested", *args, "--report", str(tmp_path / "nested.json")])
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "nested.json", NestedReport)
    table = load_impressions(REFERENCE, labelled=True)
    outer = make_folds(table, CtrProtocol(folds=3, repeats=1, name="forward"))
    assert len(report.windows) == len(seen) == len(outer) == 3
    for window, rows, split in zip(report.windows, seen, outer, strict=True):
        assert set(rows) == set(split.train)  # the window's past, nothing of the window itself
        assert table[TIMESTAMP].iloc[rows].max() < table[TIMESTAMP].iloc[split.test].min()
        assert (window.n_train, window.n_test) == (len(split.train), len(split.test))
        assert set(window.scores) == {"nested search", "params file", "logistic baseline"}
    assert set(report.models) == {"nested search", "params file", "logistic baseline"}
    assert all(0.5 < m.roc_auc.mean <= 1 and 0 < m.normalized_entropy.mean < 1 for m in report.models.values())
    assert "nested search" in result.output and "optimistic" in result.output


def test_candidates_are_scored_on_every_protocol(tmp_path: Path) -> None:
    """Each candidate on the forward, random, city-, country- and ad-topic-grouped folds and the month export,
    with the four figures; the leaves' logistic regression reads the trees of its own fit."""
    from adpipe.ctr.report import CandidatesReport
    from adpipe.reports import read_report

    (tmp_path / "params.json").write_text(json.dumps({"lightgbm": SMALL_LIGHTGBM}))
    args = ["--params", str(tmp_path / "params.json"), "--folds", "2", "--report", str(tmp_path / "c.json")]
    result = CliRunner().invoke(app, ["ctr", "candidates", *args])
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "c.json", CandidatesReport)
    protocols = ["forward", "random", "grouped by city", "grouped by country", "grouped by ad_topic", "month export"]
    assert list(report.protocols) == protocols
    assert len(report.candidates) == 4
    for by_protocol in report.candidates.values():
        assert list(by_protocol) == protocols
        assert all(0.5 < f.roc_auc <= 1 and 0 < f.normalized_entropy < 1.5 for f in by_protocol.values())
    # The blend's probability is the mean of its two members': its log-loss lies between theirs or below.
    for protocol in protocols:
        pair = [report.candidates[n][protocol].log_loss for n in ("LightGBM alone", "logistic baseline")]
        assert report.candidates["blend: LightGBM and logistic, weight 0.5"][protocol].log_loss <= max(pair) + 1e-9
