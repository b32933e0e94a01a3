"""How the bad-input table (tests/test_bad_inputs.py) runs a case and judges it.

Small valid inputs are cut from the reference data once (:func:`build_data`); a case copies and breaks
what it needs into its own folder, writes the outputs the command would replace, runs the command
(in-process through Typer's runner, or as a real process for exit codes, Ctrl-C and file permissions)
and gets one verdict: clear, vague, traceback, wrongly accepted or damaged (:func:`run_case`).
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

import model
from adpipe import config

Edit = Callable[[str], "str | bytes"]
Setup = Callable[[Path, dict[str, str]], None]
SENTINEL = b"the previous output\n"
NUMPY_REPR = re.compile(r"np\.(float|int|str_|bool_)\w*\(")
MODEL_PY = Path(model.__file__).resolve()
runner = CliRunner()


# --- the small inputs every case starts from ---------------------------------------------------------


def _head(source: Path, target: Path, keep: Callable[[int, bytes], bool]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = source.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(line for i, line in enumerate(lines) if i == 0 or keep(i, line)))


def _invoke(args: list[str]) -> None:
    result = runner.invoke(model.app, args)
    if result.exit_code != 0:
        raise RuntimeError(f"setting up the inputs failed: {args}\n{result.output}")


def build_data(root: Path) -> dict[str, str]:
    """Small valid inputs cut from the reference data, and a saved model of every task."""
    shared = config.SHARED_DATA_DIR
    for split, n_users in (("train", 90), ("test", 20)):
        source, target = shared / "clickstream" / split, root / f"cs_{split}"
        _head(source / f"user_{split}.csv", target / f"user_{split}.csv", lambda i, _, n=n_users: i <= n)
        kept = {line.split(b";")[0] for line in (target / f"user_{split}.csv").read_bytes().split()}
        _head(
            source / f"session_{split}.csv",
            target / f"session_{split}.csv",
            lambda i, line, kept=kept: line.split(b",")[0] in kept,
        )
    _head(shared / "ctr" / "ad_10000records.csv", root / "ctr.csv", lambda i, _: i <= 400)
    _head(shared / "campaigns" / "KAG_conversion_data.csv", root / "ads.csv", lambda i, _: i % 4 == 1)
    _head(shared / "profiles" / "user_profiles_for_ads.csv", root / "profiles.csv", lambda i, _: i <= 300)
    (root / "cs_params.json").write_text('{"lightgbm": {"n_estimators": 10}}\n')
    (root / "ctr_params.json").write_text('{"lightgbm": {"n_estimators": 10}}\n')
    data = {name: str(root / name) for name in ("cs_train", "cs_test")}
    data |= {name.split(".")[0]: str(root / name) for name in ("ctr.csv", "ads.csv", "profiles.csv")}
    data |= {name: str(root / f"{name}.json") for name in ("cs_params", "ctr_params")}
    models = ("cs_model", "ctr_model", "roas_model", "conv_model", "seg_model")
    data |= {name: str(root / f"{name}.joblib") for name in models}
    _invoke(["train", "--train-dir", data["cs_train"], "--params", data["cs_params"], "--model", data["cs_model"]])
    _invoke(["ctr", "train", "--data", data["ctr"], "--params", data["ctr_params"], "--model", data["ctr_model"]])
    _invoke(["roas", "train", "--data", data["ads"], "--model", data["roas_model"]])
    conversion = ["--folds", "2", "--repeats", "1", "--permutations", "1", "--models", "linear"]
    conversion += ["--report", str(root / "conv.json")]
    _invoke(["conversion", "train", "--input", data["profiles"], *conversion, "--model", data["conv_model"]])
    segments = ["--k", "2", "--bootstraps", "2", "--shuffles", "1", "--report", str(root / "seg.json")]
    _invoke(["segment", "fit", "--input", data["profiles"], *segments, "--model", data["seg_model"]])
    return data


# --- how a case breaks its input ----------------------------------------------------------------------


def _rows(text: str) -> tuple[str, list[list[str]]]:
    sep = ";" if ";" in text.split("\n", 1)[0] else ","
    return sep, list(csv.reader(io.StringIO(text), delimiter=sep))


def _text(sep: str, rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\n").writerows(rows)
    return out.getvalue()


def field(column: str, value: str, row: int = 1) -> Edit:
    """``value`` in ``column`` of data row ``row`` (1 = the line after the header); 0 = every row."""

    def edit(text: str) -> str:
        sep, rows = _rows(text)
        index = rows[0].index(column)
        for cells in rows[1:] if row == 0 else [rows[row]]:
            cells[index] = value
        return _text(sep, rows)

    return edit


def extra_column(name: str, value: str) -> Edit:
    """A second column called ``name`` (a duplicated header)."""

    def edit(text: str) -> str:
        sep, rows = _rows(text)
        return _text(sep, [[*rows[0], name], *([*cells, value] for cells in rows[1:] if cells)])

    return edit


def replace(old: str, new: str) -> Edit:
    return lambda text: text.replace(old, new, 1)


def duplicate_row(text: str) -> str:
    lines = text.splitlines(keepends=True)
    return "".join([*lines, lines[1]])


def truncate_last_row(text: str) -> str:
    """The file cut off inside its last row, after a delimiter: the row lacks its last field."""
    body = text.rstrip("\r\n")
    return body[: body.rfind(",") + 1]


def first_rows(n: int) -> Edit:
    """The header and the first ``n`` data rows."""
    return lambda text: "".join(text.splitlines(keepends=True)[: n + 1])


def header_only(text: str) -> str:
    return text.splitlines(keepends=True)[0]


def encoded(encoding: str) -> Edit:
    return lambda text: text.encode(encoding)


def garbage(_: str) -> bytes:
    return random.Random(0).randbytes(3000)


def copy(source: str, to: str, *edits: Edit, file: str | None = None) -> Setup:
    """Copy input ``source`` (a file, or a folder whose ``file`` is edited) to ``to`` in the case's folder."""

    def setup(work: Path, data: dict[str, str]) -> None:
        origin, target = Path(data[source]), work / to
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target)
            target.chmod(0o755)  # pytest's folders are private; an unprivileged case must read this one
            target = target / (file or "")
        else:
            shutil.copy(origin, target)
        if edits:
            content: str | bytes = target.read_text(encoding="utf-8")
            for edit in edits:
                content = edit(content)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def write(name: str, content: str | bytes = SENTINEL) -> Setup:
    def setup(work: Path, data: dict[str, str]) -> None:
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(content if isinstance(content, bytes) else content.encode())

    return setup


def mkdir(name: str) -> Setup:
    return lambda work, data: (work / name).mkdir(parents=True)


def chmod(name: str, mode: int) -> Setup:
    return lambda work, data: (work / name).chmod(mode)


def model_file(source: str, how: str, to: str = "model.joblib") -> Setup:
    """A saved model cut short ("truncated") or emptied ("empty")."""

    def setup(work: Path, data: dict[str, str]) -> None:
        saved = Path(data[source]).read_bytes()
        (work / to).write_bytes(saved[: len(saved) // 2] if how == "truncated" else b"")

    return setup


# --- the inputs a case breaks, and what a case is ------------------------------------------------------


USERS, SESSIONS, NEW_USERS, NEW_SESSIONS = "user_train.csv", "session_train.csv", "user_test.csv", "session_test.csv"


def users(*edits: Edit) -> Setup:
    """The training split copied to ``t/``, its user file edited."""
    return copy("cs_train", "t", *edits, file=USERS)


def sessions(*edits: Edit) -> Setup:
    return copy("cs_train", "t", *edits, file=SESSIONS)


def few_users(n: int) -> Setup:
    """The training split copied to ``t/`` with its first ``n`` users and their sessions only."""

    def setup(work: Path, data: dict[str, str]) -> None:
        users(first_rows(n))(work, data)
        kept = {line.split(";")[0] for line in (work / "t" / USERS).read_text().splitlines()[1:]}
        path = work / "t" / SESSIONS
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join([lines[0], *(line for line in lines[1:] if line.split(",")[0] in kept)]))

    return setup


def new_users(*edits: Edit) -> Setup:
    """The test split copied to ``t/``, its user file edited."""
    return copy("cs_test", "t", *edits, file="user_test.csv")


def new_sessions(*edits: Edit) -> Setup:
    return copy("cs_test", "t", *edits, file="session_test.csv")


def impressions(*edits: Edit) -> Setup:
    return copy("ctr", "impressions.csv", *edits)


def campaigns(*edits: Edit) -> Setup:
    return copy("ads", "ads.csv", *edits)


def profiles(*edits: Edit) -> Setup:
    return copy("profiles", "p.csv", *edits)


@dataclass(frozen=True)
class Cmd:
    """A command line (placeholders: ``{work}``, the case's folder, and the inputs of :func:`build_data`)
    and the outputs it would write, which a case sets up beforehand and expects back unchanged."""

    args: str
    keeps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    id: str
    cmd: Cmd
    extra: str  # appended to the command line (a repeated option overrides the command's own)
    names: tuple[str, ...]  # what the last line of stderr must name
    code: int = 1
    setup: Setup | tuple[Setup, ...] = ()
    may_write: tuple[str, ...] = ()  # side outputs a run may create (a study's storage)
    process: str = ""  # "subprocess", "interrupt", or "unprivileged" (as root: a subprocess run as nobody)
    interrupt_on: bytes = b""  # send Ctrl-C once stderr shows this


# --- running a case and judging it ---------------------------------------------------------------------


def _snapshot(work: Path) -> dict[str, bytes]:
    """Every file under ``work`` and its bytes (a file a case made unreadable is read all the same)."""
    files = {}
    for path in sorted(work.rglob("*")):
        if path.is_file():
            mode = path.stat().st_mode
            path.chmod(mode | 0o400)
            files[str(path.relative_to(work))] = path.read_bytes()
            path.chmod(mode)
    return files


def _run_process(case: Case, args: list[str]) -> tuple[int | None, str, str]:
    """Run ``model.py`` for real; exit code None when it was still running after the time limit."""
    command = [sys.executable, str(MODEL_PY), *args]
    if case.process == "unprivileged":  # root reads and writes everything: run as nobody
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with subprocess.Popen(
        command,
        cwd=MODEL_PY.parent,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background jobs ignore it
    ) as process:
        if case.process == "interrupt":
            seen, deadline = b"", time.monotonic() + 60
            os.set_blocking(process.stderr.fileno(), False)
            while case.interrupt_on not in seen and process.poll() is None and time.monotonic() < deadline:
                seen += process.stderr.read() or b""
                time.sleep(0.05)
            os.set_blocking(process.stderr.fileno(), True)
            time.sleep(0.5)
            process.send_signal(signal.SIGINT)
        else:
            seen = b""
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            return None, out.decode(errors="replace"), (seen + err).decode(errors="replace")
    return process.returncode, out.decode(errors="replace"), (seen + err).decode(errors="replace")


def run_case(case: Case, work: Path, data: dict[str, str]) -> tuple[str, str]:
    """The case's verdict and what it is based on."""
    for step in case.setup if isinstance(case.setup, tuple) else (case.setup,):
        step(work, data)
    for name in case.cmd.keeps:
        if not (work / name).exists():
            write(name)(work, data)
    before = _snapshot(work)
    args = shlex.split(f"{case.cmd.args} {case.extra}".format(work=work, **data))
    escaped = None
    if case.process and (case.process != "unprivileged" or os.geteuid() == 0):
        code, out, err = _run_process(case, args)
    else:
        result = runner.invoke(model.app, args)
        code, out, err = result.exit_code, result.stdout, result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            escaped = result.exception
    for path in work.rglob("*"):  # let pytest remove what the case made
        if path.is_dir():
            path.chmod(0o755)
    after = _snapshot(work)
    changed = [name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    changed = [name for name in changed if name not in case.may_write and not name.startswith(case.may_write)]
    last = next((line.strip() for line in reversed(err.splitlines()) if line.strip()), "")
    if code == 0 or code is None:
        return "wrongly accepted", "exit 0" if code == 0 else "still running after 60 s"
    if changed:
        return "damaged", f"changed or left behind: {', '.join(changed[:3])}"
    if escaped is not None or "Traceback" in out + err:
        kind = type(escaped).__name__ if escaped else "Traceback"
        return "traceback", f"exit {code}, {kind}: {last[:150]}"
    missing = [name for name in case.names if name not in last]
    if code != case.code or missing or NUMPY_REPR.search(last):
        return "vague", f"exit {code} (expected {case.code}), does not name {missing}: {last[:150]}"
    return "clear", last


def case_folder(case: Case, base: Path) -> Path:
    """A fresh folder for the case; world-accessible when the case runs as an unprivileged user."""
    if case.process == "unprivileged":
        folder = Path(tempfile.mkdtemp(prefix="bad-input-", dir="/tmp"))
        folder.chmod(0o777)
        return folder
    return base


def verdict_table(cases: list[Case], selected: list[str]) -> None:
    """Print the verdict of every case, or of those whose id contains a part in ``selected`` (not one after "!")."""
    wanted = [part for part in selected if not part.startswith("!")]
    unwanted = [part[1:] for part in selected if part.startswith("!")]
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as root:
        inputs = build_data(Path(root) / "data")
        counts: dict[str, int] = {}
        for number, case in enumerate(cases):
            if (wanted and not any(p in case.id for p in wanted)) or any(p in case.id for p in unwanted):
                continue
            work = case_folder(case, Path(root) / f"case-{number}")
            work.mkdir(exist_ok=True)
            verdict, detail = run_case(case, work, inputs)
            shutil.rmtree(work, ignore_errors=True)
            counts[verdict] = counts.get(verdict, 0) + 1
            print(f"{case.id:<48} {verdict:<17} {detail}", flush=True)
        print("total: " + ", ".join(f"{n} {verdict}" for verdict, n in sorted(counts.items())))
