"""The feature definitions, checked against values computed by hand on a two-user split, and their fixed names."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from adpipe import config
from adpipe.clickstream.engines import build_features, load_split
from adpipe.clickstream.feature_docs import features_markdown
from features.clickstream import FEATURE_COLUMNS, FEATURE_GROUPS, FEATURES
from tests.conftest import TINY_USERS, write_split

# The names tuning and params/clickstream.json refer to: they and the columns' order must not change.
GROUPS = (
    "age",
    "cart",
    "category",
    "volume",
    "depth",
    "duration_mean",
    "duration_spread",
    "devices",
    "browsers",
    "systems",
    "time",
    "geography",
)


@pytest.fixture
def table(tiny_train: Path) -> pd.DataFrame:
    return build_features(load_split(tiny_train, "train")).drop(columns="marketing_target")


def test_groups_and_columns_are_fixed() -> None:
    assert tuple(FEATURE_GROUPS) == GROUPS and len(FEATURE_COLUMNS) == 63
    assert FEATURE_COLUMNS[:8] == (
        "age",
        "abandoned_cart",
        *(f"user_category_{c}" for c in ("new_user", "premium_subscriber", "recurring_user")),
        "n_sessions",
        "page_views_sum",
        "session_duration_sum",
    )
    assert FEATURE_GROUPS["devices"][:4] == (
        "device_desktop_count",
        "device_desktop_share",
        "device_mobile_count",
        "device_mobile_share",
    )
    assert FEATURE_COLUMNS[-14:] == (*FEATURE_GROUPS["time"], "n_countries", "n_ips")
    assert [f.name for f in FEATURES if f.group == "duration_spread"][-1] == "seconds_per_page"


def test_one_row_per_user_in_file_order(table: pd.DataFrame) -> None:
    assert list(table.index) == ["a", "b"]
    assert list(table.columns) == list(FEATURE_COLUMNS)
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS) == sum(len(g) for g in FEATURE_GROUPS.values())


def test_session_aggregates_by_hand(table: pd.DataFrame) -> None:
    a = table.loc["a"]
    # sessions of 'a': (3 pages, 100 s, Mon 2023-01-02 10:00, mobile/Chrome/iOS)
    #                  (5 pages, 200 s, Sat 2023-01-07 22:00, desktop/Chrome/Windows)
    expected = {
        "n_sessions": 2,
        "page_views_sum": 8,
        "page_views_mean": 4,
        "page_views_std": math.sqrt(2),
        "page_views_min": 3,
        "page_views_max": 5,
        "page_views_median": 4,
        "session_duration_sum": 300,
        "session_duration_mean": 150,
        "session_duration_std": math.sqrt(5000),
        "session_duration_min": 100,
        "session_duration_max": 200,
        "session_duration_median": 150,
        "seconds_per_page": 37.5,
        "device_mobile_count": 1,
        "device_desktop_count": 1,
        "device_tablet_count": 0,
        "device_mobile_share": 0.5,
        "browser_Chrome_count": 2,
        "browser_Chrome_share": 1.0,
        "browser_Edge_share": 0.0,
        "os_iOS_count": 1,
        "os_Windows_share": 0.5,
        "os_other_count": 0,
        "hour_mean": 16,
        "hour_std": math.sqrt(72),
        "morning_share": 0.5,
        "evening_share": 0.5,
        "night_share": 0.0,
        "afternoon_share": 0.0,
        "weekday_mean": 2.5,
        "weekend_share": 0.5,
        "month_mean": 1,
        "n_months": 1,
        "span_days": 5.5,
        "sessions_per_active_day": 1.0,
        "n_countries": 1,
        "n_ips": 2,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name


def test_user_columns(table: pd.DataFrame) -> None:
    assert table.loc["a", "age"] == 30 and table.loc["a", "abandoned_cart"] == 1.0
    assert table.loc["a", "user_category_new_user"] == 1.0
    assert table.loc["b", "user_category_premium_subscriber"] == 1.0 and table.loc["b", "abandoned_cart"] == 0.0


def test_user_without_sessions_keeps_a_row(table: pd.DataFrame) -> None:
    b = table.loc["b"]
    assert b["n_sessions"] == 0 and b["page_views_sum"] == 0 and b["device_mobile_count"] == 0
    assert b["n_countries"] == 0 and b["n_ips"] == 0
    assert math.isnan(b["page_views_mean"]) and math.isnan(b["device_mobile_share"]) and math.isnan(b["span_days"])
    assert b["age"] == 61


def test_build_features_keeps_target_beside_features(tiny_train: Path) -> None:
    table = build_features(load_split(tiny_train, "train"))
    assert table.columns[0] == "marketing_target"
    assert list(table["marketing_target"]) == [2, 1]


def test_user_without_page_views_has_no_seconds_per_page(tmp_path: Path) -> None:
    sessions = ["a,s1,2023-01-02 10:00:00,mobile,Chrome,iOS,1.1.1.1,France,q,0,100"]
    row = build_features(load_split(write_split(tmp_path, TINY_USERS, sessions), "train")).loc["a"]
    assert row["page_views_sum"] == 0 and math.isnan(row["seconds_per_page"]) and math.isnan(row["page_views_std"])
    assert row["n_months"] == 1 and row["span_days"] == 0 and row["sessions_per_active_day"] == 1


def test_reference_tables_align(reference_dirs: tuple[Path, Path]) -> None:
    train, test = reference_dirs
    train_table = build_features(load_split(train, "train"))
    test_table = build_features(load_split(test, "test"))
    assert len(train_table) == 700 and len(test_table) == 300
    assert list(train_table.columns[1:]) == list(test_table.columns[1:]) == list(FEATURE_COLUMNS)
    assert int(train_table["n_sessions"].sum()) == 6877 and int(test_table["n_sessions"].sum()) == 3026


def test_docs_list_every_feature_as_defined() -> None:
    """docs/features.md is generated from FEATURES: regenerate it with features_markdown() after a change."""
    assert (config.PROJECT_ROOT / "docs" / "features.md").read_text() == features_markdown()
