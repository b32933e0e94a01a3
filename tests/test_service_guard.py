"""The training-range guard on every served answer (issue 22, first step), on the CTR model: the reference saved
with the model, the warnings beside each prediction, strict requests refused naming the field, and a model saved
before references served with a note. (Every task's reference and its predict commands: tests/test_references.py.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from adpipe.io import load_model, save_model
from adpipe.reference import METADATA_KEY, NO_REFERENCE, InputReference
from adpipe.service.app import create_app
from adpipe.service.registry import all_tasks
from tests.test_service import trained_models

PREDICT = "/api/v1/ctr/predict"


@pytest.fixture(scope="module")
def models() -> Path:
    """The service tests' models (tests/test_service.py: trained once per run by the tasks' commands)."""
    return trained_models()[0]


@pytest.fixture(scope="module")
def client(models: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(create_app(models, tmp_path_factory.mktemp("reports")), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def example() -> dict:
    return dict(all_tasks()["ctr"].example)


def _warnings(answer: dict) -> dict[str, dict]:
    return {w["field"]: w for w in answer["prediction"]["warnings"]}


def test_the_reference_round_trips_through_save_and_load(models: Path, tmp_path: Path) -> None:
    model, metadata = load_model(models / "ctr.joblib", task="ctr")
    reference = InputReference.read(metadata)
    assert reference is not None and reference.n_rows == metadata["n_rows"]
    age = reference.numbers["Age"]
    assert age.minimum <= age.q005 <= age.q995 <= age.maximum and age.missing == 0.0
    save_model(tmp_path / "copy.joblib", model, metadata)
    assert InputReference.read(load_model(tmp_path / "copy.joblib", task="ctr")[1]) == reference


def test_from_frame_and_check() -> None:
    reference = InputReference.from_frame(pd.DataFrame({"x": [1.0, 2.0, None, 3.0], "c": ["a", "b", "a", None]}))
    assert reference.numbers["x"].missing == 0.25 and reference.categories["c"].categories == ["a", "b"]
    found = reference.check(pd.DataFrame({"x": [2.0, 9.0, None], "c": ["a", "z", "b"]}))
    assert found[0] == []
    assert [w.kind for w in found[1]] == ["out_of_range", "unseen"] and "[1, 3]" in found[1][0].message
    assert [(w.field, w.kind) for w in found[2]] == [("x", "missing")]


def test_an_ordinary_record_has_no_warnings(client: TestClient, example: dict) -> None:
    answer = client.post(PREDICT, json=example)
    assert answer.status_code == 200 and answer.json()["prediction"]["warnings"] == []


def test_missing_inputs_are_named_as_imputed(client: TestClient) -> None:
    answer = client.post(PREDICT, json={"Gender": "Male"})
    assert answer.status_code == 200
    warnings = _warnings(answer.json())
    assert set(warnings) == {"Daily Time Spent on Site", "Age", "Area Income", "Daily Internet Usage"}
    assert all(w["kind"] == "missing" and "imputed" in w["message"] for w in warnings.values())


@pytest.mark.parametrize(
    ("fields", "outside"),
    [({"Age": 1e300}, {"Age"}), ({"Age": 200, "Area Income": 1e12}, {"Age", "Area Income"})],
)
def test_values_outside_the_training_range_are_named(
    client: TestClient, example: dict, fields: dict, outside: set[str]
) -> None:
    answer = client.post(PREDICT, json={**example, **fields})
    assert answer.status_code == 200
    warnings = _warnings(answer.json())
    assert {f for f, w in warnings.items() if w["kind"] == "out_of_range"} == outside
    assert "outside the training range [19, 60]" in warnings["Age"]["message"]
    strict = client.post(PREDICT, params={"strict": "true"}, json={**example, **fields})
    assert strict.status_code == 422
    details = strict.json()["detail"]
    assert {d["loc"][1] for d in details} == outside and all(d["loc"][1] in d["msg"] for d in details)


def test_strict_batch_names_the_record_and_field(client: TestClient, example: dict) -> None:
    batch = {"records": [example, {**example, "Area Income": 1e12}]}
    assert client.post("/api/v1/ctr/predict-batch", json=batch).status_code == 200
    strict = client.post("/api/v1/ctr/predict-batch", params={"strict": "true"}, json=batch)
    assert strict.status_code == 422 and strict.json()["detail"][0]["loc"] == ["body", "records", 1, "Area Income"]


def test_strict_names_every_refused_value_up_to_ten(client: TestClient, example: dict) -> None:
    batch = {"records": [{**example, "Age": 200 + i} for i in range(12)]}
    details = client.post("/api/v1/ctr/predict-batch", params={"strict": "true"}, json=batch).json()["detail"]
    assert [d["loc"] for d in details[:10]] == [["body", "records", i, "Age"] for i in range(10)]
    assert len(details) == 11 and details[-1]["msg"] == "2 more errors not shown"


def test_a_strict_server_refuses_and_the_form_shows_warnings(models: Path, tmp_path: Path, example: dict) -> None:
    strict = TestClient(create_app(models, tmp_path, strict_inputs=True), raise_server_exceptions=False)
    assert strict.post(PREDICT, json=example).status_code == 200
    assert strict.post(PREDICT, json={**example, "Age": 200}).status_code == 422
    lenient = TestClient(create_app(models, tmp_path), raise_server_exceptions=False)
    page = lenient.post("/ctr", data={**{k: str(v) for k, v in example.items()}, "Age": "200"})
    assert page.status_code == 200 and 'id="warnings"' in page.text and "outside the training range" in page.text


def test_a_model_saved_without_a_reference_serves_with_a_note(models: Path, tmp_path: Path, example: dict) -> None:
    model, metadata = load_model(models / "ctr.joblib", task="ctr")
    old = tmp_path / "models"
    save_model(old / "ctr.joblib", model, {k: v for k, v in metadata.items() if k != METADATA_KEY})
    client = TestClient(create_app(old, tmp_path), raise_server_exceptions=False)
    answer = client.post(PREDICT, json=example)
    assert answer.status_code == 200
    assert [w["message"] for w in answer.json()["prediction"]["warnings"]] == [NO_REFERENCE]
