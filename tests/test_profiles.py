"""The profiles loader and its encoders: CRLF and the quoted interest list, interest parsing, band ranks, one-hot
columns, and the value rules (every number one a profile can have)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

from adpipe.errors import DataError
from features.profiles import (
    ORDINAL_BANDS,
    FeatureSpec,
    InterestIndicators,
    load_profiles,
    make_preprocessor,
    parse_interests,
)

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


def test_interest_indicators_follow_scikit_learns_conventions() -> None:
    assert InterestIndicators.__mro__.index(BaseEstimator) > 1  # the mixin comes first
    encoder = InterestIndicators()
    assert clone(encoder).get_params() == encoder.get_params() == {}
    fitted = encoder.fit(pd.DataFrame({"t": ["Gaming"]}))
    assert not hasattr(clone(fitted), "vocabulary_")  # a clone is unfitted


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


# --- value rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("Likes and Reactions", "inf", "value 'inf' is not a finite number"),
        ("Ad Interaction Time (sec)", "-inf", "value '-inf' is not a finite number"),
        ("Followed Accounts", "-3", "value -3.0 is negative"),
        ("Likes and Reactions", "12.5", "value 12.5 is not a whole count"),
        ("Ad Interaction Time (sec)", "-1", "value -1.0 is negative"),
        ("Time Spent Online (hrs/weekday)", "24.5", "value 24.5 is more than 24 hours"),
        ("Time Spent Online (hrs/weekend)", "49", "value 49.0 is more than 48 hours"),
        ("Time Spent Online (hrs/weekend)", "-0.5", "value -0.5 is negative"),
        ("Click-Through Rates (CTR)", "1.5", "value 1.5 is a rate outside [0, 1]"),
        ("Conversion Rates", "-0.01", "value -0.01 is negative"),
        ("Conversion Rates", "1e400", "value '1e400' is not a finite number"),
    ],
)
def test_loader_refuses_impossible_numbers_naming_file_column_and_line(
    tmp_path: Path, column: str, value: str, problem: str
) -> None:
    frame = synthetic_profiles(6, seed=3).astype({column: object})
    frame.loc[3, column] = value
    path = write_profiles(tmp_path / "p.csv", frame)
    with pytest.raises(DataError) as caught:
        load_profiles(path)
    assert str(caught.value) == f"{path}, column '{column}', line 5: {problem} (1 bad value(s) in this column)"


def test_loader_accepts_the_edges_of_each_range_and_empty_cells(tmp_path: Path) -> None:
    frame = synthetic_profiles(4, seed=3).astype(object)
    frame.loc[0, ["Likes and Reactions", "Followed Accounts", "Ad Interaction Time (sec)"]] = 0
    frame.loc[1, ["Time Spent Online (hrs/weekday)", "Time Spent Online (hrs/weekend)"]] = [24, 48]
    frame.loc[2, ["Click-Through Rates (CTR)", "Conversion Rates"]] = [0.0, 1.0]
    frame.loc[3, ["Likes and Reactions", "Time Spent Online (hrs/weekday)"]] = ""  # missing: imputed later
    table = load_profiles(write_profiles(tmp_path / "p.csv", frame))
    assert table.loc[1, "Time Spent Online (hrs/weekend)"] == 48 and table.loc[2, "Conversion Rates"] == 1
    assert np.isnan(table.loc[3, "Likes and Reactions"])


def test_the_predict_loader_applies_the_same_rules_without_the_target(tmp_path: Path) -> None:
    frame = synthetic_profiles(5, seed=4).drop(columns=["Conversion Rates"]).astype({"Followed Accounts": object})
    assert len(load_profiles(write_profiles(tmp_path / "ok.csv", frame), target_required=False)) == 5
    frame.loc[0, "Followed Accounts"] = "-1"
    with pytest.raises(DataError, match=r"column 'Followed Accounts', line 2: value -1.0 is negative"):
        load_profiles(write_profiles(tmp_path / "bad.csv", frame), target_required=False)
