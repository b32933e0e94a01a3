"""Synthetic data and the benchmark's report (the engines' equality is in test_feature_engines.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from adpipe import config
from adpipe.bench import run as bench_run
from adpipe.bench.targets import summary_rows
from adpipe.clickstream.engines import build_features, load_split
from features.clickstream_loaders import load_sessions
from features.synth import END, START, SynthConfig, generate


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
        sessions = load_sessions(synthetic / split / sessions_file)
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


def test_bench_smoke_writes_its_report(tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    result = bench_run.run_benchmark((2000,), ("memory",), 1, tmp_path / "data", report, echo=lambda _: None)
    entry = result["sizes"][0]
    assert report.exists() and result["cores"] >= 1
    assert entry["sessions"] > 1000 and entry["memory"]["wall_s"] > 0 and entry["memory"]["peak_rss_mb"] > 50
    memory = entry["memory"]
    assert 0 < memory["kernel_cpu_s"] < memory["cpu_s"] and memory["page_faults_gb"] > 0
    assert entry["predict"]["users"] == bench_run.users_for(2000) and entry["predict"]["predict_s"] > 0
    assert result["targets"]["wall_vs_duckdb_at_most_2x"]["met"] is None  # DuckDB was not run
    assert not (tmp_path / "data").exists()  # generated data deleted


def test_bench_dask_and_parquet_rows_and_sample_check(tmp_path: Path) -> None:
    result = bench_run.run_benchmark(
        (2000,), ("chunked", "dask-parquet"), 1, tmp_path / "data", None, echo=lambda _: None
    )
    entry = result["sizes"][0]
    assert entry["dask-parquet"]["workers"] == os.cpu_count() and entry["dask-parquet"]["worker_peak_rss_mb"] > 50
    assert 50 < entry["dask-parquet"]["peak_anonymous_mb"] <= entry["dask-parquet"]["peak_rss_mb"]
    assert entry["parquet_mb"] > 0 and entry["chunked"]["wall_s"] > 0
    assert entry["sample_check"]["chunked"]["same"] and entry["sample_check"]["users"] == bench_run.users_for(2000)


def test_bench_ratios_read_from_the_parse_floor_and_duckdb_of_the_same_run(tmp_path: Path) -> None:
    engines = ("memory", "duckdb", "read-csv")
    result = bench_run.run_benchmark((2000,), engines, 1, tmp_path / "data", None, echo=lambda _: None)
    entry = result["sizes"][0]
    assert entry["auto"]["csv"]["engine"] == "memory" and "memory engine" in entry["auto"]["csv"]["reason"]
    memory, floor, duckdb = entry["memory"], entry["read-csv"], entry["duckdb"]
    assert memory["vs_read"] == pytest.approx(memory["wall_s"] / floor["wall_s"])
    assert memory["vs_duckdb"] == pytest.approx(memory["wall_s"] / duckdb["wall_s"])
    assert floor["users"] == entry["sessions"]  # the floor reads the sessions, it builds no table
    targets = result["targets"]
    assert targets["auto_engine"] == {"csv": "memory", "parquet": None}
    assert targets["auto_csv_vs_read_csv_at_most_2.5x"]["value"] == pytest.approx(memory["vs_read"], abs=1e-3)
    assert targets["auto_csv_engine_parquet_vs_csv_throughput_at_least_2x"]["met"] is None  # no Parquet run
    header, rows = summary_rows(result, bench_run.ENGINES)
    assert [row[1] for row in rows[:3]] == ["memory *", "duckdb", "read-csv"] and "÷ read" in header
    cpu = rows[0][header.index("cpu s (kernel)")]
    assert cpu == f"{memory['cpu_s']:.1f} ({memory['kernel_cpu_s']:.1f})"


def test_profile_stages_end_in_the_feature_table_the_engines_build(synthetic: Path) -> None:
    from adpipe.bench.profile import profile, stages

    for engine in ("memory", "chunked"):
        built = stages(synthetic / "test", engine)
        assert list(built)[0].startswith("read") and list(built)[-1] == "+ pandas feature table"
        expected = build_features(load_split(synthetic / "test", "test", engine=engine)).drop(columns="test_id")
        pd.testing.assert_frame_equal(built["+ pandas feature table"](), expected)
    rows = profile(synthetic / "test", "memory", repeats=1)
    assert len(rows) == 7 and sum(row["own_s"] for row in rows) == pytest.approx(rows[-1]["cumulative_s"])


@pytest.mark.parametrize(("environment", "expected"), [({}, "False"), ({"NUMPY_MADVISE_HUGEPAGE": "1"}, "True")])
def test_numpy_huge_pages_are_off_unless_the_environment_asks(environment: dict[str, str], expected: str) -> None:
    """adpipe turns numpy's transparent huge pages off before numpy loads (docs/bench.md: on this project's VM a
    large array's first touch compacted memory for seconds); a value already in the environment wins."""
    code = "import adpipe, numpy._core.multiarray as m; print(m._get_madvise_hugepage())"
    env = {key: value for key, value in os.environ.items() if key != "NUMPY_MADVISE_HUGEPAGE"} | environment
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=config.PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == expected
