"""Any campaign export: the reference file re-exported with Ads Manager's column names gives the reference's
figures through a mapping file and through --column options; the synthetic daily export runs through its
mapping; every wrong mapping stops with one line naming the role and the column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.io import read_json
from features.campaign_dates import parse_date, parse_year_month_day
from features.campaign_mapping import VALUE, built_in, from_file, read_mapped, with_columns
from features.campaigns import load_campaigns, mode_features
from features.synth_campaigns import MAPPING_FILE, curves_path
from model import app

runner = CliRunner()
RENAMED = {
    "ad_id": "Ad ID",
    "xyz_campaign_id": "Campaign ID",
    "fb_campaign_id": "Ad set ID",
    "age": "Age",
    "gender": "Gender",
    "interest": "Interest",
    "Clicks": "Link clicks",
    "Spent": "Amount spent (USD)",
    "Total_Conversion": "Leads",
    "Approved_Conversion": "Purchases",
}
MAPPING = """spend = "Amount spent (USD)"
impressions = "Impressions"
clicks = "Link clicks"
conversion = ["Leads:5", "Purchases:100"]
segment = ["Campaign ID", "Age", "Gender", "Interest"]
group = "Ad set ID"
"""
COLUMNS = [
    "spend=Amount spent (USD)",
    "clicks=Link clicks",
    "conversion=Leads:5",
    "conversion=Purchases:100",
    *(f"segment={name}" for name in ("Campaign ID", "Age", "Gender", "Interest")),
    "group=Ad set ID",
]


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference file, its columns renamed as Ads Manager would, its text untouched."""
    folder = tmp_path_factory.mktemp("renamed")
    table = pd.read_csv(config.CAMPAIGNS_FILE, dtype=str).rename(columns=RENAMED)
    table.to_csv(folder / "export.csv", index=False)
    (folder / "mapping.toml").write_text(MAPPING)
    return folder


def _figures(report: Path) -> dict[str, object]:
    """Every figure of a validation report, keyed by mode, grouping kind and model (not by column names)."""
    modes = read_json(report)["modes"]
    return {
        (mode, grouping): part[grouping]["models"]
        for mode, part in modes.items()
        for grouping in ("grouped", "ungrouped")
    }


def _run(*args: str) -> str:
    result = runner.invoke(app, ["roas", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_reexported_reference_gives_the_same_figures(renamed: Path, tmp_path: Path) -> None:
    quick = ["--repeats", "1"]
    _run("validate", *quick, "--report", str(tmp_path / "reference.json"))
    export = ["--data", str(renamed / "export.csv")]
    _run("validate", *quick, *export, "--mapping", str(renamed / "mapping.toml"), "--report", str(tmp_path / "m.json"))
    columns = [part for column in COLUMNS for part in ("--column", column)]
    _run("validate", *quick, *export, *columns, "--report", str(tmp_path / "c.json"))
    reference = _figures(tmp_path / "reference.json")
    assert _figures(tmp_path / "m.json") == reference
    assert _figures(tmp_path / "c.json") == reference
    assert read_json(tmp_path / "m.json")["protocol"]["n_groups"] == 543


def test_reexported_reference_gives_the_same_summary(renamed: Path, tmp_path: Path) -> None:
    _run("summary", "--by", "age", "--output", str(tmp_path / "reference.csv"))
    export = ["--data", str(renamed / "export.csv"), "--mapping", str(renamed / "mapping.toml")]
    _run("summary", "--by", "Age", *export, "--output", str(tmp_path / "mapped.csv"))
    reference, mapped = pd.read_csv(tmp_path / "reference.csv"), pd.read_csv(tmp_path / "mapped.csv")
    mapped = mapped.rename(columns={"Age": "age", "Leads": "enquiries", "Purchases": "sales"})
    pd.testing.assert_frame_equal(mapped, reference, check_dtype=False)


def test_built_in_mapping_reads_the_reference_unchanged() -> None:
    mapping = built_in()
    assert mode_features(mapping) == mode_features(None)
    assert load_campaigns(config.CAMPAIGNS_FILE, mapping).equals(load_campaigns(config.CAMPAIGNS_FILE))


def test_synthetic_export_runs_through_its_mapping(tmp_path: Path) -> None:
    export = tmp_path / "synth.csv"
    _run("synth", "--out", str(export), "--days", "20")
    curves = read_json(curves_path(export))["curves"]
    assert len(curves) == 36 and all(0.3 <= c["b"] <= 0.8 for c in curves)
    mapped = ["--data", str(export), "--mapping", str(MAPPING_FILE)]
    out = _run("summary", *mapped, "--by", "Placement", "--output", str(tmp_path / "s.csv"))
    assert "Instagram stories" in out
    assert len(pd.read_csv(tmp_path / "s.csv")) == 3
    out = _run("validate", *mapped, "--folds", "2", "--repeats", "1", "--report", str(tmp_path / "v.json"))
    assert "ROAS = (Purchases conversion value) / Spent" in out
    assert read_json(tmp_path / "v.json")["modes"]["planned"]["features"][:3] == [
        "Campaign name",
        "Placement",
        "Banner",
    ]
    _run("train", *mapped, "--model", str(tmp_path / "m.joblib"))
    _run("predict", "--input", str(export), "--mapping", str(MAPPING_FILE), "--model", str(tmp_path / "m.joblib"),
         "--output", str(tmp_path / "p.csv"))  # fmt: skip
    assert pd.read_csv(tmp_path / "p.csv")["predicted_roas"].notna().all()
    table = read_mapped(export, from_file(MAPPING_FILE))
    assert table["date"].min() == pd.Timestamp("2024-03-01") and VALUE in table


def test_the_budget_plan_runs_on_a_mapped_export(renamed: Path, tmp_path: Path) -> None:
    """curves, plan-validate and plan read any export through the same mapping: on the reference re-exported with
    other names they give the reference's own figures; on the synthetic export the default level is its segments
    but its group (campaign), so held-out campaigns are segments seen in training."""
    quick = ["--folds", "2", "--repeats", "1"]
    _run("plan-validate", *quick, "--report", str(tmp_path / "reference.json"))
    export = ["--data", str(renamed / "export.csv"), "--mapping", str(renamed / "mapping.toml")]
    _run("plan-validate", *quick, *export, "--by", "Campaign ID,Age,Gender", "--report", str(tmp_path / "m.json"))
    reference, mapped = read_json(tmp_path / "reference.json"), read_json(tmp_path / "m.json")
    assert mapped["value_accuracy"] == reference["value_accuracy"] and mapped["ranking"] == reference["ranking"]
    synthetic = tmp_path / "synth.csv"
    _run("synth", "--out", str(synthetic), "--days", "15")
    mapped_synthetic = ["--data", str(synthetic), "--mapping", str(MAPPING_FILE)]
    out = _run("curves", *mapped_synthetic, "--report", str(tmp_path / "c.json"))
    assert "Instagram stories/Banner B" in out and len(read_json(tmp_path / "c.json")["segments"]) == 6
    _run("plan", *mapped_synthetic, *quick, "--force", "--report", str(tmp_path / "p.json"))
    plan = read_json(tmp_path / "p.json")
    assert plan["by"] == ["Placement", "Banner"]
    assert sum(s["planned"] for s in plan["segments"]) == pytest.approx(plan["budget"])


@pytest.mark.parametrize(
    ("mapping", "names"),
    [
        (MAPPING.replace('"Link clicks"', '"Clicks"'), ("role 'clicks'", "'Clicks'")),
        (MAPPING.replace('"Link clicks"', '"Leads"'), ("role 'conversion'", "'Leads'", "role 'clicks'")),
        (MAPPING + 'budget = "Amount spent (USD)"\n', ("unknown role 'budget'",)),
        (MAPPING.replace("Leads:5", "Leads"), ("role 'conversion'", "'Leads'")),
        (MAPPING.replace("spend =", "# spend ="), ("role 'spend' is missing",)),
        (MAPPING + 'date = "Ad ID"\ndate_format = "%d/%m/%Y"\n', ("role 'date'", "Ad ID")),
        ("spend = [", ("not valid TOML",)),
    ],
)
def test_a_wrong_mapping_file_stops_with_one_line(renamed: Path, tmp_path: Path, mapping: str, names: tuple) -> None:
    (tmp_path / "m.toml").write_text(mapping)
    report = tmp_path / "r.json"
    report.write_bytes(b"before")
    args = ["roas", "summary", "--data", str(renamed / "export.csv"), "--mapping", str(tmp_path / "m.toml")]
    result = runner.invoke(app, [*args, "--by", "Age", "--output", str(report)])
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert all(name in last for name in names), last
    assert report.read_bytes() == b"before"


@pytest.mark.parametrize(
    ("columns", "names"),
    [
        (["spend=Clicks", "clicks=Clicks"], ("role 'clicks'", "'Clicks'", "role 'spend'")),
        (["budget=Spent"], ("unknown role 'budget'",)),
        (["spend"], ("ROLE=NAME",)),
        (["conversion=Total_Conversion"], ("role 'conversion'", "Total_Conversion")),
        (["spend=Cost", "segment=Spent"], ("role 'segment'", "'Spent'", "role 'spend'")),
    ],
)
def test_wrong_column_options_are_usage_errors(columns: list[str], names: tuple) -> None:
    with pytest.raises(OptionError) as error:
        with_columns(columns)
    assert all(name in str(error.value) for name in names) and str(error.value).startswith("--column")


def test_negative_spend_and_missing_column_name_role_and_column(tmp_path: Path) -> None:
    path = tmp_path / "ads.csv"
    table = pd.read_csv(config.CAMPAIGNS_FILE).rename(columns={"Spent": "Cost"})
    table.loc[3, "Cost"] = -1.0
    table.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'Cost', line 5: value -1.0 is negative \(role 'spend'\)"):
        load_campaigns(path, with_columns(["spend=Cost"]))
    with pytest.raises(DataError, match="role 'spend': the file has no column 'Amount'"):
        load_campaigns(path, with_columns(["spend=Amount"]))


def test_dates_in_common_formats(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    day_first = pd.Series(["01/02/2024", "13/02/2024"], name="Day")
    assert parse_date(path, day_first, "Day", None).dt.month.tolist() == [2, 2]
    month_first = pd.Series(["02/01/2024", "02/13/2024"], name="Day")
    assert parse_date(path, month_first, "Day", None).dt.day.tolist() == [1, 13]
    named = pd.Series(["5 Mar 2024", "6 Mar 2024"], name="Day")
    assert parse_date(path, named, "Day", None).dt.day.tolist() == [5, 6]
    with pytest.raises(DataError, match="role 'date'.*date_format"):
        parse_date(path, pd.Series(["01/02/2024", "03/04/2024"], name="Day"), "Day", None)
    with pytest.raises(DataError, match="line 3: value 'soon' is not a date"):
        parse_date(path, pd.Series(["2024-03-01", "soon"], name="Day"), "Day", None)
    months = pd.Series(["March", "apr", "5"], name="Month")
    dates = parse_year_month_day(path, None, months, pd.Series(["29", "1", "2"], name="Day"), 2024)
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2024-03-29", "2024-04-01", "2024-05-02"]
    with pytest.raises(DataError, match="column 'Day', line 2: .*role 'day'"):
        parse_year_month_day(path, None, pd.Series(["Feb"], name="Month"), pd.Series(["30"], name="Day"), 2023)
