"""Every kind of bad ClickStream input gets a one-line DataError naming the file and the column or line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from adpipe.clickstream.engines import build_features, load_split
from adpipe.errors import DataError
from features.clickstream_loaders import load_sessions, load_users
from tests.conftest import SESSION_HEADER, TINY_SESSIONS, TINY_USERS, write_split


def error_of(call, *args) -> str:
    with pytest.raises(DataError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_reference_files_load(reference_dirs: tuple[Path, Path]) -> None:
    train, test = reference_dirs
    split = load_split(train, "train")
    assert len(split.users) == 700 and split.per_user["n_sessions"].sum() == 6877
    assert len(load_sessions(train / "session_train.csv")) == 6877
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
    row = build_features(split).loc["a"]
    assert row["browser_other_count"] == 1 and row["device_other_count"] == 1 and row["os_other_count"] == 1
    assert row["n_countries"] == 2


def session(page_views: str = "3", duration: str = "100", user: str = "a") -> str:
    return f"{user},s9,2023-01-03 10:00:00,mobile,Chrome,iOS,1.1.1.1,France,q,{page_views},{duration}"


@pytest.mark.parametrize(
    ("age", "problem"),
    [("-5", "below the minimum 0"), ("99999999999999999999", "above the maximum 150"), ("30.5", "not a whole number")],
)
def test_age_outside_any_possible_range(tmp_path: Path, age: str, problem: str) -> None:
    write_split(tmp_path, ["a;30;TRUE;new_user;1", f"b;{age};FALSE;new_user;2"], [])
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "column 'age'" in message and "line 3" in message and problem in message and f"'{age}'" in message


@pytest.mark.parametrize(
    ("page_views", "duration", "column", "problem"),
    [
        ("-3", "100", "page_views", "below the minimum 0"),
        ("9223372036854775808", "100", "page_views", "64-bit integer range"),
        ("3", "-1", "session_duration", "below the minimum 0"),
        ("3", "9223372036854775808", "session_duration", "above the maximum 86400"),
        ("3", "inf", "session_duration", "not a finite number"),
        ("3", "NaN", "session_duration", "not a finite number"),
        ("3", "", "session_duration", "no value"),
    ],
)
def test_session_values_outside_their_rules(
    tmp_path: Path, page_views: str, duration: str, column: str, problem: str
) -> None:
    write_split(tmp_path, TINY_USERS, [*TINY_SESSIONS, session(page_views, duration)])
    message = error_of(load_split, tmp_path, "train")
    assert "session_train.csv" in message and f"column '{column}'" in message and "line 4" in message
    assert problem in message and "np." not in message


def test_whitespace_around_values_is_not_an_error(tmp_path: Path) -> None:
    padded = "a, s9 ,2023-01-03 10:00:00 , mobile,Chrome ,iOS,1.1.1.1, France,q, 4 ,50.0 "
    write_split(tmp_path, [" a ;30 ; true;new_user;2", "b;61;FALSE;premium_subscriber;1"], [*TINY_SESSIONS, padded])
    row = build_features(load_split(tmp_path, "train")).loc["a"]
    assert row["n_sessions"] == 3 and row["device_mobile_count"] == 2 and row["n_countries"] == 1
    assert row["page_views_sum"] == 12 and row["age"] == 30


def test_duplicated_header_name(tmp_path: Path) -> None:
    write_split(
        tmp_path,
        ["a;30;TRUE;new_user;1;31"],
        [],
        user_header="user_id;age;abandoned_cart;user_category;marketing_target;age",
    )
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "column 'age'" in message and "twice" in message


@pytest.mark.parametrize("split", ["train", "test"])
def test_truncated_last_row(tmp_path: Path, split: str) -> None:
    key = "1" if split == "train" else "9"
    write_split(tmp_path, ["a;30;TRUE;new_user;" + key], [], split=split)
    path = tmp_path / f"user_{split}.csv"
    path.write_text(path.read_text() + "u9;4")
    message = error_of(load_users, path, split)
    assert f"user_{split}.csv" in message and "line 3" in message and "2 of the header's 5 fields" in message


def test_truncated_last_session(tmp_path: Path) -> None:
    write_split(tmp_path, TINY_USERS, TINY_SESSIONS)
    path = tmp_path / "session_train.csv"
    path.write_text(path.read_text().rstrip("\n").rsplit(",", 1)[0] + ",")
    message = error_of(load_split, tmp_path, "train")
    assert "column 'session_duration'" in message and "line 3" in message


def test_rows_with_too_many_fields(tmp_path: Path) -> None:
    """An unquoted comma in the free text shifts the numbers; a whole user file is parsed field by field."""
    write_split(tmp_path, TINY_USERS, [TINY_SESSIONS[0], TINY_SESSIONS[1].replace("world", "hello, world")])
    message = error_of(load_split, tmp_path, "train")
    assert "session_train.csv" in message and "line 3" in message and "column 'page_views'" in message
    write_split(tmp_path, [TINY_USERS[0], TINY_USERS[1] + ";extra"], [])
    message = error_of(load_users, tmp_path / "user_train.csv", "train")
    assert "user_train.csv" in message and "line 3" in message and "6 fields" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "user_id;age;abandoned_cart;user_category;marketing_target\na;30;TRUE;new_user;1\n".encode("utf-16"),
            "UTF-16",
        ),
        (
            "user_id;age;abandoned_cart;user_category;marketing_target\na;3é;TRUE;new_user;1\n".encode("latin-1"),
            "UTF-8",
        ),
        (bytes(range(256)) * 4, "UTF-8"),
    ],
    ids=["utf-16", "latin-1", "binary"],
)
def test_encodings_other_than_utf8(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "user_train.csv"
    path.write_bytes(content)
    message = error_of(load_users, path, "train")
    assert "user_train.csv" in message and expected in message and "codec" not in message


def test_latin1_session_file_names_its_line(tmp_path: Path) -> None:
    write_split(tmp_path, TINY_USERS, TINY_SESSIONS)
    path = tmp_path / "session_train.csv"
    path.write_bytes(path.read_text().replace("France", "Curaçao", 1).encode("latin-1"))
    message = error_of(load_split, tmp_path, "train")
    assert "session_train.csv" in message and "line 2" in message and "UTF-8" in message


def test_unreadable_file(tmp_path: Path) -> None:
    write_split(tmp_path, TINY_USERS, TINY_SESSIONS)
    (tmp_path / "session_train.csv").unlink()
    (tmp_path / "session_train.csv").mkdir()  # root reads any file: a folder stands in for an unreadable one
    message = error_of(load_split, tmp_path, "train")
    assert "session_train.csv" in message


def test_sessions_in_parts(tmp_path: Path) -> None:
    """A folder or a glob of CSV parts reads as one file; an error names the part and its own line."""
    write_split(tmp_path, TINY_USERS, TINY_SESSIONS)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "part-0.csv").write_text("\n".join([SESSION_HEADER, TINY_SESSIONS[0]]) + "\n")
    (parts / "part-1.csv").write_text("\n".join([SESSION_HEADER, TINY_SESSIONS[1]]) + "\n")
    whole = build_features(load_split(tmp_path, "train"))
    for source in (parts, parts / "part-*.csv"):
        pd.testing.assert_frame_equal(build_features(load_split(tmp_path, "train", sessions=source)), whole)
    (parts / "part-1.csv").write_text("\n".join([SESSION_HEADER, TINY_SESSIONS[1], session(user="zz")]) + "\n")
    message = error_of(load_split, tmp_path, "train", parts)
    assert "part-1.csv" in message and "'zz'" in message and "line 3" in message
    (parts / "part-1.csv").write_text("\n".join([SESSION_HEADER, session(page_views="-1")]) + "\n")
    message = error_of(load_split, tmp_path, "train", parts)
    assert "part-1.csv" in message and "column 'page_views'" in message and "line 2" in message


def test_typed_scan_reads_a_clean_file_as_the_text_path_does(reference_dirs: tuple[Path, Path]) -> None:
    """The fast path (Polars parses the numbers) gives the text path's rows, types and order on the reference
    files, and flags nothing there: they are read without the fallback."""
    import polars as pl

    from features.clickstream_loaders import scan_sessions, sessions_source
    from features.schema import BAD

    for directory, split in zip(reference_dirs, ("train", "test"), strict=True):
        typed = scan_sessions(sessions_source(directory, split), typed=True)
        text = scan_sessions(sessions_source(directory, split))
        assert typed.typed and not text.typed
        fast, slow = typed.frame.collect(), text.frame.collect()
        assert not fast[BAD].any()
        assert fast.schema == slow.schema
        assert fast.equals(slow.with_columns(pl.col(c).cast(fast.schema[c]) for c in fast.columns))


@pytest.mark.parametrize("page_views", ["5.0", " 5 ", "+5"], ids=["float text", "spaces", "plus sign"])
def test_what_the_fast_path_cannot_parse_is_read_by_the_text_path(tmp_path: Path, page_views: str) -> None:
    from features.clickstream import aggregate_per_user
    from features.clickstream_loaders import TextScanNeeded, scan_sessions

    write_split(tmp_path, TINY_USERS, [*TINY_SESSIONS, session(page_views, "60")])
    if page_views == "5.0":  # Polars refuses a whole-number column's "5.0": the typed scan says so
        scan = scan_sessions(tmp_path / "session_train.csv", typed=True)
        with pytest.raises(TextScanNeeded):
            scan.collect(aggregate_per_user(scan.frame))
    row = build_features(load_split(tmp_path, "train")).loc["a"]
    assert row["n_sessions"] == 3 and row["page_views_sum"] == 3 + 5 + 5
