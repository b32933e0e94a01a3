"""Reading the page's inputs: a typed report, a saved model or a table, or — when it does not exist or is from
an older version — a :class:`Missing` note naming the command that produces it, so one absent input costs
one panel, never the page.

Sections name their inputs by the tasks' own constants (paths under the project); :class:`Sources` reads them
under another root when asked, so a test can build the page from outputs it made in a temporary folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from adpipe import config
from adpipe.errors import DataError
from adpipe.io import load_model, read_json
from adpipe.reports import read_report
from adpipe.sections.page import Missing

T = TypeVar("T")


class Sources:
    """Every input the page read, in order, for its footer (one source of truth: these files)."""

    def __init__(
        self, root: Path = config.PROJECT_ROOT, *, storage: str = config.DEFAULT_STORAGE, study: str | None = None
    ) -> None:
        self.root = Path(root)
        self.storage, self.study = storage, study  # the tuning study whose history the main task's section shows
        self.read: list[str] = []

    def path(self, path: Path) -> Path:
        """``path`` (a project path, as the tasks name their outputs) under this root."""
        path = Path(path)
        return self.root / path.relative_to(config.PROJECT_ROOT) if path.is_relative_to(config.PROJECT_ROOT) else path

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def _load(self, path: Path, title: str, command: str, load: Callable[[Path], T]) -> T | Missing:
        path = self.path(path)
        if not path.exists():
            return Missing(title, command, f"{self._name(path)} does not exist yet")
        try:
            value = load(Path(path))
        except DataError as error:
            return Missing(title, command, f"{self._name(path)} could not be read ({error})")
        self.read.append(self._name(path))
        return value

    def report(self, path: Path, report_type: type[T], title: str, command: str) -> T | Missing:
        """A typed report read back with :func:`adpipe.reports.read_report`."""
        return self._load(path, title, command, lambda p: read_report(p, report_type))

    def json(self, path: Path, title: str, command: str) -> Any | Missing:
        """A JSON output that is not a typed report (the predictions file)."""
        return self._load(path, title, command, read_json)

    def model(self, path: Path, task: str, title: str, command: str) -> tuple[Any, dict[str, Any]] | Missing:
        """A model saved by :func:`adpipe.io.save_model`, with its metadata."""
        return self._load(path, title, command, lambda p: load_model(p, task=task))

    def csv(self, path: Path, title: str, command: str) -> pd.DataFrame | Missing:
        """A CSV output (profile and summary tables)."""
        return self._load(path, title, command, pd.read_csv)

    def data(self, path: Path) -> Path | None:
        """A data file or folder read directly (the tasks' inputs), recorded; None when it does not exist."""
        path = self.path(path)
        if not path.exists():
            return None
        self.read.append(self._name(path))
        return path

    def quote(self, task: Any) -> Any:
        """Task ``task``'s (a TaskSpec) headline figure as a :class:`~adpipe.sections.page.Quote`, for the model the
        service serves (its promoted version's card; none kept yet: the task's train defaults), or None when its
        report is missing (the section's panels say which command makes it)."""
        from adpipe.sections.page import Quote
        from adpipe.versions import served_card

        card = served_card(self.path(config.MODELS_DIR) / task.model_file.name)
        figure = task.headline_of(self.path(config.REPORTS_DIR), card.params if card else {})
        return None if figure is None else Quote(task.name, figure)

    def note(self, name: str) -> None:
        """Record an input that was read some other way (an Optuna storage)."""
        self.read.append(name)
