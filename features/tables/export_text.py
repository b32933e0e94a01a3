"""A platform's export as it arrives: its encoding and delimiter, the title lines above its header, its totals and
summary rows, and its number text ("€1,234.50", "3.21%", "--") read as numbers (docs/roas.md, "Formats").

Ads platforms do not export plain CSV: Google Ads writes UTF-16 with tabs, two title lines and "Total: …" rows;
Meta writes a summary row and, in European locales, ``;`` with decimal commas. A schema marked ``export`` is read
through these rules by every text reader (CSV, the sheet of an ``.xlsx``); others are read as strict UTF-8 CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from adpipe.errors import DataError

SEPARATORS = (",", ";", "\t", "|")
_HEAD_LINES = 50  # a header is looked for in the first lines only
NONE_TEXT = ("--", "-", "—")  # a figure the platform does not have: read as empty, as an empty field is
# Currency symbols, spaces and apostrophes (thousands in some locales): whatever is not a digit, letter, mark,
# sign, parenthesis or percent; then a currency code ("USD"). Character classes: the fastest rules to apply
# (word boundaries and alternatives of codes took twice as long on a million rows).
_SYMBOLS = r"[^0-9A-Za-z.,()%+\-]"
_CODE = r"[A-Z]{3}"
# Number text once currency, percent, spaces and a sign are gone: digits grouped by threes with the thousands mark
# (or not grouped at all), then the decimal mark and digits, then an exponent (an Excel cell read as text).
_NUMBER = r"^(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)?(?:{d}\d+)?(?:[eE][+-]?\d+)?$"
_TOTAL = r"(?i)^\s*(?:grand\s+)?totals?\b"


def decode_head(raw: bytes) -> tuple[str, str]:
    """(encoding, text) of a file's first bytes: UTF-8 with or without BOM, UTF-16 LE/BE with or without BOM."""
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", raw.decode("utf-8-sig", "replace")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", raw[: len(raw) // 2 * 2].decode("utf-16", "replace")
    pairs = raw[: len(raw) // 2 * 2]
    if pairs and pairs[1::2].count(0) > len(pairs) // 4 and pairs[0::2].count(0) == 0:
        return "utf-16-le", pairs.decode("utf-16-le", "replace")
    if pairs and pairs[0::2].count(0) > len(pairs) // 4 and pairs[1::2].count(0) == 0:
        return "utf-16-be", pairs.decode("utf-16-be", "replace")
    return "utf-8", raw.decode("utf-8", "replace")


@dataclass(frozen=True)
class Layout:
    """Where a table starts in a text export: the encoding, the delimiter, the header's 0-based line, the titles."""

    encoding: str
    sep: str
    header_line: int
    titles: tuple[str, ...]
    header: tuple[str, ...]


def _fields(line: str, sep: str) -> list[str]:
    return [f.strip() for f in next(csv.reader(io.StringIO(line), delimiter=sep), [])]


def find_header(lines: Sequence[Sequence[str]], names: Collection[str]) -> int:
    """The row of ``lines`` (each a row's fields) naming the most of ``names`` (the first such); 0 if none does."""
    scores = [sum(field in names for field in row) for row in lines[:_HEAD_LINES]]
    best = max(scores, default=0)
    return scores.index(best) if best > 0 else 0


def find_layout(path: Path, names: Collection[str]) -> Layout:
    """The encoding, delimiter and header line of a CSV export: the header is the first line naming the most of the
    schema's ``names``; the lines above it are its titles (a report name, a date range)."""
    with path.open("rb") as handle:
        encoding, text = decode_head(handle.read(1 << 16))
    lines = text.lstrip("\ufeff").splitlines()[:_HEAD_LINES] or [""]
    best: tuple[int, int, int, str] = (-1, 0, 0, ",")
    for sep in SEPARATORS:
        rows = [_fields(line, sep) for line in lines]
        at = find_header(rows, names)
        score = sum(field in names for field in rows[at])
        best = max(best, (score, len(rows[at]), -at, sep))
    _, _, at, sep = best
    at = -at
    return Layout(encoding, sep, at, tuple(line.strip() for line in lines[:at]), tuple(_fields(lines[at], sep)))


def utf8_source(path: Path, layout: Layout) -> Path | bytes:
    """What Polars reads: the file itself when it is UTF-8, else its text re-encoded as UTF-8 (Polars reads no
    UTF-16); an undecodable byte is refused with its line."""
    if layout.encoding.startswith("utf-8"):
        return path
    raw = path.read_bytes()
    try:
        return raw.decode(layout.encoding).lstrip("\ufeff").encode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].decode(layout.encoding, "replace").count("\n") + 1
        message = f"is not {layout.encoding.upper()} text past byte {error.start}"
        raise DataError(message, path=path, line=line) from error


# --- number text --------------------------------------------------------------------------------------------


def none_as_empty(text: pl.Expr) -> pl.Expr:
    """``--`` (a platform's "no figure") as an empty field."""
    return pl.when(text.is_in(NONE_TEXT)).then(pl.lit("")).otherwise(text)


def number_text(text: pl.Expr, decimal: str) -> pl.Expr:
    """Number text as a float (null where it is not one): currency symbols and codes, spaces and apostrophes
    dropped; thousands marks (the other of ``.``/``,``) only in groups of three; ``12%`` is 0.12; ``(5)`` and
    ``-5`` are negative."""
    thousands = "," if decimal == "." else "."
    bare = text.str.replace_all(_SYMBOLS, "").str.replace_all(_CODE, "")
    negative = bare.str.starts_with("-") | (bare.str.starts_with("(") & bare.str.ends_with(")"))
    percent = bare.str.ends_with("%")
    digits = bare.str.strip_chars("-+()%")
    pattern = _NUMBER.format(t=re.escape(thousands), d=re.escape(decimal))
    plain = digits.str.replace_all(re.escape(thousands), "").str.replace(re.escape(decimal), ".")
    value = plain.cast(pl.Float64, strict=False)
    value = pl.when(digits.str.contains(pattern) & (digits != "")).then(value)
    value = pl.when(percent).then(value / 100.0).otherwise(value)
    return pl.when(negative).then(-value).otherwise(value)


def plain_columns(raw: pl.LazyFrame, numbers: Sequence[str]) -> dict[str, str]:
    """Each number column of ``raw`` (text) as "plain" (every value a plain number, without dots), "dots" (plain
    numbers, some with a dot) or "text" (number text: currency, marks, percent)."""
    checks = []
    for name in numbers:
        text = pl.col(name).str.strip_chars()
        present = text.is_not_null() & (text != "") & ~text.is_in(NONE_TEXT)
        checks.append((present & text.cast(pl.Float64, strict=False).is_null()).sum().alias(f"{name}\0text"))
        checks.append(text.str.contains(".", literal=True).fill_null(False).any().alias(f"{name}\0dots"))
    found = raw.select(checks).collect().row(0, named=True) if checks else {}
    return {n: "text" if found[f"{n}\0text"] else "dots" if found[f"{n}\0dots"] else "plain" for n in numbers}


def guess_decimal(raw: pl.LazyFrame, numbers: Sequence[str], kinds: dict[str, str], sep: str, path: Path) -> str:
    """The decimal mark numbers are written with: the one that ends a number with other than three digits after it
    (``1,5`` or ``12.25``) or follows the other mark (``1.234,5``); with no such number, ``,`` in a ``;`` file
    (the European convention), else ``.``. A file with evidence of both is refused: say ``--decimal``."""
    ends = r"(?:\d{1,2}|\d{4,})\D*$"
    checks = []
    for name in (n for n in numbers if kinds[n] != "plain"):
        text = pl.col(name)
        checks.append(text.str.contains(rf"\d,{ends}|\.\d{{3}},\d").fill_null(False).sum().alias(f"{name}\0,"))
        checks.append(text.str.contains(rf"\d\.{ends}|,\d{{3}}\.\d").fill_null(False).sum().alias(f"{name}\0."))
    found = raw.select(checks).collect().row(0, named=True) if checks else {}
    comma = sum(v for k, v in found.items() if k.endswith("\0,"))
    dot = sum(v for k, v in found.items() if k.endswith("\0."))
    if comma and dot:
        raise DataError(
            f"numbers are written with both ',' ({comma} values) and '.' ({dot}) as the decimal mark: "
            "say which with --decimal",
            path=path,
        )
    if comma or dot:
        return "," if comma else "."
    return "," if sep == ";" else "."


# --- totals and summary rows --------------------------------------------------------------------------------


def summary_rows(frame: pl.DataFrame, labels: Sequence[str], first: str, figures: Sequence[str]) -> np.ndarray:
    """The 0-based rows at the top and bottom of ``frame`` (text) that are not data: a totals row (a label or the
    first column starts with "Total"), a summary row (every label empty: Meta's), a note (every figure empty).
    Only a run at either edge is skipped: a row like that among the data stays a row (and is checked as one)."""
    columns = list(dict.fromkeys((*labels, first)))
    empty = [(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")) for c in columns]
    total = pl.any_horizontal(pl.col(c).str.contains(_TOTAL).fill_null(False) for c in columns)
    no_label = pl.all_horizontal(empty[: len(labels)]) if labels else pl.lit(False)
    no_figure = pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in figures)
    flags = frame.select(total | no_label | (no_figure if figures else pl.lit(False))).to_series().to_numpy()
    n = len(flags)
    top = int(np.argmin(flags)) if not flags.all() else n
    bottom = int(np.argmin(flags[::-1])) if not flags.all() else 0
    return np.r_[np.arange(top), np.arange(n - bottom, n)] if top < n else np.arange(n)
