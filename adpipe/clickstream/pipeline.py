"""Train on the labelled users and write the submission: ``{"target": {"<test_id>": 1|2|3}}``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from adpipe import config
from adpipe.clickstream.defaults import MODEL_FILE, TASK
from adpipe.clickstream.engine_options import Engine
from adpipe.clickstream.engines import build_features, load_split
from adpipe.clickstream.estimators import build_model, fitted_pipeline
from adpipe.clickstream.params import load_params
from adpipe.clickstream.submission import predictions_payload
from adpipe.errors import DataError
from adpipe.io import dumps_json, load_model, save_model, write_bytes_atomic
from adpipe.params import lightgbm_refusal
from features.clickstream_loaders import TARGET


def labelled_features(
    train_dir: str | Path, *, engine: Engine = "auto", scheduler: str | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of the labelled users in ``train_dir`` (sessions aggregated by ``engine``)."""
    table = build_features(load_split(train_dir, "train", engine=engine, scheduler=scheduler))
    classes = sorted(int(c) for c in table[TARGET].unique())
    if len(classes) < 2:
        raise DataError(
            f"every user has class {classes}: a classifier needs users of at least two classes",
            path=Path(train_dir) / config.USERS_TRAIN_FILE,
            column=TARGET,
        )
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
    """Fit on every labelled user and save the model with how it was made."""
    params = load_params(params_file)
    X, y = labelled_features(train_dir, engine=engine, scheduler=scheduler)
    with lightgbm_refusal(params_file):
        model = build_model(params, seed).fit(X, y)
    metadata = training_metadata(params, seed, y, fitted_pipeline(model).named_steps["select"].columns_)
    save_model(model_file, model, metadata)
    return metadata


def training_metadata(params: dict[str, Any], seed: int, y: pd.Series, features: Sequence[str]) -> dict[str, Any]:
    """What a saved model records of how it was made: its params, seed, users, classes and feature columns."""
    return {
        "task": TASK,
        "params": params,
        "seed": seed,
        "n_users": len(y),
        "class_counts": {str(k): int(v) for k, v in y.value_counts().sort_index().items()},
        "features": list(features),
    }


def predict(
    test_dir: str | Path = config.TEST_DIR,
    output: str | Path = config.PREDICTIONS_FILE,
    model_file: str | Path = MODEL_FILE,
    *,
    engine: Engine = "auto",
    scheduler: str | None = None,
) -> dict[str, dict[str, int]]:
    """Predict every test user with the saved model and write the predictions file atomically.

    With the dask engine the predictions are made and written per partition on the cluster
    (adpipe/clickstream/partitioned.py), then gathered into the same file.
    """
    if engine == "dask":
        from adpipe.clickstream.partitioned import gather, predict_partitioned

        return gather(predict_partitioned(test_dir, output, model_file, scheduler=scheduler).folder, output)
    model, _ = load_model(model_file, task=TASK)
    table = build_features(load_split(test_dir, "test", engine=engine, scheduler=scheduler))
    test_ids = table.pop("test_id")
    payload = predictions_payload(test_ids, model.predict(table))
    write_bytes_atomic(output, dumps_json(payload))
    return payload
