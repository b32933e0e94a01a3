"""``train``, ``predict``, ``report`` and ``roas plan`` killed (SIGKILL) at random points of their run: the outputs
of the run before stay byte-identical and loadable, no temporary file is left that a later run trips on, and a
full run afterwards succeeds. Outputs go to the drill's folder, never the project's."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from adpipe import config
from adpipe.faults.result import CaseResult
from adpipe.io import load_model, read_json


def commands(root: Path) -> dict[str, tuple[list[str], Path]]:
    """Per command: its arguments with every output in ``root``, and the folder its outputs are in."""
    models, predictions, reports = root / "models", root / "predictions", root / "reports"
    return {
        "train": (["train", "--model", str(models / "clickstream.joblib")], models),
        "predict": (
            ["predict", "--model", str(predictions / "clickstream.joblib"), "--output", str(predictions / "p.json")],
            predictions,
        ),
        "report": (
            ["report", "--output", str(reports / "index.html"), "--storage", f"sqlite:///{root / 'optuna.db'}"],
            reports,
        ),
        "roas plan": (
            ["roas", "plan", "--repeats", "1", "--report", str(root / "plan" / "roas_plan.json")],
            root / "plan",
        ),
    }


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) by path, with its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _loadable(path: Path) -> bool:
    try:
        if path.suffix == ".joblib":
            load_model(path, task=path.parent.name if path.parent.parent.name == "versions" else "clickstream")
        elif path.suffix == ".json":
            read_json(path)
        elif path.suffix == ".html":
            return path.read_bytes().rstrip().endswith(b"</html>")
        return True
    except Exception:  # whatever fails to read is not loadable
        return False


def _run(argv: list[str], kill_after: float | None) -> tuple[int, float]:
    """Run ``python model.py ARGV``; SIGKILL it after ``kill_after`` seconds. (exit code, seconds)."""
    command = [sys.executable, str(config.PROJECT_ROOT / "model.py"), *argv]
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=config.PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(kill_after)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return process.returncode, time.monotonic() - started


def killed_runs(root: Path, times: int, seed: int, say: Callable[[str], None]) -> list[CaseResult]:
    """For each command: a full run, ``times`` runs killed at uniform random points of its length, a full run."""
    rng = random.Random(seed)
    results = []
    for name, (argv, folder) in commands(root).items():
        code, seconds = _run(argv, None)
        if code != 0:
            raise RuntimeError(f"`python model.py {' '.join(argv)}` failed (exit {code}) before any kill")
        first = _files(folder)
        killed, identical, broken, unloadable, left = 0, 0, 0, 0, 0
        for attempt in range(times):
            # the outputs as the run before this one left them: a killed run that got past its publish replaced
            # them whole, and a report that records its own duration differs from the last one's
            before = {k: v for k, v in _files(folder).items() if not Path(k).name.startswith(".")}
            code, _ = _run(argv, rng.uniform(0.0, seconds))
            killed += code == -9
            after = _files(folder)
            published = {k: v for k, v in after.items() if not Path(k).name.startswith(".")}
            identical += published == before
            bad = sum(not _loadable(folder / k) for k in published) + len(set(before) - set(published))
            unloadable += bad
            broken += bad > 0
            left = sum(Path(k).name.startswith(".") for k in after)
            say(f"  {name}: {attempt + 1}/{times} (exit {code}; temporary files now {left})")
        code, _ = _run(argv, None)
        final = _files(folder)
        result = CaseResult(
            case=f"killed {name}",
            fault=f"SIGKILL at random points of a {seconds:.0f} s run, {times} times",
            start=time.monotonic(),
            requests=times,
            failed=broken,  # kills after which an output was missing or did not load
        )
        result.lost = unloadable
        stale = [k for k in final if Path(k).name.startswith(".")]
        result.notes.append(
            f"{killed} of {times} killed before they ended; outputs byte-identical to the run before after "
            f"{identical} of {times}, replaced whole (killed past its publish) after {times - identical - broken}; "
            f"outputs missing or unloadable: {unloadable}; the next full run: exit {code}, outputs "
            f"identical to the first: {final == first}, temporary files left after it: {len(stale)}"
        )
        results.append(result)
    return results
