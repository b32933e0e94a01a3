"""Is there structure, or only the partition KMeans always returns? The checks behind ``segment fit``:

- silhouette, Davies–Bouldin and Calinski–Harabasz per candidate k;
- stability: adjusted Rand between the segments and those of fits on bootstrap samples, each with another seed;
- a null: the same clustering on column-shuffled data (each column permuted on its own: the same marginals, no
  joint structure), whose best silhouette says what "no segments" looks like on these columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score, silhouette_score
from tqdm.auto import tqdm

from adpipe.errors import DataError, OptionError
from adpipe.reports import MeanStd
from adpipe.segments.models import kmeans
from adpipe.segments.report import KScores, Stability, StructureVerdict

DEFAULT_K_RANGE = (2, 10)
# The structure rule. Silhouette above 0.5 is "a reasonable structure" (Kaufman & Rousseeuw); an
# adjusted Rand of 0.8 between bootstrap fits means the same users land together again.
SILHOUETTE_CLEAR = 0.5
STABILITY_CLEAR = 0.8
# The real best silhouette must beat the shuffled ones by 3 of their standard deviations, and by 0.02 at least.
NULL_MARGIN_SDS = 3.0
NULL_MARGIN_MIN = 0.02
SILHOUETTE_SAMPLE = 2000
RULE = (
    f"none if silhouette - shuffled silhouette <= max({NULL_MARGIN_SDS:g} x shuffled std, {NULL_MARGIN_MIN}); "
    f"else clear if silhouette >= {SILHOUETTE_CLEAR} and bootstrap adjusted Rand >= {STABILITY_CLEAR}; else weak"
)


def candidate_ks(k: int | None, k_range: str | None) -> list[int]:
    """The k values to try: the one given, or ``--k-range`` as ``low-high`` (2-10 by default)."""
    if k is not None and k_range is not None:
        raise OptionError("give --k or --k-range, not both", option="--k-range")
    if k is not None:
        return [k]
    if k_range is None:
        low, high = DEFAULT_K_RANGE
    else:
        parts = k_range.split("-")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            raise OptionError(f"must look like 2-10, got {k_range!r}", option="--k-range")
        low, high = (int(p) for p in parts)
        if low < 2 or high < low:
            raise OptionError(f"needs 2 <= low <= high, got {k_range!r}", option="--k-range")
    return list(range(low, high + 1))


def check_ks(ks: Sequence[int], encoded: np.ndarray, origin: str) -> None:
    """Refuse a k the users cannot support (silhouette needs k below the number of distinct users)."""
    n_users = len(encoded)
    distinct = len(np.unique(encoded, axis=0))
    if max(ks) >= n_users:
        raise DataError(f"k={max(ks)} is not smaller than the number of users ({n_users})", path=origin)
    if max(ks) > distinct:
        raise DataError(f"k={max(ks)} is larger than the {distinct} distinct users", path=origin)


def silhouette(encoded: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """Silhouette on a seeded sample of at most 2,000 users; 0 when every user is in one segment."""
    if len(np.unique(labels)) < 2:
        return 0.0
    sample = min(len(encoded), SILHOUETTE_SAMPLE)
    return float(silhouette_score(encoded, labels, sample_size=sample, random_state=seed))


def shuffled_silhouettes(
    features: pd.DataFrame,
    prepare: ColumnTransformer,
    ks: Sequence[int],
    seed: int,
    n_shuffles: int,
    progress: bool = True,
) -> np.ndarray:
    """Silhouette per shuffle (rows) and k (columns) of the same clustering on column-shuffled raw data."""
    if n_shuffles < 1:
        raise ValueError(f"n_shuffles must be at least 1, got {n_shuffles}")
    rng = np.random.default_rng(seed)
    out = np.zeros((n_shuffles, len(ks)))
    for s in tqdm(range(n_shuffles), desc="shuffled data", disable=not progress, leave=False):
        shuffled = features.apply(lambda column: rng.permutation(column.to_numpy()))
        encoded = prepare.transform(shuffled)
        for position, k in enumerate(ks):
            out[s, position] = silhouette(encoded, kmeans(k, seed).fit_predict(encoded), seed)
    return out


def scores_per_k(
    encoded: np.ndarray, ks: Sequence[int], seed: int, shuffled: np.ndarray, progress: bool = True
) -> list[KScores]:
    """The three scores of each k, beside that k's silhouette on the shuffled copies (a column of ``shuffled``)."""
    rows = []
    for position, k in enumerate(tqdm(ks, desc="k", disable=not progress, leave=False)):
        labels = kmeans(k, seed).fit_predict(encoded)
        rows.append(
            KScores(
                k=k,
                silhouette=silhouette(encoded, labels, seed),
                davies_bouldin=float(davies_bouldin_score(encoded, labels)),
                calinski_harabasz=float(calinski_harabasz_score(encoded, labels)),
                shuffled_silhouette=MeanStd.over(shuffled[:, position]),
            )
        )
    return rows


def stability(
    encoded: np.ndarray, k: int, labels: np.ndarray, seed: int, n_bootstraps: int, progress: bool = True
) -> Stability:
    """Adjusted Rand between ``labels`` and the segments of fits on bootstrap samples (each its own seed)."""
    if n_bootstraps < 1:
        raise ValueError(f"n_bootstraps must be at least 1, got {n_bootstraps}")
    rng = np.random.default_rng(seed)
    agreement = []
    for b in tqdm(range(n_bootstraps), desc="stability", disable=not progress, leave=False):
        sample = rng.choice(len(encoded), size=len(encoded), replace=True)
        refit = kmeans(k, seed + 1 + b).fit(encoded[sample])
        agreement.append(adjusted_rand_score(labels, refit.predict(encoded)))
    return Stability(
        adjusted_rand=MeanStd.over(agreement),
        n_bootstraps=n_bootstraps,
        method="KMeans refitted on bootstrap samples (seed + 1 + b), all users re-assigned, compared with the fit",
    )


def structure_verdict(best_silhouette: float, shuffled_best: np.ndarray, adjusted_rand: float) -> StructureVerdict:
    """Clear, weak or none by :data:`RULE`, with the figures that decided it."""
    null = MeanStd.over(shuffled_best)
    margin = max(NULL_MARGIN_SDS * null.std, NULL_MARGIN_MIN)
    gap = best_silhouette - null.mean
    if gap <= margin:
        verdict = "none"
    elif best_silhouette >= SILHOUETTE_CLEAR and adjusted_rand >= STABILITY_CLEAR:
        verdict = "clear"
    else:
        verdict = "weak"
    return StructureVerdict(
        structure=verdict,
        rule=RULE,
        silhouette=best_silhouette,
        shuffled_silhouette=null,
        gap=gap,
        margin=margin,
        adjusted_rand=adjusted_rand,
    )
