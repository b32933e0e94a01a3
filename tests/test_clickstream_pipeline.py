"""The main task end to end on the reference data: the predictions contract, validation, bad runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe.clickstream.report import ValidationReport
from adpipe.clickstream.submission import predictions_payload
from adpipe.errors import DataError
from adpipe.reports import read_report
from model import app

runner = CliRunner()


def test_payload_is_sorted_by_test_id_with_plain_ints() -> None:
    payload = predictions_payload(pd.Series([3, 1, 2]), np.array([2, 1, 3]))
    assert orjson.dumps(payload) == b'{"target":{"1":1,"2":3,"3":2}}'


def test_payload_refuses_wrong_lengths_and_classes() -> None:
    with pytest.raises(DataError):
        predictions_payload(pd.Series([1, 2]), np.array([1]))
    with pytest.raises(DataError):
        predictions_payload(pd.Series([1]), np.array([4]))
    with pytest.raises(DataError):
        predictions_payload(pd.Series([], dtype=int), np.array([]))


def test_predict_end_to_end_is_complete_and_reproducible(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = reference_dirs
    output, model = tmp_path / "predictions.json", tmp_path / "model.joblib"
    args = [
        "predict",
        "--train-dir",
        str(train),
        "--test-dir",
        str(test),
        "--output",
        str(output),
        "--model",
        str(model),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    content = output.read_bytes()
    payload = orjson.loads(content)
    assert list(payload) == ["target"]
    test_ids = pd.read_csv(test / "user_test.csv", sep=";")["test_id"]
    assert list(payload["target"]) == [str(i) for i in sorted(test_ids)]
    assert set(payload["target"].values()) <= {1, 2, 3} and len(set(payload["target"].values())) > 1
    assert all(type(v) is int for v in payload["target"].values())
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and output.read_bytes() == content
    assert not list(tmp_path.glob(".*.tmp"))


def test_validate_beats_the_majority_baseline(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = reference_dirs
    report_path = tmp_path / "validation.json"
    args = ["validate", "--train-dir", str(train), "--folds", "3", "--repeats", "1", "--report", str(report_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = orjson.loads(report_path.read_bytes())
    assert report["protocol"] == {"folds": 3, "repeats": 1, "seed": 42, "n_users": 700}
    for part in ("model", "baseline"):
        assert set(report[part]) >= {"macro_f1", "weighted_f1", "accuracy", "per_class", "confusion"}
        assert np.array(report[part]["confusion"]).sum() == 700
    assert report["baseline"]["macro_f1"]["mean"] == pytest.approx(0.2876, abs=0.01)
    assert report["model"]["macro_f1"]["mean"] > report["baseline"]["macro_f1"]["mean"] + 0.15
    assert "macro_f1" in result.output and "majority baseline" in result.output
    typed = read_report(report_path, ValidationReport)  # the typed report reads back what was written
    assert typed.model.macro_f1.mean == report["model"]["macro_f1"]["mean"]
    assert typed.model.macro_f1_per_fold == pytest.approx(report["model"]["macro_f1_per_fold"])
    assert len(typed.model.macro_f1_per_fold) == 3 and typed.protocol.n_users == 700


def test_shuffled_labels_score_near_chance(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    """With the link between features and target cut, the protocol must not find signal."""
    train, _ = reference_dirs
    shuffled = tmp_path / "train"
    shuffled.mkdir()
    shutil.copy(train / "session_train.csv", shuffled)
    users = pd.read_csv(train / "user_train.csv", sep=";")
    users["marketing_target"] = users["marketing_target"].sample(frac=1, random_state=0).to_numpy()
    users.to_csv(shuffled / "user_train.csv", sep=";", index=False)
    args = ["validate", "--train-dir", str(shuffled), "--folds", "3", "--repeats", "1"]
    result = runner.invoke(app, [*args, "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["model"]["macro_f1"]["mean"] < 0.45


def test_failed_predict_leaves_previous_file_untouched(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = reference_dirs
    broken = tmp_path / "test"
    broken.mkdir()
    shutil.copy(test / "session_test.csv", broken)
    (broken / "user_test.csv").write_text((test / "user_test.csv").read_text().replace(";29;", ";twenty-nine;", 1))
    output = tmp_path / "predictions.json"
    output.write_bytes(b'{"target": {"1": 1}}')
    args = ["predict", "--train-dir", str(train), "--test-dir", str(broken), "--output", str(output)]
    result = runner.invoke(app, [*args, "--model", str(tmp_path / "m.joblib")])
    assert result.exit_code == 1
    assert "user_test.csv" in result.stderr and "column 'age'" in result.stderr and "left untouched" in result.stderr
    assert output.read_bytes() == b'{"target": {"1": 1}}'


def test_validate_refuses_bad_protocol(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "--train-dir", str(reference_dirs[0]), "--folds", "1"])
    # A usage error, refused by the option's range before any data is read: exit code 2.
    assert result.exit_code == 2 and "Invalid value for '--folds'" in result.stderr


def test_params_file_with_unknown_parameter_is_refused(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text('{"lightgbm": {"num_leafs": 7}}')
    result = runner.invoke(
        app, ["train", "--train-dir", str(reference_dirs[0]), "--params", str(params), "--model", str(tmp_path / "m")]
    )
    assert result.exit_code == 1 and "num_leafs" in result.stderr
