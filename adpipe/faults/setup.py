"""What the drill serves: each task's model trained quickly into the drill's folder (as the service tests do), and a
second CTR version whose threshold flips the answers (so an answer shows which version made it)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

from adpipe import config
from adpipe.io import all_or_nothing, load_model
from adpipe.versions import promoted, save_trained, versions_dir


def train_commands(models: Path, reports: Path) -> list[list[str]]:
    """Each task's train command, quick settings, into ``models`` and ``reports``."""
    profiles, train_dir = str(config.PROFILES_FILE), str(config.TRAIN_DIR)
    return [
        ["train", "--train-dir", train_dir, "--model", str(models / "clickstream.joblib")],
        [
            "validate",
            "--train-dir",
            train_dir,
            "--folds",
            "2",
            "--repeats",
            "1",
            "--report",
            str(reports / "validation.json"),
        ],
        ["ctr", "train", "--data", str(config.CTR_FILE), "--model", str(models / "ctr.joblib")],
        ["conversion", "train", "--input", profiles, "--folds", "2", "--repeats", "1", "--models", "linear"]
        + ["--permutations", "1", "--model", str(models / "conversion.joblib")]
        + ["--report", str(reports / "conversion_validation.json")],
        ["segment", "fit", "--source", "profiles", "--input", profiles, "--k", "2", "--bootstraps", "2"]
        + ["--shuffles", "1", "--model", str(models / "segments_profiles.joblib")]
        + ["--report", str(reports / "segments_profiles.json")],
        ["roas", "train", "--data", str(config.CAMPAIGNS_FILE), "--model", str(models / "roas.joblib")],
    ]


def train_models(models: Path, reports: Path) -> None:
    models.mkdir(parents=True, exist_ok=True)
    reports.mkdir(parents=True, exist_ok=True)
    for argv in train_commands(models, reports):
        done = subprocess.run(
            [sys.executable, str(config.PROJECT_ROOT / "model.py"), *argv],
            capture_output=True,
            text=True,
            cwd=config.PROJECT_ROOT,
        )
        if done.returncode != 0:
            raise RuntimeError(f"python model.py {' '.join(argv)} failed: {done.stderr[-500:]}")


def second_ctr_version(models: Path) -> tuple[str, str]:
    """(the promoted CTR version, a second kept version: the same model with a threshold above every probability,
    so it answers "no click" to every record: an answer shows which version made it)."""
    first = promoted(versions_dir(models / "ctr.joblib"))
    model, metadata = load_model(models / "ctr.joblib", task="ctr")
    flipped = copy.deepcopy(model)
    setattr(flipped, "best_threshold_" if hasattr(flipped, "best_threshold_") else "threshold", 1.01)
    with all_or_nothing():  # published now, not when the drill's command ends
        second = save_trained(models / "ctr.joblib", flipped, {**metadata, "threshold": 1.01}, [])
    return first, second.version
