"""The Dask engine: the same feature tables and predictions as the in-memory and chunked engines, from CSV and
Parquet parts; predictions written per partition and gathered; a bad part fails with one line naming it and
nothing written; lightgbm.dask training.

One in-process LocalCluster of 2 workers serves the module (processes=False: no worker start-up), and
partitions of 1,500 rows cut each part into slices, so rows of one user meet from several partitions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

import model as cli
from adpipe import config
from adpipe.clickstream import engine_dask, engines, pipeline
from adpipe.clickstream.defaults import TASK
from adpipe.clickstream.distributed import train_distributed
from adpipe.clickstream.engines import build_features, load_split
from adpipe.clickstream.params import DEFAULT_PARAMS
from adpipe.clickstream.partitioned import parts_dir
from adpipe.clickstream.submission import warnings_path
from adpipe.io import load_model
from features.synth import SynthConfig, generate, split_sessions

ENGINES = ("memory", "chunked", "dask")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(autouse=True)
def small_partitions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_dask, "ROWS_PER_PARTITION", 1500)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic train/ and test/, and the test split again as test-csv/ and test-parquet/: its user file
    beside a folder session_test/ of 3 parts."""
    root = tmp_path_factory.mktemp("dask")
    generate(root, SynthConfig(users=500, seed=5), progress=False)
    for kind in ("csv", "parquet"):
        split_dir = root / f"test-{kind}"
        split_dir.mkdir()
        shutil.copy(root / "test" / config.USERS_TEST_FILE, split_dir)
        split_sessions(root / "test" / config.SESSIONS_TEST_FILE, split_dir / "session_test", 3, kind)
    return root


@pytest.fixture(scope="module")
def model_file(data: Path) -> Path:
    path = data / "model.joblib"
    pipeline.train(data / "train", config.CLICKSTREAM_PARAMS_FILE, path, engine="memory")
    return path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_engines_give_the_same_feature_table(data: Path, scheduler: str, kind: str) -> None:
    splits = {
        engine: load_split(data / f"test-{kind}", "test", engine=engine, scheduler=scheduler) for engine in ENGINES
    }
    assert {engine: split.engine.engine for engine, split in splits.items()} == dict(zip(ENGINES, ENGINES, strict=True))
    tables = {engine: build_features(split) for engine, split in splits.items()}
    whole_file = build_features(load_split(data / "test", "test", engine="memory"))
    assert len(tables["dask"]) == 500 and (tables["dask"]["n_sessions"] == 0).any()  # users without sessions
    for engine, table in tables.items():
        # Sums and means over a user's sessions may add them in another order: equal to float precision.
        pd.testing.assert_frame_equal(table, whole_file, check_exact=False, rtol=1e-12, obj=engine)


def test_auto_takes_the_cluster_when_streaming_would_not_fit(
    data: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(engines.CHUNKED_MEMORY_PER_DISK_BYTE, "csv", 1e12)  # as if 10^8 sessions
    split = load_split(data / "test-csv", "test", scheduler=scheduler)
    assert split.engine.engine == "dask" and "streamed" in split.engine.reason
    whole_file = build_features(load_split(data / "test", "test", engine="memory"))
    pd.testing.assert_frame_equal(build_features(split), whole_file, check_exact=False, rtol=1e-12)


def test_the_p2p_shuffle_gives_the_same_table(data: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_dask, "ROW_BYTES", 10**12)  # as if the sessions did not fit the cluster's memory
    chosen, choose = [], engine_dask.shuffle_method
    monkeypatch.setattr(engine_dask, "shuffle_method", lambda *args: chosen.append(choose(*args)) or chosen[-1])
    p2p = build_features(load_split(data / "test-csv", "test", engine="dask", scheduler=scheduler))
    assert chosen == ["p2p"]
    pd.testing.assert_frame_equal(p2p, build_features(load_split(data / "test", "test", engine="memory")), rtol=1e-12)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_predictions_are_byte_identical(data: Path, scheduler: str, model_file: Path, kind: str) -> None:
    written, flagged, summaries = {}, {}, {}
    for engine in ENGINES:
        output = data / f"predictions-{kind}-{engine}.json"
        _, summaries[engine] = pipeline.predict(
            data / f"test-{kind}", output, model_file, engine=engine, scheduler=scheduler
        )
        written[engine], flagged[engine] = output.read_bytes(), warnings_path(output).read_bytes()
    assert written["dask"] == written["memory"] == written["chunked"]
    assert len(json.loads(written["dask"])["target"]) == 500
    # The users whose inputs drew warnings, checked per partition on the cluster: the in-memory path's.
    assert flagged["dask"] == flagged["memory"] == flagged["chunked"] and flagged["dask"].count(b"\n") > 1
    assert summaries["dask"] == summaries["memory"] and " of 500 rows had inputs unlike" in summaries["dask"]


def _bad_copy(data: Path, tmp_path: Path, change: str) -> Path:
    """test-csv/ with part 1's fifth data row changed: ``value`` (page_views -3) or ``bytes`` (not UTF-8, which
    Polars cannot read: the worker's error)."""
    bad = tmp_path / "bad"
    shutil.copytree(data / "test-csv", bad)
    part = bad / "session_test" / "part-00001.csv"
    lines = part.read_bytes().split(b"\n")
    fields = lines[5].split(b",")
    if change == "value":
        fields[-2] = b"-3"
    else:
        fields[3] += b"\xff"
    lines[5] = b",".join(fields)
    part.write_bytes(b"\n".join(lines))
    return bad


@pytest.mark.parametrize("change", ["value", "bytes"])
def test_a_bad_part_fails_in_one_line_naming_it_and_nothing_is_written(
    data: Path, scheduler: str, model_file: Path, tmp_path: Path, change: str
) -> None:
    bad, output = _bad_copy(data, tmp_path, change), tmp_path / "predictions.json"
    arguments = ["predict", "--use-saved", "--model", str(model_file), "--test-dir", str(bad), "--output", str(output)]
    result = CliRunner().invoke(cli.app, [*arguments, "--engine", "dask", "--scheduler", scheduler])
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.exit_code == 1, result.output
    assert len(error) == 1 and "part-00001.csv" in error[0] and "line 6" in error[0], result.stderr
    assert ("page_views" if change == "value" else "not UTF-8") in error[0]
    assert not output.exists() and not parts_dir(output).exists()
    assert [path.name for path in tmp_path.iterdir()] == ["bad"]  # no temporary folder left


def _predict(data: Path, scheduler: str, test_dir: Path, output: Path, *options: str) -> object:
    arguments = ["predict", "--test-dir", str(test_dir), "--output", str(output), "--engine", "dask", *options]
    return CliRunner().invoke(cli.app, [*arguments, "--scheduler", scheduler, "--train-dir", str(data / "train")])


def test_predictions_are_written_per_partition_then_gathered(data: Path, scheduler: str, tmp_path: Path) -> None:
    output = tmp_path / "predictions.json"
    result = _predict(data, scheduler, data / "test-parquet", output, "--model", str(tmp_path / "model.joblib"))
    assert result.exit_code == 0, result.output
    assert result.stderr.count("worker(s), dashboard") == 1  # training and prediction on one client
    parts = sorted(parts_dir(output).glob("part-*.parquet"))
    assert len(parts) > 2  # partitions of 1,500 sessions
    written = pl.read_parquet(parts)
    assert written.columns == ["user_id", "test_id", "target"]
    gathered = json.loads(output.read_bytes())["target"]
    assert dict(zip(map(str, written["test_id"]), written["target"], strict=True)) == gathered
    without = build_features(load_split(data / "test", "test")).query("n_sessions == 0").index
    assert len(without) and set(without) <= set(written["user_id"])  # users without sessions keep their row


def test_parts_only_writes_no_predictions_file(data: Path, scheduler: str, model_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "predictions.json"
    result = _predict(
        data, scheduler, data / "test-csv", output, "--model", str(model_file), "--use-saved", "--parts-only"
    )
    assert result.exit_code == 0, result.output
    assert not output.exists() and pl.read_parquet(parts_dir(output) / "*.parquet").height == 500
    assert "wrote 500 predictions in" in result.stdout


def test_a_session_of_an_unknown_user_is_the_in_memory_error(
    data: Path, scheduler: str, model_file: Path, tmp_path: Path
) -> None:
    unknown = tmp_path / "unknown"
    shutil.copytree(data / "test-parquet", unknown)
    users = unknown / config.USERS_TEST_FILE
    sessions = pl.read_parquet(unknown / "session_test" / "*.parquet")
    lines = [line for line in users.read_text().splitlines() if sessions["user_id"][0] not in line]
    users.write_text("\n".join(lines) + "\n")
    errors, output = {}, tmp_path / "predictions.json"
    for engine in ("memory", "dask"):
        arguments = ["predict", "--use-saved", "--model", str(model_file), "--test-dir", str(unknown)]
        extra = ["--scheduler", scheduler] if engine == "dask" else []
        result = CliRunner().invoke(cli.app, [*arguments, "--output", str(output), "--engine", engine, *extra])
        errors[engine] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.exit_code == 1 and not output.exists() and not parts_dir(output).exists()
    assert len(errors["dask"]) == 1 and errors["dask"] == errors["memory"], errors
    assert "belong to users not in user_test.csv" in errors["dask"][0]


def test_scheduler_needs_the_dask_engine(data: Path, tmp_path: Path) -> None:
    arguments = ["predict", "--use-saved", "--test-dir", str(data / "test-csv"), "--output", str(tmp_path / "p.json")]
    result = CliRunner().invoke(cli.app, [*arguments, "--engine", "memory", "--scheduler", "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2 and "--scheduler" in result.stderr


def test_distributed_training_saves_a_plain_model(data: Path, scheduler: str, tmp_path: Path) -> None:
    params_file, model_path = tmp_path / "params.json", tmp_path / "model.joblib"
    params_file.write_text(json.dumps({**DEFAULT_PARAMS, "imbalance": "smote"}))
    metadata = train_distributed(data / "train", params_file, model_path, 0, scheduler=scheduler)
    model, saved = load_model(model_path, task=TASK)
    assert saved["training"]["kind"] == "lightgbm.dask" and saved["training"]["class_weight"] == "balanced"
    assert type(model.named_steps["lightgbm"]).__name__ == "LGBMClassifier" and metadata["n_users"] == 500
    table = build_features(load_split(data / "test", "test")).drop(columns="test_id")
    assert set(model.predict(table)) <= {1, 2, 3}
