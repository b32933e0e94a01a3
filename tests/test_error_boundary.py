"""The CLI's error boundary and its outputs: a bug shows its traceback and says it is one, a library's plain error
in a command is a bug, a DataError is one line and exit code 1; outputs are all or nothing, and synth writes its
files when the command ends. (Every bad input on every command: tests/test_bad_inputs.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from lightgbm.basic import LightGBMError

import model
from adpipe.cli_support import BUG_EXIT_CODE, ErrorBoundary
from adpipe.errors import DataError
from adpipe.io import all_or_nothing, read_json, write_json
from tests.bad_input_runner import NEW_SESSIONS, NEW_USERS, SESSIONS, USERS, runner


def test_a_bug_shows_its_traceback_and_says_it_is_a_bug() -> None:
    app = typer.Typer(cls=ErrorBoundary, rich_markup_mode=None)

    @app.command()
    def broken() -> None:
        raise RuntimeError("an invariant the code relies on")

    @app.command()
    def cleanup_broken_by_ctrl_c() -> None:  # a library's finally that a Ctrl-C reached half-way (Optuna 5.0)
        try:
            raise KeyboardInterrupt
        finally:
            raise UnboundLocalError("cannot access local variable 'updated_state'")

    result = runner.invoke(app, ["broken"])
    assert result.exit_code == BUG_EXIT_CODE
    assert "Traceback" in result.stderr and "RuntimeError: an invariant the code relies on" in result.stderr
    assert "bug in adpipe" in result.stderr.strip().splitlines()[-1]
    interrupted = runner.invoke(app, ["cleanup-broken-by-ctrl-c"])
    assert interrupted.exit_code == 130 and "Traceback" not in interrupted.stderr
    assert interrupted.stderr.strip().splitlines() == ["error: interrupted: outputs were left as they were"]


@pytest.mark.parametrize("planted", [ValueError("planted"), LightGBMError("planted")], ids=["ValueError", "LightGBM"])
def test_a_plain_library_error_in_a_command_is_a_bug_not_bad_input(
    planted: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    def study_stats(storage: str, study_name: str) -> None:
        raise planted

    monkeypatch.setattr("adpipe.tuning.study.study_stats", study_stats)
    result = runner.invoke(model.app, ["study", "stats", "--study", "any"])
    assert result.exit_code == BUG_EXIT_CODE
    assert "Traceback" in result.stderr and f"{type(planted).__name__}: planted" in result.stderr
    assert "this is a bug in adpipe" in result.stderr.strip().splitlines()[-1]


def test_a_data_error_in_a_command_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    def study_stats(storage: str, study_name: str) -> None:
        raise DataError("planted", path="study.db", column="value")

    monkeypatch.setattr("adpipe.tuning.study.study_stats", study_stats)
    result = runner.invoke(model.app, ["study", "stats", "--study", "any"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["error: study.db, column 'value': planted"]


def test_outputs_are_all_or_nothing(tmp_path: Path) -> None:
    report, model_file = tmp_path / "report.json", tmp_path / "model.json"
    write_json(report, {"run": 1})
    with pytest.raises(RuntimeError), all_or_nothing():
        write_json(report, {"run": 2})
        write_json(model_file, {"run": 2})
        assert read_json(report) == read_json(model_file) == {"run": 2}  # the block reads what it wrote
        raise RuntimeError("the second output failed")
    assert read_json(report) == {"run": 1} and not model_file.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["report.json"]  # no temporary file left
    with all_or_nothing():
        write_json(report, {"run": 3})
        write_json(model_file, {"run": 3})
        assert read_json(report.with_name("report.json")) == {"run": 3} and not model_file.exists()
    assert read_json(report) == read_json(model_file) == {"run": 3}
    with pytest.raises(RuntimeError), all_or_nothing():
        write_json(model_file, {"run": 4})
        with all_or_nothing():  # a unit of its own (data a subprocess reads, a checkpoint): published at its end
            write_json(report, {"run": 4})
        assert report.read_bytes() == b'{\n  "run": 4\n}\n'
        raise RuntimeError("the rest of the command failed")
    assert read_json(report) == {"run": 4} and read_json(model_file) == {"run": 3}


def test_synth_writes_its_four_files_when_the_command_ends(tmp_path: Path) -> None:
    result = runner.invoke(model.app, ["synth", "--users", "30", "--sessions-per-user", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*") if path.is_file())
    assert written == [f"test/{NEW_SESSIONS}", f"test/{NEW_USERS}", f"train/{SESSIONS}", f"train/{USERS}"]
    assert (tmp_path / "train" / USERS).read_text().count("\n") == 31  # the header and 30 users
