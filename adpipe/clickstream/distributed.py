"""``train --distributed-training``: LightGBM's own distributed training (``lightgbm.dask``) on a Dask cluster.

The usual model (adpipe.clickstream.estimators) is an imbalanced-learn pipeline fitted in one process;
this trains its LightGBM step across the cluster's workers instead (one LightGBM rank per worker, the
data split between them) and saves, through :func:`adpipe.io.save_model`, the same kind of pipeline:
the feature-group selector and a plain ``LGBMClassifier`` (``DaskLGBMClassifier.to_local()``), which
``predict`` loads like any other model. Resampling (``smote``, ``oversample``) has no distributed form:
balanced class weights stand in for it, and the metadata says so. The ``class_weights`` decision
rule refits the model on inner folds, which this does not do: such params are refused.

docs/cluster.md says when this is worth it (the labelled table no longer fits one machine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_class_weight

from adpipe import config
from adpipe.clickstream.engine_options import Engine
from adpipe.clickstream.estimators import FeatureGroupSelector
from adpipe.clickstream.params import load_params
from adpipe.clickstream.pipeline import labelled_features, training_metadata
from adpipe.errors import OptionError
from adpipe.params import LIGHTGBM_FIXED, lightgbm_refusal
from adpipe.reference import InputReference
from adpipe.versions import save_trained

# The params' imbalance handling, as LightGBM's class_weight on the cluster.
CLASS_WEIGHT = {"none": None, "class_weight": "balanced", "oversample": "balanced", "smote": "balanced"}


def train_distributed(
    train_dir: str | Path = config.TRAIN_DIR,
    params_file: str | Path = config.CLICKSTREAM_PARAMS_FILE,
    model_file: str | Path = config.MODELS_DIR / "clickstream.joblib",
    seed: int = config.DEFAULT_SEED,
    engine: Engine = "dask",
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Fit the params' LightGBM with ``lightgbm.dask`` on every labelled user and save it as a plain pipeline."""
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier

    from adpipe.clickstream.engine_dask import connect

    params = load_params(params_file)
    if params["decision_rule"] != "argmax":
        raise OptionError(
            f"the params' decision rule {params['decision_rule']!r} refits on inner folds, which distributed "
            "training does not do: use 'argmax' params or train without it",
            option="--distributed-training",
        )
    X, y = labelled_features(train_dir, engine=engine, scheduler=scheduler)
    selector = FeatureGroupSelector(tuple(params["feature_groups"])).fit(X)
    class_weight: dict[int, float] | None = None
    if CLASS_WEIGHT[params["imbalance"]] == "balanced":
        # Weighed over every user here: "balanced" inside lightgbm.dask would weigh each worker's share apart.
        classes = np.unique(y)
        class_weight = dict(zip(classes.tolist(), compute_class_weight("balanced", classes=classes, y=y), strict=True))
    with connect(scheduler) as client:
        workers = len(client.scheduler_info()["workers"])
        features = dd.from_pandas(selector.transform(X), npartitions=workers)
        target = dd.from_pandas(y, npartitions=workers)
        lightgbm = DaskLGBMClassifier(
            client=client,
            objective="multiclass",
            class_weight=class_weight,
            random_state=seed,
            **LIGHTGBM_FIXED,
            **params["lightgbm"],
        )
        # One fit at a time: concurrent lightgbm.dask fits on one cluster can hang (their ranks wait on each other).
        with lightgbm_refusal(params_file):
            local = lightgbm.fit(features, target).to_local()
    model = Pipeline([("select", selector), ("lightgbm", local)])
    # The training reference holds the inputs only: held-out predictions would take five more distributed fits.
    reference = InputReference.from_frame(X[selector.columns_])
    metadata = {
        **training_metadata(params, seed, y, selector.columns_, reference),
        "training": {
            "kind": "lightgbm.dask",
            "workers": workers,
            "class_weight": CLASS_WEIGHT[params["imbalance"]],
            "imbalance_in_params": params["imbalance"],
        },
    }
    save_trained(model_file, model, metadata, [train_dir])
    return metadata
