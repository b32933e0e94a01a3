"""The options of ``roas curves``, ``roas plan`` and ``roas plan-validate`` as typed values: what the three read
(:class:`PlanData`) and what a plan is asked for (:class:`PlanChoices`). The commands build them from their
options, the service from a request, and every function below takes them whole. The options the three share are
declared once here (:func:`export_options`). Light: the commands' help is built from them before any data is
read."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from adpipe import cli_support
from adpipe.cli_support import BadRows, BadRowsOption, DecimalMark, MaxBadRows, Sheet, row_policy
from adpipe.protocol import Protocol
from adpipe.roas import defaults
from adpipe.roas import options as roas_options

if TYPE_CHECKING:
    from adpipe.roas.plan.solver import Limits
    from features.campaign_mapping import CampaignMapping
    from features.tables.bad_rows import RowPolicy

By = typer.Option(
    None,
    "--by",
    help=f"Segment columns, comma-separated (one or a combination) [default: {defaults.PLAN_BY}; with a mapping, "
    "its segments but its group].",
)


def segment_level(text: str | None, mapping: CampaignMapping) -> list[str]:
    """``--by`` as columns; without it, the default level, or a mapping's segments other than its group."""
    if text is None:
        # A mapping's segments other than its group: held-out campaigns are then segments seen in training.
        text = defaults.PLAN_BY if mapping.built_in else ",".join(s for s in mapping.segment if s != mapping.group)
    return [part.strip() for part in text.split(",") if part.strip()]


@dataclass(frozen=True)
class PlanData:
    """What the three commands read: the export, the segment level, the values of a conversion, the mapping of
    its columns (None: the reference file's own layout) and the policy for its impossible rows."""

    data: str | Path
    by: Sequence[str]
    value_enquiry: float
    value_sale: float
    mapping: CampaignMapping | None = None
    policy: RowPolicy | None = None  # how impossible rows are handled (None: refused)

    @property
    def values(self) -> tuple[float, float]:
        """(enquiry, sale): the conversion values the curves are of."""
        return self.value_enquiry, self.value_sale


@dataclass(frozen=True)
class PlanChoices:
    """What ``roas plan`` (and the service's plan) is asked for: the budget (None: today's total), the limits,
    the objective and its ROAS floor, and the two overrides."""

    budget: float | None
    limits: Limits
    objective: defaults.Objective = "value"
    target_roas: float | None = None
    allow_extrapolation: bool = False
    force: bool = False

    @classmethod
    def from_options(
        cls,
        budget: float | None,
        objective: defaults.Objective,
        target_roas: float | None,
        minimum: Sequence[str],
        maximum: Sequence[str],
        max_change: float | None,
        fix: Sequence[str],
        allow_extrapolation: bool,
        force: bool,
    ) -> PlanChoices:
        """``roas plan``'s options, limits parsed (``SEGMENT=AMOUNT`` or ``SEGMENT=PERCENT%``); a ``max_change``
        of None is the back-tested default, which yields to the other limits where they conflict with it."""
        from adpipe.roas.plan.solver import Limits, parse_limits

        min_spend, min_share = parse_limits(minimum, "--min")
        max_spend, max_share = parse_limits(maximum, "--max")
        given = max_change is not None
        change = max_change if max_change is not None else defaults.DEFAULT_MAX_CHANGE
        limits = Limits(min_spend, max_spend, min_share, max_share, change, tuple(fix), max_change_given=given)
        return cls(budget, limits, objective, target_roas, allow_extrapolation, force)


@dataclass(frozen=True)
class ExportOptions:
    """The options, as given, by which ``curves``, ``plan`` and ``plan-validate`` read an export, and where each
    writes its report (:func:`export_options` declares them once)."""

    data: Path
    by: str | None
    value_enquiry: float
    value_sale: float
    mapping_file: Path | None
    columns: list[str] | None
    report: Path
    bad_rows: BadRows
    max_bad_rows: str
    decimal: str | None
    sheet: str | None

    def plan_data(self) -> PlanData:
        """The typed values: the mapping resolved, the segment level, the policy for impossible rows (whose
        rejected file goes beside the report)."""
        mapping = roas_options.campaign_mapping(self.mapping_file, self.columns, self.value_enquiry, self.value_sale)
        policy = row_policy(self.bad_rows, self.max_bad_rows, self.decimal, self.sheet, self.report)
        by = segment_level(self.by, mapping)
        return PlanData(self.data, by, self.value_enquiry, self.value_sale, mapping, policy)


# The shared options in groups, by where each group stands in a command's help (signatures only).
def _export(
    data: Path = roas_options.Data,
    by: str | None = By,
    value_enquiry: float = roas_options.ValueEnquiry,
    value_sale: float = roas_options.ValueSale,
) -> None: ...


def _folds(
    folds: int = roas_options.Folds, repeats: int = roas_options.Repeats, seed: int = roas_options.Seed
) -> None: ...


def _mapping(
    mapping_file: Path | None = roas_options.MappingFile, columns: list[str] | None = roas_options.ColumnRoles
) -> None: ...


def _reading(
    bad_rows: BadRows = BadRowsOption,
    max_bad_rows: str = MaxBadRows,
    decimal: str | None = DecimalMark,
    sheet: str | None = Sheet,
) -> None: ...


def _parameters(function: Callable[..., object]) -> list[inspect.Parameter]:
    """``function``'s parameters with their types resolved (Typer reads a command's signature)."""
    hints = typing.get_type_hints(function)
    return [p.replace(annotation=hints[p.name]) for p in inspect.signature(function).parameters.values()]


def export_options(
    report: Path, *, folds: bool = False, before_report: Sequence[str] = (), after_report: Sequence[str] = ()
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A command taking ``(export: ExportOptions, [protocol: Protocol,] **own)`` as one whose options are the
    shared ones and its own, in this order in its help: the export and its values; its own but ``before_report``
    and ``after_report``; with ``folds``, --folds, --repeats, --seed; the mapping; ``before_report``; --report
    (default ``report``); ``after_report``; the reading of impossible rows."""

    def declare(command: Callable[..., None]) -> Callable[..., None]:
        own = {p.name: p for p in _parameters(command)[2 if folds else 1 :]}
        report_option = inspect.Parameter(
            "report",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=cli_support.report_option(report),
            annotation=Path,
        )
        parameters = [
            *_parameters(_export),
            *(p for name, p in own.items() if name not in (*before_report, *after_report)),
            *(_parameters(_folds) if folds else []),
            *_parameters(_mapping),
            *(own[name] for name in before_report),
            report_option,
            *(own[name] for name in after_report),
            *_parameters(_reading),
        ]

        def run(**options: Any) -> None:
            export = ExportOptions(**{f.name: options.pop(f.name) for f in fields(ExportOptions)})
            if folds:
                protocol = Protocol(options.pop("folds"), options.pop("repeats"), options.pop("seed"), stratify=False)
                return command(export, protocol, **options)
            return command(export, **options)

        run.__name__, run.__doc__ = command.__name__, command.__doc__
        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return declare
