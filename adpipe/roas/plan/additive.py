"""The planner's curves (``roas curves``, ``roas plan``): power-law value-vs-spend curves per segment whose levels
stay apart, because each segment dimension (campaign, age, gender, ...) gets its own additive effect on the log
level, partially pooled by empirical Bayes per dimension.

Value of an ad = ``exp(alpha_s + beta_s * (log1p(spend) - centre_s))``, quasi-Poisson, log link. ``centre_s`` is
the segment's own mean log spend, so ``alpha_s`` is its level where its ads were seen (the global centre is an
extrapolation for a small campaign). ``alpha_s = a + sum_d u_d[level] + w_s``: one random effect per dimension
level, plus a segment deviation, each block with its own variance (a normal prior whose variance is estimated by
EM on the Laplace approximation, Schall's algorithm). The exponent is ``b`` plus random effects chosen among
:data:`EXPONENT_MODES` by held-out Poisson deviance on inner folds of the training data only (``exponent="auto"``),
so a back-test that fits on training folds never reads its held-out fold to choose.
Why not the per-segment DerSimonian-Laird pooling of :class:`~adpipe.roas.plan.curves.PooledPowerCurves`: on the
reference file its level variance hit the floor, every level collapsed to one value and all the differences
between segments went into the exponents (issue 37).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from adpipe.errors import DataError
from adpipe.roas.plan.curves import INTERVAL, MIN_ADS_FOR_OWN_RESIDUALS, SEGMENT, SEGMENT_SEPARATOR, SPEND, VALUE
from features.choices import GROUP

# What the exponent varies by: one for all; per level of the first segment column (the campaign); additive per
# dimension; additive per dimension plus a segment deviation.
EXPONENT_MODES = ("common", "campaign", "dimension", "segment")
VARIANCE_FLOOR, FIXED_PRECISION, PINNED_PRECISION = 1e-6, 1e-6, 1e12
INNER_FOLDS = 3


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Mean Poisson deviance per ad: the loss the quasi-Poisson curves estimate (the mean, not the median)."""
    y, mu = np.asarray(y, float), np.maximum(np.asarray(mu, float), 1e-9)
    ratio = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(2.0 * (ratio - (y - mu)).mean())


def _levels(names: Sequence[str]) -> list[list[str]]:
    """Each segment's dimension values; one dimension when the names do not all split alike."""
    parts = [str(n).split(SEGMENT_SEPARATOR) for n in names]
    return parts if len({len(p) for p in parts}) == 1 else [[str(n)] for n in names]


def penalised_poisson(
    design: np.ndarray, y: np.ndarray, weight: float, prior: tuple[np.ndarray, np.ndarray], start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior mode of a log-link Poisson fit (log likelihood x ``weight``) under a normal prior (mean,
    precision), by damped Newton steps from ``start``; and the posterior precision there."""
    mean, precision = prior

    def loss(theta: np.ndarray) -> float:
        eta = np.clip(design @ theta, -50, 50)
        return float(weight * (np.exp(eta) - y * eta).sum() + 0.5 * (precision * (theta - mean) ** 2).sum())

    theta = start.copy()
    for _ in range(100):
        mu = np.exp(np.clip(design @ theta, -50, 50))
        grad = weight * design.T @ (mu - y) + precision * (theta - mean)
        hess = weight * (design.T * mu) @ design + np.diag(precision)
        step = np.linalg.solve(hess, grad)
        if grad @ step < 1e-10 * max(1.0, weight * y.sum()):  # the Newton decrement: at the optimum
            break
        before, scale = loss(theta), 1.0
        while loss(theta - scale * step) > before and scale > 1e-6:
            scale /= 2
        theta = theta - scale * step
    mu = np.exp(np.clip(design @ theta, -50, 50))
    return theta, weight * (design.T * mu) @ design + np.diag(precision)


def _pearson(design: np.ndarray, y: np.ndarray, theta: np.ndarray, edf: float) -> float:
    """The quasi-Poisson dispersion: Pearson's statistic over the residual degrees of freedom."""
    mu = np.exp(np.clip(design @ theta, -50, 50))
    return float(max(((y - mu) ** 2 / mu).sum() / max(len(y) - edf, 1.0), 1e-6))


def _variance_update(theta: np.ndarray, cov: np.ndarray, offset: int, width: int, variance: float) -> float:
    """One block's variance from its effects (MacKay's fixed point: their sum of squares over the number of
    effects the data determine, width less the share the prior still holds)."""
    effects = theta[offset : offset + width]
    determined = width - np.trace(cov[offset : offset + width, offset : offset + width]) / variance
    return float(max((effects**2).sum() / max(determined, 1e-3), VARIANCE_FLOOR))


class AdditiveLevelCurves(RegressorMixin, BaseEstimator):
    """``X``: a frame with ``segment`` and ``spend`` (and the group column, for the inner folds); ``y``: the ads'
    value. ``exponent``: one of :data:`EXPONENT_MODES`, or ``auto`` (chosen by inner-fold deviance)."""

    def __init__(self, exponent: str = "auto", fallback_margin: float = 1.645, seed: int = 0) -> None:
        self.exponent = exponent
        self.fallback_margin = fallback_margin  # the common exponent's upper bound (in se) must stay below 1
        self.seed = seed

    # --- the design: columns 0 (level) and 1 (common exponent), then one block per random effect ---------------
    def _blocks(self, names: Sequence[str], mode: str) -> list[tuple[str, bool, int | None, list[str]]]:
        """(name, is_slope, dimension or None for the segment, vocabulary) of each random-effect block."""
        parts = _levels(names)
        n_dims = len(parts[0]) if parts else 1
        vocab = [sorted({p[d] for p in parts}) for d in range(n_dims)]
        segments = sorted(set(names))
        blocks = [(f"level:{d}", False, d, vocab[d]) for d in range(n_dims)]
        if n_dims > 1:
            blocks.append(("level:segment", False, None, segments))
        slope_dims = {"common": [], "campaign": [0], "dimension": list(range(n_dims))}.get(mode, list(range(n_dims)))
        blocks += [(f"exponent:{d}", True, d, vocab[d]) for d in slope_dims]
        if mode == "segment" and n_dims > 1:
            blocks.append(("exponent:segment", True, None, segments))
        return blocks

    def _rows(self, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each name's combination of the coefficients into its level (A) and its exponent (B): k x p each."""
        parts = _levels(names)
        level, slope = np.zeros((len(names), self.n_coef_)), np.zeros((len(names), self.n_coef_))
        level[:, 0], slope[:, 1] = 1.0, 1.0
        for (_, is_slope, dim, vocab), offset in zip(self.blocks_, self.offsets_, strict=True):
            index = {v: k for k, v in enumerate(vocab)}
            keys = [
                str(n) if dim is None else (p[dim] if dim < len(p) else None) for n, p in zip(names, parts, strict=True)
            ]
            for row, key in enumerate(keys):
                if key in index:
                    (slope if is_slope else level)[row, offset + index[key]] = 1.0
        return level, slope

    def _centres(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self.centres_.get(n, self.center_) for n in names])

    def _fit_mode(self, spend: np.ndarray, y: np.ndarray, segments: np.ndarray, mode: str) -> None:
        """Fit one exponent mode: variance components by EM, the dispersion from the Pearson residuals."""
        names = sorted(set(segments))
        self.blocks_ = self._blocks(names, mode)
        sizes = [len(b[3]) for b in self.blocks_]
        self.offsets_ = list(2 + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)) if sizes else []
        self.n_coef_ = 2 + sum(sizes)
        logged = np.log1p(spend)
        self.center_ = float(logged[spend > 0].mean()) if (spend > 0).any() else 0.0
        frame = pd.DataFrame({"s": segments, "x": logged})[spend > 0]
        self.centres_ = frame.groupby("s")["x"].mean().to_dict()
        unique, position = np.unique(segments, return_inverse=True)
        level, slope = (rows[position] for rows in self._rows(list(unique)))
        design = level + slope * (logged - self._centres(list(unique))[position])[:, None]
        mean, precision = np.zeros(self.n_coef_), np.full(self.n_coef_, FIXED_PRECISION)
        if self.fallback_:  # constant ROAS: the exponent pinned at 1, no exponent effects
            mean[1], precision[1] = 1.0, PINNED_PRECISION
        variance = np.full(len(self.blocks_), 0.1)
        theta = np.zeros(self.n_coef_)
        theta[0], theta[1] = np.log(max(y.mean(), 1e-9)), mean[1] or 0.5
        dispersion = self.global_dispersion_
        for _ in range(60):
            for (_, is_slope, _, vocab), offset, v in zip(self.blocks_, self.offsets_, variance, strict=True):
                width = len(vocab)
                precision[offset : offset + width] = PINNED_PRECISION if self.fallback_ and is_slope else 1.0 / v
            theta, hess = penalised_poisson(design, y, 1.0 / dispersion, (mean, precision), theta)
            cov = np.linalg.inv(hess)
            updated = np.array([_variance_update(theta, cov, o, len(b[3]), v)
                                for b, o, v in zip(self.blocks_, self.offsets_, variance, strict=True)])  # fmt: skip
            mu = np.exp(np.clip(design @ theta, -50, 50))
            dispersion = _pearson(design, y, theta, float(np.trace((design.T * mu) @ design @ cov) / dispersion))
            settled = (np.abs(np.log(updated) - np.log(variance)) < 1e-2) | (updated <= 2 * VARIANCE_FLOOR)
            converged = bool(settled.all())
            variance = updated
            if converged:
                break
        self.mode_, self.coef_all_, self.cov_all_, self.dispersion_ = mode, theta, cov, dispersion
        self.variance_ = {b[0]: float(v) for b, v in zip(self.blocks_, variance, strict=True)}

    def _no_saturation(self, spend: np.ndarray, y: np.ndarray) -> bool:
        """Whether one global curve's exponent cannot be told from 1 (or is not positive): then constant ROAS."""
        design = np.column_stack([np.ones(len(y)), np.log1p(spend) - np.log1p(spend).mean()])
        start = np.array([np.log(max(y.mean(), 1e-9)), 0.5])
        theta, hess = penalised_poisson(design, y, 1.0, (np.zeros(2), np.full(2, 1e-8)), start)
        self.global_dispersion_ = _pearson(design, y, theta, 2.0)
        exponent_se = float(np.sqrt(np.linalg.inv(hess)[1, 1] * self.global_dispersion_))
        return bool(theta[1] + self.fallback_margin * exponent_se >= 1.0 or theta[1] <= 0)

    def _select(self, X: pd.DataFrame, y: np.ndarray) -> tuple[str, dict[str, float]]:
        """The exponent mode with the lowest held-out deviance over inner folds of ``X`` (grouped by campaign when
        the frame has its group column); one mode per distinct design (with one dimension, three are the same)."""
        n_dims = len(_levels(X[SEGMENT].unique().tolist())[0])
        modes = ["common", "campaign"] if n_dims == 1 else list(EXPONENT_MODES)
        groups = X[GROUP].to_numpy() if GROUP in X else None
        if groups is not None and len(np.unique(groups)) >= INNER_FOLDS:
            folds = list(GroupKFold(INNER_FOLDS).split(X, y, groups))
        else:
            folds = list(KFold(INNER_FOLDS, shuffle=True, random_state=self.seed).split(X))
        deviance = {}
        for mode in modes:
            total = 0.0
            for train, test in folds:
                inner = AdditiveLevelCurves(mode, self.fallback_margin, self.seed)._fit(X.iloc[train], y[train])
                total += poisson_deviance(y[test], inner.predict(X.iloc[test])) * len(test)
            deviance[mode] = total / len(y)
        return min(deviance, key=deviance.get), deviance

    def fit(self, X: pd.DataFrame, y: Sequence[float]) -> AdditiveLevelCurves:
        with threadpool_limits(1):  # small dense algebra: one BLAS thread is several times faster on a shared CPU
            return self._fit(X, y)._intervals(X, y)

    def _intervals(self, X: pd.DataFrame, y: Sequence[float]) -> AdditiveLevelCurves:
        """The 80% intervals' residual-ratio quantiles: per segment with enough ads, else pooled."""
        ratio = np.asarray(y, dtype=float) / self.predict(X)
        segments = X[SEGMENT].astype(str).to_numpy()
        self.pooled_quantiles_ = np.quantile(ratio, INTERVAL)
        self.residual_quantiles_ = {}
        for name in self.segments_:
            rows = segments == name
            own = rows.sum() >= MIN_ADS_FOR_OWN_RESIDUALS
            self.residual_quantiles_[name] = np.quantile(ratio[rows], INTERVAL) if own else self.pooled_quantiles_
        return self

    def _fit(self, X: pd.DataFrame, y: Sequence[float]) -> AdditiveLevelCurves:
        """The curves without their intervals (what the inner folds of the mode choice need), inside the caller's
        one-thread BLAS limit."""
        spend, y = X[SPEND].to_numpy(float), np.asarray(y, dtype=float)
        segments = X[SEGMENT].astype(str).to_numpy()
        if (y < 0).any() or (spend < 0).any():
            raise DataError("spend and value must not be negative")
        if y.sum() <= 0:
            raise DataError("no ad has any conversion value: there is no curve to fit", column=VALUE)
        self.fallback_ = self._no_saturation(spend, y)
        self.mode_deviance_: dict[str, float] = {}
        mode = "common" if self.fallback_ else self.exponent
        if mode == "auto":
            mode, self.mode_deviance_ = self._select(X, y)
        self._fit_mode(spend, y, segments, mode)
        self.segments_ = np.array(sorted(set(segments)))
        self.coef_, self.coef_cov_ = self.segment_coef(self.segments_), self.segment_cov(self.segments_)
        self.global_ = self.coef_all_[:2].copy()
        self.n_features_in_ = 2
        return self

    def segment_coef(self, segments: Sequence[str]) -> np.ndarray:
        """Each name's (level at its own centre, exponent); a name not seen combines the effects it shares."""
        check_is_fitted(self)
        unique, position = np.unique(np.asarray(segments, dtype=str), return_inverse=True)
        level, slope = self._rows(list(unique))
        coef = np.column_stack([level @ self.coef_all_, (slope @ self.coef_all_).clip(0.0, 1.0)])
        return coef[position].reshape(-1, 2)

    def segment_cov(self, segments: Sequence[str]) -> np.ndarray:
        """The posterior covariance of each name's (level, exponent)."""
        check_is_fitted(self)
        rows = np.stack(self._rows(list(segments)), axis=1)  # k x 2 x p
        return np.einsum("kip,kjp->kij", rows @ self.cov_all_, rows).reshape(-1, 2, 2)

    def segment_center(self, segments: Sequence[str]) -> np.ndarray:
        """Each name's centre of log spend (the training mean for its ads with spend; the global one if unseen)."""
        check_is_fitted(self)
        return self._centres(list(segments))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The expected value of each ad at its spend."""
        unique, position = np.unique(X[SEGMENT].astype(str).to_numpy(), return_inverse=True)
        coef, centre = self.segment_coef(unique)[position], self._centres(list(unique))[position]
        eta = coef[:, 0] + coef[:, 1] * (np.log1p(X[SPEND].to_numpy(float)) - centre)
        return np.exp(np.clip(eta, -50, 50))

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """80% intervals of each ad's value: its expected value times the segment's residual-ratio quantiles."""
        expected = self.predict(X)
        quantiles = np.array([self.residual_quantiles_.get(s, self.pooled_quantiles_) for s in X[SEGMENT]])
        return expected * quantiles[:, 0], expected * quantiles[:, 1]
