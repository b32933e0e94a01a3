"""Campaign exports as platforms write them (issue 35): one fixture per format, written here from the reference
file (re-exported with Ads Manager's names) and from `roas synth`, each read to exactly the clean file's rows; the
impossible-rows policy (refuse naming every rule, skip into the rejected file) checked against planted rows; the
proposed mapping of each platform's header."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import fastexcel
import numpy as np
import pandas as pd
import polars as pl
import pytest
import xlsxwriter
from typer.testing import CliRunner

from adpipe import config
from adpipe.errors import DataError
from features.campaign_mapping import from_file, read_through
from features.campaigns import summarize
from features.platform_columns import propose
from features.synth_campaigns import MAPPING_FILE, write_export
from features.tables.bad_rows import RowPolicy
from features.tables.export_text import number_text
from model import app
from tests.test_campaign_mapping import MAPPING, RENAMED

runner = CliRunner()
SPEND = "Amount spent (USD)"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """The reference file renamed as Ads Manager would (text as written), its mapping beside it."""
    folder = tmp_path_factory.mktemp("exports")
    table = pd.read_csv(config.CAMPAIGNS_FILE, dtype=str).rename(columns=RENAMED)
    table.to_csv(folder / "clean.csv", index=False)
    (folder / "mapping.toml").write_text(MAPPING)
    return folder, table


def _clean(folder: Path) -> pd.DataFrame:
    return read_through(folder / "clean.csv", from_file(folder / "mapping.toml")).table


def _same_as_clean(folder: Path, name: str, policy: RowPolicy | None = None) -> None:
    mapping = from_file(folder / "mapping.toml")
    read = read_through(folder / name, mapping, policy=policy).table
    clean = _clean(folder)
    pd.testing.assert_frame_equal(read, clean, check_exact=True)
    pd.testing.assert_frame_equal(summarize(read, "Age", 5, 100, mapping), summarize(clean, "Age", 5, 100, mapping))


def _grouped(text: str, decimal: str = ".") -> str:
    """``1234.5678`` as ``1,234.5678`` (or ``1.234,5678``): the same digits, thousands marked."""
    whole, _, fraction = text.partition(".")
    thousands = "," if decimal == "." else "."
    grouped = f"{int(whole):,}".replace(",", thousands)
    return grouped + (decimal + fraction if fraction else "")


def test_utf16_tab_with_title_lines_and_totals(reference: tuple[Path, pd.DataFrame]) -> None:
    folder, table = reference
    body = table.to_csv(sep="\t", index=False, lineterminator="\n")
    total = "\t".join(["Total: Account", *["--"] * 6, "1,000", "2", "3.5", "4"]) + "\n"
    (folder / "google.csv").write_bytes(("Ad report\nMarch 1, 2024 - March 31, 2024\n" + body + total).encode("utf-16"))
    _same_as_clean(folder, "google.csv")
    reading = read_through(folder / "google.csv", from_file(folder / "mapping.toml")).reading
    assert reading.skipped == [
        "line 1 'Ad report'",
        "line 2 'March 1, 2024 - March 31, 2024'",
        "line 1147 'Total: Account'",
    ]


def test_utf16_big_endian_and_utf8_bom(reference: tuple[Path, pd.DataFrame]) -> None:
    folder, table = reference
    text = table.to_csv(index=False, lineterminator="\r\n")
    (folder / "be.csv").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    (folder / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    _same_as_clean(folder, "be.csv")
    _same_as_clean(folder, "bom.csv")


def test_xlsx_with_a_summary_row(reference: tuple[Path, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, table = reference
    book = xlsxwriter.Workbook(folder / "meta.xlsx")
    book.add_worksheet("Notes").write_row(0, 0, ["not this sheet"])
    sheet = book.add_worksheet("Raw Data Report")
    sheet.write_row(0, 0, list(table.columns))
    summary = ["", "", "", "", "", "", "4,500.25", "1000", "20", "30", "5"]  # Meta's: figures, no names
    sheet.write_row(1, 0, summary)
    for i, row in enumerate(table.itertuples(index=False), start=2):
        sheet.write_row(i, 0, [float(v) if re.fullmatch(r"-?\d+(\.\d+)?", v) else v for v in row])
    book.close()
    mapping = from_file(folder / "mapping.toml")
    with pytest.raises(DataError, match="meta.xlsx.*"):  # the first sheet has no such columns
        read_through(folder / "meta.xlsx", mapping)
    _same_as_clean(folder, "meta.xlsx", RowPolicy(sheet="Raw Data Report"))
    reading = read_through(folder / "meta.xlsx", mapping, policy=RowPolicy(sheet="Raw Data Report")).reading
    assert reading.skipped == ["line 2 '4,500.25'"]
    loads = []  # loading the sheet is most of reading a workbook: once a read (twice was 3.04x plain CSV, not 2.07x)
    load_sheet = fastexcel.ExcelReader.load_sheet
    monkeypatch.setattr(fastexcel.ExcelReader, "load_sheet", lambda *a, **k: loads.append(1) or load_sheet(*a, **k))
    read_through(folder / "meta.xlsx", mapping, policy=RowPolicy(sheet="Raw Data Report"))
    assert len(loads) == 1


def test_semicolons_with_decimal_commas_and_currency_text(reference: tuple[Path, pd.DataFrame]) -> None:
    folder, table = reference
    european = table.assign(**{SPEND: ["€ " + _grouped(v, ",") for v in table[SPEND]]})
    european.to_csv(folder / "european.csv", sep=";", index=False)
    _same_as_clean(folder, "european.csv")  # the decimal mark told from the numbers
    _same_as_clean(folder, "european.csv", RowPolicy(decimal=","))
    dollars = table.assign(**{SPEND: ["$" + _grouped(v) for v in table[SPEND]], "Impressions": table["Impressions"]})
    dollars.to_csv(folder / "dollars.csv", index=False)
    _same_as_clean(folder, "dollars.csv")


def test_parquet_with_a_summary_row_and_totals(reference: tuple[Path, pd.DataFrame]) -> None:
    """Typed columns (numbers, ids), a Meta-style summary row on top (figures, no names) and a totals row below
    (its name in the first, text, column): the rows between are the clean file's, the two are said skipped."""
    folder, _ = reference
    clean = pl.read_csv(folder / "clean.csv", schema_overrides={"Ad ID": pl.String})
    figures = {SPEND: 4500.25, "Impressions": 1000, "Link clicks": 20, "Leads": 30, "Purchases": 5}
    summary = pl.DataFrame([figures]).cast({name: clean.schema[name] for name in figures})
    total = summary.with_columns(pl.lit("Total: Account").alias("Ad ID"))
    pl.concat([summary, clean, total], how="diagonal").select(clean.columns).write_parquet(folder / "export.parquet")
    _same_as_clean(folder, "export.parquet")
    reading = read_through(folder / "export.parquet", from_file(folder / "mapping.toml")).reading
    assert reading.skipped == ["row 1 '1000'", "row 1145 'Total: Account'"]
    among = pl.concat([clean.head(500), summary, clean.tail(-500)], how="diagonal").select(clean.columns)
    among.write_parquet(folder / "among.parquet")  # among the data, a row without names is a row, and refused
    with pytest.raises(DataError, match=r"among.parquet: 1 impossible row\(s\) of 1144: 'Ad set ID' is empty: 1 "):
        read_through(folder / "among.parquet", from_file(folder / "mapping.toml"))
    with pytest.raises(DataError, match=r"'Age' is empty: 1 row\(s\), row\(s\) 501;"):
        read_through(folder / "among.parquet", from_file(folder / "mapping.toml"))


@pytest.mark.parametrize(
    ("text", "decimal", "number"),
    [
        ("1,234.50", ".", 1234.5),
        ("€1.234,50", ",", 1234.5),
        ("3.21%", ".", 0.0321),
        ("USD 12", ".", 12.0),
        ("(5.5)", ".", -5.5),
        ("-5", ".", -5.0),
        ("1 234,5", ",", 1234.5),
        ("--", ".", None),
        ("", ".", None),
        ("1,23", ".", None),  # a comma that is no thousands mark: not a number, never 123
        ("12.5.1", ".", None),
        ("abc", ".", None),
    ],
)
def test_number_text(text: str, decimal: str, number: float | None) -> None:
    value = pl.select(number_text(pl.lit(text).str.strip_chars(), decimal)).item()
    assert value == pytest.approx(number) if number is not None else value is None


def test_a_bad_value_in_an_export_names_its_file_line_and_rule(reference: tuple[Path, pd.DataFrame]) -> None:
    folder, table = reference
    broken = table.copy()
    broken.loc[10, SPEND] = "lots"
    body = broken.to_csv(sep="\t", index=False, lineterminator="\n")
    (folder / "bad16.csv").write_bytes(("Ad report\nMarch 2024\n" + body).encode("utf-16"))
    with pytest.raises(DataError) as error:
        read_through(folder / "bad16.csv", from_file(folder / "mapping.toml"))
    message = str(error.value)
    assert f"bad16.csv, column '{SPEND}', line 14: value 'lots' is not a number" in message
    assert (folder / "bad16.csv").read_text(encoding="utf-16").splitlines()[13].count("lots") == 1


# --- impossible rows --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[int, str]]:
    """`roas synth`'s export (clean) and a copy with impossible rows planted at known lines, and a few quirks."""
    folder = tmp_path_factory.mktemp("planted")
    write_export(folder / "clean.csv", 20, 7)
    table = pd.read_csv(folder / "clean.csv", dtype=str)
    rules = {
        5: ("Impressions", "0", "is more clicks than the row's 'Impressions'"),  # a click with zero impressions
        40: (SPEND, "-12.5", "is negative (role 'spend')"),
        41: ("Link clicks", "-1", "is negative (role 'clicks')"),
        200: ("Purchases conversion value", "-80", "is negative (a refund"),
        333: (SPEND, "n/a", "is not a number"),
    }
    bad = table.copy()
    for row, (column, value, _) in rules.items():
        bad.loc[row, column] = value
    quirk = bad.loc[[7]].copy()
    bad = pd.concat([bad.iloc[:8], quirk, bad.iloc[8:]])  # an exact duplicate of row 7 (kept, warned)
    bad.to_csv(folder / "bad.csv", index=False)
    lines = {(row + 2 if row < 8 else row + 3): rule for row, (_, _, rule) in rules.items()}
    return folder / "clean.csv", folder / "bad.csv", lines


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("command", [["roas", "summary", "--output"], ["roas", "curves", "--report"]])
def test_refuse_names_every_rule_and_writes_nothing(planted, tmp_path: Path, command: list[str]) -> None:
    _, bad, lines = planted
    out = tmp_path / "out.json"
    code, output = _cli(*command, str(out), "--data", str(bad), "--mapping", str(MAPPING_FILE))
    assert code == 1 and len(output.strip().splitlines()) == 1
    assert "bad.csv: 5 impossible row(s)" in output
    for line, rule in lines.items():
        assert rule in output and str(line) in output
    assert list(tmp_path.iterdir()) == []


def test_skip_sets_aside_exactly_the_planted_rows(planted, tmp_path: Path) -> None:
    clean, bad, lines = planted
    mapping = from_file(MAPPING_FILE)
    policy = RowPolicy(bad_rows="skip", rejected=tmp_path / "report.rejected.csv")
    read = read_through(bad, mapping, policy=policy)
    rejected = pd.read_csv(tmp_path / "report.rejected.csv", dtype=str)
    assert sorted(rejected["line"].astype(int)) == sorted(lines)
    for line, rule in lines.items():
        assert rule in rejected.set_index(rejected["line"].astype(int)).at[line, "rule"]
    expected = read_through(clean, mapping).table
    expected = pd.concat([expected.iloc[:8], expected.loc[[7]], expected.iloc[8:]], ignore_index=True)
    planted_rows = [line - 2 for line in lines]  # 0-based data rows of the bad file
    expected = expected.drop(index=planted_rows).reset_index(drop=True)
    pd.testing.assert_frame_equal(read.table, expected, check_exact=True)
    assert read.reading.set_aside_rows == 5 and read.reading.warnings == {"exact duplicate rows": 1}
    assert read.reading.set_aside_spend == pytest.approx(
        pd.read_csv(bad, dtype=str).iloc[planted_rows][SPEND].map(pd.to_numeric, errors="coerce").clip(0).sum()
    )


def test_skip_above_the_limit_still_refuses(planted, tmp_path: Path) -> None:
    _, bad, _ = planted
    out = tmp_path / "s.csv"
    args = ["roas", "summary", "--output", str(out), "--data", str(bad), "--mapping", str(MAPPING_FILE)]
    code, output = _cli(*args, "--bad-rows", "skip", "--max-bad-rows", "4")
    assert code == 1 and "more than --max-bad-rows (4 rows)" in output and list(tmp_path.iterdir()) == []
    code, output = _cli(*args, "--bad-rows", "skip")  # 5 of 720 rows: within 1%
    assert code == 0, output
    assert "set aside 5 of 721 rows" in output and (tmp_path / "s.rejected.csv").exists()


# --- proposed mappings ------------------------------------------------------------------------------------------

HEADERS = {
    "Google Ads": ["Day", "Campaign", "Ad group", "Cost", "Impr.", "Clicks", "Conversions", "Conv. value"],
    "Meta Ads Manager": [
        "Reporting starts",
        "Reporting ends",
        "Campaign name",
        "Age",
        "Amount spent (EUR)",
        "Impressions",
        "Link clicks",
        "Purchases",
        "Purchases conversion value",
    ],
    "LinkedIn": ["Start Date (in UTC)", "Campaign Name", "Total Spent", "Impressions", "Clicks", "Leads"],
    "TikTok": ["By Day", "Campaign name", "Cost", "Impressions", "Clicks (Destination)", "Conversions"],
    "Microsoft Ads": ["Gregorian date", "Campaign name", "Spend", "Impr.", "Clicks", "Conv.", "Revenue"],
}


@pytest.mark.parametrize("platform", HEADERS)
def test_roas_mapping_proposes_each_platforms_roles(platform: str, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(",".join(HEADERS[platform]) + "\n")
    code, output = _cli("roas", "mapping", "--data", str(path), "--write", str(tmp_path / "m.toml"))
    assert code == 0, output
    assert f"looks like a {platform} export" in output
    proposed = tomllib.loads(propose(HEADERS[platform]).replace(":VALUE", ":1"))
    assert {"spend", "impressions", "clicks", "conversion", "segment", "group", "date"} <= set(proposed)
    assert all(np.isin([proposed["spend"], proposed["clicks"]], HEADERS[platform]))
