"""How long a campaign export takes to read in each format, against the same rows as plain CSV (issue 35; the
figures are in docs/roas.md, "Formats"). Not a suite test: it writes a million-row export in five formats.

    python -m adpipe.bench.read_exports --rows 1000000 --out /tmp/exports [--repeats 2] [--no-xlsx]

Each file is `roas synth`'s daily export (Ads Manager names) read through its mapping by
``features.campaign_mapping.read_through``, the path every ``roas`` command takes; best of ``--repeats``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from features.campaign_mapping import from_file, read_through
from features.synth_campaigns import MAPPING_FILE, write_export
from features.tables.bad_rows import RowPolicy

SPEND, VALUE = "Amount spent (USD)", "Purchases conversion value"


def _decimal_comma(column: str) -> pl.Expr:
    return ("€ " + pl.col(column).cast(pl.String).str.replace(".", ",", literal=True)).alias(column)


def write_formats(folder: Path, rows: int, xlsx: bool) -> dict[str, Path]:
    """The export as plain CSV, UTF-16 tab with titles and a totals row, ';' with decimal commas and currency,
    Parquet and (``xlsx``) a workbook; written once, reused when there."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / "plain.csv"
    if not plain.exists():
        write_export(plain, days=-(-rows // 36), seed=0)
    table = pl.read_csv(plain, infer_schema=False)
    paths = {"plain CSV": plain}
    google = folder / "google_utf16.csv"
    if not google.exists():
        body = table.write_csv(separator="\t")
        total = "\t".join(["Total: Account", *["--"] * (table.width - 1)]) + "\n"
        google.write_bytes(("Report\nMarch 2024\n" + body + total).encode("utf-16"))
    paths["UTF-16 tab, titles, totals"] = google
    european = folder / "european.csv"
    if not european.exists():
        table.with_columns(_decimal_comma(SPEND), _decimal_comma(VALUE)).write_csv(european, separator=";")
    paths["';' decimal comma, currency"] = european
    parquet = folder / "export.parquet"
    if not parquet.exists():
        pl.read_csv(plain).write_parquet(parquet)
    paths["Parquet"] = parquet
    if xlsx:
        book = folder / "export.xlsx"
        if not book.exists():
            pl.read_csv(plain).write_excel(book, worksheet="Raw Data Report", autofit=False)
        paths["xlsx (fastexcel)"] = book
    return paths


def best_of(read: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-xlsx", action="store_true")
    options = parser.parse_args()
    mapping = from_file(MAPPING_FILE)
    started = time.perf_counter()
    paths = write_formats(options.out, options.rows, not options.no_xlsx)
    print(f"wrote the formats in {time.perf_counter() - started:.1f} s")
    baseline = None
    for name, path in paths.items():
        policy = RowPolicy(sheet="Raw Data Report") if path.suffix == ".xlsx" else None
        rows = len(read_through(path, mapping, policy=policy).table)
        seconds = best_of(lambda p=path, q=policy: read_through(p, mapping, policy=q), options.repeats)
        baseline = baseline or seconds
        print(f"{name:30s} {rows:>9,} rows  {seconds:7.2f} s  {seconds / baseline:5.2f}x plain CSV", flush=True)


if __name__ == "__main__":
    main()
