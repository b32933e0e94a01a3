"""The options every ``model.py roas`` command shares, declared once: the campaign file, the values of a
conversion, the folds, and the mapping of an export's columns to roles (docs/roas.md, "Your own campaign
export"). Light: the CLI's help is built from them before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from adpipe import cli_support, config
from adpipe.roas import defaults
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE

if TYPE_CHECKING:
    from features.campaign_mapping import CampaignMapping

Data = cli_support.data_option(config.CAMPAIGNS_FILE, "The campaign CSV (KAG_conversion_data.csv layout).")
ValueEnquiry = typer.Option(
    DEFAULT_VALUE_ENQUIRY, "--value-enquiry", min=0.0, help="Value of one enquiry (Total_Conversion)."
)
ValueSale = typer.Option(DEFAULT_VALUE_SALE, "--value-sale", min=0.0, help="Value of one sale (Approved_Conversion).")
Folds = cli_support.folds_option(defaults.PROTOCOL.folds)
Repeats = cli_support.repeats_option(defaults.PROTOCOL.repeats)
Seed = cli_support.seed_option()
Windows = typer.Option(
    defaults.PLAN_WINDOWS,
    "--windows",
    min=2,
    help="Expanding windows forward in time, when the export has a date (a mapping's date role).",
)
# Every command reads its CSV through the same mapping of columns to roles (docs/roas.md, "Your own campaign
# export"): the reference file's built-in one unless a file or --column options say otherwise.
MappingFile = typer.Option(None, "--mapping", help="TOML file naming your export's column for each role.")
ColumnRoles = typer.Option(
    None, "--column", help="ROLE=NAME, repeatable (conversion=NAME:VALUE, segment=NAME once per column)."
)


def campaign_mapping(
    mapping_file: Path | None,
    columns: list[str] | None,
    value_enquiry: float = DEFAULT_VALUE_ENQUIRY,
    value_sale: float = DEFAULT_VALUE_SALE,
) -> CampaignMapping:
    """The mapping of ``--mapping`` and ``--column``; the options' values apply to the built-in mapping only."""
    from adpipe.errors import OptionError
    from features.campaign_mapping import resolve

    mapping = resolve(mapping_file, columns or [], value_enquiry, value_sale)
    if not mapping.built_in and (value_enquiry, value_sale) != (DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE):
        option = "--value-enquiry" if value_enquiry != DEFAULT_VALUE_ENQUIRY else "--value-sale"
        raise OptionError(
            "a mapping gives each conversion its value (conversion=NAME:VALUE) or a revenue "
            "column: this option is for the reference file",
            option=option,
        )
    return mapping
