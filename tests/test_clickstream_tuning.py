"""The main task's search space, params-file checks and estimator through `make tune`'s loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest

from adpipe import config
from adpipe.clickstream import estimators, evaluation, pipeline
from adpipe.clickstream import params as clickstream_params
from adpipe.clickstream import tuning as clickstream_tuning
from adpipe.errors import DataError
from adpipe.tuning.loop import run_tuning
from adpipe.validation import Protocol
from features.clickstream_loaders import CLASSES

TINY = Protocol(folds=2, repeats=1, seed=3)


def sqlite(tmp_path: Path, name: str = "study.db") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_same_seed_gives_the_same_trials_and_validate_reproduces_the_best_score(tmp_path):
    runs = []
    for name in ("a", "b"):
        run_tuning(
            clickstream_tuning.tuning_task(config.TRAIN_DIR, TINY, tmp_path / f"{name}.json"),
            seed=TINY.seed,
            storage=sqlite(tmp_path, f"{name}.db"),
            study_name="s",
            trials=3,
            pruner="none",
            progress=False,
        )
        study = optuna.load_study(study_name="s", storage=sqlite(tmp_path, f"{name}.db"))
        runs.append([(t.params, t.value) for t in study.trials])
    assert runs[0] == runs[1] and len({str(p) for p, _ in runs[0]}) == 3
    tuned = clickstream_params.load_params(tmp_path / "a.json")
    report = evaluation.validate(config.TRAIN_DIR, TINY, tmp_path / "a.json", tmp_path / "report.json", False)
    assert report.model.macro_f1.mean == pytest.approx(tuned["source"]["score"]["mean"], abs=1e-12)
    assert report.baseline.macro_f1.mean < report.model.macro_f1.mean
    assert "untuned defaults" in report.variants


def test_a_new_study_starts_from_the_current_params_file(tmp_path):
    """Trial 0 of a new study is the params file it would replace, scored like `validate` scores it."""
    params_file = tmp_path / "params.json"
    current = {**clickstream_params.DEFAULT_PARAMS, "feature_groups": ["age", "category", "duration_mean"]}
    params_file.write_text(json.dumps({key: value for key, value in current.items() if key != "source"}))
    task = clickstream_tuning.tuning_task(config.TRAIN_DIR, TINY, params_file)
    run = {"seed": TINY.seed, "storage": sqlite(tmp_path), "study_name": "s", "pruner": "none", "progress": False}
    run_tuning(task, trials=2, **run)
    study = optuna.load_study(study_name="s", storage=sqlite(tmp_path))
    first = study.trials[0]
    assert first.params == clickstream_tuning.starting_point(clickstream_params.check_params(current))
    report = evaluation.validate(config.TRAIN_DIR, TINY, params_file, None, False)
    assert first.value == pytest.approx(report.model.macro_f1.mean, abs=1e-12)
    run_tuning(task, trials=3, **run)  # resuming does not enqueue it again
    assert len({str(t.params) for t in optuna.load_study(study_name="s", storage=sqlite(tmp_path)).trials}) == 3


def test_check_params_refuses_unknown_and_misplaced_keys(tmp_path):
    with pytest.raises(DataError, match="unknown key"):
        clickstream_params.check_params({"lightgbm": {}, "threshold": 0.5})
    with pytest.raises(DataError, match="'imbalance' key"):
        clickstream_params.check_params({"lightgbm": {"class_weight": "balanced"}})
    with pytest.raises(DataError, match="'imbalance' must be one of"):
        clickstream_params.check_params({"imbalance": "undersample"})
    with pytest.raises(DataError, match="'decision_rule' must be one of"):
        clickstream_params.check_params({"decision_rule": "threshold"})
    broken = tmp_path / "params.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        clickstream_params.load_params(broken)


@pytest.mark.parametrize("imbalance", clickstream_params.IMBALANCE_STRATEGIES)
def test_every_imbalance_strategy_fits_and_predicts_reproducibly(imbalance):
    X, y = pipeline.labelled_features(config.TRAIN_DIR)
    params = clickstream_params.check_params(
        {
            "lightgbm": {"n_estimators": 10, "num_leaves": 4},
            "imbalance": imbalance,
            "decision_rule": "class_weights",
            "feature_groups": ["age", "category", "duration_mean"],
        }
    )
    train, test = slice(0, 500), slice(500, None)
    first = estimators.build_model(params).fit(X.iloc[train], y.iloc[train]).predict(X.iloc[test])
    second = estimators.build_model(params).fit(X.iloc[train], y.iloc[train]).predict(X.iloc[test])
    assert len(first) == 200 and set(first) <= set(CLASSES)
    assert np.array_equal(first, second)


# --- the decision rule -------------------------------------------------------------------------
