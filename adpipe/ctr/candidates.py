"""``python model.py ctr candidates``: the default's rivals on every protocol the project reports.

Issue 24 asks for a default that is not worse than the logistic baseline anywhere we score it. This command
measures the candidates — LightGBM alone with the params file's settings, the logistic baseline, their blend
(:class:`~adpipe.ctr.models.ClickModel` with ``blend`` 0.5: the mean of both probabilities) and the trees'
leaves feeding a logistic regression (He et al. 2014) — on the forward windows, random folds, folds grouped by
city, country and ad topic, and the month export of ``ctr holdout``, with ROC-AUC, log-loss, normalized entropy
and calibration ratio. It chooses nothing: the table is what the choice in docs/ctr.md was made from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from adpipe import config
from adpipe.ctr.defaults import CANDIDATES_REPORT, PARAMS_FILE
from adpipe.ctr.evaluation import labelled_data, probability_evaluator, training_rates
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.holdout import split_export
from adpipe.ctr.models import LOGISTIC_BASELINE, ClickModel, logistic_baseline
from adpipe.ctr.params import load_params
from adpipe.ctr.report import CandidateFigures, CandidatesReport, HeldOutScore, ProbabilityFigures
from adpipe.errors import OptionError
from adpipe.params import lightgbm_refusal
from adpipe.reports import write_report
from adpipe.validation import cross_validate

LEAF_PENALTY = 0.1  # C of the leaves' logistic regression: fixed beforehand, not searched
BLEND = 0.5  # the blend candidate: the mean of the two probabilities, fixed beforehand


class LeavesLogistic(ClassifierMixin, BaseEstimator):
    """A logistic regression on the one-hot leaf each tree of a fitted :class:`ClickModel` sends a row to."""

    def __init__(self, trees: ClickModel | None = None, C: float = LEAF_PENALTY) -> None:
        self.trees = trees
        self.C = C

    def _leaves(self, X: pd.DataFrame) -> np.ndarray:
        pipeline = self.trees_.pipeline_
        return pipeline[-1].predict(pipeline[:-1].transform(X), pred_leaf=True)

    def fit(self, X: pd.DataFrame, y: pd.Series) -> LeavesLogistic:
        trees = self.trees if self.trees is not None else ClickModel(blend=0.0)
        if trees.calibration != "none":
            raise OptionError(
                "the leaves of a calibrated model cannot be read: use calibration none", option="--params"
            )
        self.trees_ = clone(trees).fit(X, y)
        leaves = self._leaves(X)
        self.encoder_ = OneHotEncoder(handle_unknown="ignore").fit(leaves)
        self.logistic_ = LogisticRegression(C=self.C, max_iter=2000).fit(self.encoder_.transform(leaves), y)
        self.classes_ = self.logistic_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "logistic_")
        return self.logistic_.predict_proba(self.encoder_.transform(self._leaves(X)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def candidates(params: dict[str, Any], seed: int) -> dict[str, Callable[[], Any]]:
    """Each candidate's unfitted model, by name: the params file's LightGBM settings in each."""
    alone, blended = {**params, "blend": 0.0}, {**params, "blend": BLEND}
    return {
        "LightGBM alone": lambda: ClickModel.from_params(alone, seed),
        LOGISTIC_BASELINE: logistic_baseline,
        f"blend: LightGBM and logistic, weight {BLEND}": lambda: ClickModel.from_params(blended, seed),
        "GBDT leaves -> logistic": lambda: LeavesLogistic(ClickModel.from_params(alone, seed)),
    }


def compare(
    data: str | Path = config.CTR_FILE,
    folds: int = 5,
    seed: int = config.DEFAULT_SEED,
    params_file: str | Path = PARAMS_FILE,
    report_file: str | Path | None = CANDIDATES_REPORT,
    progress: bool = True,
) -> CandidatesReport:
    """Every candidate on every protocol; write the report."""
    params = load_params(params_file)
    X, y, table = labelled_data(data)
    protocols: dict[str, tuple[CtrProtocol, str | None]] = {
        "forward": (CtrProtocol(folds=folds, repeats=1, seed=seed, name="forward"), None),
        "random": (CtrProtocol(folds=folds, repeats=1, seed=seed, name="random"), None),
        **{
            f"grouped by {group}": (CtrProtocol(folds=folds, repeats=1, seed=seed, name="random"), group)
            for group in ("city", "country", "ad_topic")
        },
    }
    made = candidates(params, seed)
    figures: dict[str, dict[str, CandidateFigures]] = {name: {} for name in made}
    described = {}
    steps = tqdm(total=len(made) * (len(protocols) + 1), desc="candidates", unit="run", disable=not progress)
    for protocol_name, (protocol, group) in protocols.items():
        splits = make_folds(table, protocol, group, data)
        described[protocol_name] = protocol.describe(group)
        rates = training_rates(y, splits)
        for name, make in made.items():
            with lightgbm_refusal(params_file):
                results = cross_validate(make, X, y, splits, probability_evaluator(), progress=False)
            figures[name][protocol_name] = CandidateFigures.of_folds(ProbabilityFigures.from_folds(results, rates))
            steps.update()
    train, export, months, _ = split_export(table, 1)
    described["month export"] = f"the last month ({months[0]}) held out, its cities left out of training"
    for name, make in made.items():
        fitted = make().fit(X.iloc[train], y.iloc[train])
        probability = fitted.predict_proba(X.iloc[export])[:, 1]
        score = HeldOutScore.of(y.to_numpy()[export], probability, float(y.iloc[train].mean()))
        figures[name]["month export"] = CandidateFigures.of_score(score)
        steps.update()
    steps.close()
    report = CandidatesReport(
        protocols=described,
        candidates=figures,
        params_file=str(params_file),
        data=str(data),
        baseline=LOGISTIC_BASELINE,
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
