"""Model versions: every ``train`` keeps what it made, with a card saying how; the service serves the promoted one.

A train command still writes the task's working file (``models/<task>.joblib``: what ``predict`` reads unless
told ``--version``), and beside it ``models/versions/<task>/<version>.joblib`` with ``<version>.json``, its
:class:`ModelCard`: the data files' SHA-256, the params, the validation figure of the task's report and the
model's own held-out check, the date and the code's commit. A version is the first 12 hex digits of the saved
file's SHA-256 (what ``/health`` has always called the version): the same bytes are the same version.

``promotions.json`` in the same folder is the log of promotions and rollbacks; the last promoted version still
standing is the one the service serves (``python model.py models promote|rollback``). The first version a
task ever trains is promoted by that train; later ones wait for a promotion. A task with no log yet (a model
trained before versions existed) is served from its working file.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.io import all_or_nothing, current_path, read_json, save_model, write_bytes_atomic, write_json

VERSIONS_FOLDER = "versions"
PROMOTIONS_FILE = "promotions.json"
VERSION_DIGITS = 12
# What a card leaves out of the model's metadata: the training reference and the feature list are long and are
# in the model file itself.
_NOT_ON_CARD = ("reference", "features", "task")


class DataFile(BaseModel):
    """A file the model was trained on, by content."""

    path: str
    sha256: str
    bytes: int


class HeldOut(BaseModel):
    """The model's own score on the held-out folds its train drew (its training reference's check)."""

    metric: str
    realised: float
    protocol: str


class ModelCard(BaseModel):
    """How one version was made, written beside it when it was trained."""

    task: str
    version: str
    file: str  # the version's model file, relative to the versions folder of its task
    trained_at: str
    commit: str | None  # the code's git commit, "+dirty" when it had uncommitted changes; None outside git
    data: list[DataFile]
    params: dict[str, Any]
    validation: dict[str, Any] | None  # the task's headline figure when it was trained (adpipe.reports.Headline)
    validation_written: str | None  # when that report was written: a report older than the model is not its own
    held_out: HeldOut | None


class Promotion(BaseModel):
    """One line of the promotions log."""

    action: Literal["promote", "rollback"]
    version: str
    at: str
    reason: str = ""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def versions_dir(model_file: str | Path) -> Path:
    """Where the versions of ``model_file`` live: ``<its folder>/versions/<its name without .joblib>``."""
    model_file = Path(model_file)
    return model_file.parent / VERSIONS_FOLDER / model_file.stem


def version_of(path: str | Path) -> str:
    """The version name of a saved model file: its bytes' SHA-256, first 12 hex digits."""
    return _version(current_path(path).read_bytes())


def _version(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:VERSION_DIGITS]


def _file_hash(path: Path) -> DataFile:
    digest = hashlib.sha256()
    with current_path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return DataFile(path=str(path), sha256=digest.hexdigest(), bytes=current_path(path).stat().st_size)


def data_files(sources: Sequence[str | Path]) -> list[DataFile]:
    """Each data file's hash; a folder stands for the CSV files in it."""
    found: list[DataFile] = []
    for source in map(Path, sources):
        files = sorted(source.glob("*.csv")) if source.is_dir() else [source]
        found.extend(_file_hash(file) for file in files if file.is_file())
    return found


def code_commit() -> str | None:
    """The project's git commit, with "+dirty" when tracked files have changes; None when git cannot say."""
    try:
        run = {"cwd": config.PROJECT_ROOT, "capture_output": True, "text": True, "timeout": 10, "check": True}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], **run).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'+dirty' if changes else ''}" if commit else None


def _report_figure(task: str, model_file: Path, metadata: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The task's headline figure (what the service shows beside its answers) and when its report was written, for
    the project's own model file only: a model saved elsewhere has no report of ours."""
    from adpipe.task import declared

    spec = declared(task)
    if spec is None or Path(model_file).resolve() != spec.model_file.resolve():
        return None, None
    report = current_path(spec.report_file)
    figure = spec.headline_of(spec.report_file.parent, metadata)
    if figure is None or not report.exists():
        return None, None
    written = datetime.fromtimestamp(report.stat().st_mtime, UTC).isoformat(timespec="seconds")
    return figure.model_dump(), written


def _held_out(metadata: dict[str, Any]) -> HeldOut | None:
    predictions = (metadata.get("reference") or {}).get("predictions") or {}
    check = predictions.get("label_free")
    if not check:
        return None
    return HeldOut(metric=check["metric"], realised=check["realised"], protocol=predictions.get("protocol", ""))


def save_trained(model_file: str | Path, model: Any, metadata: dict[str, Any], data: Sequence[str | Path]) -> ModelCard:
    """Save a trained model (:func:`adpipe.io.save_model`) and keep it as a version with its card; the task's
    first version is promoted. Says on stderr what was kept and what is served."""
    model_file = Path(model_file)
    save_model(model_file, model, metadata)
    payload = current_path(model_file).read_bytes()  # read once: hashed, and copied as the version
    version = _version(payload)
    folder = versions_dir(model_file)
    card_file = folder / f"{version}.json"
    if current_path(card_file).exists():
        card = read_card(card_file)
        _say(f"{metadata['task']}: version {version} (the same bytes as the one trained {card.trained_at})")
        return card
    write_bytes_atomic(folder / f"{version}.joblib", payload)
    validation, written = _report_figure(metadata["task"], model_file, metadata)
    card = ModelCard(
        task=metadata["task"],
        version=version,
        file=f"{version}.joblib",
        trained_at=now(),
        commit=code_commit(),
        data=data_files(data),
        params={key: value for key, value in metadata.items() if key not in _NOT_ON_CARD},
        validation=validation,
        validation_written=written,
        held_out=_held_out(metadata),
    )
    write_json(card_file, card.model_dump())
    if not promotions(folder):
        _log(folder, Promotion(action="promote", version=version, at=card.trained_at, reason="first version"))
        _say(f"{card.task}: version {version} kept and promoted (the task's first) -> {folder}")
    else:
        _say(
            f"{card.task}: version {version} kept -> {folder}; the service keeps serving {promoted(folder)} until "
            f"`python model.py models promote {folder.name} {version}`"
        )
    return card


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def read_card(path: Path) -> ModelCard:
    try:
        return ModelCard.model_validate(read_json(path))
    except ValueError as error:
        raise DataError(f"is not a model card: {error}", path=path) from error


def cards(folder: Path) -> list[ModelCard]:
    """Every version kept in ``folder``, oldest first."""
    found = [read_card(path) for path in folder.glob("*.json") if path.name != PROMOTIONS_FILE]
    return sorted(found, key=lambda card: (card.trained_at, card.version))


def promotions(folder: Path) -> list[Promotion]:
    """The promotions log of ``folder`` (empty when nothing was ever promoted)."""
    path = folder / PROMOTIONS_FILE
    if not current_path(path).exists():
        return []
    try:
        return [Promotion.model_validate(entry) for entry in read_json(path)]
    except (TypeError, ValueError) as error:
        raise DataError(f"is not a promotions log: {error}", path=path) from error


def standing(log: Sequence[Promotion]) -> list[str]:
    """The promoted versions still standing, oldest first: a promotion adds one; a rollback goes back to its
    version, dropping those promoted after it."""
    stack: list[str] = []
    for entry in log:
        if entry.action == "rollback" and entry.version in stack:
            del stack[stack.index(entry.version) + 1 :]
        else:
            stack.append(entry.version)
    return stack


def promoted(folder: Path) -> str | None:
    """The version the service serves, or None when nothing was promoted."""
    stack = standing(promotions(folder))
    return stack[-1] if stack else None


def _log(folder: Path, entry: Promotion) -> None:
    write_json(folder / PROMOTIONS_FILE, [e.model_dump() for e in [*promotions(folder), entry]])


def find_version(folder: Path, version: str, option: str = "VERSION") -> ModelCard:
    """The card of ``version`` (or of the one version starting with it), or an error listing what there is."""
    kept = cards(folder)
    matches = [card for card in kept if card.version.startswith(version)] if len(version) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    names = ", ".join(card.version for card in kept) or "none: train the task first"
    what = "names more than one" if matches else "is not a kept version"
    raise OptionError(f"{version!r} {what} in {folder}; the versions: {names}", option=option)


def newest(folder: Path) -> str:
    """The last version trained, or an error when there is none."""
    kept = cards(folder)
    if not kept:
        raise OptionError(f"no versions in {folder}: train the task first", option="TASK")
    return kept[-1].version


def promote(folder: Path, version: str, reason: str = "") -> ModelCard:
    """Make ``version`` the served one (the log is published at once: running services read it)."""
    card = find_version(folder, version)
    with all_or_nothing():
        _log(folder, Promotion(action="promote", version=card.version, at=now(), reason=reason))
    return card


def rollback_target(folder: Path, version: str | None = None) -> ModelCard:
    """The version a rollback serves: the one promoted before the current one, or ``version`` if it is one of the
    earlier promoted versions still standing."""
    stack = standing(promotions(folder))
    if version is None:
        if len(stack) < 2:
            raise OptionError(f"nothing to roll back to in {folder}: promoted so far: {stack or 'none'}", option="TASK")
        return find_version(folder, stack[-2])
    card = find_version(folder, version)
    if card.version not in stack[:-1]:
        earlier = ", ".join(stack[:-1]) or "none"
        message = f"{card.version} was not promoted before the current one; those are: {earlier}"
        raise OptionError(message, option="VERSION")
    return card


def rollback(folder: Path, version: str, reason: str = "") -> ModelCard:
    """Serve ``version`` again (a :func:`rollback_target`), dropping the promotions made after it; the log is
    published at once."""
    card = find_version(folder, version)
    with all_or_nothing():
        _log(folder, Promotion(action="rollback", version=card.version, at=now(), reason=reason))
    return card


def served_file(model_file: Path) -> tuple[Path, str | None]:
    """The file the service serves for ``model_file``: its promoted version's, else the working file itself (the
    second item: the promoted version, or None)."""
    folder = versions_dir(model_file)
    version = promoted(folder)
    if version is None:
        return model_file, None
    return folder / f"{version}.joblib", version


def model_path(model_file: Path, version: str | None) -> Path:
    """The file a ``predict --version`` reads: the working file without a version, the promoted one for
    "promoted", else the kept version named (or its unique prefix)."""
    if version is None:
        return model_file
    folder = versions_dir(model_file)
    if version == "promoted":
        path, name = served_file(model_file)
        if name is None:
            raise OptionError(f"nothing is promoted in {folder}", option="--version")
        return path
    return folder / find_version(folder, version, "--version").file


def served_card(model_file: Path) -> ModelCard | None:
    """The card of the version the service serves for ``model_file``, or None (nothing promoted, or unreadable)."""
    folder = versions_dir(model_file)
    try:
        version = promoted(folder)
        card_file = folder / f"{version}.json"
        return read_card(card_file) if version is not None and card_file.exists() else None
    except DataError:
        return None
