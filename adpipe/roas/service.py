"""Return on ad spend for one planned ad (campaign, audience, budget; with delivery figures when the saved model
uses them), with a typical-error band and the inputs that pushed its log(1 + ROAS) most; and the budget plan
across segments (``POST /api/v1/roas/plan``, the form on ``/roas``): ``roas plan``'s report on curves fitted once
per worker."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from adpipe import config
from adpipe.errors import DataError, OptionError
from adpipe.reports import read_report, read_typed
from adpipe.roas import SPEC, defaults
from adpipe.roas.plan.options import PlanChoices, PlanData
from adpipe.roas.plan.planner import FittedPlan, fit_plan, for_objective, matching_validation, plan_on
from adpipe.roas.plan.report import PlanReport, PlanValidationReport
from adpipe.serving.adapter import Action, Prediction, TableTask
from adpipe.serving.explain import tree_contributions
from adpipe.serving.records import RecordError
from features.campaigns import PLANNED_AD_SCHEMA, checked_planned_ads, load_planned_ads, model_inputs
from features.choices import DEFAULT_VALUE_ENQUIRY, DEFAULT_VALUE_SALE


class ReturnOnAdSpend(TableTask):
    spec = SPEC
    title = "Return on ad spend for one ad"
    schema = PLANNED_AD_SCHEMA
    id_column = "ad_id"
    effect_unit = "log(1 + ROAS), before the model's MAE scaling"
    example = {
        "xyz_campaign_id": 1178,
        "age": "30-34",
        "gender": "M",
        "interest": 10,
        "Spent": 120.5,
        "Impressions": 45000,
        "Clicks": 30,
    }

    def __init__(self) -> None:
        super().__init__()
        self.plan = BudgetPlan(self)

    def actions(self) -> Sequence[Action]:
        return (self.plan,)

    def load(self, path: Path) -> pd.DataFrame:
        return load_planned_ads(path, self.metadata.get("mode", "planned"))

    def check(self, table: pd.DataFrame, path: Path) -> pd.DataFrame:
        return checked_planned_ads(table, path, self.metadata.get("mode", "planned"))

    def answer(self, table: pd.DataFrame, explain: bool = True) -> list[Prediction]:
        X = model_inputs(table, self.metadata["features"])
        predicted = self.model.predict(X)
        mae = self.reliability_.model.mean if self.reliability_ is not None else None
        contributions = (tree_contributions(self.model, X) if explain else None) or [None] * len(X)
        return [
            Prediction(
                prediction=float(value),
                label=f"ROAS {value:.2f} (value returned per unit spent, {self.metadata['mode']} mode)",
                interval=[max(0.0, value - mae), value + mae] if mae is not None else None,
                top_inputs=top,
            )
            for value, top in zip(predicted, contributions, strict=True)
        ]


# --- the budget plan ----------------------------------------------------------------------------------------------

# The request's fields for the planner's options, in its messages too: "--max-change" -> "max_change".
FIELDS = {
    "--budget": "budget",
    "--objective": "objective",
    "--target-roas": "target_roas",
    "--min": "min",
    "--max-change": "max_change",
    "--max": "max",
    "--fix": "fix",
    "--allow-extrapolation": "allow_extrapolation",
    "--force": "force",
}
_OPTION = re.compile("|".join(re.escape(option) + r"(?![\w-])" for option in FIELDS))
_SHARE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*")


def _limit(value: Any) -> float | str:
    """An amount (a number >= 0) or a share of the budget ("12.5%", at most 100%), as ``--min``/``--max`` take."""
    if isinstance(value, str) and (share := _SHARE.fullmatch(value)):
        if float(share.group(1)) > 100:
            raise ValueError(f"a share is at most 100%, got {value!r}")
        return f"{share.group(1)}%"
    try:
        amount = float(value)
    except (TypeError, ValueError):
        amount = float("nan")
    if isinstance(value, bool) or not amount >= 0 or amount == float("inf"):
        raise ValueError(f"expected an amount >= 0 or a share of the budget like '10%', got {value!r}")
    return amount


Limit = Annotated[float | str, BeforeValidator(_limit)]
SEGMENT_EXAMPLE = "1178/30-34/M"


class PlanRequest(BaseModel):
    """``roas plan``'s options as JSON; the segment level is the served one (``by`` is not a field)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"budget": 50000, "objective": "value", "max": {SEGMENT_EXAMPLE: 12000, "*": "20%"}, "max_change": 2},
            ]
        },
    )

    budget: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="The total to split; today's total spend when left out."
    )
    objective: defaults.Objective = Field(
        "value",
        description="value: expected conversion value; conversions: expected enquiries; target-roas: "
        "spend while the marginal ROAS stays above target_roas (at most the budget).",
    )
    target_roas: float | None = Field(None, ge=0, allow_inf_nan=False, description="The floor of target-roas.")
    min: dict[str, Limit] = Field(
        {}, description="Per segment ('*': every one), the least spend: an amount, or a share of the budget ('5%')."
    )
    max: dict[str, Limit] = Field({}, description="Per segment ('*': every one), the most spend: amount or share.")
    max_change: float | None = Field(
        None,
        ge=1,
        allow_inf_nan=False,
        description=f"Each segment within [1/F, F] x today's split of the budget; default "
        f"{defaults.DEFAULT_MAX_CHANGE:g}, the back-tested setting, which yields to min/max/fix where they conflict.",
    )
    fix: list[str] = Field([], description="Segments kept at today's spend.")
    allow_extrapolation: bool = Field(False, description="Accept spend per ad far beyond the observed range.")
    force: bool = Field(False, description="Reallocate even when the ranking back-test finds no signal.")


class PlanAnswer(BaseModel):
    """``roas plan``'s report for the request, and the plan validation of the same data, level and values."""

    task: str
    plan: PlanReport
    validation: PlanValidationReport | None  # None: `roas plan-validate` not run at this level (or other values)


class BudgetPlan(Action):
    """The budget split across segments for the most expected value within the limits given: ``roas plan``'s
    report (same planner, same curves, same ranking back-test) and the plan validation's held-out figures.
    The curves are fitted once per worker, in the background (the worker predicts meanwhile); a request costs
    milliseconds."""

    name = "plan"
    title = "Budget plan across segments"
    request = PlanRequest
    answer = PlanAnswer
    template = Path(__file__).parent / "templates" / "plan.html"
    preparing = "fitting the plan's curves (and its ranking back-test, unless the plan validation has it)"
    by = tuple(defaults.PLAN_BY.split(","))

    def __init__(self, task: ReturnOnAdSpend, data: Path = config.CAMPAIGNS_FILE) -> None:
        super().__init__()
        self.task, self.data = task, Path(data)
        self.fitted: dict[tuple[float, float], FittedPlan] = {}  # by (enquiry, sale) values
        self.validation: PlanValidationReport | None = None

    def plan_data(self, objective: str) -> PlanData:
        """The served data at the saved model's conversion values, as ``objective`` plans it."""
        values = self.task.metadata.get("values") or {}
        enquiry, sale = values.get("enquiry", DEFAULT_VALUE_ENQUIRY), values.get("sale", DEFAULT_VALUE_SALE)
        return for_objective(PlanData(self.data, self.by, enquiry, sale), objective)  # type: ignore[arg-type]

    def start(self) -> None:
        """Fit the curves of the value and of the enquiries once, with the ranking back-test's verdict read
        from the plan validation when it was made on the same data, level, values and protocol."""
        validation_file = (self.task.reports_dir or config.REPORTS_DIR) / defaults.PLAN_VALIDATION_REPORT.name
        validation = read_typed(validation_file, lambda path: read_report(path, PlanValidationReport))
        try:
            for objective in ("value", "conversions"):
                planned = self.plan_data(objective)
                if planned.values not in self.fitted:
                    matching = matching_validation(validation, planned)
                    self.fitted[planned.values] = fit_plan(planned, defaults.PROTOCOL, matching)
        except (DataError, OSError) as error:
            self.unavailable = f"the plan's data cannot be read ({error}); the service plans {self.data}"
            return
        self.validation = matching_validation(validation, self.plan_data("value"))

    def run(self, request: BaseModel) -> PlanAnswer:
        assert isinstance(request, PlanRequest)
        try:
            values = self.plan_data(request.objective).values
            fitted = self.fitted[values]
            choices = PlanChoices.from_options(
                request.budget,
                request.objective,
                request.target_roas,
                [f"{k}={v}" for k, v in request.min.items()],
                [f"{k}={v}" for k, v in request.max.items()],
                request.max_change,
                request.fix,
                request.allow_extrapolation,
                request.force,
            )
            served = self.plan_data("value").values
            validation = self.validation if self.validation is not None and values == served else None
            report = plan_on(
                fitted, choices, defaults.PROTOCOL.seed, validation.gain if validation is not None else None
            )
        except OptionError as error:
            field = FIELDS.get(error.option.split()[0], error.option)
            located = RecordError(_OPTION.sub(lambda m: FIELDS[m.group(0)], error.message.partition(": ")[2]))
            located.location = [field]
            raise located from error
        except DataError as error:
            raise RecordError(error.message) from error
        return PlanAnswer(task=self.task.name, plan=report, validation=validation)

    def today_total(self) -> float:
        """Today's total spend over the planned segments."""
        fitted = self.fitted.get(self.plan_data("value").values)
        return float(fitted.response.today.sum()) if fitted is not None else 0.0

    def form_values(self) -> dict[str, Any]:
        """Today's total as the budget; the other fields at the planner's defaults."""
        return {"budget": f"{self.today_total():.2f}", "objective": "value"}

    def segments(self) -> list[str]:
        fitted = self.fitted.get(self.plan_data("value").values)
        return list(fitted.names) if fitted is not None else []

    def form_request(self, form: dict[str, str]) -> dict[str, Any]:
        """The form's fields as the request: ``min``/``max`` text areas of ``SEGMENT=AMOUNT`` or
        ``SEGMENT=PERCENT%`` lines, ``fix`` one segment a line, check boxes present when ticked."""
        fields = ("budget", "objective", "target_roas", "max_change")
        request: dict[str, Any] = {key: form[key] for key in fields if key in form}
        for field in ("min", "max"):
            limits = {}
            for number, line in enumerate(form.get(field, "").splitlines(), 1):
                if line.strip():
                    name, sep, figure = line.rpartition("=")
                    if not sep or not name.strip():
                        error = RecordError(f"line {number}: expected SEGMENT=AMOUNT or SEGMENT=PERCENT%, got {line!r}")
                        error.location = [field]
                        raise error
                    limits[name.strip()] = figure.strip()
            request[field] = limits
        request["fix"] = [line.strip() for line in form.get("fix", "").splitlines() if line.strip()]
        for flag in ("allow_extrapolation", "force"):
            request[flag] = flag in form
        return request
