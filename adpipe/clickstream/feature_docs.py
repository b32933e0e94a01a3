"""docs/features.md, generated from :data:`features.clickstream.FEATURES` (tests/test_clickstream_features.py keeps
the two equal), so the page can never drift from the code."""

from __future__ import annotations

import re

import polars as pl

from features.clickstream import FEATURE_GROUPS, FEATURES, SESSION_VALUES


def features_markdown() -> str:
    """The page, from FEATURES."""

    def code(expr: pl.Expr) -> str:
        return "`" + re.sub(r"dyn (int|float): ", "", str(expr)).replace("|", "\\|") + "`"

    over = {"user": "the user's row", "sessions": "the user's sessions", "derived": "the user's other features"}
    lines = [
        "# ClickStream features",
        "",
        "Generated from `features/clickstream.py` (`FEATURES`) by `adpipe/clickstream/feature_docs.py`: do not edit",
        "by hand.",
        f"{len(FEATURES)} columns in {len(FEATURE_GROUPS)} groups, in the model's column order; the groups are what",
        "tuning switches on and off. A user without sessions keeps a row: 0 where marked, NaN for every other",
        "session or derived feature. Each expression is evaluated per user by Polars (`python model.py features`),",
        "once, whatever the input (one CSV or Parquet file, or parts) and the engine (`--engine memory`, `chunked`",
        'or `dask`): the engines give the same table to float rounding (clickstream.md, "Engines").',
        "",
        "Values of each session that the session features aggregate, besides its loaded columns:",
        "",
        "| value | expression |",
        "|---|---|",
        *(f"| `{name}` | {code(value)} |" for name, value in SESSION_VALUES.items()),
    ]
    for group, names in FEATURE_GROUPS.items():
        lines += ["", f"## `{group}`", "", "| feature | computed over | Polars expression |", "|---|---|---|"]
        for feature in (f for f in FEATURES if f.name in names):
            zero = " (0 without sessions)" if feature.zero else ""
            lines.append(f"| `{feature.name}` | {over[feature.source]}{zero} | {code(feature.expr)} |")
    return "\n".join(lines) + "\n"
