"""Model versions (issue 23, item 2): every train keeps a version with its card; promote and roll back; the
service serves the promoted one; ``predict --version``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sklearn.dummy import DummyClassifier
from typer.testing import CliRunner

from adpipe.errors import DataError, OptionError
from adpipe.tasks import TASKS
from adpipe.versions import (
    cards,
    find_version,
    model_path,
    promote,
    promoted,
    promotions,
    rollback,
    rollback_target,
    save_trained,
    served_file,
    standing,
    version_of,
    versions_dir,
)
from model import app as cli_app


def _save(models: Path, note: str, data: Path | None = None) -> str:
    model = DummyClassifier(strategy="most_frequent").fit([[0], [1]], [0, 0])
    return save_trained(models / "toy.joblib", model, {"task": "toy", "note": note}, [data] if data else []).version


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    return path


def test_each_train_keeps_a_version_with_its_card_and_the_first_is_promoted(tmp_path: Path, data: Path) -> None:
    models = tmp_path / "models"
    first = _save(models, "one", data)
    second = _save(models, "two", data)
    folder = versions_dir(models / "toy.joblib")
    assert first != second and {card.version for card in cards(folder)} == {first, second}
    assert version_of(models / "toy.joblib") == second  # the working file is the last trained
    assert (folder / f"{first}.joblib").read_bytes() != (folder / f"{second}.joblib").read_bytes()
    assert promoted(folder) == first  # the first is served; the second waits for a promotion
    card = find_version(folder, second)
    assert card.data[0].sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert card.params == {"note": "two"} and card.task == "toy"
    assert card.commit is None or len(card.commit.split("+")[0]) == 40
    assert card.version == hashlib.sha256((folder / card.file).read_bytes()).hexdigest()[:12]
    assert _save(models, "two", data) == second and len(cards(folder)) == 2  # the same bytes: the same version


def test_promote_and_rollback_keep_a_stack_of_promoted_versions(tmp_path: Path) -> None:
    models = tmp_path / "models"
    a, b, c = (_save(models, note) for note in "abc")
    folder = versions_dir(models / "toy.joblib")
    with pytest.raises(OptionError, match="nothing to roll back to"):
        rollback_target(folder)
    promote(folder, b)
    promote(folder, c[:6])  # a unique prefix names a version
    assert standing(promotions(folder)) == [a, b, c]
    rollback(folder, rollback_target(folder).version)
    assert promoted(folder) == b
    promote(folder, c)
    rollback(folder, rollback_target(folder, a).version)  # straight back to an earlier promoted version
    assert promoted(folder) == a and standing(promotions(folder)) == [a]
    with pytest.raises(OptionError, match="was not promoted before"):
        rollback_target(folder, c)
    assert [entry.action for entry in promotions(folder)] == [
        "promote",
        "promote",
        "promote",
        "rollback",
        "promote",
        "rollback",
    ]
    with pytest.raises(OptionError, match="is not a kept version"):
        promote(folder, "0000000")


def test_served_and_predicted_files(tmp_path: Path) -> None:
    models = tmp_path / "models"
    working = models / "toy.joblib"
    first = _save(models, "one")
    second = _save(models, "two")
    folder = versions_dir(working)
    assert served_file(working) == (folder / f"{first}.joblib", first)
    assert model_path(working, None) == working
    assert model_path(working, "promoted") == folder / f"{first}.joblib"
    assert model_path(working, second[:5]) == folder / f"{second}.joblib"
    with pytest.raises(OptionError, match="--version"):
        model_path(working, "abc")  # too short to name a version
    (folder / "promotions.json").write_text("{not json")
    with pytest.raises(DataError, match="promotions"):
        promoted(folder)


def test_a_model_never_promoted_is_served_from_its_working_file(tmp_path: Path) -> None:
    working = tmp_path / "ctr.joblib"
    working.write_bytes(b"old model")
    assert served_file(working) == (working, None)


@pytest.fixture(scope="module")
def models_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The service tests' trained models, copied (promotions change them), with a second CTR version kept."""
    import shutil

    from adpipe.io import load_model
    from tests.test_service import trained_models

    models = tmp_path_factory.mktemp("versions") / "models"
    shutil.copytree(trained_models()[0], models)
    model, metadata = load_model(models / "ctr.joblib", task="ctr")
    save_trained(models / "ctr.joblib", model, {**metadata, "note": "a second version"}, [])
    return models


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, result.output


def test_models_commands_list_promote_and_roll_back(models_copy: Path) -> None:
    folder = versions_dir(models_copy / "ctr.joblib")
    first, second = (card.version for card in cards(folder))
    code, out = _cli("models", "list", "--models", str(models_copy))
    assert code == 0, out
    lines = [line for line in out.splitlines() if line.startswith("ctr ")]
    assert len(lines) == 2 and "served" in next(line for line in lines if first in line)
    assert {task.model_file.stem for task in TASKS} <= {line.split()[0] for line in out.splitlines()}
    code, out = _cli("models", "promote", "ctr", "--models", str(models_copy), "--reason", "test")
    assert code == 0 and f"{second} promoted (was {first})" in out, out
    assert promotions(folder)[-1].reason == "test"
    code, out = _cli("models", "promote", "ctr", second, "--models", str(models_copy))
    assert code == 0 and "already the served version" in out
    code, out = _cli("models", "rollback", "ctr", "--models", str(models_copy))
    assert code == 0 and f"back to {first}" in out and promoted(folder) == first
    code, out = _cli("models", "rollback", "ctr", "--models", str(models_copy))
    assert code == 2 and "nothing to roll back to" in out
    code, out = _cli("models", "promote", "nosuch", "--models", str(models_copy))
    assert code == 2 and "no model 'nosuch'" in out


def test_a_version_that_cannot_predict_is_not_promoted(models_copy: Path, tmp_path: Path) -> None:
    """A file kept as a CTR version that is the conversion model: promote refuses it, the log is unchanged."""
    from adpipe.io import load_model

    models = tmp_path / "models"
    (models / "versions").mkdir(parents=True)
    model, metadata = load_model(models_copy / "conversion.joblib", task="conversion")
    save_trained(models / "ctr.joblib", model, {**metadata, "task": "ctr"}, [])  # claims to be CTR's
    bad = cards(versions_dir(models / "ctr.joblib"))[0].version
    log = (versions_dir(models / "ctr.joblib") / "promotions.json").read_text()
    code, out = _cli("models", "rollback", "ctr", "--models", str(models))
    assert code == 2
    code, out = _cli("models", "promote", "ctr", bad, "--models", str(models))
    assert code == 1 and "cannot predict the ctr example record" in out, out
    assert (versions_dir(models / "ctr.joblib") / "promotions.json").read_text() == log


def test_predict_takes_a_version(models_copy: Path, tmp_path: Path) -> None:
    from adpipe import config

    folder = versions_dir(models_copy / "ctr.joblib")
    first = cards(folder)[0].version
    rows = tmp_path / "rows.csv"
    lines = (config.SHARED_DATA_DIR / "ctr" / "ad_10000records.csv").read_text().splitlines()[:21]
    rows.write_text("\n".join(lines) + "\n")
    predict = ("ctr", "predict", "--input", str(rows), "--model", str(models_copy / "ctr.joblib"))
    outputs = {}
    for version in (first, "promoted"):
        code, out = _cli(*predict, "--output", str(tmp_path / f"{version}.csv"), "--version", version)
        assert code == 0, out
        outputs[version] = (tmp_path / f"{version}.csv").read_text()
    assert outputs[first] == outputs["promoted"] and len(outputs[first].splitlines()) == 21
    code, out = _cli(*predict, "--output", str(tmp_path / "x.csv"), "--version", "ffffffff")
    assert code == 2 and "--version" in out and "is not a kept version" in out
    assert json.loads((folder / f"{first}.json").read_text())["version"] == first
