"""Few groups (docs/roas.md): an export with fewer groups than --folds gets as many folds as it has groups, said in
the output of every grouped split (`roas validate`'s, `plan`'s ranking back-test, `plan-validate`'s); one group is
a usage error on --folds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from adpipe.errors import OptionError
from adpipe.io import read_json
from adpipe.protocol import Protocol
from adpipe.roas.folds import FORWARD_NOTE, fitted_folds, fitted_protocol
from model import app

runner = CliRunner()
FIVE = Protocol(folds=5, repeats=1, seed=0, stratify=False)
# The reference file grouped by its 3 campaigns (xyz_campaign_id) instead of its 543 ad sets.
THREE_CAMPAIGNS = [
    f"--column={role}"
    for role in (
        "spend=Spent",
        "impressions=Impressions",
        "clicks=Clicks",
        "conversion=Total_Conversion:5",
        "conversion=Approved_Conversion:100",
        "segment=age",
        "segment=gender",
        "group=xyz_campaign_id",
    )
]
NOTE = "only 3 groups in 'xyz_campaign_id': 3 folds instead of 5"


def test_fewer_groups_than_folds_give_one_fold_a_group() -> None:
    groups = pd.Series(list("aabbcc"), name="Campaign")
    protocol, notes = fitted_folds(FIVE, groups)
    assert protocol.folds == 3 and notes == ["only 3 groups in 'Campaign': 3 folds instead of 5"]
    assert fitted_folds(Protocol(3, 1, 0, stratify=False), groups) == (Protocol(3, 1, 0, stratify=False), [])
    assert fitted_protocol(FIVE, groups, has_date=True)[1] == [*notes, FORWARD_NOTE]
    with pytest.raises(OptionError, match="1 group.*'Campaign'.*at least 2") as error:
        fitted_folds(FIVE, pd.Series(list("aaaa"), name="Campaign"))
    assert error.value.option == "--folds"


def test_plan_and_plan_validate_fit_their_folds_to_three_campaigns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validation, plan = tmp_path / "validation.json", tmp_path / "plan.json"
    common = ["--folds", "5", "--repeats", "1", *THREE_CAMPAIGNS]
    result = runner.invoke(app, ["roas", "plan-validate", *common, "--report", str(validation)])
    assert result.exit_code == 0, result.output
    assert f"note: {NOTE}" in result.stdout
    assert read_json(validation)["protocol"]["folds"] == 3
    for validation_file in (tmp_path / "none.json", validation):
        result = runner.invoke(
            app, ["roas", "plan", *common, "--validation", str(validation_file), "--report", str(plan), "--force"]
        )
        assert result.exit_code == 0, result.output
        assert NOTE in result.stdout and NOTE in read_json(plan)["notes"]
        # The plan's ranking back-test runs on the same 3 folds as the validation's, so the next plan reads it.
        monkeypatch.setattr("adpipe.roas.plan.planner.ranking_signal", lambda *args: pytest.fail("run again"))
    assert read_json(plan)["signal"].startswith(read_json(validation)["ranking"]["verdict"])
