"""Nested forward validation (``python model.py ctr nested``): the params search scored on windows it never saw.

``params/ctr.json`` was chosen by a search scored on the five forward windows that ``ctr validate`` then reads
its headline from: a selection over those windows, reported on them. Here each outer forward window runs its
own search (the tuning loop's objective, sampler and pruner, :func:`adpipe.tuning.loop.search`) on inner
forward folds of its past only, fits what it chose on that past, and scores it on the window — the figure a
user who re-tunes before each deployment would see. The params file and the logistic baseline are fitted and
scored on the same windows beside it.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from adpipe import config
from adpipe.ctr.defaults import NESTED_REPORT, PARAMS_FILE
from adpipe.ctr.evaluation import labelled_data
from adpipe.ctr.folds import CtrProtocol, make_folds
from adpipe.ctr.models import LOGISTIC_BASELINE, ClickModel, logistic_baseline
from adpipe.ctr.params import load_params
from adpipe.ctr.report import HeldOutScore, NestedReport, NestedWindow
from adpipe.ctr.tuning import METRICS, task_on
from adpipe.errors import OptionError
from adpipe.params import lightgbm_refusal
from adpipe.reports import write_report
from adpipe.tuning.loop import search

NESTED = "nested search"
PARAMS = "params file"


def nested_forward(
    data: str | Path = config.CTR_FILE,
    folds: int = 5,
    inner_folds: int = 3,
    trials: int = 30,
    metric: str = "roc_auc",
    seed: int = config.DEFAULT_SEED,
    params_file: str | Path = PARAMS_FILE,
    report_file: str | Path | None = NESTED_REPORT,
    progress: bool = True,
) -> NestedReport:
    """Search, fit and score in each of ``folds`` outer forward windows; write the report."""
    if metric not in METRICS:
        raise OptionError(f"must be one of {', '.join(METRICS)}, got {metric!r}", option="--metric")
    params = load_params(params_file)
    X, y, table = labelled_data(data)
    outer = CtrProtocol(folds=folds, repeats=1, seed=seed, name="forward")
    inner = CtrProtocol(folds=inner_folds, repeats=1, seed=seed, name="forward")
    windows = []
    for split in tqdm(make_folds(table, outer, path=data), desc="nested windows", unit="window", disable=not progress):
        X_past, y_past = X.iloc[split.train], y.iloc[split.train]
        task = task_on(X_past, y_past, make_folds(table.iloc[split.train], inner), inner, params_file, metric)
        with lightgbm_refusal(params_file):
            best = search(task, trials, seed)
        if best is None:
            raise OptionError(f"no trial of window {split.fold + 1} finished: raise --trials", option="--trials")
        chosen = best.user_attrs["params"]
        models = {
            NESTED: ClickModel.from_params(chosen, seed),
            PARAMS: ClickModel.from_params(params, seed),
            LOGISTIC_BASELINE: logistic_baseline(),
        }
        truth, rate = y.iloc[split.test].to_numpy(), float(y_past.mean())
        scores = {}
        for name, model in models.items():
            probability = model.fit(X_past, y_past).predict_proba(X.iloc[split.test])[:, 1]
            scores[name] = HeldOutScore.of(truth, probability, rate)
        windows.append(
            NestedWindow(
                fold=split.fold,
                n_train=len(split.train),
                n_test=len(split.test),
                inner_score=float(best.value),
                chosen=chosen,
                scores=scores,
            )
        )
    report = NestedReport.summarise(
        windows,
        outer=outer.describe(),
        inner=f"{inner.describe()}, inside each outer window's past",
        metric=metric,
        trials=trials,
        params_file=str(params_file),
        data=str(data),
    )
    if report_file is not None:
        write_report(report_file, report)
    return report
