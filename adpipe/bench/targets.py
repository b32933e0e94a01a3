"""What a `make bench` run's figures say: each engine's time as a ratio to the parse floor and to DuckDB of the same
run, the engine ``--engine auto`` picks at each size, the targets checked, and the printed table.

The parse floor (``read-csv``, ``read-parquet``: Polars reading the same sessions whole, in its own fresh process)
is what any engine pays before its first aggregate; issue 25's targets are read from ratios to it and to DuckDB,
both measured in the same run, so a loaded machine moves both sides of each ratio.
"""

from __future__ import annotations

from typing import Any

FLOORS = {"csv": "read-csv", "parquet": "read-parquet"}
BYTES_PER_FEATURE = 8  # the gathered table is float64


def input_kind(engine: str) -> str:
    """Which input an engine reads: "parquet" for the ``-parquet`` engines, else "csv"."""
    return "parquet" if engine.endswith("-parquet") else "csv"


def auto_engine(entry: dict[str, Any], kind: str) -> str | None:
    """The bench engine that ``--engine auto`` picks for this size's ``kind`` of input (None if not recorded)."""
    picked = entry.get("auto", {}).get(kind)
    if picked is None:
        return None
    return picked["engine"] if kind == "csv" else f"{picked['engine']}-parquet"


def ratios(entry: dict[str, Any], engine: str) -> dict[str, float | None]:
    """One engine's wall time ÷ the parse floor of its input and ÷ DuckDB's (None when either was not run)."""
    wall = entry[engine]["wall_s"]
    floor, duckdb = entry.get(FLOORS[input_kind(engine)]), entry.get("duckdb")
    return {
        "vs_read": wall / floor["wall_s"] if floor else None,
        "vs_duckdb": wall / duckdb["wall_s"] if duckdb else None,
    }


def _figure(entry: dict[str, Any] | None, engine: str | None, key: str) -> float | None:
    if entry is None or engine is None or engine not in entry:
        return None
    return entry[engine][key]


def _divided(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or bottom is None else top / bottom


def check(value: float | None, limit: float, at_least: bool) -> dict[str, Any]:
    met = None if value is None else (value >= limit if at_least else value <= limit)
    return {"value": None if value is None else round(value, 3), "limit": limit, "met": met}


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The targets, checked on the largest size measured (None when an engine was not run); the growth target
    compares it with the size ten times smaller, when that ran."""
    entry = max(result["sizes"], key=lambda e: e["sessions"])
    smaller = [e for e in result["sizes"] if e["sessions"] * 5 < entry["sessions"]]
    tenth = max(smaller, key=lambda e: e["sessions"]) if smaller else None
    memory, duckdb, baseline = entry.get("memory"), entry.get("duckdb"), entry.get("baseline")
    dask, chunked = entry.get("dask"), entry.get("chunked")
    auto_csv, auto_parquet = auto_engine(entry, "csv"), auto_engine(entry, "parquet")
    predict = entry.get("predict", {"predict_s": None, "users": None})
    table_mb = entry["users"] * entry.get("feature_columns", 0) * BYTES_PER_FEATURE / 2**20
    tenth_rate = _figure(tenth, auto_engine(tenth or {}, "csv"), "sessions_per_s")
    auto_read = _divided(_figure(entry, auto_csv, "wall_s"), _figure(entry, "read-csv", "wall_s"))
    same_engine_parquet = auto_csv and f"{auto_csv}-parquet"
    return {
        "at_sessions": entry["sessions"],
        "auto_engine": {"csv": auto_csv, "parquet": auto_parquet},
        # issue 25
        "auto_csv_vs_read_csv_at_most_2.5x": check(auto_read, 2.5, False),
        "duckdb_vs_auto_csv_at_least_2x": check(
            _divided(_figure(entry, "duckdb", "wall_s"), _figure(entry, auto_csv, "wall_s")), 2.0, True
        ),
        "peak_rss_vs_session_csv_at_most_2x": check(  # the in-memory engine
            memory and memory["peak_rss_mb"] / entry["session_csv_mb"], 2.0, False
        ),
        "auto_csv_engine_parquet_vs_csv_throughput_at_least_2x": check(
            _divided(_figure(entry, same_engine_parquet, "sessions_per_s"), _figure(entry, auto_csv, "sessions_per_s")),
            2.0,
            True,
        ),
        "auto_csv_sessions_per_s_vs_tenth_size_at_least_0.8": check(
            _divided(_figure(entry, auto_csv, "sessions_per_s"), tenth_rate), 0.8, True
        ),
        "dask_client_peak_vs_table_at_most_2x": check(  # anonymous memory: VmHWM also counts the mapped CSV
            _divided(_figure(entry, "dask", "peak_anonymous_mb"), table_mb or None), 2.0, False
        ),
        # earlier issues
        "sessions_per_s_at_least_1e6": check(memory and memory["sessions_per_s"], 1e6, True),
        "wall_vs_duckdb_at_most_2x": check(memory and duckdb and memory["wall_s"] / duckdb["wall_s"], 2.0, False),
        "speedup_vs_baseline_at_least_3x": check(
            memory and baseline and baseline["wall_s"] / memory["wall_s"], 3.0, True
        ),
        "dask_wall_vs_memory_at_most_2x": check(memory and dask and dask["wall_s"] / memory["wall_s"], 2.0, False),
        "dask_worker_peak_rss_mb_under_4096": check(dask and dask["worker_peak_rss_mb"], 4096.0, False),
        "chunked_peak_rss_mb_under_4096": check(chunked and chunked["peak_rss_mb"], 4096.0, False),
        "predict_s_under_10_for_users": {**check(predict["predict_s"], 10.0, False), "users": predict["users"]},
    }


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _cpu(figures: dict[str, Any]) -> str:
    """CPU seconds of the measuring process and the kernel's part; a Dask run's workers are not in it."""
    if "cpu_s" not in figures or "workers" in figures:  # a report from before issue 25, or the client alone
        return "-"
    return f"{figures['cpu_s']:.1f} ({figures['kernel_cpu_s']:.1f})"


def summary_rows(result: dict[str, Any], engines: tuple[str, ...]) -> tuple[list[str], list[list[object]]]:
    """The printed table: one row per size and engine (its ratios to the floor and to DuckDB; '*' marks the
    engine ``auto`` picks), then the predict row."""
    header = ["sessions", "engine", "wall_s", "cpu s (kernel)", "sessions/s", "peak_rss_mb", "rss/csv", "÷ read"]
    header += ["÷ duckdb", "runs"]
    rows: list[list[object]] = []
    for entry in result["sizes"]:
        picked = {auto_engine(entry, kind) for kind in ("csv", "parquet")}
        for engine in (e for e in engines if e in entry):
            figures, ratio = entry[engine], ratios(entry, engine)
            peak = figures["peak_rss_mb"]
            memory = (
                f"{peak:.0f} + {figures['workers']}x{figures['worker_peak_rss_mb']:.0f}"
                if "worker_peak_rss_mb" in figures
                else round(peak)
            )
            rows.append(
                [
                    f"{entry['sessions']:,}",
                    f"{engine}{' *' * (engine in picked)}",
                    round(figures["wall_s"], 2),
                    _cpu(figures),
                    f"{figures['sessions_per_s']:,.0f}",
                    memory,
                    round(peak / entry["session_csv_mb"], 2),
                    _times(ratio["vs_read"]),
                    _times(ratio["vs_duckdb"]),
                    figures["runs"],
                ]
            )
        if "predict" not in entry:
            continue
        predict = entry["predict"]
        rows.append(
            [
                f"{entry['sessions']:,}",
                f"predict {int(predict['users']):,} users",
                round(predict["predict_s"], 2),
                "-",
                f"features+predict+file {predict['end_to_end_s']:.1f} s",
                round(predict["peak_rss_mb"]),
                "-",
                "-",
                "-",
                predict["runs"],
            ]
        )
    return header, rows
