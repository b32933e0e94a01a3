"""Engine equality: the declared features computed by Polars equal two independent implementations.

The oracles are adpipe/bench/engines.py's DuckDB SQL and plain pandas (the notebooks' approach),
written without features.clickstream's definitions; hand-computed values are in
test_clickstream_features.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adpipe import config
from adpipe.bench import engines as bench_engines
from adpipe.bench import measure as bench_measure
from adpipe.bench import scale as bench_scale
from adpipe.clickstream.engines import build_features, load_split
from features.clickstream import FEATURE_COLUMNS
from features.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 users per split, about 4,000 sessions each, with users without sessions and unseen values."""
    root = tmp_path_factory.mktemp("synth")
    generate(root, SynthConfig(users=400, seed=7), progress=False)
    return root


def assert_same_table(table: pd.DataFrame, expected: pd.DataFrame, name: str) -> None:
    assert list(table.index) == list(expected.index), name
    assert list(table.columns) == list(expected.columns) == list(FEATURE_COLUMNS), name
    np.testing.assert_allclose(table.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=name)


def test_bench_engines_compute_the_same_table(synthetic: Path) -> None:
    tables = {name: runner(synthetic / "test") for name, runner in bench_measure.independent_runners().items()}
    tables["ours"] = bench_scale.ours("memory", synthetic / "test", None)
    assert len(tables["ours"]) == 400 and (tables["ours"]["n_sessions"] == 0).any()
    for name, table in tables.items():
        assert_same_table(table, tables["ours"], name)


@pytest.mark.parametrize("split", ["train", "test"])
def test_reference_data_equals_duckdb_and_pandas(reference_dirs: tuple[Path, Path], split: str) -> None:
    directory = reference_dirs[0] if split == "train" else reference_dirs[1]
    key = "marketing_target" if split == "train" else "test_id"
    ours = build_features(load_split(directory, split)).drop(columns=key)
    assert_same_table(bench_engines.reference_duckdb(directory, split), ours, "duckdb")
    assert_same_table(bench_engines.baseline_pandas(directory, split), ours, "pandas")


def test_sessions_in_any_order_give_the_same_features(synthetic: Path, tmp_path: Path) -> None:
    directory = tmp_path / "test"
    directory.mkdir()
    (directory / config.USERS_TEST_FILE).write_bytes((synthetic / "test" / config.USERS_TEST_FILE).read_bytes())
    lines = (synthetic / "test" / config.SESSIONS_TEST_FILE).read_text().splitlines()
    order = np.random.default_rng(0).permutation(len(lines) - 1) + 1
    (directory / config.SESSIONS_TEST_FILE).write_text("\n".join([lines[0], *(lines[i] for i in order)]) + "\n")
    grouped = build_features(load_split(synthetic / "test", "test"))
    pd.testing.assert_frame_equal(build_features(load_split(directory, "test")), grouped, check_exact=False, rtol=1e-9)


def test_session_parts_equal_one_file(synthetic: Path, tmp_path: Path) -> None:
    """A folder of CSV parts (users split across parts at random lines) gives the one file's table."""
    lines = (synthetic / "train" / config.SESSIONS_TRAIN_FILE).read_text().splitlines()
    cuts = [1, 700, 1500, 1501, 3000, len(lines)]
    for number, (start, end) in enumerate(zip(cuts, cuts[1:], strict=False)):
        (tmp_path / f"part-{number}.csv").write_text("\n".join([lines[0], *lines[start:end]]) + "\n")
    whole = build_features(load_split(synthetic / "train", "train"))
    parts = build_features(load_split(synthetic / "train", "train", sessions=tmp_path))
    pd.testing.assert_frame_equal(parts, whole, check_exact=False, rtol=1e-12)
