"""Session inputs and engines: one CSV, CSV parts and Parquet parts give one feature table with either engine;
a bad Parquet part or user file fails with one line naming it; predictions do not depend on the format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.clickstream import engines, pipeline
from adpipe.clickstream.engines import build_features, choose_engine, load_split
from adpipe.errors import DataError
from features.clickstream_loaders import TIMESTAMP_FORMAT, load_sessions, load_users, session_parts
from features.synth import SynthConfig, generate
from model import app
from tests.conftest import SESSION_HEADER, TINY_SESSIONS


def typed_sessions(csv: Path) -> pl.DataFrame:
    """A session CSV as a Parquet export stores it: timestamps, integers and floats typed, the rest text."""
    return pl.read_csv(csv, infer_schema=False).with_columns(
        pl.col("timestamp").str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT),
        pl.col("page_views").cast(pl.Int64),
        pl.col("session_duration").cast(pl.Float64),
    )


def typed_users(csv: Path) -> pl.DataFrame:
    users = pl.read_csv(csv, separator=";", infer_schema=False)
    key = "marketing_target" if "marketing_target" in users.columns else "test_id"
    return users.with_columns(pl.col("age", key).cast(pl.Int64), pl.col("abandoned_cart").str.to_lowercase() == "true")


def write_parts(frame: pl.DataFrame, folder: Path, cuts: list[int], suffix: str = "parquet") -> Path:
    """``frame`` cut at rows ``cuts`` into numbered Parquet (or CSV) parts under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, frame.height]
    for number, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        piece = frame.slice(start, end - start)
        if suffix == "parquet":
            piece.write_parquet(folder / f"part-{number}.parquet")
        else:
            piece.write_csv(folder / f"part-{number}.csv")
    return folder


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 users per split, about 3,000 sessions, with users without sessions and unseen values."""
    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(users=300, seed=11), progress=False)
    return root


@pytest.fixture
def parquet_train(synthetic: Path, tmp_path: Path) -> Path:
    """The synthetic train split as user_train.parquet and a folder session_train/ of three Parquet parts."""
    folder = tmp_path / "train"
    write_parts(typed_sessions(synthetic / "train" / config.SESSIONS_TRAIN_FILE), folder / "session_train", [900, 2000])
    typed_users(synthetic / "train" / config.USERS_TRAIN_FILE).write_parquet(folder / "user_train.parquet")
    return folder


def test_formats_and_engines_give_one_table(synthetic: Path, parquet_train: Path, tmp_path: Path) -> None:
    train = synthetic / "train"
    whole = build_features(load_split(train, "train", engine="chunked"))
    csv = pl.read_csv(train / config.SESSIONS_TRAIN_FILE, infer_schema=False)
    csv_parts = write_parts(csv, tmp_path / "csv-parts", [1000, 1001, 2500], suffix="csv")
    sources = {
        "one CSV": (train, None),
        "CSV parts": (train, csv_parts),
        "Parquet parts": (train, parquet_train / "session_train"),
        "Parquet glob": (train, parquet_train / "session_train" / "part-*.parquet"),
        "Parquet split folder": (parquet_train, None),
    }
    for name, (directory, sessions) in sources.items():
        for engine in ("memory", "chunked"):
            split = load_split(directory, "train", sessions=sessions, engine=engine)
            assert split.engine.engine == engine, name
            table = build_features(split)
            pd.testing.assert_frame_equal(table, whole, check_exact=False, rtol=1e-12, obj=f"{name}, {engine}")


def test_split_folder_layouts(synthetic: Path, parquet_train: Path) -> None:
    """Sessions as session_train.parquet (one file) read like the folder of parts; two layouts at once fail."""
    whole = build_features(load_split(parquet_train, "train"))
    typed_sessions(synthetic / "train" / config.SESSIONS_TRAIN_FILE).write_parquet(
        parquet_train / "session_train.parquet"
    )
    message = error_of(load_split, parquet_train, "train")
    assert "session_train.parquet and session_train" in message and "keep one" in message
    shutil.rmtree(parquet_train / "session_train")
    pd.testing.assert_frame_equal(build_features(load_split(parquet_train, "train")), whole, rtol=1e-12)
    shutil.copy(synthetic / "train" / config.USERS_TRAIN_FILE, parquet_train)
    assert "user_train.csv and user_train.parquet" in error_of(load_split, parquet_train, "train")


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(DataError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def one_part(parquet_train: Path, change: pl.Expr | None = None, drop: str | None = None) -> str:
    """The error of the split once part-1's sessions have ``change`` applied or ``drop`` removed."""
    part = parquet_train / "session_train" / "part-1.parquet"
    frame = pl.read_parquet(part)
    frame = frame.with_columns(change) if change is not None else frame.drop(drop)
    frame.write_parquet(part)
    return error_of(load_split, parquet_train, "train")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (pl.col("session_duration").cast(pl.String), "column 'session_duration': is String in this Parquet file"),
        (pl.col("timestamp").cast(pl.Int64), "column 'timestamp': is Int64"),
        (
            pl.when(pl.int_range(pl.len()) == 4).then(-1).otherwise(pl.col("page_views")).alias("page_views"),
            "column 'page_views': value -1 in row 5 is below the minimum 0 (1 bad value(s)",
        ),
        (
            pl.when(pl.int_range(pl.len()) == 0)
            .then(float("inf"))
            .otherwise(pl.col("session_duration"))
            .alias("session_duration"),
            "column 'session_duration': value inf in row 1 is not a finite number",
        ),
        (
            pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("country")).alias("country"),
            "column 'country': no value in row 3 (it may not be empty)",
        ),
        (
            pl.col("timestamp").dt.strftime(TIMESTAMP_FORMAT).str.replace(r"^.*$", "yesterday", literal=False),
            "column 'timestamp': value 'yesterday' in row 1 is not a date-time like %Y-%m-%d %H:%M:%S",
        ),
        (
            pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("zz")).otherwise(pl.col("user_id")).alias("user_id"),
            "column 'user_id': 1 session(s) belong to users not in user_train.parquet, first 'zz' in row 8",
        ),
    ],
    ids=["string-duration", "integer-timestamp", "negative-pages", "infinite-duration", "empty", "text-time", "orphan"],
)
def test_bad_parquet_part_names_the_part(parquet_train: Path, change: pl.Expr, expected: str) -> None:
    message = one_part(parquet_train, change)
    assert "session_train/part-1.parquet" in message and expected in message


@pytest.mark.parametrize(
    "stored",
    [
        pl.col("timestamp").dt.strftime(TIMESTAMP_FORMAT),
        pl.col("timestamp").dt.replace_time_zone("Asia/Tokyo"),
        pl.col("timestamp").cast(pl.Datetime("ms")),
    ],
    ids=["text", "time-zone", "milliseconds"],
)
def test_parquet_timestamps_stored_otherwise(parquet_train: Path, stored: pl.Expr) -> None:
    """Text in the declared format, a zoned timestamp (its wall-clock time) or another unit read alike."""
    whole = build_features(load_split(parquet_train, "train"))
    for part in (parquet_train / "session_train").iterdir():
        pl.read_parquet(part).with_columns(stored).write_parquet(part)
    pd.testing.assert_frame_equal(build_features(load_split(parquet_train, "train")), whole, rtol=1e-12)
    part = parquet_train / "session_train" / "part-0.parquet"
    assert len(load_sessions(part)) == pl.read_parquet(part).height == 900


def test_missing_column_and_unreadable_parts(synthetic: Path, parquet_train: Path) -> None:
    message = one_part(parquet_train, drop="page_views")
    assert "part-1.parquet" in message and "missing column 'page_views'" in message
    (parquet_train / "session_train" / "part-1.parquet").write_bytes(b"user_id,session_id\n")
    message = error_of(load_split, parquet_train, "train")
    assert "part-1.parquet" in message and "not a readable Parquet file" in message
    shutil.rmtree(parquet_train / "session_train")
    sessions = typed_sessions(synthetic / "train" / config.SESSIONS_TRAIN_FILE)
    parts = write_parts(sessions, parquet_train / "session_train", [1000])
    damaged = bytearray((parts / "part-1.parquet").read_bytes())
    damaged[100:3000] = b"U" * 2900  # the data pages, not the footer: the file opens, its values do not
    (parts / "part-1.parquet").write_bytes(bytes(damaged))
    message = error_of(load_split, parquet_train, "train")
    assert "part-1.parquet: cannot be read as Parquet" in message


def test_mixed_and_empty_folders(parquet_train: Path) -> None:
    parts = parquet_train / "session_train"
    (parts / "part-9.csv").write_text("\n".join([SESSION_HEADER, *TINY_SESSIONS]) + "\n")
    message = error_of(load_split, parquet_train, "train")
    assert "session_train" in message and "both CSV (1) and Parquet (3)" in message
    assert "both CSV and Parquet" in error_of(session_parts, parts / "part-*")
    for part in parts.iterdir():
        part.unlink()
    assert "no session files (*.csv or *.parquet)" in error_of(load_split, parquet_train, "train")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (pl.col("age").cast(pl.String), "column 'age': is String"),
        (pl.when(pl.col("age") > 0).then(200).otherwise(pl.col("age")).alias("age"), "above the maximum 150"),
        (pl.lit(4).alias("marketing_target"), "column 'marketing_target': value 4 in row 1 is not one of: 1, 2, 3"),
        (pl.lit("u1").alias("user_id"), "duplicate user_id 'u1' in rows 1, 2, 3, 4"),
    ],
    ids=["string-age", "old", "class-4", "duplicate"],
)
def test_bad_parquet_users(parquet_train: Path, change: pl.Expr, expected: str) -> None:
    path = parquet_train / "user_train.parquet"
    pl.read_parquet(path).with_columns(change).write_parquet(path)
    message = error_of(load_users, path, "train")
    assert "user_train.parquet" in message and expected in message


def test_auto_engine_choice(parquet_train: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = session_parts(parquet_train / "session_train")
    assert choose_engine(parts, "chunked").engine == "chunked"
    assert choose_engine(parts).engine == "memory"
    monkeypatch.setitem(engines.MEMORY_PER_DISK_BYTE, "parquet", 1e9)
    choice = choose_engine(parts)
    assert choice.engine == "chunked" and "MB available" in choice.reason
    monkeypatch.setitem(engines.IN_MEMORY_FASTER_UP_TO, "parquet", 1000)
    choice = choose_engine(parts)
    assert choice.engine == "chunked" and "streaming is faster" in choice.reason
    monkeypatch.setitem(engines.CHUNKED_MEMORY_PER_DISK_BYTE, "parquet", 1e9)
    choice = choose_engine(parts)
    assert choice.engine == "dask" and "local cluster" in choice.reason and "streamed" in choice.reason


def test_predict_from_parquet_equals_csv(reference_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    """The reference test split as user_test.parquet + session_test/ of Parquet parts: the same predictions file."""
    train, test = reference_dirs
    model = tmp_path / "model.joblib"
    pipeline.train(train, config.CLICKSTREAM_PARAMS_FILE, model)
    folder = tmp_path / "parquet-test"
    write_parts(typed_sessions(test / config.SESSIONS_TEST_FILE), folder / "session_test", [500, 1700])
    typed_users(test / config.USERS_TEST_FILE).write_parquet(folder / "user_test.parquet")
    written = {}
    for name, directory in (("csv", test), ("parquet", folder)):
        output = tmp_path / f"{name}.json"
        args = ["predict", "--use-saved", "--model", str(model), "--test-dir", str(directory), "--output", str(output)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        written[name] = output.read_bytes()
    assert written["parquet"] == written["csv"] and b'"target"' in written["csv"]
