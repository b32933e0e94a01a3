"""Segmentation: k selection on planted clusters, the structure verdict, descriptions, the model's scikit-learn
conventions, the typed report, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone, is_clusterer
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from adpipe.io import load_model
from adpipe.reports import read_report, write_report
from adpipe.segments.defaults import Source
from adpipe.segments.evaluation import SegmentationProtocol, fit_segments
from adpipe.segments.models import make_segmenter
from adpipe.segments.profile import describe
from adpipe.segments.report import SegmentsModel, SegmentsReport
from adpipe.segments.source import SPECS, SegmentData, load_source
from features.clickstream import FEATURE_COLUMNS
from features.clickstream_loaders import TARGET
from features.profiles import FeatureSpec
from model import app
from tests.conftest import write_split
from tests.test_profiles import synthetic_profiles, write_profiles


def plain_params(estimator: BaseEstimator) -> object:
    """Deep parameters comparable with ``==``: a nested estimator (also inside a list of steps or transformers)
    stands for itself by class and parameters."""

    def plain(value: object) -> object:
        if isinstance(value, BaseEstimator):
            return type(value), plain(value.get_params(deep=False))
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    return plain(estimator.get_params(deep=True))


def planted_clusters(n_per_cluster: int = 50, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0], [6, 6, 0, 0], [0, 6, 6, 6]], dtype=float)
    truth = np.repeat(np.arange(len(centres)), n_per_cluster)
    points = centres[truth] + rng.normal(0, 1, (len(truth), centres.shape[1]))
    return pd.DataFrame(points, columns=[f"x{i}" for i in range(centres.shape[1])]), truth


def segment_data(frame: pd.DataFrame) -> SegmentData:
    """A numeric frame as users to segment."""
    spec = FeatureSpec(numeric=tuple(frame.columns))
    return SegmentData(frame, pd.DataFrame(index=frame.index), pd.Series(frame.index), spec, "synthetic")


# --- k selection and the structure verdict --------------------------------------------------------


def _fit(frame: pd.DataFrame, ks: range, n_bootstraps: int, n_shuffles: int):
    protocol = SegmentationProtocol(tuple(ks), seed=3, n_bootstraps=n_bootstraps, n_shuffles=n_shuffles)
    return fit_segments(segment_data(frame), protocol, progress=False)


def test_k_selection_recovers_planted_clusters() -> None:
    frame, truth = planted_clusters()
    fitted = _fit(frame, range(2, 7), n_bootstraps=5, n_shuffles=3)
    report = fitted.report
    assert report.chosen_k == 3 and [row.k for row in report.per_k] == [2, 3, 4, 5, 6]
    assert report.silhouette == max(row.silhouette for row in report.per_k)
    assert adjusted_rand_score(truth, fitted.labels) > 0.95
    assert report.structure == "clear"
    assert report.stability.adjusted_rand.mean > 0.9
    sizes = [row["size"] for row in report.segments]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == 150  # numbered by size, 0 the largest
    np.testing.assert_array_equal(fitted.relabel[fitted.model.predict(frame)], fitted.labels)


def test_independent_noise_has_no_structure() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.uniform(size=(200, 4)), columns=list("abcd"))
    report = _fit(frame, range(2, 6), n_bootstraps=5, n_shuffles=5).report
    assert report.structure == "none"
    assert report.gap <= report.margin


def test_the_report_round_trips_through_its_json_file(tmp_path: Path) -> None:
    frame, _ = planted_clusters(n_per_cluster=20)
    report = _fit(frame, range(2, 4), n_bootstraps=2, n_shuffles=2).report
    write_report(tmp_path / "segments.json", report)
    assert read_report(tmp_path / "segments.json", SegmentsReport) == report
    written = json.loads((tmp_path / "segments.json").read_text())
    assert list(written) == [
        "source", "n_users", "features", "seed", "n_init", "k_candidates", "per_k", "chosen_k", "chosen_by",
        "stability", "structure", "rule", "silhouette", "shuffled_silhouette", "gap", "margin", "adjusted_rand",
        "shuffles", "segments",
    ]  # fmt: skip
    assert list(written["segments"][0]) == ["segment", "size", "share", "description"]


def test_the_segmenter_follows_scikit_learns_conventions() -> None:
    model = make_segmenter(SPECS[Source.profiles], k=4, seed=7)
    assert is_clusterer(model)
    twin = clone(model)
    assert twin is not model and type(twin) is type(model)
    assert plain_params(twin) == plain_params(model)
    rebuilt = type(model)(**model.get_params(deep=False))
    assert plain_params(rebuilt) == plain_params(model)
    assert model.get_params()["kmeans__n_clusters"] == 4 and model.get_params()["kmeans__random_state"] == 7


def test_descriptions_name_the_most_distinctive_features() -> None:
    spec = SPECS[Source.profiles]
    z = pd.Series({"Age": -1.2, "Device Usage=Mobile Only": 2.0, "interest=Gaming": 0.8, "Followed Accounts": 0.1})
    means = pd.Series({"Age": 1.0, "Device Usage=Mobile Only": 0.9, "interest=Gaming": 0.3, "Followed Accounts": 250})
    assert describe(z, means, spec) == "mostly Mobile Only, younger, more into Gaming"
    assert describe(z * 0.1, means, spec) == "close to the average user"


# --- the CLI --------------------------------------------------------------------------------------

runner = CliRunner()


def _fit_args(tmp_path: Path, data: Path, *extra: str) -> list[str]:
    return [
        "segment",
        "fit",
        "--input",
        str(data),
        "--bootstraps",
        "3",
        "--shuffles",
        "2",
        "--model",
        str(tmp_path / "segments.joblib"),
        "--report",
        str(tmp_path / "segments.json"),
        *extra,
    ]


def test_cli_fit_assign_profile_on_profiles(tmp_path: Path) -> None:
    data = write_profiles(tmp_path / "profiles.csv", synthetic_profiles(80, seed=2))
    result = runner.invoke(app, _fit_args(tmp_path, data, "--k-range", "2-4"))
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "segments.json", SegmentsReport)
    assert [row.k for row in report.per_k] == [2, 3, 4]
    assert report.structure in {"clear", "weak", "none"} and "shuffled" in report.rule
    assert report.outcome_columns == ["mean Click-Through Rates (CTR)", "mean Conversion Rates"]
    assert "Click-Through Rates (CTR)" not in report.features  # reported per segment, never clustered
    assert f"chosen k = {report.chosen_k}" in result.output and f"structure: {report.structure}" in result.output

    new_users = synthetic_profiles(10, seed=9).drop(columns=["Conversion Rates"])
    out = tmp_path / "assigned.csv"
    model = str(tmp_path / "segments.joblib")
    args = ["segment", "assign", "--input", str(write_profiles(tmp_path / "new.csv", new_users)), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", model])
    assert result.exit_code == 0, result.output
    assigned = pd.read_csv(out)
    assert len(assigned) == 10 and set(assigned["segment"]) <= set(range(report.chosen_k))

    profile = tmp_path / "profile.csv"
    args = ["segment", "profile", "--input", str(data), "--model", model, "--output", str(profile)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(profile)
    assert table["segment"].tolist()[0] == "all" and table["size"].iloc[1:].sum() == 80
    assert {"Age", "Age vs base (sd)", "Device Usage vs base (share)", "interest=Gaming"} <= set(table.columns)


def write_clickstream(folder: Path, n_users: int = 12, n_sessions: int = 60, seed: int = 0) -> Path:
    """A small random ClickStream train split, written with the shared fixture writer."""
    rng = np.random.default_rng(seed)
    categories = ("new_user", "recurring_user", "premium_subscriber")
    users = [
        f"u{i};{rng.integers(18, 70)};{rng.choice(['TRUE', 'FALSE'])};{rng.choice(categories)};{rng.integers(1, 4)}"
        for i in range(n_users)
    ]
    sessions = [
        f"u{rng.integers(n_users)},s{i},2024-01-{rng.integers(1, 29):02d} {rng.integers(0, 24):02d}:00:00,"
        f"{rng.choice(['desktop', 'mobile'])},{rng.choice(['Chrome', 'Safari'])},{rng.choice(['Windows', 'iOS'])},"
        f"10.0.0.{i % 7},{rng.choice(['France', 'Germany'])},,{rng.integers(1, 20)},{rng.uniform(10, 900):.1f}"
        for i in range(n_sessions)
    ]
    return write_split(folder, users, sessions)


def test_cli_fit_on_a_clickstream_folder_never_clusters_the_target(tmp_path: Path) -> None:
    folder = write_clickstream(tmp_path / "clicks")
    data = load_source(Source.clickstream, folder)
    assert list(data.features.columns) == list(FEATURE_COLUMNS) and TARGET not in data.features
    result = runner.invoke(app, _fit_args(tmp_path, folder, "--source", "clickstream", "--k", "3"))
    assert result.exit_code == 0, result.output
    _, metadata = load_model(tmp_path / "segments.joblib", task="segments")
    saved = SegmentsModel.model_validate(metadata)
    assert saved.source == "clickstream" and saved.k == 3 and sorted(saved.descriptions) == [0, 1, 2]
    assert sorted(saved.relabel) == [0, 1, 2] and saved.features == list(FEATURE_COLUMNS)


@pytest.mark.parametrize(
    ("edit", "extra", "message"),
    [
        (lambda f: f.rename(columns={"Age": "Age Band"}), (), "column 'Age'"),
        (lambda f: f.drop(columns=["Device Usage"]), (), "missing column 'Device Usage'"),
        (lambda f: f.astype({"Likes and Reactions": object}).assign(**{"Likes and Reactions": "many"}), (), "a number"),
        (lambda f: f.assign(Age="16-17"), (), "one of: 18-24"),
        (lambda f: f.assign(**{"Followed Accounts": -2}), (), "column 'Followed Accounts', line 2: value -2.0"),
        (lambda f: f, ("--k", "40"), "k=40 is not smaller than the number of users (30)"),
    ],
)
def test_cli_fit_refuses_bad_input_with_one_line(tmp_path: Path, edit, extra, message) -> None:
    data = write_profiles(tmp_path / "profiles.csv", edit(synthetic_profiles(30, seed=4)))
    result = runner.invoke(app, _fit_args(tmp_path, data, *extra))
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "segments.joblib").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--k-range", "6-3"), "--k-range: needs 2 <= low <= high"),
        (("--k-range", "2to5"), "--k-range: must look like 2-10"),
        (("--k", "3", "--k-range", "2-5"), "give --k or --k-range, not both"),
        (("--k", "1"), "'--k'"),
        (("--bootstraps", "0"), "'--bootstraps'"),
        (("--shuffles", "0"), "'--shuffles'"),
    ],
)
def test_cli_fit_refuses_bad_options_as_usage_errors(tmp_path: Path, extra, message) -> None:
    data = write_profiles(tmp_path / "profiles.csv", synthetic_profiles(30, seed=4))
    result = runner.invoke(app, _fit_args(tmp_path, data, *extra))
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "segments.joblib").exists()


def test_cli_refuses_an_empty_file_and_a_missing_model(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, _fit_args(tmp_path, empty))
    assert result.exit_code == 1 and "file is empty" in result.output
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(synthetic_profiles(1, seed=0).columns) + "\r\n")
    result = runner.invoke(app, _fit_args(tmp_path, header_only))
    assert result.exit_code == 1 and "no data rows" in result.output
    args = ["segment", "assign", "--input", str(empty), "--output", str(tmp_path / "o.csv")]
    result = runner.invoke(app, [*args, "--model", str(tmp_path / "none.joblib")])
    assert result.exit_code == 1 and "no saved model" in result.output
