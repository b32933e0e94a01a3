"""How fast the report page opens (issue 36's targets: load event within 1.5 s, page within 8 MB), in headless
Chromium (Debian's, through Playwright's Python package; never ``playwright install``). Not a suite test: it
times the page ``make report`` built, on whatever else the machine runs, so it prints the load average beside.

    make report-load                                   # reports/index.html, 3 runs
    python -m adpipe.bench.page_load --page FILE --runs 5

Each run opens the page in a fresh browser page and reads the navigation timing: the load event's end (what the
target bounds) and the DOM's; then the time until every figure of the first screen is drawn (plotly.js runs after
the load event, and a figure is drawn when it comes near the screen). The median of the runs is the figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

from adpipe import config

# Debian's chromium and the flags every browser test launches it with (tests/conftest.py reads them here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOAD_TARGET_S = 1.5
SIZE_TARGET_MB = 8.0
VIEWPORT = {"width": 1400, "height": 900}
# Every lazy figure whose box touches the first screen has been drawn by plotly (its box holds the plot).
_FIRST_SCREEN_DRAWN = """() => [...document.querySelectorAll('.lazy-figure')]
    .filter(box => box.getBoundingClientRect().top < window.innerHeight)
    .every(box => box.querySelector('.main-svg'))"""


def measure(page_file: Path, runs: int) -> list[dict[str, float]]:
    """Per run: seconds to the DOM content loaded and load events' ends, and to the first screen's figures drawn."""
    from playwright.sync_api import sync_playwright

    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            navigation = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
            page.wait_for_function(_FIRST_SCREEN_DRAWN, timeout=120_000)
            drawn = page.evaluate("() => performance.now()")
            timings.append(
                {
                    "dom_s": navigation["domContentLoadedEventEnd"] / 1000,
                    "load_s": navigation["loadEventEnd"] / 1000,
                    "first_screen_s": drawn / 1000,
                }
            )
            page.close()
        browser.close()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, default=config.REPORTS_DIR / "index.html", help="the report page")
    parser.add_argument("--runs", type=int, default=3, help="fresh page loads; the median is the figure")
    args = parser.parse_args(argv)
    if not args.page.exists():
        print(f"error: {args.page} does not exist: run make report first", file=sys.stderr)
        return 1
    if not CHROMIUM.exists():
        print(f"error: {CHROMIUM} does not exist: apt-get install -y chromium", file=sys.stderr)
        return 1
    size_mb = args.page.stat().st_size / 1e6
    before = os.getloadavg()[0]
    timings = measure(args.page, max(1, args.runs))
    after = os.getloadavg()[0]
    median = {key: statistics.median(t[key] for t in timings) for key in timings[0]}
    loads = ", ".join(f"{t['load_s']:.2f}" for t in timings)
    size_met = "met" if size_mb <= SIZE_TARGET_MB else "MISSED"
    load_met = "met" if median["load_s"] <= LOAD_TARGET_S else "MISSED"
    print(f"{args.page}: {size_mb:.1f} MB (target ≤ {SIZE_TARGET_MB:g} MB: {size_met})")
    print(
        f"load event {median['load_s']:.2f} s, median of {len(timings)} ({loads}; target ≤ {LOAD_TARGET_S} s: "
        f"{load_met}); DOM content loaded {median['dom_s']:.2f} s; first screen's figures drawn "
        f"{median['first_screen_s']:.2f} s"
    )
    print(f"load average {before:.2f} before, {after:.2f} after, {os.cpu_count()} cores: under load it bounds nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
