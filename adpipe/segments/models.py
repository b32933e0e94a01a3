"""The segmentation model: the profile encoders then KMeans, with segments numbered by size (0 the largest)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from features.profiles import FeatureSpec, make_preprocessor

N_INIT = 10


def kmeans(k: int, seed: int) -> KMeans:
    """KMeans with the project's restarts; the seed makes every fit repeatable."""
    return KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)


def make_segmenter(spec: FeatureSpec, k: int, seed: int) -> Pipeline:
    """Impute, encode and scale ``spec``'s columns, then KMeans: the unfitted model ``segment fit`` saves."""
    return Pipeline([("prepare", make_preprocessor(spec)), ("kmeans", kmeans(k, seed))])


def size_order(labels: np.ndarray, k: int) -> np.ndarray:
    """``relabel[kmeans_label]`` = segment number, 0 for the largest segment (ties by KMeans' label), so the
    numbering is the same on every run."""
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    relabel = np.empty(k, dtype=int)
    relabel[order] = np.arange(k)
    return relabel


def assign_segments(model: Pipeline, metadata: Mapping[str, Any], features: pd.DataFrame) -> np.ndarray:
    """Segment numbers of ``features`` with a saved model and its metadata (which holds ``relabel``)."""
    with threadpool_limits(limits=1):
        return np.asarray(metadata["relabel"])[model.predict(features)]
