"""The ``explore`` command: the offline Explore page of a reference data set or of a user's campaign export.
An app (it reads the tasks' outputs: ClickStream segments and predictions, the budget plan, through
:mod:`adpipe.dashboard.explore`). Light: ``model.py`` loads it for every command, so the facts and the page
(Polars, plotly) load when it runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import typer

from adpipe import config
from adpipe.cli_support import BadRows, BadRowsOption, DecimalMark, MaxBadRows, Sheet, exit_on_error, row_policy
from adpipe.errors import OptionError
from adpipe.io import current_path
from adpipe.segments.defaults import Source, model_path

Dataset = Literal["campaigns", "ctr", "clickstream"]  # names tasks: explore's data sets, not the task list
DEFAULT_DATA: dict[str, Path] = {
    "campaigns": config.CAMPAIGNS_FILE,
    "ctr": config.CTR_FILE,
    "clickstream": config.PROJECT_ROOT,
}


def explore_command(
    data: Path | None = typer.Option(
        None,
        "--data",
        help="campaigns: the CSV export (read through --mapping/--column); ctr: the impressions CSV; clickstream: "
        "the folder holding train/ and test/ [default: the reference data]",
    ),
    dataset: Dataset = typer.Option("campaigns", "--dataset", help="What --data holds: campaigns, ctr, clickstream."),
    mapping_file: Path | None = typer.Option(None, "--mapping", help="TOML file naming your export's column per role."),
    columns: list[str] | None = typer.Option(
        None, "--column", help="ROLE=NAME, repeatable (conversion=NAME:VALUE, segment=NAME once per column)."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        help="The HTML page [default: reports/explore_<dataset>.html]; a .parquet file: the fact table the "
        "service serves (serve --explore-data NAME=FILE).",
    ),
    segments_model: Path = typer.Option(
        model_path(Source.clickstream),
        "--segments-model",
        help="clickstream: the saved ClickStream segmentation (a segment slicer).",
    ),
    predictions: Path = typer.Option(
        config.PREDICTIONS_FILE, "--predictions", help="clickstream: the test users' predicted marketing_target."
    ),
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None:
    """Write the Explore page: slicers, KPI cards, trend and bars over one data set, in one offline HTML file
    (or, to a .parquet output, the data set's fact table for the service's live page)."""
    started = time.perf_counter()
    output = output or config.REPORTS_DIR / f"explore_{dataset}.html"
    with exit_on_error(keeps=output):
        if dataset != "campaigns" and (mapping_file is not None or columns):
            raise OptionError("a mapping reads a campaign export: use it with --dataset campaigns", option="--mapping")
        from adpipe.dashboard import explore
        from adpipe.explore import datasets
        from adpipe.explore.facts import write_facts
        from adpipe.explore.page import write_page
        from adpipe.sections.sources import Sources

        source = data or DEFAULT_DATA[dataset]
        plan = None
        if dataset == "campaigns":
            from features.campaign_mapping import resolve
            from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE

            mapping = resolve(mapping_file, columns or [], DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE)
            policy = row_policy(bad_rows, max_bad_rows, decimal, sheet, output)
            facts = datasets.campaign_facts(source, mapping, policy)
            for note in facts.notes:
                typer.echo(note)
            if Path(source).resolve() == config.CAMPAIGNS_FILE.resolve() and mapping_file is None and not columns:
                plan, _ = explore.campaign_plan(Sources())  # the plan's segments are the reference file's
        elif dataset == "ctr":
            facts = datasets.ctr_facts(source)
        else:
            # the folders there are (a fact file of train/ alone); neither: both, so the error names the missing one
            splits = [s for s in ("train", "test") if (source / s).is_dir()] or ["train", "test"]
            facts = explore.clickstream_facts({split: source / split for split in splits}, segments_model, predictions)
        path = write_facts(facts, output) if output.suffix == ".parquet" else write_page(facts, output, plan)
    size = current_path(path).stat().st_size / 1e6
    typer.echo(f"explore -> {path} ({facts.frame.height:,} rows, {size:.1f} MB, {time.perf_counter() - started:.1f} s)")
