"""CTR: the loader and its export variants, duplicate grouping, leakage-safe encoding, the threshold,
predictions on unseen or missing values, the validation report, and one-line errors from the command line.
(Forward folds, the audit, the estimators and the held-out export: tests/test_ctr_validation.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lightgbm import LGBMClassifier
from sklearn.preprocessing import TargetEncoder
from typer.testing import CliRunner

from adpipe import config
from adpipe.ctr import evaluation, models
from adpipe.ctr.defaults import TASK
from adpipe.ctr.folds import fold_groups
from adpipe.ctr.report import ValidationReport
from adpipe.errors import DataError
from adpipe.io import load_model
from adpipe.reports import read_report
from adpipe.validation import Protocol, binary_evaluator, cross_validate, make_splits
from features.ctr import (
    INPUT_COLUMNS,
    OPT_IN_GROUPS,
    TARGET,
    build_features,
    count_duplicates,
    group_columns,
    load_impressions,
)
from model import app

REFERENCE = config.SHARED_DATA_DIR / "ctr" / "ad_10000records.csv"
# Small and fast: the tests check behaviour, not the figures of docs/ctr.md.
SMALL_PARAMS = {"lightgbm": {"n_estimators": 40, "learning_rate": 0.1, "num_leaves": 7}}
# Every target-encoded key: what the leakage tests need to have something to leak.
KEYS_PARAMS = {**SMALL_PARAMS, "features": ["text", "values", "timestamp", "pairs"]}
runner = CliRunner()


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    """The reference file as text, one string per cell, exactly as written."""
    if not REFERENCE.exists():
        pytest.fail(f"reference data missing: {REFERENCE} (../shared/data must sit beside the project)")
    return pd.read_csv(REFERENCE, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def reference_table() -> pd.DataFrame:
    return load_impressions(REFERENCE, labelled=True)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, reference: pd.DataFrame) -> Path:
    """A 1,500-row training file, a small params file and a model trained from them through the CLI."""
    directory = tmp_path_factory.mktemp("ctr")
    reference.iloc[:1500].to_csv(directory / "train.csv", index=False)
    (directory / "params.json").write_text(json.dumps(SMALL_PARAMS))
    result = runner.invoke(app, ["ctr", "train", *_files(directory)])
    assert result.exit_code == 0, result.output
    return directory


def _files(directory: Path) -> list[str]:
    return [
        "--data",
        str(directory / "train.csv"),
        "--params",
        str(directory / "params.json"),
        "--model",
        str(directory / "model.joblib"),
    ]


def test_reference_file_loads_with_its_duplicates(reference_table: pd.DataFrame) -> None:
    assert list(reference_table.columns) == [*INPUT_COLUMNS, TARGET]
    assert len(reference_table) == 9997
    assert set(reference_table["Male"].unique()) == {0.0, 1.0}
    assert reference_table["Timestamp"].notna().all()
    assert set(reference_table[TARGET].unique()) == {0, 1}
    assert count_duplicates(reference_table) == 215


def _variant_male_iso(rows: pd.DataFrame) -> pd.DataFrame:
    """snake_case headers, a 0/1 Male column, ISO timestamps, the label as 'clicked'."""
    out = pd.DataFrame({name.lower().replace(" ", "_"): rows[name] for name in rows.columns})
    out = out.rename(columns={"gender": "Male", "clicked_on_ad": "clicked"})
    out["Male"] = (rows["Gender"] == "Male").astype(int).astype(str)
    out["timestamp"] = pd.to_datetime(rows["Timestamp"], format="%m/%d/%Y %H:%M").dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out


def _variant_mf_dayfirst(rows: pd.DataFrame) -> pd.DataFrame:
    """Lower-case headers, M/F gender, day-first dotted timestamps, columns in another order."""
    out = rows.rename(columns=str.lower)[list(reversed([c.lower() for c in rows.columns]))]
    out["gender"] = rows["Gender"].str[0]
    out["timestamp"] = pd.to_datetime(rows["Timestamp"], format="%m/%d/%Y %H:%M").dt.strftime("%d.%m.%Y %H:%M")
    return out


@pytest.mark.parametrize("make_variant", [_variant_male_iso, _variant_mf_dayfirst])
def test_other_exports_read_the_same(tmp_path: Path, reference: pd.DataFrame, make_variant) -> None:
    rows = reference.iloc[:40]
    rows.to_csv(tmp_path / "original.csv", index=False)
    make_variant(rows).to_csv(tmp_path / "variant.csv", index=False)
    original = load_impressions(tmp_path / "original.csv", labelled=True)
    variant = load_impressions(tmp_path / "variant.csv", labelled=True)
    pd.testing.assert_frame_equal(variant, original)
    pd.testing.assert_frame_equal(build_features(variant), build_features(original))


@pytest.mark.parametrize(
    ("drop", "named"),
    [("City", "'City'"), ("Gender", "'Gender'"), (TARGET, f"'{TARGET}'")],
)
def test_missing_column_is_named(tmp_path: Path, reference: pd.DataFrame, drop: str, named: str) -> None:
    path = tmp_path / "bad.csv"
    reference.iloc[:10].drop(columns=[drop]).to_csv(path, index=False)
    with pytest.raises(DataError, match="missing column") as error:
        load_impressions(path, labelled=True)
    assert named in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize(("column", "value"), [("Timestamp", "yesterday"), ("Gender", "X"), ("Age", "old")])
def test_bad_value_names_column_and_line(tmp_path: Path, reference: pd.DataFrame, column: str, value: str) -> None:
    rows = reference.iloc[:10].copy()
    rows.loc[2, column] = value
    path = tmp_path / "bad.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_impressions(path, labelled=True)
    assert f"column '{column}'" in str(error.value) and "line 4" in str(error.value)


def test_no_duplicate_straddles_a_fold(reference_table: pd.DataFrame) -> None:
    y = reference_table[TARGET]
    content = pd.util.hash_pandas_object(reference_table[list(INPUT_COLUMNS)], index=False).to_numpy()
    assert pd.Series(content).duplicated().sum() > 200  # the check below is not vacuous
    for split in make_splits(y, Protocol(folds=5, repeats=1), fold_groups(reference_table, None)):
        assert not set(content[split.train]) & set(content[split.test])
    cities = reference_table["City"].to_numpy()
    for split in make_splits(y, Protocol(folds=5, repeats=1), fold_groups(reference_table, "city")):
        assert not set(cities[split.train]) & set(cities[split.test])


def _sample(reference_table: pd.DataFrame, n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, list]:
    table = reference_table.sample(n=n, random_state=seed).reset_index(drop=True)
    splits = make_splits(table[TARGET], Protocol(folds=3, repeats=1), fold_groups(table, None))
    return build_features(table), table[TARGET], splits


def _mean_auc(folds: list[dict]) -> float:
    return float(np.mean([f["roc_auc"] for f in folds]))


def test_shuffled_labels_score_near_half(reference_table: pd.DataFrame) -> None:
    X, y, splits = _sample(reference_table, 3000)
    shuffled = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()), index=y.index)
    honest = _mean_auc(evaluation.cross_validate_params(KEYS_PARAMS, X, shuffled, splits, decide=False, progress=False))
    assert 0.44 < honest < 0.56
    assert _mean_auc(evaluation.cross_validate_params(KEYS_PARAMS, X, y, splits, decide=False, progress=False)) > 0.9
    # Control: the same keys encoded once on all rows (outside the folds) make noise look like signal.
    keys = group_columns(KEYS_PARAMS["features"])
    leaked = pd.DataFrame(TargetEncoder().fit(X[keys], shuffled).transform(X[keys]), columns=keys)
    folds = cross_validate(
        lambda: LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1),
        leaked,
        shuffled,
        splits,
        binary_evaluator(),
        progress=False,
    )
    assert _mean_auc(folds) > 0.65


def test_threshold_layer_leaves_auc_unchanged(reference_table: pd.DataFrame) -> None:
    X, y, splits = _sample(reference_table, 1000, seed=1)
    params = {**SMALL_PARAMS, "features": ["numeric", "text"]}
    decided = evaluation.cross_validate_params(params, X, y, splits, decide=True, progress=False)
    plain = evaluation.cross_validate_params(params, X, y, splits, decide=False, progress=False)
    assert [f["roc_auc"] for f in decided] == pytest.approx([f["roc_auc"] for f in plain], abs=1e-12)
    assert all(0.0 < f["threshold"] < 1.0 for f in decided)


@pytest.mark.parametrize("strategy", ["oversample", "smote"])
def test_resampling_only_while_fitting(reference_table: pd.DataFrame, strategy: str) -> None:
    table = reference_table.iloc[:2000]
    table = pd.concat([table[table[TARGET] == 0].iloc[:500], table[table[TARGET] == 1].iloc[:100]])
    X, y = build_features(table), table[TARGET]
    model = models.ClickModel.from_params({**SMALL_PARAMS, "imbalance": strategy}, seed=0).fit(X, y)
    assert model.pipeline_.named_steps["resample"].sampling_strategy_ == {1: 400}
    assert len(model.predict_proba(X)) == 600


def test_saved_threshold_is_the_one_chosen_in_training(workdir: Path) -> None:
    model, metadata = load_model(workdir / "model.joblib", task=TASK)
    assert metadata["threshold"] == models.decision_threshold(model)
    assert 0.0 < metadata["threshold"] < 1.0 and metadata["threshold_rule"].startswith("max F1")


def test_fixed_threshold_decides_clicked(workdir: Path, tmp_path: Path) -> None:
    args = [*_files(workdir)[:4], "--model", str(tmp_path / "fixed.joblib")]
    assert runner.invoke(app, ["ctr", "train", *args, "--threshold", "0.3"]).exit_code == 0
    assert load_model(tmp_path / "fixed.joblib", task=TASK)[1]["threshold"] == 0.3
    output = tmp_path / "out.csv"
    result = runner.invoke(
        app,
        ["ctr", "predict", "--input", str(workdir / "train.csv"), "--model", str(tmp_path / "fixed.joblib"),
         "--output", str(output)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = pd.read_csv(output)
    assert (written["clicked"] == (written["click_probability"] >= 0.3).astype(int)).all()


def test_predict_unseen_values_and_gaps(workdir: Path, reference: pd.DataFrame, tmp_path: Path) -> None:
    rows = reference.iloc[9000:9006].drop(columns=[TARGET]).copy()
    rows.loc[rows.index[0], ["City", "Country", "Ad Topic Line"]] = ["Atlantis", "Utopia", "Never seen before"]
    rows.loc[rows.index[1], ["Age", "Daily Internet Usage"]] = ""
    rows.loc[rows.index[2], ["Gender", "Timestamp", "City"]] = ""
    rows.loc[rows.index[3], list(rows.columns)] = ""
    rows["note"] = "kept as is"
    path, output = tmp_path / "impressions.csv", tmp_path / "predicted.csv"
    rows.to_csv(path, index=False)
    model_args = ["--model", str(workdir / "model.joblib")]
    result = runner.invoke(app, ["ctr", "predict", "--input", str(path), "--output", str(output), *model_args])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert list(written.columns) == [*rows.columns, "click_probability", "clicked", "warnings"]
    pd.testing.assert_frame_equal(written[list(rows.columns)], rows.reset_index(drop=True))
    probability = written["click_probability"].astype(float)
    assert probability.between(0, 1).all() and set(written["clicked"]) <= {"0", "1"}
    # The keys are target-encoded (an unseen city is the encoder's business); the gaps are named as imputed.
    warnings = written["warnings"].tolist()
    assert warnings[0] == "" and warnings[4:] == ["", ""]
    assert warnings[1] == "Age is missing: the model imputed it; Daily Internet Usage is missing: the model imputed it"
    assert "Male is missing" in warnings[2] and warnings[3].count("is missing") == 5
    assert "3 of 6 rows had inputs unlike the training data: 3 with a missing value imputed" in result.output


def test_validate_writes_the_report(workdir: Path, tmp_path: Path) -> None:
    """The original keys for the primary protocol, both protocols side by side, the audit; read back typed."""
    report = tmp_path / "report.json"
    args = [*_files(workdir)[:4], "--folds", "2", "--repeats", "1", "--report", str(report)]
    result = runner.invoke(app, ["ctr", "validate", *args])
    assert result.exit_code == 0, result.output
    assert "base rate" in result.output and "logistic" in result.output and "audit" in result.output
    payload = json.loads(report.read_text())
    assert list(payload)[:4] == ["protocol", "model", "baselines", "duplicates_found"]
    assert list(payload["baselines"]) == ["majority", "logistic"]
    for part in (payload["model"], *payload["baselines"].values()):
        for metric in ("roc_auc", "accuracy", "precision", "recall", "f1"):
            assert set(part[metric]) == {"mean", "std"}
    copies = int(pd.read_csv(workdir / "train.csv").duplicated().sum())
    assert payload["protocol"]["folds"] == 2 and payload["duplicates_found"] == copies > 0
    assert payload["protocol"]["name"] == payload["primary"] == "forward"
    assert payload["baselines"]["majority"]["roc_auc"]["mean"] == 0.5
    assert list(payload["protocols"]) == ["forward", "random"]
    rows = len(pd.read_csv(workdir / "train.csv"))
    held_out = {"forward": rows // 3 * 2, "random": rows}  # 2 forward blocks of a third; every row once
    for name, protocol in payload["protocols"].items():
        assert list(protocol["baselines"]) == ["base_rate", "logistic"]
        for part in (protocol["model"], *protocol["baselines"].values()):
            for metric in ("roc_auc", "log_loss", "brier", "pr_auc", "f1"):
                assert set(part[metric]) == {"mean", "std"}
            assert 0.0 <= part["ece"] <= 1.0
            assert sum(b["n"] for b in part["reliability"]) == held_out[name]
            assert set(part["normalized_entropy"]) == set(part["calibration_ratio"]) == {"mean", "std"}
        # The base rate predicts each training window's click rate: its NE is the test block's cross-entropy
        # under that rate over the rate's own entropy, near 1; the model's is below its baseline's.
        base = protocol["baselines"]["base_rate"]
        assert 0.95 < base["normalized_entropy"]["mean"] < 1.1
        assert protocol["model"]["normalized_entropy"]["mean"] < base["normalized_entropy"]["mean"]
    assert [row["group"] for row in payload["audit"]] == ["numeric", "gender", *OPT_IN_GROUPS]
    assert all({"group", "forward_auc", "random_auc", "flagged"} <= set(row) for row in payload["audit"])
    assert payload["warnings"] == []  # the default groups
    typed = read_report(report, ValidationReport)
    assert typed.random_minus_forward["roc_auc"] == pytest.approx(
        typed.protocols["random"].model.roc_auc.mean - typed.protocols["forward"].model.roc_auc.mean
    )


def test_opt_in_groups_carry_a_warning(workdir: Path, tmp_path: Path) -> None:
    args = [*_files(workdir)[:4], "--features", "numeric,pairs", "--folds", "2", "--repeats", "1", "--no-audit"]
    result = runner.invoke(app, ["ctr", "validate", *args, "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "warning: feature group 'pairs' is opt-in" in result.output
    assert json.loads((tmp_path / "r.json").read_text())["model"]["features"] == ["numeric", "pairs"]


@pytest.mark.parametrize(
    ("command", "code", "expected"),
    [
        (["validate", "--data", "no/such.csv", "--report", "OUT"], 1, "file not found"),
        (["validate", "--data", "TRAIN", "--group-by", "planet", "--report", "OUT"], 2, "--group-by: must be one of"),
        (["validate", "--data", "TRAIN", "--imbalance", "magic", "--report", "OUT"], 2, "--imbalance: must be one of"),
        (["validate", "--data", "TRAIN", "--protocol", "sideways", "--report", "OUT"], 2, "--protocol: must be one"),
        (["validate", "--data", "TRAIN", "--features", "numeric,mood", "--report", "OUT"], 2, "--features: must list"),
        (
            ["train", "--data", "TRAIN", "--threshold", "1.5", "--model", "OUT"],
            2,
            "--threshold: must be between 0 and 1",
        ),
        (["predict", "--input", "NO_COUNTRY", "--model", "MODEL", "--output", "OUT"], 1, "missing column 'Country'"),
        (["predict", "--input", "TRAIN", "--model", "no/model.joblib", "--output", "OUT"], 1, "no saved model"),
    ],
)
def test_bad_input_exits_with_one_line(
    workdir: Path, reference: pd.DataFrame, tmp_path: Path, command: list[str], code: int, expected: str
) -> None:
    no_country = tmp_path / "no_country.csv"
    reference.iloc[:5].drop(columns=["Country"]).to_csv(no_country, index=False)
    paths = {
        "TRAIN": workdir / "train.csv",
        "MODEL": workdir / "model.joblib",
        "NO_COUNTRY": no_country,
        "OUT": tmp_path / "out",
    }
    result = runner.invoke(app, ["ctr", *(str(paths.get(a, a)) for a in command)])
    assert result.exit_code == code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_tune_writes_params_that_train_reads(workdir: Path, tmp_path: Path, metric: str) -> None:
    """`ctr tune` runs the shared Optuna loop on forward folds and leaves a params file `ctr train` accepts."""
    params = tmp_path / "tuned.json"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    tune = ["ctr", "tune", "--data", str(workdir / "train.csv"), "--trials", "2", "--folds", "2", "--metric", metric]
    result = runner.invoke(app, [*tune, "--storage", storage, "--params", str(params)])
    assert result.exit_code == 0, result.output
    written = json.loads(params.read_text())
    score = written["source"]["score"]
    assert score["metric"] == metric and (0.5 < score["mean"] <= 1 if metric == "roc_auc" else 0 < score["mean"] < 1)
    assert written["source"]["protocol"] == {"folds": 2, "repeats": 1, "seed": 42, "name": "forward", "gap": 0}
    assert set(written["features"]) <= {"numeric", "gender"}  # the audit's flagged groups are never searched
    train = ["ctr", "train", "--data", str(workdir / "train.csv"), "--params", str(params)]
    assert runner.invoke(app, [*train, "--model", str(tmp_path / "m.joblib")]).exit_code == 0
    clickstream_train = config.SHARED_DATA_DIR / "clickstream" / "train"
    refused = runner.invoke(
        app, ["tune", "--train-dir", str(clickstream_train), "--storage", storage, "--study", "ctr-forward"]
    )
    assert refused.exit_code == 1 and "ctr" in refused.stderr and "clickstream" in refused.stderr
