"""Drift against the training reference (issue 22): the statistics, their calibration, the served window with
``/api/v1/<task>/drift`` and ``/monitor``, and ``model.py monitor`` on a batch file."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import f1_score, roc_auc_score
from typer.testing import CliRunner

from adpipe import config
from adpipe.drift import MIN_ROWS, DriftReport, drift_report, expected_score, input_drift
from adpipe.drift_calibration import calibrate
from adpipe.reference import InputReference, PredictionReference
from adpipe.reports import read_report
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from adpipe.serving.window import ServedWindow
from model import app as cli_app

CTR_DATA = config.SHARED_DATA_DIR / "ctr" / "ad_10000records.csv"
NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, rows),
            "k": rng.integers(0, 5, rows).astype(float),
            "c": rng.choice(list("abcd"), rows, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {column: frame[column].to_numpy() for column in frame}


@pytest.fixture(scope="module")
def reference() -> InputReference:
    return InputReference.from_frame(_frame(5000, 0), PredictionReference.of(np.zeros(5000, dtype=int), "test"))


def test_a_window_of_the_same_distribution_does_not_drift_and_a_shifted_one_does(reference: InputReference) -> None:
    same = input_drift(reference, _frame(500, 1), np.zeros(500, dtype=int))
    assert [d.field for d in same] == ["x", "k", "c", "prediction"] and not any(d.drifted for d in same)
    moved = {d.field: d for d in input_drift(reference, _frame(500, 1, shift=0.5))}
    assert moved["x"].drifted and not moved["c"].drifted and moved["x"].psi > 0.1
    assert sum(moved["x"].window) == pytest.approx(1.0) and len(moved["x"].bins) == len(moved["x"].reference)


def test_a_large_window_needs_an_effect_not_only_a_small_p_value() -> None:
    """A 0.1 sd shift over 50,000 rows is significant (p far below the threshold) but below PSI 0.1: no drift."""
    reference = InputReference.from_frame(_frame(50_000, 0))
    (tiny, *_) = input_drift(reference, _frame(50_000, 1, shift=0.1))
    assert tiny.p_value < 1e-6 and tiny.psi < 0.1 and not tiny.drifted
    (half, *_) = input_drift(reference, _frame(50_000, 1, shift=0.5))
    assert half.psi > 0.1 and half.drifted


def test_whole_numbers_bins_read_as_the_values_they_hold() -> None:
    flags = InputReference.from_frame(pd.DataFrame({"flag": [0, 1] * 50, "age": list(range(20, 70)) * 2}))
    labels = {d.field: d.bins for d in input_drift(flags, pd.DataFrame({"flag": [1, 0], "age": [30, 40]}))}
    assert labels["flag"] == ["0", "–", "1", "≥ 2", "(missing)"]  # the median edge 0.5 holds no whole number
    assert labels["age"][:2] == ["≤ 24", "25 – 29"] and labels["age"][-2] == "≥ 65"
    continuous = InputReference.from_frame(_frame(500, 0))
    assert input_drift(continuous, _frame(50, 1))[0].bins[0].startswith("≤ ")


def test_missing_values_and_unseen_categories_are_bins_of_their_own(reference: InputReference) -> None:
    window = _frame(500, 2)
    window.loc[:200, "x"] = None
    window.loc[:200, "c"] = "never seen"
    found = {d.field: d for d in input_drift(reference, window)}
    assert found["x"].drifted and found["x"].bins[-1] == "(missing)" and found["x"].window[-1] > 0.35
    assert found["c"].drifted and found["c"].window[found["c"].bins.index("(other)")] > 0.35


def test_a_classifier_label_free_score_is_the_mean_over_label_draws() -> None:
    """The expected score equals the average score over labels drawn from the probabilities themselves."""
    rng = np.random.default_rng(3)
    positive = np.round(rng.beta(1, 3, 1500), 2)  # rounded: ties must count half
    draws = [roc_auc_score(rng.random(positive.size) < positive, positive) for _ in range(200)]
    assert expected_score("ROC-AUC", np.c_[1 - positive, positive], positive.round()) == pytest.approx(
        np.mean(draws), abs=0.003
    )
    probabilities = rng.dirichlet([1, 2, 3], 1500)
    predicted = probabilities.argmax(axis=1)
    truths = [(probabilities.cumsum(1) > rng.random((1500, 1))).argmax(1) for _ in range(200)]
    f1 = np.mean([f1_score(truth, predicted, average="macro") for truth in truths])
    assert expected_score("macro-F1", probabilities, predicted) == pytest.approx(f1, abs=0.003)


def test_calibration_keeps_false_alarms_near_alpha_and_finds_half_a_standard_deviation() -> None:
    frame = _frame(4000, 4)
    report = calibrate("synthetic", "test", frame, np.zeros(len(frame), dtype=int), sizes=[500], windows=60, seed=1)
    (size,) = report.sizes
    assert size.false_alarm <= 0.15  # alpha 0.05 over 60 windows: 0.15 is about 2.5 standard errors above it
    detected = {d.field: d.detected for d in size.detection}
    assert detected["x"] >= 0.9 and detected["c"] >= 0.9


def test_the_report_counts_guarded_rows_and_says_its_verdict(reference: InputReference) -> None:
    report = drift_report("t", "test", reference, _frame(300, 5), [0] * 300, None, [["missing"], []] * 150)
    assert report.guarded == {"any": 150, "missing": 150} and report.verdict.startswith("no drift found in 300 rows")
    assert report.predictions is not None and report.predictions.field == "prediction" and report.label_free is None


def test_the_window_is_bounded_and_writes_capped_parquet_files_only_when_asked(tmp_path: Path) -> None:
    window = ServedWindow("t", size=50, folder=tmp_path, max_bytes=6000, flush_rows=20)
    for start in range(0, 200, 10):
        window.add(_columns(_frame(10, start)), list(range(10)), [None] * 10, [[]] * 10)
    frame, predicted, _, kinds = window.snapshot()
    assert len(frame) == len(predicted) == len(kinds) == 50 and list(frame.columns) == ["x", "k", "c"]
    files = sorted(tmp_path.glob("t-*.parquet"))
    assert files and sum(f.stat().st_size for f in files) <= 6000 and len(pd.read_parquet(files[-1])) == 20
    quiet = ServedWindow("q", size=5)
    quiet.add(_columns(_frame(3, 0)), [1, 2, 3], [None] * 3, [[]] * 3)
    quiet.flush()
    assert not list(tmp_path.glob("q-*"))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    command = ["ctr", "train", "--data", str(CTR_DATA), "--model", str(folder / "ctr.joblib")]
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 0, result.output
    return folder


def test_the_service_reports_drift_of_what_it_served(models: Path, tmp_path: Path) -> None:
    example = dict(all_tasks()["ctr"].example)
    table = pd.read_csv(CTR_DATA).drop(columns=["Clicked on Ad"]).head(300)
    records = table.to_dict("records")
    with TestClient(create_app(models, tmp_path, monitor_window=1000), raise_server_exceptions=False) as client:
        empty = client.get("/api/v1/ctr/drift").json()
        assert empty["rows"] == 0  # the start-up check's example is not counted as served
        assert client.post("/api/v1/ctr/predict-batch", json={"records": records}).status_code == 200
        ordinary = client.get("/api/v1/ctr/drift").json()
        assert ordinary["rows"] == 300 and "Age" not in ordinary["drifted"]
        old = [{**example, "Age": 58} for _ in range(300)]
        assert client.post("/api/v1/ctr/predict-batch", json={"records": old}).status_code == 200
        shifted = DriftReport.model_validate(client.get("/api/v1/ctr/drift").json())
        assert shifted.rows == 600 and "Age" in shifted.drifted
        page = client.get("/monitor")
        assert page.status_code == 200 and "drift in" in page.text and "Age" in page.text
        assert client.get("/static/plotly.js").status_code == 200
        assert client.get("/api/v1/roas/drift").status_code == 503  # no roas model in this folder


def test_monitor_command_writes_the_report_and_refuses_bad_input_in_one_line(models: Path, tmp_path: Path) -> None:
    output = tmp_path / "monitor.json"
    command = ["monitor", "--task", "ctr", "--input", str(CTR_DATA), "--models", str(models), "--output", str(output)]
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 0, result.output
    report = read_report(output, DriftReport)
    assert report.rows == 9997 and report.drifted == [] and "no drift found" in result.output
    # The file is the model's own training data: its probabilities expect about the held-out ROC-AUC or more.
    assert report.label_free is not None and report.label_free.metric == "ROC-AUC"
    assert report.label_free.heldout_realised - 0.05 < report.label_free.estimated < 1.0
    bad = tmp_path / "bad.csv"
    bad.write_text("Age,Area Income\nold,12\n")
    result = CliRunner().invoke(cli_app, [*command[:4], str(bad), *command[5:]])
    assert result.exit_code == 1 and "bad.csv" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli_app, ["monitor", "--task", "nope", "--input", str(CTR_DATA)])
    assert result.exit_code == 2 and "not a task" in result.output


def test_monitor_reads_a_clickstream_folder_test_split_first(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = reference_dirs
    model = tmp_path / "clickstream.joblib"
    assert CliRunner().invoke(cli_app, ["train", "--train-dir", str(train), "--model", str(model)]).exit_code == 0
    output = tmp_path / "monitor.json"
    command = ["monitor", "--task", "clickstream", "--models", str(tmp_path), "--output", str(output)]
    result = CliRunner().invoke(cli_app, [*command, "--input", str(test)])
    assert result.exit_code == 0, result.output
    report = read_report(output, DriftReport)
    assert report.rows == 300 and report.reference_rows == 700 and report.label_free is not None
    assert report.drifted == []  # the challenge's test users are drawn like its training users (docs/monitor.md)
    assert CliRunner().invoke(cli_app, [*command, "--input", str(train)]).exit_code == 0
    assert read_report(output, DriftReport).rows == 700


@pytest.mark.parametrize("served", [1, 10, MIN_ROWS - 1, 100, 250])
def test_too_few_served_rows_get_no_verdict_and_no_nan(models: Path, tmp_path: Path, served: int) -> None:
    """Below the fewest rows the calibration measured, the API, /monitor, `model.py monitor` and the dashboard's
    section say "N rows so far; drift is judged from M" (the rows drawn, no statistics, no nan); from M on, a
    verdict."""
    from adpipe.dashboard.monitor import section
    from adpipe.sections.sources import Sources

    rows = pd.read_csv(CTR_DATA).drop(columns=["Clicked on Ad"]).head(served)
    judged = served >= MIN_ROWS
    with TestClient(create_app(models, tmp_path, monitor_window=1000), raise_server_exceptions=False) as client:
        assert client.post("/api/v1/ctr/predict-batch", json={"records": rows.to_dict("records")}).status_code == 200
        report = DriftReport.model_validate(client.get("/api/v1/ctr/drift").json())
        page = client.get("/monitor").text
    waiting = f"{served} rows so far; drift is judged from {MIN_ROWS}"
    assert report.rows == served and report.judged == judged and report.min_rows == MIN_ROWS
    assert (report.verdict == waiting) != judged and not NAN.search(page)
    assert report.label_free is not None and (report.label_free.estimated is not None) == judged
    assert (waiting in page) != judged and ("no drift found" in page or "drift in" in page) == judged
    if not judged:
        assert report.drifted == [] and not any(d.drifted for d in report.compared) and report.label_free.why
    # `model.py monitor` on the same rows, and the report page's Monitoring section built from its report
    data = tmp_path / "served.csv"
    pd.read_csv(CTR_DATA).head(served).to_csv(data, index=False)
    (tmp_path / "reports").mkdir()
    output = tmp_path / "reports" / "monitor_ctr.json"
    command = ["monitor", "--task", "ctr", "--input", str(data), "--models", str(models), "--output", str(output)]
    result = CliRunner().invoke(cli_app, command)
    assert result.exit_code == 0, result.output
    assert (waiting in result.output) != judged and not NAN.search(result.output)
    monitored, _ = section(Sources(tmp_path))
    text = repr(monitored.panels)
    assert (waiting in text) != judged and not NAN.search(text)
