"""The Explore sections of ``make report`` (one explorer per data set: campaigns, CTR, ClickStream), and what an
Explore page takes from the tasks' outputs. An app, because it reads tasks: the ClickStream users' ``segment``
(the segments task's saved ClickStream model, through its public API) and their predicted ``marketing_target``
(``predictions/predictions.json``), and the budget plan beside the campaigns' KPIs (``reports/roas_curves.json``
and ``roas_plan.json``). The facts and the explorer are the kit's (:mod:`adpipe.explore`); docs/explore.md.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from adpipe import config
from adpipe.errors import DataError
from adpipe.explore import datasets
from adpipe.explore.facts import Facts
from adpipe.explore.page import explorer
from adpipe.explore.plan import Plan, PlanSegment
from adpipe.io import read_json
from adpipe.roas.defaults import CURVES_REPORT, PLAN_REPORT
from adpipe.roas.plan.curves import SEGMENT_SEPARATOR
from adpipe.roas.plan.dashboard import money, segment_response
from adpipe.roas.plan.report import CurvesReport, PlanReport
from adpipe.sections.page import Card, Missing, Section
from adpipe.sections.sources import Sources
from adpipe.segments.defaults import Source, model_path
from adpipe.segments.evaluation import user_segments
from features.clickstream_loaders import load_users, users_file

SEGMENT = "segment"
MARKETING_TARGET = "marketing_target"
SEGMENT_COMMAND = "python model.py segment fit --source clickstream"
CURVE_POINTS = 25  # points per response curve beside the KPIs
ROAS_COMMAND = "make roas"


def _segments(folders: dict[str, Path], model: Path) -> tuple[pl.DataFrame | None, str]:
    """Each user's segment number with the saved ClickStream segmentation, and the note naming the segments."""
    try:
        table = pd.concat([user_segments(Source.clickstream, folder, model) for folder in folders.values()])
    except DataError as error:
        return None, f"No segment slicer: {error}. Run `{SEGMENT_COMMAND}`."
    names = table.drop_duplicates(SEGMENT).sort_values(SEGMENT)
    described = "; ".join(f"{s} = {d}" for s, d in zip(names[SEGMENT], names["description"], strict=True))
    frame = pl.DataFrame({datasets.USER: table["user_id"].astype(str), SEGMENT: table[SEGMENT].astype(str)})
    return frame, f"segment: the project's ClickStream segments ({model.name}): {described}."


def _predicted(test: Path, predictions: Path) -> pl.DataFrame:
    """The predicted class of each test user: predictions.json is keyed by the test file's ``test_id``."""
    by_test_id = read_json(predictions)["target"]
    users = load_users(users_file(test, "test"), "test")
    target = [str(by_test_id.get(str(t), "")) for t in users["test_id"]]
    return pl.DataFrame({datasets.USER: users["user_id"].astype(str), MARKETING_TARGET: target})


def user_columns(
    folders: dict[str, Path], segments_model: Path | None, predictions: Path | None
) -> tuple[pl.DataFrame | None, list[str]]:
    """``user_id`` with the users' ``segment`` (when ``segments_model`` exists) and the predicted
    ``marketing_target`` of test users (when ``predictions`` exists); and the notes saying what is there or why not."""
    columns, notes = [], []
    if segments_model is None or not segments_model.exists():
        notes.append(f"No segment slicer: no ClickStream segmentation saved yet. Run `{SEGMENT_COMMAND}`.")
    else:
        segments, note = _segments(folders, segments_model)
        notes.append(note)
        columns += [segments] if segments is not None else []
    if predictions is None or not predictions.exists() or "test" not in folders:
        notes.append("No marketing_target slicer: no predictions of the test users yet. Run `make predict`.")
    else:
        columns.append(_predicted(folders["test"], predictions))
        notes.append(
            "marketing_target: the main task's predicted class of the test users (1 low, 2 medium, 3 high "
            f"engagement; {predictions.name}); the train users' is empty."
        )
    if not columns:
        return None, notes
    joined = columns[0]
    for column in columns[1:]:
        joined = joined.join(column, on=datasets.USER, how="full", coalesce=True)
    return joined.fill_null(""), notes


def campaign_plan(sources: Sources) -> tuple[Plan | None, str | None]:
    """The budget plan of the reference campaigns: each planned segment's response curve (the plan's own
    :class:`SegmentResponse` on the curves report's parameters) and plan row; or None and why not."""
    curves = sources.report(CURVES_REPORT, CurvesReport, "Budget plan", ROAS_COMMAND)
    plan = sources.report(PLAN_REPORT, PlanReport, "Budget plan", ROAS_COMMAND)
    missing = next((m for m in (curves, plan) if isinstance(m, Missing)), None)
    if missing is not None:
        return None, f"No budget plan beside the KPIs: {missing.reason}. Run `{ROAS_COMMAND}`."
    assert isinstance(curves, CurvesReport) and isinstance(plan, PlanReport)
    if plan.by != curves.by:
        return None, f"No budget plan beside the KPIs: the plan is by {plan.by}, the curves by {curves.by}."
    response = segment_response(curves, sources)
    if isinstance(response, Missing):
        return None, f"No budget plan beside the KPIs: {response.reason}."
    rows = {s.segment: s for s in plan.segments}
    planned = np.array([rows[name].planned if name in rows else 0.0 for name in response.names])
    # Log scales on the page (segments' spends differ a thousandfold): from 1/50 of the top spend drawn to it.
    grid = np.geomspace(0.02, 1.0, CURVE_POINTS)[:, None] * np.fmax(2.0 * response.today, 1.15 * planned)
    values = np.array([response.value(spend) for spend in grid])  # points x segments
    today = response.value(response.today)
    segments = tuple(
        PlanSegment(
            name=name,
            values=tuple(name.split(SEGMENT_SEPARATOR)),
            today=rows[name].today,
            value_today=float(today[k]),
            planned=rows[name].planned,
            expected_value=rows[name].expected_value,
            interval=(rows[name].expected_value_interval.low, rows[name].expected_value_interval.high),
            marginal_roas=rows[name].marginal_roas,
            curve_spend=tuple(grid[:, k].round(2)),
            curve_value=tuple(values[:, k].round(2)),
        )
        for k, name in enumerate(response.names)
        if name in rows
    )
    basis = (
        f"reports/roas_plan.json (objective {plan.objective}, budget {money(plan.budget)}) on the curves of "
        f"reports/roas_curves.json ({curves.family}). A segment is kept when one of its ads is; the 80% interval "
        "is over the curves' parameter draws; marginal ROAS: the value of the next dollar at the planned spend. "
        "The ROAS section has every segment's curve with its band and the back-test."
    )
    return Plan(tuple(plan.by), segments, basis), None


def clickstream_facts(folders: dict[str, Path], segments_model: Path | None, predictions: Path | None) -> Facts:
    """ClickStream sessions with the users' segment and predicted marketing_target where their inputs exist."""
    columns, notes = user_columns(folders, segments_model, predictions)
    facts = datasets.clickstream_facts(folders, user_columns=columns)  # type: ignore[arg-type]
    return replace(facts, notes=(*facts.notes, *notes))


INTROS = {
    "campaigns": "The ads of the campaigns file: slice by campaign, age, gender and interest; every card is a "
    "ratio of sums over the kept ads, and the budget plan of the kept segments sits beside the cards.",
    "ctr": "Every ad impression: slice by day, hour, weekday, city, country, ad topic, age band and gender.",
    "clickstream": "Every ClickStream session: slice by date, device, browser, OS, country, user category, the "
    "project's user segments and the predicted engagement class of test users; users are counted distinct.",
}
TITLES = {"campaigns": "Explore: campaigns", "ctr": "Explore: ad impressions", "clickstream": "Explore: sessions"}


def _section(name: str, facts: Facts | Missing, plan: Plan | None = None) -> tuple[Section, list[Card]]:
    key = f"explore-{name}"
    if isinstance(facts, Missing):
        return Section(key, TITLES[name], INTROS[name], panels=[facts]), []
    return Section(key, TITLES[name], INTROS[name], explorer=explorer(facts, prefix=f"{name}.", plan=plan)), []


def sections(sources: Sources) -> list[tuple[Section, list[Card]]]:
    """One Explore section per data set; a data set whose files are missing is a note naming ``make data``."""
    campaigns, ctr = sources.data(config.CAMPAIGNS_FILE), sources.data(config.CTR_FILE)
    train, test = sources.data(config.TRAIN_DIR), sources.data(config.TEST_DIR)
    absent = Missing("Explore", "make data", "the data set is not there")
    plan, note = campaign_plan(sources) if campaigns is not None else (None, None)
    campaign_facts = datasets.campaign_facts(campaigns) if campaigns is not None else absent
    if note is not None and isinstance(campaign_facts, Facts):
        campaign_facts = replace(campaign_facts, notes=(*campaign_facts.notes, note))
    folders = {split: folder for split, folder in (("train", train), ("test", test)) if folder is not None}
    segments = sources.data(model_path(Source.clickstream))
    predictions = sources.data(config.PREDICTIONS_FILE)
    return [
        _section("campaigns", campaign_facts, plan),
        _section("ctr", datasets.ctr_facts(ctr) if ctr is not None else absent),
        _section("clickstream", clickstream_facts(folders, segments, predictions) if "train" in folders else absent),
    ]
