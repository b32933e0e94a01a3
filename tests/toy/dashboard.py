"""The toy task's dashboard section: its report's two figures in a table."""

from __future__ import annotations

from adpipe.sections.page import Card, Missing, Panel, Section, Table
from adpipe.sections.sources import Sources
from tests.toy.defaults import VALIDATION_REPORT
from tests.toy.report import ToyReport


def section(sources: Sources) -> tuple[Section, list[Card]]:
    report = sources.report(VALIDATION_REPORT, ToyReport, "Toy: error", "make task NAME=toy")
    if isinstance(report, Missing):
        return Section("toy", "Toy task", "A throw-away task.", [report]), []
    table = Table(["model MAE", "baseline MAE"], [[f"{report.model_mae:.3f}", f"{report.baseline_mae:.3f}"]])
    panel = Panel("Toy: error", "The toy model's error beside zero's.", "written by toy train", table=table)
    card = Card("Toy task", f"MAE {report.model_mae:.3f}", f"baseline {report.baseline_mae:.3f}", "a toy", True)
    return Section("toy", "Toy task", "A throw-away task.", [panel]), [card]
