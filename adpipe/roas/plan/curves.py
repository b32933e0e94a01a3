"""Saturating value-vs-spend curves per segment, partially pooled (``roas curves``).

The family is a power law with a base term, ``value = exp(alpha_s) * (spend + 1) ** beta_s``, fitted with a
log link and a quasi-Poisson loss (variance proportional to the mean, so zero-value ads and heavy tails are
fitted without a log transform of the target). Why this family: ``spend + 1`` gives ads without spend a base
value (207 of the reference ads have none, 204 of them with conversions); an exponent in [0, 1] makes each curve
concave, so the plan is a convex problem; two parameters per segment are identified on a few ads, where a
Hill curve's half-saturation point is not. Segment parameters are shrunk toward the global fit by empirical
Bayes: a normal prior centred on the global curve whose spread is the between-segment variance left after the
sampling noise (method of moments), so a thin segment borrows from the rest. When the global exponent cannot
be told from 1 (no saturation), every curve falls back to constant ROAS (exponent 1) and the fit says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from adpipe.errors import DataError, OptionError
from features.campaign_dates import DATE
from features.campaigns import BUDGET, OUTCOME_COLUMNS
from features.choices import GROUP

SEGMENT, SPEND, VALUE = "segment", "spend", "value"
SEGMENT_SEPARATOR = "/"
INTERVAL = (0.10, 0.90)  # the 80% intervals
MIN_ADS_FOR_OWN_RESIDUALS = 20  # fewer ads in a segment: its interval uses the pooled residual quantiles


def plan_frame(table: pd.DataFrame, value: pd.Series, by: Sequence[str], group: str = GROUP) -> pd.DataFrame:
    """The planner's input, one row per ad: segment (the ``by`` values joined by '/'), spend, value, the
    validation's group (the ``group`` column: a mapped export's own campaign column) and, when the export has one
    (a mapping with a date role), the row's ``date`` (forward-in-time validation reads it).

    The one place the campaign layout is read: another export, mapped to these roles, feeds the rest as is.
    """
    if not by:
        raise OptionError("name at least one column to segment by", option="--by")
    for column in by:
        if column not in table or column in (BUDGET, group, *OUTCOME_COLUMNS):
            usable = [c for c in table.columns if c not in (BUDGET, group, "ad_id", *OUTCOME_COLUMNS)]
            raise OptionError(f"unknown segment column '{column}' (one of: {', '.join(usable)})", option="--by")
    segment = table[list(by)].astype(str).agg(SEGMENT_SEPARATOR.join, axis=1)
    frame = pd.DataFrame(
        {SEGMENT: segment, SPEND: table[BUDGET].astype(float), VALUE: value.astype(float), GROUP: table[group]}
    )
    if DATE in table and DATE not in by:
        frame[DATE] = table[DATE]
    return frame.reset_index(drop=True)


def _poisson_map(
    design: np.ndarray, y: np.ndarray, dispersion: float, prior_mean: np.ndarray, prior_precision: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The maximum a posteriori coefficients of a log-link quasi-Poisson fit with a normal prior, and their
    posterior covariance (the inverse Hessian at the optimum)."""

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        eta = np.clip(design @ theta, -50, 50)
        mu = np.exp(eta)
        gap = theta - prior_mean
        loss = (mu - y * eta).sum() / dispersion + 0.5 * gap @ (prior_precision * gap)
        grad = design.T @ (mu - y) / dispersion + prior_precision * gap
        hess = (design.T * mu) @ design / dispersion + np.diag(prior_precision)
        return loss, grad, hess

    fit = minimize(
        lambda t: objective(t)[0],
        prior_mean.copy(),
        jac=lambda t: objective(t)[1],
        hess=lambda t: objective(t)[2],
        method="trust-exact",
    )
    return fit.x, np.linalg.inv(objective(fit.x)[2])


def _between_variance(estimates: np.ndarray, variances: np.ndarray, informative: np.ndarray) -> np.ndarray:
    """The spread of the true segment coefficients around their mean, per coefficient (DerSimonian-Laird):
    the precision-weighted spread of the raw estimates less what their sampling noise explains."""
    if informative.sum() < 2:
        return np.full(2, 1e-4)
    theta, weight = estimates[informative], 1.0 / variances[informative]
    centre = (weight * theta).sum(axis=0) / weight.sum(axis=0)
    q = (weight * (theta - centre) ** 2).sum(axis=0)
    scale = weight.sum(axis=0) - (weight**2).sum(axis=0) / weight.sum(axis=0)
    return np.maximum((q - (len(theta) - 1)) / scale, 1e-4)


class PooledPowerCurves(RegressorMixin, BaseEstimator):
    """Value per ad = ``exp(alpha_s + beta_s * (log1p(spend) - center))`` per segment, shrunk toward the global
    curve. ``X``: a frame with ``segment`` and ``spend``; ``y``: the ads' value."""

    def __init__(self, fallback_margin: float = 1.645, weak_precision: float = 1e-2) -> None:
        self.fallback_margin = fallback_margin  # the global exponent's upper bound (in se) must stay below 1
        self.weak_precision = weak_precision  # the raw per-segment fits' prior, only to keep them finite

    def _design(self, spend: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(spend)), np.log1p(spend) - self.center_])

    def fit(self, X: pd.DataFrame, y: Sequence[float]) -> PooledPowerCurves:
        spend, y = X[SPEND].to_numpy(float), np.asarray(y, dtype=float)
        segments = X[SEGMENT].to_numpy()
        if (y < 0).any() or (spend < 0).any():
            raise DataError("spend and value must not be negative")
        if y.sum() <= 0:
            raise DataError("no ad has any conversion value: there is no curve to fit", column=VALUE)
        self.center_ = float(np.log1p(spend).mean())
        design = self._design(spend)
        start = np.array([np.log(y.mean()), 0.5])
        self.global_, global_cov = _poisson_map(design, y, 1.0, start, np.full(2, 1e-8))
        mu = np.exp(design @ self.global_)
        self.dispersion_ = float(max(((y - mu) ** 2 / mu).sum() / max(len(y) - 2, 1), 1e-6))
        exponent_se = float(np.sqrt(global_cov[1, 1] * self.dispersion_))
        self.fallback_ = bool(self.global_[1] + self.fallback_margin * exponent_se >= 1.0 or self.global_[1] <= 0)
        if self.fallback_:  # no saturation identifiable: constant ROAS per segment (exponent 1, offsets only)
            self.global_[1] = 1.0
            free = np.array([True, False])
        else:
            free = np.array([True, True])
        self.segments_ = np.unique(segments)
        raw, raw_var, n_ads = [], [], []
        for name in self.segments_:
            rows = segments == name
            precision = np.where(free, self.weak_precision, 1e12)
            theta, cov = _poisson_map(design[rows], y[rows], self.dispersion_, self.global_, precision)
            raw.append(theta)
            raw_var.append(np.diag(cov))
            n_ads.append(int((spend[rows] > 0).sum()))
        self.between_variance_ = _between_variance(np.array(raw), np.array(raw_var), np.array(n_ads) >= 3)
        prior_precision = np.where(free, 1.0 / self.between_variance_, 1e12)
        self.coef_ = np.empty((len(self.segments_), 2))
        self.coef_cov_ = np.empty((len(self.segments_), 2, 2))
        for k, name in enumerate(self.segments_):
            rows = segments == name
            theta, cov = _poisson_map(design[rows], y[rows], self.dispersion_, self.global_, prior_precision)
            self.coef_[k], self.coef_cov_[k] = theta, cov
        self.coef_[:, 1] = 1.0 if self.fallback_ else self.coef_[:, 1].clip(0.0, 1.0)  # concave, non-decreasing
        ratio = y / np.exp(np.clip(self._eta(X), -50, 50))
        pooled = np.quantile(ratio, INTERVAL)
        self.residual_quantiles_ = {}
        for name in self.segments_:
            rows = segments == name
            own = rows.sum() >= MIN_ADS_FOR_OWN_RESIDUALS
            self.residual_quantiles_[name] = np.quantile(ratio[rows], INTERVAL) if own else pooled
        self.pooled_quantiles_ = pooled
        self.n_features_in_ = 2
        return self

    def segment_coef(self, segments: Sequence[str]) -> np.ndarray:
        """The coefficients (alpha, beta) of each name; the global curve for a segment not seen in the fit."""
        check_is_fitted(self)
        index = {name: k for k, name in enumerate(self.segments_)}
        return np.array([self.coef_[index[s]] if s in index else self.global_ for s in segments]).reshape(-1, 2)

    def segment_cov(self, segments: Sequence[str]) -> np.ndarray:
        """The posterior covariance of each name's coefficients (a tiny one for a segment not seen in the fit)."""
        index = {name: k for k, name in enumerate(self.segments_)}
        cov = [self.coef_cov_[index[s]] if s in index else np.eye(2) * 1e-6 for s in segments]
        return np.array(cov).reshape(-1, 2, 2)

    def segment_center(self, segments: Sequence[str]) -> np.ndarray:
        """Each name's centre of log spend: the global one (the levels are all taken there)."""
        return np.full(len(segments), self.center_)

    def _eta(self, X: pd.DataFrame) -> np.ndarray:
        coef = self.segment_coef(X[SEGMENT].tolist())
        return coef[:, 0] + coef[:, 1] * (np.log1p(X[SPEND].to_numpy(float)) - self.center_)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The expected value of each ad at its spend."""
        return np.exp(np.clip(self._eta(X), -50, 50))

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """80% intervals of each ad's value: its expected value times the segment's residual-ratio quantiles."""
        expected = self.predict(X)
        quantiles = np.array([self.residual_quantiles_.get(s, self.pooled_quantiles_) for s in X[SEGMENT]])
        return expected * quantiles[:, 0], expected * quantiles[:, 1]


class SegmentCurves(Protocol):
    """What a response reads from fitted curves (the planner's and the judges' families alike)."""

    def segment_coef(self, segments: Sequence[str]) -> np.ndarray: ...
    def segment_cov(self, segments: Sequence[str]) -> np.ndarray: ...
    def segment_center(self, segments: Sequence[str]) -> np.ndarray: ...
    def predict(self, X: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class SegmentResponse:
    """Each segment's expected value as a function of its total spend, its ads' spend scaled in proportion.

    ``ad_segment`` indexes the segments of the ads with spend; ``share`` is each ad's part of its segment's
    spend today; ``base`` the expected value of the segment's ads without spend (unchanged by any plan).
    """

    names: list[str]
    coef: np.ndarray  # (segments, 2)
    coef_cov: np.ndarray  # (segments, 2, 2)
    center: np.ndarray  # (segments,): the log spend each segment's level is taken at
    ad_segment: np.ndarray
    share: np.ndarray
    base: np.ndarray
    today: np.ndarray

    @classmethod
    def from_ads(cls, curves: SegmentCurves, frame: pd.DataFrame, names: Sequence[str]) -> SegmentResponse:
        """The responses of ``names`` (segments with spend in ``frame``) from the fitted ``curves``."""
        names = list(names)
        index = {name: k for k, name in enumerate(names)}
        ads = frame[frame[SEGMENT].isin(index)]
        spent = ads[ads[SPEND] > 0]
        ad_segment = spent[SEGMENT].map(index).to_numpy()
        today = np.bincount(ad_segment, weights=spent[SPEND].to_numpy(), minlength=len(names))
        unspent = ads[ads[SPEND] <= 0]
        base = np.bincount(
            unspent[SEGMENT].map(index).to_numpy(int), weights=curves.predict(unspent), minlength=len(names)
        )
        return cls(
            names=names,
            coef=curves.segment_coef(names),
            coef_cov=curves.segment_cov(names),
            center=curves.segment_center(names),
            ad_segment=ad_segment,
            share=spent[SPEND].to_numpy() / today[ad_segment],
            base=base,
            today=today,
        )

    def _ads(self, spend: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ad_spend = self.share * spend[self.ad_segment]
        alpha, beta = coef[self.ad_segment, 0], coef[self.ad_segment, 1]
        centre = np.broadcast_to(self.center, (len(self.names),))[self.ad_segment]
        mu = np.exp(np.clip(alpha + beta * (np.log1p(ad_spend) - centre), -50, 50))
        return mu, beta * self.share / (1.0 + ad_spend)

    def value(self, spend: np.ndarray, coef: np.ndarray | None = None) -> np.ndarray:
        """Each segment's expected value at total ``spend``."""
        mu, _ = self._ads(np.asarray(spend, float), self.coef if coef is None else coef)
        return np.bincount(self.ad_segment, weights=mu, minlength=len(self.names)) + self.base

    def marginal(self, spend: np.ndarray) -> np.ndarray:
        """Each segment's marginal ROAS at total ``spend``: the value of its next dollar."""
        mu, slope = self._ads(np.asarray(spend, float), self.coef)
        return np.bincount(self.ad_segment, weights=mu * slope, minlength=len(self.names))

    def draws(self, n: int, seed: int) -> np.ndarray:
        """``n`` draws of every segment's coefficients from their posterior (normal approximation)."""
        rng = np.random.default_rng(seed)
        chol = np.linalg.cholesky(self.coef_cov + np.eye(2) * 1e-12)
        noise = rng.standard_normal((n, len(self.names), 2))
        drawn = self.coef + np.einsum("sij,nsj->nsi", chol, noise)
        drawn[..., 1] = drawn[..., 1].clip(0.0, 1.0)
        return drawn
