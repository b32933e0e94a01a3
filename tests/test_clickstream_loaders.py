"""Every kind of bad ClickStream input gets a one-line DataError naming the file and the column or line."""

from __future__ import annotations

from pathlib import Path

import pytest

from adpipe.errors import DataError
from features.clickstream import load_sessions, load_split, load_users, user_features
from tests.conftest import TINY_SESSIONS, TINY_USERS, write_split


def error_of(call, *args) -> str:
    with pytest.raises(DataError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_reference_files_load(reference_dirs: tuple[Path, Path]) -> None:
    train, test = reference_dirs
    split = load_split(train, "train")
    assert len(split.users) == 700 and len(split.sessions) == 6877
    assert split.users["abandoned_cart"].dtype == bool
    assert set(split.users["marketing_target"]) == {1, 2, 3}
    assert len(load_split(test, "test").users) == 300


def test_missing_file(tmp_path: Path) -> None:
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "user_train.csv" in message and "not found" in message


def test_wrong_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "user_train.csv"
    path.write_text("user_id,age,abandoned_cart,user_category,marketing_target\na,30,TRUE,new_user,1\n")
    message = error_of(load_users, path, "train")
    assert "user_train.csv" in message and "separated by ','" in message and "';'" in message


def test_session_file_with_semicolons(tiny_train: Path) -> None:
    path = tiny_train / "session_train.csv"
    path.write_text(path.read_text().replace(",", ";"))
    assert "separated by ';'" in error_of(load_sessions, path)


def test_misspelled_column(tmp_path: Path) -> None:
    write_split(
        tmp_path, TINY_USERS, TINY_SESSIONS, user_header="user_id;age;abandoned_cart;user_category;marketing_targt"
    )
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "missing column 'marketing_target'" in message and "marketing_targt" in message


def test_missing_session_column(tiny_train: Path) -> None:
    path = tiny_train / "session_train.csv"
    path.write_text(path.read_text().replace("page_views,", "pageviews,"))
    message = error_of(load_sessions, path)
    assert "session_train.csv" in message and "'page_views'" in message


def test_non_numeric_age(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;TRUE;new_user;1", "b;forty;FALSE;new_user;2"], [])
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "column 'age'" in message and "line 3" in message and "'forty'" in message


def test_unknown_user_category(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;TRUE;vip;1"], [])
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "column 'user_category'" in message and "'vip'" in message and "line 2" in message


def test_unknown_abandoned_cart(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;maybe;new_user;1"], [])
    assert "column 'abandoned_cart'" in error_of(load_users, tmp_path / "user_train.csv", "train")


def test_target_outside_classes(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;TRUE;new_user;4"], [])
    assert "column 'marketing_target'" in error_of(load_users, tmp_path / "user_train.csv", "train")


def test_duplicate_user_id(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;TRUE;new_user;1", "b;31;TRUE;new_user;1", "a;32;FALSE;new_user;2"], [])
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "duplicate user_id 'a'" in message and "lines 2, 4" in message


def test_duplicate_test_id(tmp_path: Path) -> None:
    write_split(tmp_path, ["a;30;TRUE;new_user;1", "b;31;TRUE;new_user;1"], [], split="test")
    assert "duplicate test_id" in error_of(load_users, tmp_path / "user_test.csv", "test")


def test_sessions_of_unknown_users(tmp_path: Path) -> None:
    orphan = "zz,s9,2023-01-02 10:00:00,mobile,Chrome,iOS,1.1.1.1,France,q,3,100"
    write_split(tmp_path, TINY_USERS, [*TINY_SESSIONS, orphan])
    message = error_of(load_split, tmp_path, "train")
    assert "session_train.csv" in message and "'zz'" in message and "line 4" in message


def test_bad_timestamp(tmp_path: Path) -> None:
    write_split(tmp_path, TINY_USERS, [TINY_SESSIONS[0].replace("2023-01-02 10:00:00", "yesterday")])
    assert "column 'timestamp'" in error_of(load_split, tmp_path, "train")


def test_empty_test_file(tmp_path: Path) -> None:
    write_split(tmp_path, [], [], split="test")
    assert "no data rows" in error_of(load_split, tmp_path, "test")
    (tmp_path / "user_test.csv").write_text("")
    assert "empty" in error_of(load_split, tmp_path, "test")


def test_unseen_session_values_are_counted_not_fatal(tmp_path: Path) -> None:
    unseen = "a,s3,2023-01-03 10:00:00,smart-tv,Opera,TempleOS,3.3.3.3,Atlantis,q,4,50"
    split = load_split(write_split(tmp_path, TINY_USERS, [*TINY_SESSIONS, unseen]), "train")
    row = user_features(split.users, split.sessions).loc["a"]
    assert row["browser_other_count"] == 1 and row["device_other_count"] == 1 and row["os_other_count"] == 1
    assert row["n_countries"] == 2
