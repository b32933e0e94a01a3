"""The training reference every task saves with its model (issue 22): over exactly the inputs the service's guard
checks, with the model's own held-out predictions (classes or values) and, for the classifiers, the label-free
check; and the warnings column and summary line of every ``predict`` command.

The models are the service tests' (tests/test_service.py, trained once per run by the tasks' own commands).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from adpipe import config
from adpipe.clickstream.service import SESSION_EXAMPLE, USER_EXAMPLE
from adpipe.clickstream.submission import warnings_path
from adpipe.conversion.models import FEATURES as CONVERSION_FEATURES
from adpipe.ctr.pipeline import record_inputs
from adpipe.io import load_model, save_model
from adpipe.reference import METADATA_KEY, NO_REFERENCE, InputReference, guard_rows, summary_line
from adpipe.segments.defaults import Source
from adpipe.segments.source import SPECS
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from model import app as cli_app
from tests.conftest import write_split
from tests.test_service import trained_models

SHARED = config.SHARED_DATA_DIR
FILES = {
    "clickstream": "clickstream.joblib",
    "ctr": "ctr.joblib",
    "conversion": "conversion.joblib",
    "segments": "segments_profiles.joblib",
    "roas": "roas.joblib",
}
# Per task: a served record's field set outside every training value, and the input the guard names for it.
OUTSIDE = {
    "clickstream": ({"user": {**USER_EXAMPLE, "age": 120}}, "age"),
    "ctr": ({"Age": 200}, "Age"),
    "conversion": ({"Likes and Reactions": 10**9}, "Likes and Reactions"),
    "segments": ({"Likes and Reactions": 10**9}, "Likes and Reactions"),
    "roas": ({"Spent": 1e7}, "Spent"),
}
# A served ClickStream user whose session lasts an ordinary time (the form's example, 240 s, is "unusual").
ORDINARY_CLICKSTREAM = {"sessions": [{**SESSION_EXAMPLE, "session_duration": 160}]}
runner = CliRunner()


@pytest.fixture(scope="module")
def served() -> tuple[Path, Path]:
    return trained_models()


@pytest.fixture(scope="module")
def client(served: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(*served), raise_server_exceptions=False)


def _reference(models: Path, task: str) -> tuple[InputReference, dict]:
    model, metadata = load_model(models / FILES[task], task=task)
    reference = InputReference.read(metadata)
    assert reference is not None, f"{task} saved no reference"
    return reference, {**metadata, "model": model}


def _guarded_columns(task: str, saved: dict) -> set[str]:
    """What the task's service passes to its guard (the columns of the frame ``Task.guarded`` checks)."""
    if task == "clickstream":
        return set(saved["model"].named_steps["select"].columns_)
    if task == "ctr":
        return set(record_inputs(saved["model"].estimator_.columns))
    if task == "roas":
        return {name for name in saved["features"] if name not in ("ctr", "cpc", "cpm")}
    spec = CONVERSION_FEATURES if task == "conversion" else SPECS[Source.profiles]
    return set(spec.guarded)


@pytest.mark.parametrize("task", FILES)
def test_each_model_saves_a_reference_over_what_its_service_guards(
    served: tuple[Path, Path], client: TestClient, task: str
) -> None:
    reference, saved = _reference(served[0], task)
    assert set(reference.columns()) == _guarded_columns(task, saved)
    example = {**all_tasks()[task].example, **(ORDINARY_CLICKSTREAM if task == "clickstream" else {})}
    ordinary = client.post(f"/api/v1/{task}/predict", json=example)
    assert ordinary.status_code == 200 and ordinary.json()["prediction"]["warnings"] == []
    fields, field = OUTSIDE[task]
    answer = client.post(f"/api/v1/{task}/predict", json={**example, **fields})
    assert answer.status_code == 200
    assert [(w["field"], w["kind"]) for w in answer.json()["prediction"]["warnings"]] == [(field, "out_of_range")]


@pytest.mark.parametrize(
    ("task", "kind", "metric"),
    [
        ("clickstream", "classes", "macro-F1"),
        ("ctr", "classes", "ROC-AUC"),
        ("segments", "classes", None),
        ("roas", "values", None),
        ("conversion", "values", None),
    ],
)
def test_each_reference_holds_the_models_own_predictions(
    served: tuple[Path, Path], task: str, kind: str, metric: str | None
) -> None:
    reference, saved = _reference(served[0], task)
    held_out = reference.predictions
    assert held_out is not None and held_out.protocol
    predicted = sum(held_out.classes.values()) if kind == "classes" else sum(held_out.values.counts)
    assert (held_out.classes is None) == (kind == "values") and (held_out.values is None) == (kind == "classes")
    if task == "ctr":  # forward windows: the first block is never held out
        assert 0.5 * reference.n_rows < predicted < reference.n_rows
    else:  # every row once: one repeat of K-fold, or every profile in-sample
        assert predicted == reference.n_rows
    if task == "segments":
        assert held_out.protocol.startswith("in-sample") and set(held_out.classes) == {"0", "1"}
    check = held_out.label_free
    assert (check is None) == (metric is None)
    if check is not None:
        assert check.metric == metric
        # Better than chance by the labels and by the probabilities, and the two within reach of each other.
        chance = 0.5 if metric == "ROC-AUC" else 1 / 3
        assert chance + 0.1 < check.realised < 1 and chance + 0.1 < check.estimated < 1
        assert abs(check.realised - check.estimated) < 0.15


def test_the_summary_counts_rows_per_kind() -> None:
    reference = InputReference.from_frame(pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]}))
    guarded = guard_rows(reference, pd.DataFrame({"x": [2.0, 9.0, None, 0.0], "c": ["a", "z", "z", "b"]}))
    assert guarded.messages[0] == "" and guarded.messages[1].count("; ") == 1
    assert guarded.rows_with == {"out_of_range": 2, "unseen": 2, "missing": 1}
    assert guarded.summary == (
        "3 of 4 rows had inputs unlike the training data: 2 with an input outside the training range, "
        "2 with an unseen category, 1 with a missing value imputed"
    )
    assert guard_rows(reference, pd.DataFrame({"x": [1.5], "c": ["b"]})).summary.startswith("no warnings: ")
    assert summary_line(5, 0, {}) == guard_rows(reference, pd.DataFrame({"x": [2.0] * 5, "c": ["a"] * 5})).summary


# --- the predict commands --------------------------------------------------------------------------------------


def _ctr_rows() -> pd.DataFrame:
    rows = pd.read_csv(SHARED / "ctr" / "ad_10000records.csv", dtype=str, keep_default_na=False).iloc[:2]
    return rows.drop(columns=["Clicked on Ad"])


def _profiles() -> pd.DataFrame:
    return pd.read_csv(SHARED / "profiles" / "user_profiles_for_ads.csv").iloc[:2]


def _planned_ads() -> pd.DataFrame:
    ads = pd.read_csv(SHARED / "campaigns" / "KAG_conversion_data.csv")
    return ads[ads["Spent"] > 0].iloc[:2][["ad_id", "xyz_campaign_id", "age", "gender", "interest", "Spent"]]


# Per task: its predict command's arguments before --input/--output/--model, the input (two ordinary rows of its
# own data), and the edit that puts the second row outside the training range (with what its warning says).
COMMANDS = {
    "ctr": (["ctr", "predict"], _ctr_rows, {"Age": "200"}, "Age = 200 is outside the training range [19, 60]"),
    "conversion": (
        ["conversion", "predict"],
        _profiles,
        {"Likes and Reactions": 10**9},
        "Likes and Reactions = 1e+09 is outside the training range",
    ),
    "segments": (
        ["segment", "assign", "--source", "profiles"],
        _profiles,
        {"Likes and Reactions": 10**9},
        "Likes and Reactions = 1e+09 is outside the training range",
    ),
    "roas": (["roas", "predict"], _planned_ads, {"Spent": 1e7}, "Spent = 1e+07 is outside the training range"),
}


@pytest.mark.parametrize("task", COMMANDS)
def test_each_predict_command_writes_a_warnings_column_and_a_summary(
    served: tuple[Path, Path], tmp_path: Path, task: str
) -> None:
    command, rows, edit, message = COMMANDS[task]
    table = rows()
    for column, value in edit.items():
        table[column] = table[column].astype(object)
        table.loc[table.index[1], column] = value
    table.to_csv(tmp_path / "input.csv", index=False)
    output = tmp_path / "output.csv"
    arguments = [
        "--input",
        str(tmp_path / "input.csv"),
        "--output",
        str(output),
        "--model",
        str(served[0] / FILES[task]),
    ]
    result = runner.invoke(cli_app, [*command, *arguments])
    assert result.exit_code == 0, result.output
    warnings = pd.read_csv(output, keep_default_na=False)["warnings"].tolist()
    assert warnings[0] == "" and warnings[1].startswith(message) and "; " not in warnings[1]
    assert (
        "1 of 2 rows had inputs unlike the training data: 1 with an input outside the training range" in result.output
    )
    table.iloc[:1].to_csv(tmp_path / "input.csv", index=False)
    result = runner.invoke(cli_app, [*command, *arguments])
    assert result.exit_code == 0 and "no warnings: every input of the 1 rows" in result.output
    assert pd.read_csv(output, keep_default_na=False)["warnings"].tolist() == [""]


def test_a_model_without_a_reference_says_so_on_every_row(served: tuple[Path, Path], tmp_path: Path) -> None:
    model, metadata = load_model(served[0] / "ctr.joblib", task="ctr")
    save_model(tmp_path / "old.joblib", model, {k: v for k, v in metadata.items() if k != METADATA_KEY})
    _ctr_rows().to_csv(tmp_path / "input.csv", index=False)
    arguments = ["--input", str(tmp_path / "input.csv"), "--output", str(tmp_path / "out.csv")]
    result = runner.invoke(cli_app, ["ctr", "predict", *arguments, "--model", str(tmp_path / "old.joblib")])
    assert result.exit_code == 0 and "the saved model has no training reference" in result.output
    assert pd.read_csv(tmp_path / "out.csv")["warnings"].tolist() == [NO_REFERENCE] * 2


def test_clickstream_predict_keeps_the_submission_and_writes_the_warnings_beside_it(
    served: tuple[Path, Path], tmp_path: Path
) -> None:
    session = "u{n},s{n},2023-08-15 05:58:37,tablet,Edge,Windows,1.1.1.1,Kenya,hello,6,160"
    users = ["u1;52;TRUE;new_user;1", "u2;120;FALSE;premium_subscriber;2"]
    test_dir = write_split(tmp_path / "test", users, [session.format(n=1), session.format(n=2)], split="test")
    output = tmp_path / "predictions.json"
    arguments = ["predict", "--use-saved", "--test-dir", str(test_dir), "--output", str(output)]
    result = runner.invoke(cli_app, [*arguments, "--model", str(served[0] / FILES["clickstream"])])
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_bytes()).keys() == {"target"}  # the challenge's format, nothing added
    flagged = pd.read_csv(warnings_path(output))
    assert flagged[["test_id", "user_id"]].values.tolist() == [[2, "u2"]]
    assert flagged["warnings"].tolist() == ["age = 120 is outside the training range [18, 70]"]
    summary = "1 of 2 rows had inputs unlike the training data: 1 with an input outside the training range -> "
    assert summary in result.output
    write_split(tmp_path / "test", users[:1], [session.format(n=1)], split="test")
    result = runner.invoke(cli_app, [*arguments, "--model", str(served[0] / FILES["clickstream"])])
    assert result.exit_code == 0 and "no warnings: every input of the 1 rows" in result.output
    assert not warnings_path(output).exists()  # the earlier run's file would describe other predictions
