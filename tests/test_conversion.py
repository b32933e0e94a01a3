"""Conversion rate: the permutation test finds planted signal, reports none on noise, and train obeys it; the
models follow scikit-learn's conventions; the typed report round-trips; bad options are usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_regressor
from sklearn.dummy import DummyRegressor
from typer.testing import CliRunner

from adpipe.conversion.evaluation import load_training, validate
from adpipe.conversion.models import BASELINE, REGRESSORS, build_model
from adpipe.conversion.report import ConversionReport, TrainedModel
from adpipe.io import load_model
from adpipe.reports import read_report
from adpipe.validation import Protocol
from features.profiles import ORDINAL_BANDS
from model import app
from tests.test_profiles import synthetic_profiles, write_profiles
from tests.test_segments import plain_params

runner = CliRunner()
FAST = ("linear", "knn")
PROTOCOL = Protocol(folds=5, repeats=2, seed=7, stratify=False)


def noise_profiles(n: int = 200) -> pd.DataFrame:
    return synthetic_profiles(n, seed=11)


def signal_profiles(n: int = 200) -> pd.DataFrame:
    """Conversion rises with weekend time online and with age band, plus noise."""
    frame = synthetic_profiles(n, seed=12)
    rng = np.random.default_rng(13)
    weekend = frame["Time Spent Online (hrs/weekend)"]
    age_rank = frame["Age"].map({band: rank for rank, band in enumerate(ORDINAL_BANDS["Age"])})
    frame["Conversion Rates"] = (0.01 + 0.008 * weekend + 0.004 * age_rank + rng.normal(0, 0.005, n)).clip(0, 1)
    return frame


def test_permutation_test_reports_no_signal_on_pure_noise(tmp_path: Path) -> None:
    path = write_profiles(tmp_path / "noise.csv", noise_profiles())
    report = validate(path, PROTOCOL, FAST, n_permutations=39, report_file=None, progress=False)
    assert report.signal is False and report.chosen == BASELINE
    assert all(model.p_value_adjusted > 0.05 for model in report.models.values())
    assert all(model.r2.mean < 0.05 for model in report.models.values())
    assert report.verdict.startswith("no signal")


def test_permutation_test_finds_a_planted_signal(tmp_path: Path) -> None:
    path = write_profiles(tmp_path / "signal.csv", signal_profiles())
    report = validate(path, PROTOCOL, FAST, n_permutations=39, report_file=tmp_path / "r.json", progress=False)
    assert report.signal is True and report.chosen == "linear"
    linear = report.models["linear"]
    assert linear.p_value_adjusted == pytest.approx(1 / 40) and linear.r2.mean > 0.7
    assert linear.p_value <= linear.p_value_adjusted
    assert report.permutation_test.models["linear"].null_r2_gain.mean < 0.05 < linear.r2_gain.mean
    assert report.baseline.r2.mean < 0.01  # the mean baseline explains nothing out of fold
    assert report.baseline.r2_gain.mean == 0
    assert read_report(tmp_path / "r.json", ConversionReport) == report
    assert json.loads((tmp_path / "r.json").read_text())["protocol"] == {
        "folds": 5,
        "repeats": 2,
        "seed": 7,
        "kind": "repeated K-fold (not stratified)",
        "n_users": 200,
    }


@pytest.mark.parametrize("name", [*REGRESSORS, BASELINE])
def test_every_model_is_a_regressor_whose_clone_and_params_round_trip(name: str) -> None:
    model = build_model(name, seed=3)
    assert is_regressor(model) and is_regressor(model[-1])
    twin = clone(model)
    assert twin is not model and plain_params(twin) == plain_params(model)
    rebuilt = type(model[-1])(**model[-1].get_params(deep=False))
    assert plain_params(rebuilt) == plain_params(model[-1])


def test_inputs_are_every_profile_column_but_id_and_target(tmp_path: Path) -> None:
    X, y = load_training(write_profiles(tmp_path / "p.csv", noise_profiles(20)))
    assert "Conversion Rates" not in X and "User ID" not in X and "Click-Through Rates (CTR)" in X
    assert len(X) == len(y) == 20


def _cli(tmp_path: Path, command: str, data: Path, *extra: str):
    args = ["conversion", command, "--input", str(data)]
    if command != "validate":
        args += ["--model", str(tmp_path / "conv.joblib")]
    if command != "predict":
        args += ["--models", "linear", "--permutations", "19", "--folds", "3", "--repeats", "1"]
        args += ["--report", str(tmp_path / "conv.json")]
    return runner.invoke(app, [*args, *extra])


def test_train_saves_the_baseline_when_there_is_no_signal(tmp_path: Path) -> None:
    data = write_profiles(tmp_path / "noise.csv", noise_profiles())
    result = _cli(tmp_path, "train", data)
    assert result.exit_code == 0, result.output
    assert "no signal" in result.output and "saved the mean baseline" in result.output
    model, metadata = load_model(tmp_path / "conv.joblib", task="conversion")
    trained = TrainedModel.model_validate(metadata)
    assert isinstance(model[-1], DummyRegressor) and trained.signal is False and trained.chosen == BASELINE
    assert trained.protocol.folds == 3 and trained.n_users == 200
    assert read_report(tmp_path / "conv.json", ConversionReport).signal is False

    new_users = write_profiles(tmp_path / "new.csv", noise_profiles(15).drop(columns=["Conversion Rates"]))
    out = tmp_path / "pred.csv"
    result = _cli(tmp_path, "predict", new_users, "--output", str(out))
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out)["predicted Conversion Rates"]
    assert len(predicted) == 15 and predicted.nunique() == 1
    assert predicted.iloc[0] == pytest.approx(noise_profiles()["Conversion Rates"].mean())


def test_train_saves_the_model_when_there_is_signal(tmp_path: Path) -> None:
    frame = signal_profiles()
    result = _cli(tmp_path, "train", write_profiles(tmp_path / "signal.csv", frame))
    assert result.exit_code == 0, result.output
    assert "signal: linear" in result.output
    out = tmp_path / "pred.csv"
    result = _cli(tmp_path, "predict", tmp_path / "signal.csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out)["predicted Conversion Rates"]
    assert np.corrcoef(predicted, frame["Conversion Rates"])[0, 1] > 0.9


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda f: f.drop(columns=["Conversion Rates"]), "missing column 'Conversion Rates'"),
        (lambda f: f.rename(columns={"Gender": "Sex"}), "column 'Gender'"),
        (lambda f: f.astype({"Followed Accounts": object}).assign(**{"Followed Accounts": "n/a"}), "a number"),
        (lambda f: f.assign(**{"Conversion Rates": 4.0}), "outside [0, 1]"),
        (lambda f: f.assign(**{"Time Spent Online (hrs/weekday)": 30.0}), "more than 24 hours"),
    ],
)
def test_cli_refuses_bad_training_data_with_one_line(tmp_path: Path, edit, message) -> None:
    result = _cli(tmp_path, "validate", write_profiles(tmp_path / "p.csv", edit(noise_profiles(30))))
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "conv.json").exists()


def test_cli_refuses_empty_files_unknown_models_and_a_missing_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = _cli(tmp_path, "validate", empty)
    assert result.exit_code == 1 and "file is empty" in result.output
    data = write_profiles(tmp_path / "p.csv", noise_profiles(30))
    result = _cli(tmp_path, "predict", data, "--output", str(tmp_path / "o.csv"))
    assert result.exit_code == 1 and "no saved model" in result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--models", "linear,xgboost"), "--models: must list some of"),
        (("--alpha", "2"), "'--alpha'"),
        (("--alpha", "0"), "'--alpha'"),
        (("--alpha", "1"), "'--alpha'"),
        (("--permutations", "0"), "'--permutations'"),
        (("--folds", "1"), "'--folds'"),
        (("--repeats", "0"), "'--repeats'"),
    ],
)
def test_cli_refuses_bad_options_as_usage_errors(tmp_path: Path, extra, message) -> None:
    result = _cli(tmp_path, "train", write_profiles(tmp_path / "p.csv", noise_profiles(30)), *extra)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "conv.json").exists() and not (tmp_path / "conv.joblib").exists()
