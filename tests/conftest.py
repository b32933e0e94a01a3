"""Shared test fixtures: tiny ClickStream splits written to a temporary folder, and the reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpipe import config
from adpipe.bench import page_load

REFERENCE_CLICKSTREAM = config.SHARED_DATA_DIR / "clickstream"

# Debian's chromium, driven by Playwright in the browser tests (.ci/run installs it; never `playwright install`),
# with the flags the report's load timing (adpipe/bench/page_load.py) launches it with too.
CHROMIUM, CHROMIUM_ARGS = page_load.CHROMIUM, page_load.CHROMIUM_ARGS

SESSION_HEADER = (
    "user_id,session_id,timestamp,device_type,browser,operating_system,ip_address,country,search_query,"
    "page_views,session_duration"
)


def write_split(
    directory: Path,
    users: list[str],
    sessions: list[str],
    *,
    split: str = "train",
    user_header: str | None = None,
) -> Path:
    """Write ``user_<split>.csv`` (``;``) and ``session_<split>.csv`` (``,``) from row strings."""
    directory.mkdir(parents=True, exist_ok=True)
    key = "marketing_target" if split == "train" else "test_id"
    header = user_header or f"user_id;age;abandoned_cart;user_category;{key}"
    (directory / f"user_{split}.csv").write_text("\n".join([header, *users]) + "\n")
    (directory / f"session_{split}.csv").write_text("\n".join([SESSION_HEADER, *sessions]) + "\n")
    return directory


TINY_USERS = ["a;30;TRUE;new_user;2", "b;61;FALSE;premium_subscriber;1"]
TINY_SESSIONS = [
    "a,s1,2023-01-02 10:00:00,mobile,Chrome,iOS,1.1.1.1,France,hello,3,100",
    "a,s2,2023-01-07 22:00:00,desktop,Chrome,Windows,2.2.2.2,France,world,5,200",
]


@pytest.fixture
def tiny_train(tmp_path: Path) -> Path:
    """Two users: 'a' with two hand-written sessions, 'b' with none."""
    return write_split(tmp_path / "train", TINY_USERS, TINY_SESSIONS)


@pytest.fixture(scope="session")
def reference_dirs() -> tuple[Path, Path]:
    """The challenge's train and test folders in ../shared/data (CI has them too)."""
    train, test = REFERENCE_CLICKSTREAM / "train", REFERENCE_CLICKSTREAM / "test"
    if not (train / config.USERS_TRAIN_FILE).exists():
        pytest.fail(f"reference data missing: {train} (../shared/data must sit beside the project)")
    return train, test
