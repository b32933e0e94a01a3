"""The Explore fact layer: every KPI a ratio of sums equal to pandas on the same rows (straight from the files),
for random filters and per dimension; the cube gives the same KPIs; nothing matched gives no value; the CLI's
mapping errors are `roas`'s own line; an export without a date says so."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from adpipe import config
from adpipe.explore import datasets
from adpipe.explore.facts import Facts, Filter, Kpi, aggregate, cube, kpi_values
from features.campaign_mapping import from_file
from features.synth_campaigns import MAPPING_FILE, write_export
from model import app
from tests import explore_truth
from tests.explore_truth import Truth

SHARED = config.SHARED_DATA_DIR


def same(got: float | None, expected: float | None) -> bool:
    if expected is None or got is None:
        return got is None and expected is None
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synth") / "synth.csv"
    write_export(path, days=60, seed=42)
    return path


@pytest.fixture(scope="module")
def cases(synth: Path) -> dict[str, tuple[Facts, Truth]]:
    campaigns = SHARED / "campaigns" / "KAG_conversion_data.csv"
    ctr = SHARED / "ctr" / "ad_10000records.csv"
    folders = {"train": SHARED / "clickstream" / "train", "test": SHARED / "clickstream" / "test"}
    return {
        "campaigns": (datasets.campaign_facts(campaigns), explore_truth.campaigns(campaigns)),
        "synth": (datasets.campaign_facts(synth, from_file(MAPPING_FILE)), explore_truth.campaigns(synth, synth=True)),
        "ctr": (datasets.ctr_facts(ctr), explore_truth.ctr(ctr)),
        "clickstream": (datasets.clickstream_facts(folders), explore_truth.clickstream(SHARED / "clickstream")),
    }


EXPLORED = ("campaigns", "synth", "ctr", "clickstream")  # names tasks: explore's data sets, not the task list


@pytest.mark.parametrize("name", EXPLORED)
def test_kpis_are_ratios_of_sums_equal_to_pandas(cases: dict[str, tuple[Facts, Truth]], name: str) -> None:
    facts, truth = cases[name]
    assert set(truth.dimensions) == set(facts.dimension_names)
    assert [k.name for k in facts.kpis] == list(truth.kpis)
    rng = random.Random(7)
    matched = 0
    for _ in range(30):
        values, date_from, date_to = explore_truth.random_filter(truth, rng)
        expected = truth.kpi_values(truth.kept(values, date_from, date_to))
        got = kpi_values(facts, Filter(values, date_from, date_to))
        assert all(same(got[k], expected[k]) for k in expected), (values, date_from, date_to, got, expected)
        matched += expected[facts.kpis[0].name] is not None
    assert matched >= 5  # the filters are not all empty


@pytest.mark.parametrize("name", ["campaigns", "clickstream"])
def test_kpis_by_dimension_and_in_the_cube(cases: dict[str, tuple[Facts, Truth]], name: str) -> None:
    facts, truth = cases[name]
    by = truth.dimensions[0]
    table = aggregate(facts, by=[by])
    for row in table.iter_rows(named=True):
        expected = truth.kpi_values(truth.rows[truth.rows[by] == row[by]])
        assert all(same(row[k], expected[k]) for k in expected), row
    summed = cube(facts)
    assert summed.frame.height <= facts.frame.height
    rng = random.Random(3)
    for _ in range(10):
        where = Filter(*explore_truth.random_filter(truth, rng))
        got, expected = kpi_values(summed, where), kpi_values(facts, where)
        assert all(same(got[k], expected[k]) for k in expected)


def test_no_row_matched_gives_no_value(cases: dict[str, tuple[Facts, Truth]]) -> None:
    facts, _ = cases["synth"]
    assert set(kpi_values(facts, Filter(date_from="2024-04-02", date_to="2024-04-01")).values()) == {None}
    assert set(kpi_values(facts, Filter({"Banner": []})).values()) == {None}


def test_a_kpi_of_an_unknown_measure_is_refused(cases: dict[str, tuple[Facts, Truth]]) -> None:
    facts, _ = cases["ctr"]
    with pytest.raises(ValueError, match="not a measure"):
        Facts("x", "x", facts.frame, facts.measures, facts.dimensions, (Kpi("roas", "ROAS", "value", "spend"),), True)


def test_an_export_without_a_date_gets_no_date_slicer(tmp_path: Path) -> None:
    output = tmp_path / "page.html"
    result = CliRunner().invoke(app, ["explore", "--data", str(SHARED / "campaigns" / "KAG_conversion_data.csv"),
                                      "--output", str(output)])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = output.read_text()
    assert 'data-slicer="date-from"' not in html and "data-no-date" in html
    shown = re.sub(r"<script.*?</script>", "", html, flags=re.S)  # the text on the page, not the payload
    assert shown.lower().count("no date column") == 1 and escape(datasets.NO_DATE) in shown  # said once
    assert html.count('class="kpi" data-kpi="') == 11


@pytest.mark.parametrize(
    ("mapping", "columns"),
    [('spend = "Spent"\nimpressions = "Impressions"\nclicks = "Nope"\nrevenue = "Spent"\nsegment = ["age"]\n', []),
     (None, ["clicks=Nope"]), (None, ["colour=red"])],
)  # fmt: skip
def test_mapping_errors_are_the_roas_line(tmp_path: Path, mapping: str | None, columns: list[str]) -> None:
    data = ["--data", str(SHARED / "campaigns" / "KAG_conversion_data.csv")]
    options = [f"--column={c}" for c in columns]
    if mapping is not None:
        (tmp_path / "m.toml").write_text(mapping)
        options += ["--mapping", str(tmp_path / "m.toml")]
    roas = CliRunner().invoke(app, ["roas", "summary", *data, *options, "--output", str(tmp_path / "s.csv")])
    explore = CliRunner().invoke(app, ["explore", *data, *options, "--output", str(tmp_path / "p.html")])
    assert explore.exit_code == roas.exit_code != 0
    first = roas.output.strip().splitlines()[-1].split(" (")[0]
    assert first in explore.output and len(explore.output.strip().splitlines()) == 1, explore.output
