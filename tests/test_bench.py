"""Synthetic data, the fast and chunked ClickStream paths, and the benchmark's engines agreeing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adpipe import bench, config
from adpipe.errors import DataError
from features import schema
from features.clickstream import (
    FEATURE_COLUMNS,
    SESSION_COLUMNS_USED,
    SESSIONS_SCHEMA,
    USERS_TRAIN_SCHEMA,
    build_features,
    build_features_chunked,
    load_split,
    session_features,
)
from features.synth import END, START, SynthConfig, generate


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 users per split, about 4,000 sessions each, written once for the module."""
    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(users=400, seed=7), progress=False)
    return root


def test_generated_files_have_the_challenge_layout_and_load(synthetic: Path) -> None:
    for split in ("train", "test"):
        users_file, sessions_file = (
            (config.USERS_TRAIN_FILE, config.SESSIONS_TRAIN_FILE)
            if split == "train"
            else (config.USERS_TEST_FILE, config.SESSIONS_TEST_FILE)
        )
        reference = config.SHARED_DATA_DIR / "clickstream" / split
        for name in (users_file, sessions_file):
            ours_header = (synthetic / split / name).read_text().splitlines()[0]
            assert ours_header == (reference / name).read_text().splitlines()[0]
        loaded = load_split(synthetic / split, split)
        sessions = loaded.sessions
        assert len(loaded.users) == 400 and 3000 < len(sessions) < 5000
        assert loaded.users["age"].between(18, 70).all()
        assert sessions["page_views"].between(3, 10).all()
        assert sessions["session_duration"].between(20, 300).all()
        assert sessions["timestamp"].between(pd.Timestamp(START), pd.Timestamp(END)).all()
        table = build_features(loaded)
        assert (table["n_sessions"] == 0).sum() > 0  # users without sessions
        assert table[["device_other_count", "browser_other_count", "os_other_count"]].to_numpy().sum() > 0


def test_generator_is_seeded(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for directory, seed in ((first, 1), (second, 1), (other, 2)):
        generate(directory, SynthConfig(users=30, seed=seed), ("test",), progress=False)
    name = f"test/{config.SESSIONS_TEST_FILE}"
    assert (first / name).read_bytes() == (second / name).read_bytes()
    assert (first / name).read_bytes() != (other / name).read_bytes()


def test_chunked_path_equals_in_memory(synthetic: Path) -> None:
    in_memory = build_features(load_split(synthetic / "train", "train"))
    # ~300-row blocks and ~13 spill files: many users' sessions straddle block boundaries.
    chunked = build_features_chunked(synthetic / "train", "train", chunk_rows=300)
    pd.testing.assert_frame_equal(chunked, in_memory, check_exact=False, rtol=1e-12, atol=1e-12)


def test_sessions_in_any_order_give_the_same_features(synthetic: Path, tmp_path: Path) -> None:
    """Shuffled rows take the general (not grouped-by-user) path: same table up to float rounding."""
    directory = tmp_path / "test"
    directory.mkdir()
    (directory / config.USERS_TEST_FILE).write_bytes((synthetic / "test" / config.USERS_TEST_FILE).read_bytes())
    lines = (synthetic / "test" / config.SESSIONS_TEST_FILE).read_text().splitlines()
    order = np.random.default_rng(0).permutation(len(lines) - 1) + 1
    (directory / config.SESSIONS_TEST_FILE).write_text("\n".join([lines[0], *(lines[i] for i in order)]) + "\n")
    grouped = build_features(load_split(synthetic / "test", "test"))
    shuffled = build_features(load_split(directory, "test"))
    chunked = build_features_chunked(directory, "test", chunk_rows=500)
    pd.testing.assert_frame_equal(shuffled, grouped, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(chunked, grouped, check_exact=False, rtol=1e-9)


def test_chunked_path_names_the_line_of_an_orphan_session(synthetic: Path, tmp_path: Path) -> None:
    directory = tmp_path / "train"
    directory.mkdir()
    (directory / config.USERS_TRAIN_FILE).write_bytes((synthetic / "train" / config.USERS_TRAIN_FILE).read_bytes())
    lines = (synthetic / "train" / config.SESSIONS_TRAIN_FILE).read_text().splitlines()
    lines[2000] = "nobody" + lines[2000][lines[2000].index(",") :]
    (directory / config.SESSIONS_TRAIN_FILE).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as caught:
        build_features_chunked(directory, "train", chunk_rows=300)
    message = str(caught.value)
    assert "session_train.csv" in message and "'nobody'" in message and "line 2001" in message


def test_fast_reader_equals_careful_reader(synthetic: Path, tmp_path: Path) -> None:
    def careful(path: Path, table_schema: schema.TableSchema, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
        _, rename, wanted = schema._wanted_columns(path, table_schema, columns)
        return next(schema._read_text(path, table_schema, rename, wanted))

    sessions = synthetic / "test" / config.SESSIONS_TEST_FILE
    fast = schema.read_table(sessions, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED)
    pd.testing.assert_frame_equal(fast, careful(sessions, SESSIONS_SCHEMA, SESSION_COLUMNS_USED))
    blocks = list(schema.iter_table(sessions, SESSIONS_SCHEMA, columns=SESSION_COLUMNS_USED, block_bytes=1 << 16))
    assert len(blocks) > 3
    categorical = {c.name: "str" for c in SESSIONS_SCHEMA.columns if c.kind == "category"}
    pd.testing.assert_frame_equal(pd.concat(blocks).astype(categorical), fast.astype(categorical))
    # Values the fast reader must hand to the careful one: stray spaces, a non-breaking space, "5.0".
    users = tmp_path / "user_train.csv"
    users.write_text(
        "user_id;age;abandoned_cart;user_category;marketing_target\n"
        " a;30.0;true;new_user;1\nb\u00a0;31;FALSE; recurring_user ;2\n"
    )
    pd.testing.assert_frame_equal(schema.read_table(users, USERS_TRAIN_SCHEMA), careful(users, USERS_TRAIN_SCHEMA))


def test_ip_addresses_that_are_not_dotted_digits_are_counted_too() -> None:
    sessions = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b"],
            "timestamp": pd.to_datetime(["2023-01-02 10:00:00"] * 4),
            "device_type": ["mobile"] * 4,
            "browser": ["Chrome"] * 4,
            "operating_system": ["iOS"] * 4,
            "ip_address": ["2001:db8::1", "2001:db8::1", "10.0.0.1", "2001:db8::2"],
            "country": ["France"] * 4,
            "page_views": [3, 4, 5, 6],
            "session_duration": [10.0, 20.0, 30.0, 40.0],
        }
    )
    table = session_features(sessions, pd.Series(["a", "b"]))
    assert list(table["n_ips"]) == [2, 1]


def test_bench_engines_compute_the_same_table(synthetic: Path) -> None:
    tables = {name: runner(synthetic / "test") for name, runner in bench.RUNNERS.items()}
    expected = tables["ours"]
    assert list(expected.columns) == list(FEATURE_COLUMNS) and len(expected) == 400
    for name, table in tables.items():
        assert list(table.index) == list(expected.index), name
        np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


def test_bench_smoke_writes_its_report(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = bench.run_benchmark((2000,), ("ours",), 1, tmp_path / "data", report, echo=lambda _: None)
    entry = result["sizes"][0]
    assert report.exists() and result["cores"] >= 1
    assert entry["sessions"] > 1000 and entry["ours"]["wall_s"] > 0 and entry["ours"]["peak_rss_mb"] > 50
    assert entry["predict"]["users"] == bench.users_for(2000) and entry["predict"]["predict_s"] > 0
    assert result["targets"]["wall_vs_duckdb_at_most_2x"]["met"] is None  # DuckDB was not run
    assert not (tmp_path / "data").exists()  # generated data deleted
