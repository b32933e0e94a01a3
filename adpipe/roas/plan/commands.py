"""What ``roas curves``, ``roas plan`` and ``roas plan-validate`` compute: read the ads, fit, plan or back-test,
and write the typed report (their options and terminal output: cli.py, views.py)."""

from __future__ import annotations

import time
from pathlib import Path

from adpipe.reports import read_report, write_report
from adpipe.roas.defaults import PLAN_WINDOWS, PROTOCOL, TASK
from adpipe.roas.folds import fitted_protocol, period_splits
from adpipe.roas.plan.backtest import (
    BASELINES,
    RANKING_SHUFFLES,
    campaign_splits,
    forward_validation,
    ranking_backtest,
    segment_roas,
    targets,
    timed_fit_and_plan,
    value_accuracy,
    within_campaign_backtest,
)
from adpipe.roas.plan.curves import plan_frame
from adpipe.roas.plan.options import PlanChoices, PlanData
from adpipe.roas.plan.planner import (
    FAMILY,
    check_objective,
    fit_plan,
    for_objective,
    matching_validation,
    plan_on,
    planner_curves,
    read_ads,
    read_export,
    segment_curves,
    segments_with_spend,
)
from adpipe.roas.plan.report import CurvesReport, PlanReport, PlanValidationReport
from adpipe.roas.report import CampaignProtocol, ConversionValues
from adpipe.validation import Protocol
from features.campaign_dates import DATE
from features.campaigns import conversion_value
from features.choices import GROUP


def curves_report(data: PlanData, report_file: Path | None) -> CurvesReport:
    """Each segment's curve, the pooling and whether the data identify any saturation."""
    frame, reading = read_ads(data)
    names, excluded = segments_with_spend(frame, data.data)
    curves = planner_curves(frame)
    segments = segment_curves(frame, curves, names)
    note = (
        "no saturation identifiable (the global exponent cannot be told from 1): every curve is constant ROAS"
        if curves.fallback_
        else f"saturating curves: additive log levels per segment dimension, exponent by {curves.mode_} (chosen by "
        "inner-fold held-out deviance), each effect shrunk by empirical Bayes"
    )
    if excluded:
        note += f"; {len(excluded)} segment(s) without any spend excluded: {', '.join(excluded[:5])}"
    report = CurvesReport(
        task=TASK,
        data=str(data.data),
        by=list(data.by),
        target="conversion value",
        values=ConversionValues(enquiry=data.value_enquiry, sale=data.value_sale),
        family=FAMILY,
        fallback_to_constant_roas=curves.fallback_,
        note=note,
        global_alpha=float(curves.global_[0]),
        global_exponent=float(curves.global_[1]),
        exponent_mode=curves.mode_,
        exponent_mode_deviance=curves.mode_deviance_,
        variance_components=curves.variance_,
        dispersion=curves.dispersion_,
        excluded=excluded,
        segments=segments,
        reading=reading,
    )
    if report_file is not None:
        write_report(report_file, report)
    return report


def plan_report(
    data: PlanData,
    choices: PlanChoices,
    report_file: Path | None,
    protocol: Protocol = PROTOCOL,
    validation_file: Path | None = None,
) -> PlanReport:
    """The plan of ``choices`` across the segments, with the back-tested gain of ``validation_file`` when that
    validation was made on the same data, segment level and values."""
    check_objective(choices.objective, choices.target_roas)
    planned = for_objective(data, choices.objective)
    saved = read_report(validation_file, PlanValidationReport) if validation_file and validation_file.exists() else None
    validation = matching_validation(saved, planned)
    fitted = fit_plan(planned, protocol, validation)
    backtested = validation.gain if validation is not None else None
    report = plan_on(fitted, choices, protocol.seed, backtested)
    if report_file is not None:
        write_report(report_file, report)
    return report


def validate_plan(
    data: PlanData,
    protocol: Protocol,
    report_file: Path | None,
    n_shuffles: int = RANKING_SHUFFLES,
    windows: int = PLAN_WINDOWS,
) -> PlanValidationReport:
    """The grouped measurements (the targets read them) and, when the export has a date, the same forward in time
    on ``windows`` expanding windows."""
    table, group, reading = read_export(data)
    frame = plan_frame(table, conversion_value(table, data.value_enquiry, data.value_sale), data.by, group)
    forward_folds = period_splits(frame[DATE], windows) if DATE in frame else None  # a wrong --windows stops here
    protocol, notes = fitted_protocol(protocol, frame[GROUP].rename(group), DATE in frame)
    started = time.perf_counter()
    splits = campaign_splits(frame, protocol)
    measured = value_accuracy(frame, table, splits, protocol.seed, data.mapping)
    ranking = ranking_backtest(measured.rankings, n_shuffles, protocol.seed)
    within = within_campaign_backtest(measured.rankings, n_shuffles, protocol.seed)
    validation_seconds = time.perf_counter() - started
    fit_and_plan = timed_fit_and_plan(frame)
    forward = None
    if forward_folds is not None:
        forward = forward_validation(frame, table, forward_folds, protocol.seed, n_shuffles, data.mapping)
    report = PlanValidationReport(
        task=TASK,
        data=str(data.data),
        by=list(data.by),
        n_segments=int(len(segment_roas(frame))),
        values=ConversionValues(enquiry=data.value_enquiry, sale=data.value_sale),
        protocol=CampaignProtocol(
            **protocol.as_dict(),
            groupings={"grouped": f"GroupKFold by {group}"},
            n_rows=len(frame),
            n_groups=int(frame[GROUP].nunique()),
            notes=notes,
        ),
        baselines=BASELINES,
        value_accuracy=measured.accuracy,
        ranking=ranking,
        within_campaign_ranking=within,
        gain=measured.gain,
        headline_realised=measured.gain.headline,
        exponent_modes=measured.modes,
        targets=targets(measured.accuracy, (ranking, within), measured.gain, fit_and_plan),
        seconds={"validation": validation_seconds, "fit_and_plan": fit_and_plan},
        forward=forward,
        reading=reading,
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
