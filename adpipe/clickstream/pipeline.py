"""Train on the labelled users and write the submission: ``{"target": {"<test_id>": 1|2|3}}``.

The saved model carries its training reference (:mod:`adpipe.reference`): the per-user features it reads, and
its own predictions on one repeat of validate's folds. ``predict`` checks the test users against it; the
submission stays in the challenge's format, and the users with warnings go to a CSV beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from adpipe import config
from adpipe.clickstream.defaults import MODEL_FILE, TASK
from adpipe.clickstream.engine_options import Engine
from adpipe.clickstream.engines import build_features, load_split
from adpipe.clickstream.estimators import build_model, decided, fitted_pipeline
from adpipe.clickstream.params import load_params
from adpipe.clickstream.submission import flagged_users, predictions_payload, write_warnings
from adpipe.drift import expected_score
from adpipe.io import dumps_json, load_model, write_bytes_atomic
from adpipe.params import lightgbm_refusal
from adpipe.protocol import Protocol
from adpipe.reference import (
    METADATA_KEY,
    InputReference,
    LabelFreeCheck,
    PredictionReference,
    guard_rows,
)
from adpipe.validation import FoldMetrics, cross_validate, make_splits, require_trainable
from adpipe.versions import save_trained
from features.clickstream_loaders import TARGET

# The held-out predictions of the reference: one repeat of validate's stratified K-fold (its default K).
HELD_OUT_FOLDS = 5


def labelled_features(
    train_dir: str | Path, *, engine: Engine = "auto", scheduler: str | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of the labelled users in ``train_dir`` (sessions aggregated by ``engine``)."""
    table = build_features(load_split(train_dir, "train", engine=engine, scheduler=scheduler))
    require_trainable(table[TARGET], Path(train_dir) / config.USERS_TRAIN_FILE, TARGET, classes=True)
    return table.drop(columns=[TARGET]), table[TARGET]


def train(
    train_dir: str | Path = config.TRAIN_DIR,
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    model_file: str | Path = MODEL_FILE,
    seed: int = config.DEFAULT_SEED,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Fit on every labelled user and save the model with how it was made and its training reference."""
    params = load_params(params_file)
    X, y = labelled_features(train_dir, engine=engine, scheduler=scheduler)
    with lightgbm_refusal(params_file):
        model = build_model(params, seed).fit(X, y)
        features = fitted_pipeline(model).named_steps["select"].columns_
        reference = InputReference.from_frame(X[features], held_out_predictions(params, seed, X, y))
    metadata = training_metadata(params, seed, y, features, reference)
    save_trained(model_file, model, metadata, [train_dir])
    return metadata


def _held_out(model: Any, X: pd.DataFrame, y: pd.Series) -> FoldMetrics:
    probabilities = model.predict_proba(X)
    predicted = decided(model, probabilities)
    return {"probabilities": probabilities, "column": np.searchsorted(model.classes_, predicted), "truth": y.to_numpy()}


def held_out_predictions(
    params: dict[str, Any], seed: int, X: pd.DataFrame, y: pd.Series
) -> PredictionReference | None:
    """The classes the model's decision rule gives on one repeat of validate's stratified folds (fewer folds when
    a class has fewer users; none below two), with the macro-F1 they realised beside the one their
    probabilities expect."""
    folds = min(HELD_OUT_FOLDS, int(y.value_counts().min()))
    if folds < 2:
        return None
    protocol = Protocol(folds=folds, repeats=1, seed=seed)
    results = cross_validate(
        lambda: build_model(params, seed), X, y, make_splits(y, protocol), _held_out, progress=False
    )
    probabilities = np.concatenate([fold["probabilities"] for fold in results])
    column = np.concatenate([fold["column"] for fold in results])
    classes = np.unique(y)
    predicted, truth = classes[column], np.concatenate([fold["truth"] for fold in results])
    check = LabelFreeCheck(
        metric="macro-F1",
        realised=float(f1_score(truth, predicted, labels=classes, average="macro", zero_division=0)),
        estimated=expected_score("macro-F1", probabilities, column),
    )
    text = f"stratified K-fold (validate's splitter), {folds} folds x 1 repeat, seed {seed}; classes by the model's "
    text += "decision rule"
    return PredictionReference.of(predicted, text, check)


def training_metadata(
    params: dict[str, Any], seed: int, y: pd.Series, features: Sequence[str], reference: InputReference
) -> dict[str, Any]:
    """What a saved model records of how it was made: its params, seed, users, classes, feature columns and
    training reference."""
    return {
        "task": TASK,
        "params": params,
        "seed": seed,
        "n_users": len(y),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().sort_index().items()},
        "features": list(features),
        METADATA_KEY: reference.model_dump(),
    }


def predict(
    test_dir: str | Path = config.TEST_DIR,
    output: str | Path = config.PREDICTIONS_FILE,
    model_file: str | Path = MODEL_FILE,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
) -> tuple[dict[str, dict[str, int]], str]:
    """Predict every test user with the saved model and write the predictions file atomically; check each user
    against the model's training reference (the users with warnings go to a CSV beside it,
    :func:`~adpipe.clickstream.submission.write_warnings`) and return the summary line with the predictions.

    With the dask engine the predictions are made and written per partition on the cluster
    (adpipe/clickstream/partitioned.py), then gathered into the same file.
    """
    if engine == "dask":
        from adpipe.clickstream.partitioned import gather, predict_partitioned

        written = predict_partitioned(test_dir, output, model_file, scheduler=scheduler)
        return gather(written.folder, output), written.summary
    model, metadata = load_model(model_file, task=TASK)
    table = build_features(load_split(test_dir, "test", engine=engine, scheduler=scheduler))
    test_ids = table.pop("test_id")
    payload = predictions_payload(test_ids, model.predict(table))
    write_bytes_atomic(output, dumps_json(payload))
    guarded = guard_rows(InputReference.read(metadata), table)
    write_warnings(output, flagged_users(test_ids.to_numpy(), table.index, guarded.messages))
    return payload, guarded.summary
