"""Reports are pydantic models: written as the JSON of their fields, read back strictly, key by key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adpipe.errors import DataError
from adpipe.reports import MeanStd, Report, read_report, write_report
from adpipe.segments.report import KScores


class Nested(Report):
    """A report with the shapes the task reports use: nested figures, lists, dictionaries and unions."""

    name: str
    figure: MeanStd
    per_k: list[KScores]
    rows: list[dict[str, int | float | str | None]]
    optional: MeanStd | None = None


def _report() -> Nested:
    scores = KScores(
        k=np.int64(3),
        silhouette=np.float64(0.25),
        davies_bouldin=1.5,
        calinski_harabasz=80.0,
        shuffled_silhouette=MeanStd.over(np.array([0.1, 0.2, 0.3])),
    )
    rows = [{"segment": np.int64(0), "size": np.int64(12), "share": np.float64(0.5), "description": "a", "m": None}]
    return Nested(name="n", figure=MeanStd(mean=1, std=0.0), per_k=[scores], rows=rows)


def test_a_report_round_trips_through_its_json_file(tmp_path: Path) -> None:
    report = _report()
    write_report(tmp_path / "r.json", report)
    assert read_report(tmp_path / "r.json", Nested) == report
    written = json.loads((tmp_path / "r.json").read_text())
    assert written["rows"] == [{"segment": 0, "size": 12, "share": 0.5, "description": "a", "m": None}]
    assert written["figure"] == {"mean": 1.0, "std": 0.0} and written["optional"] is None
    assert list(written["per_k"][0]) == [
        "k",
        "silhouette",
        "davies_bouldin",
        "calinski_harabasz",
        "shuffled_silhouette",
    ]


def test_numpy_values_are_stored_as_python_values() -> None:
    report = _report()
    assert type(report.per_k[0].k) is int and type(report.per_k[0].silhouette) is float
    assert type(report.rows[0]["size"]) is int  # not 12.0: an int stays an int in a union with float


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda data: data["per_k"][0].update(extra=1), "per_k.0.extra: Extra inputs are not permitted"),
        (lambda data: data["figure"].pop("std"), "figure.std: Field required"),
        (lambda data: data.update(name=5), "name: Input should be a valid string"),
    ],
)
def test_a_report_with_an_unknown_missing_or_mistyped_key_is_refused_naming_the_file(tmp_path: Path, edit, where):
    path = tmp_path / "r.json"
    write_report(path, _report())
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="is not a Nested report") as caught:
        read_report(path, Nested)
    assert str(path) in str(caught.value) and where in str(caught.value)


def test_a_report_is_frozen_and_only_reports_are_written(tmp_path: Path) -> None:
    figure = MeanStd(mean=1.0, std=0.5)
    with pytest.raises(ValueError, match="frozen"):
        figure.mean = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError, match="a report is"):
        write_report(tmp_path / "r.json", {"mean": 1.0, "std": 0.5})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MeanStd(1.0, 0.5)  # type: ignore[misc]  # keyword arguments only
