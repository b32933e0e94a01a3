"""Segmentation: interest parsing, encoders, k selection on planted clusters, the structure verdict, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from adpipe.io import load_model
from adpipe.segments import SPECS, SegmentData, Source, describe, fit_segments, load_source
from features.clickstream import FEATURE_COLUMNS, TARGET
from features.profiles import (
    ORDINAL_BANDS,
    FeatureSpec,
    InterestIndicators,
    load_profiles,
    make_preprocessor,
    parse_interests,
)
from model import app
from tests.conftest import write_split

INTERESTS = ("Gaming", "DIY Crafts", "Data Science", "Pet Care", "Photography")


def synthetic_profiles(n: int, seed: int, conversion: np.ndarray | None = None) -> pd.DataFrame:
    """A user_profiles_for_ads.csv look-alike: independent random columns, or a given conversion rate."""
    rng = np.random.default_rng(seed)
    interests = [", ".join(rng.choice(INTERESTS, size=rng.integers(1, 4), replace=False)) for _ in range(n)]
    return pd.DataFrame(
        {
            "User ID": np.arange(1, n + 1),
            "Age": rng.choice(ORDINAL_BANDS["Age"], n),
            "Gender": rng.choice(["Female", "Male"], n),
            "Location": rng.choice(["Urban", "Suburban", "Rural"], n),
            "Language": rng.choice(["English", "Hindi", "Spanish"], n),
            "Education Level": rng.choice(["High School", "Bachelor", "Technical", "PhD"], n),
            "Likes and Reactions": rng.integers(100, 10_000, n),
            "Followed Accounts": rng.integers(10, 500, n),
            "Device Usage": rng.choice(["Mobile Only", "Desktop Only", "Tablet"], n),
            "Time Spent Online (hrs/weekday)": rng.uniform(0.5, 5, n).round(1),
            "Time Spent Online (hrs/weekend)": rng.uniform(1, 8, n).round(1),
            "Click-Through Rates (CTR)": rng.uniform(0.01, 0.25, n).round(3),
            "Conversion Rates": rng.uniform(0.01, 0.1, n).round(3) if conversion is None else conversion,
            "Ad Interaction Time (sec)": rng.integers(5, 180, n),
            "Income Level": rng.choice(ORDINAL_BANDS["Income Level"], n),
            "Top Interests": interests,
        }
    )


def write_profiles(path: Path, frame: pd.DataFrame) -> Path:
    """Written like the real file: CRLF line ends, the interest list quoted when it holds a comma."""
    frame.to_csv(path, index=False, lineterminator="\r\n")
    return path


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


# --- parsing and encoders -------------------------------------------------------------------------


def test_parse_interests_splits_strips_and_drops_repeats() -> None:
    assert parse_interests("Gaming, DIY Crafts") == ["Gaming", "DIY Crafts"]
    assert parse_interests(" Gaming ,Gaming,, Pet Care ,") == ["Gaming", "Pet Care"]
    assert parse_interests("Data Science") == ["Data Science"]
    assert parse_interests(np.nan) == []
    assert parse_interests("") == []


def test_interest_indicators_learn_their_vocabulary_when_fitted() -> None:
    encoder = InterestIndicators().fit(pd.DataFrame({"t": ["Gaming, Pet Care", "Photography"]}))
    assert list(encoder.get_feature_names_out()) == ["interest=Gaming", "interest=Pet Care", "interest=Photography"]
    out = encoder.transform(pd.DataFrame({"t": ["Pet Care, Knitting", np.nan, "Gaming, Photography"]}))
    np.testing.assert_array_equal(out, [[0, 1, 0], [0, 0, 0], [1, 0, 1]])  # Knitting was unseen: ignored


def test_loader_reads_crlf_and_the_quoted_interest_list(tmp_path: Path) -> None:
    frame = synthetic_profiles(5, seed=1)
    frame.loc[0, "Top Interests"] = "Gaming, DIY Crafts, Pet Care"
    path = write_profiles(tmp_path / "p.csv", frame)
    assert b"\r\n1," in path.read_bytes() and b'"Gaming, DIY Crafts, Pet Care"' in path.read_bytes()
    table = load_profiles(path)
    assert len(table) == 5 and table["Likes and Reactions"].dtype == "float64"
    assert parse_interests(table.loc[0, "Top Interests"]) == ["Gaming", "DIY Crafts", "Pet Care"]


def test_encoders_order_bands_and_one_hot_nominal_columns() -> None:
    spec = FeatureSpec(ordinal={"Age": ORDINAL_BANDS["Age"]}, nominal=("Device Usage",), interests="Top Interests")
    frame = pd.DataFrame(
        {
            "Age": ["65+", "18-24", "35-44"],
            "Device Usage": ["Tablet", "Mobile Only", "Tablet"],
            "Top Interests": ["Gaming", "Gaming, Pet Care", np.nan],
        },
        dtype=object,
    )
    readable = make_preprocessor(spec, scale=False).fit(frame)
    out = pd.DataFrame(readable.transform(frame), columns=readable.get_feature_names_out())
    assert out["Age"].tolist() == [5, 0, 2]  # the band's rank, not alphabetical order
    assert out["Device Usage=Tablet"].tolist() == [1, 0, 1]
    assert out["interest=Pet Care"].tolist() == [0, 1, 0]
    scaled = make_preprocessor(spec).fit(frame).transform(frame)
    assert scaled[:, 0].mean() == pytest.approx(0) and scaled[:, 0].std() == pytest.approx(1)


# --- k selection and the structure verdict --------------------------------------------------------


def test_k_selection_recovers_planted_clusters() -> None:
    frame, truth = planted_clusters()
    fitted = fit_segments(segment_data(frame), range(2, 7), seed=3, n_bootstraps=5, n_shuffles=3, progress=False)
    report = fitted.report
    assert report["chosen_k"] == 3
    assert adjusted_rand_score(truth, fitted.labels) > 0.95
    assert report["structure"] == "clear"
    assert report["stability"]["adjusted_rand"]["mean"] > 0.9
    assert {"silhouette", "davies_bouldin", "calinski_harabasz", "shuffled_silhouette"} <= set(report["per_k"][0])


def test_independent_noise_has_no_structure() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.uniform(size=(200, 4)), columns=list("abcd"))
    report = fit_segments(segment_data(frame), range(2, 6), seed=3, n_bootstraps=5, n_shuffles=5, progress=False).report
    assert report["structure"] == "none"
    assert report["gap"] <= report["margin"]


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
    report = json.loads((tmp_path / "segments.json").read_text())
    assert [row["k"] for row in report["per_k"]] == [2, 3, 4]
    assert report["structure"] in {"clear", "weak", "none"} and "shuffled" in report["rule"]
    assert "mean Conversion Rates" in report["segments"][0]
    assert "Click-Through Rates (CTR)" not in report["features"]  # reported per segment, never clustered

    new_users = synthetic_profiles(10, seed=9).drop(columns=["Conversion Rates"])
    out = tmp_path / "assigned.csv"
    model = str(tmp_path / "segments.joblib")
    args = ["segment", "assign", "--input", str(write_profiles(tmp_path / "new.csv", new_users)), "--output", str(out)]
    result = runner.invoke(app, [*args, "--model", model])
    assert result.exit_code == 0, result.output
    assigned = pd.read_csv(out)
    assert len(assigned) == 10 and set(assigned["segment"]) <= set(range(report["chosen_k"]))

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
    assert metadata["source"] == "clickstream" and metadata["k"] == 3 and len(metadata["descriptions"]) == 3


@pytest.mark.parametrize(
    ("edit", "extra", "message"),
    [
        (lambda f: f.rename(columns={"Age": "Age Band"}), (), "column 'Age'"),
        (lambda f: f.drop(columns=["Device Usage"]), (), "missing column 'Device Usage'"),
        (lambda f: f.astype({"Likes and Reactions": object}).assign(**{"Likes and Reactions": "many"}), (), "a number"),
        (lambda f: f.assign(Age="16-17"), (), "one of: 18-24"),
        (lambda f: f, ("--k", "40"), "k=40 is not smaller than the number of users (30)"),
        (lambda f: f, ("--k-range", "6-3"), "--k-range needs 2 <= low <= high"),
        (lambda f: f, ("--k", "1"), "--k must be at least 2"),
    ],
)
def test_cli_fit_refuses_bad_input_with_one_line(tmp_path: Path, edit, extra, message) -> None:
    data = write_profiles(tmp_path / "profiles.csv", edit(synthetic_profiles(30, seed=4)))
    result = runner.invoke(app, _fit_args(tmp_path, data, *extra))
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
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
