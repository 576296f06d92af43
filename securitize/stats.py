"""Monte Carlo estimators that always carry their standard error, with or without weights.

Under importance sampling each path has a likelihood ratio w; every estimator here takes the
weights (None for plain Monte Carlo, the same as all ones). Means are (1/n) Σ w x with standard
error sd(w x)/sqrt(n). A quantile is read off the weighted tail estimate T(x) = (1/n) Σ w 1{X > x}:
the q-quantile is the smallest x with T(x) ≤ 1 − q, and its standard error is half the distance
between the points where T crosses (1 − q) ± se(T). With unit weights this is the order-statistic
interval (ranks n·q ± sqrt(n·q·(1−q))), which stays honest for the lumpy loss distributions of
small pools, where a density-based formula does not. The effective sample size (Σw)²/Σw² tells
how many plain paths the weighted ones are worth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo figure and its standard error (``se`` is 0 for exact figures)."""

    value: float
    se: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se}


def _weighted(samples: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    samples = np.asarray(samples, dtype=float)
    return samples if weights is None else samples * weights


def mean_estimate(samples: np.ndarray, weights: np.ndarray | None = None) -> Estimate:
    """(Weighted) sample mean and its standard error."""
    values = _weighted(samples, weights)
    n = values.size
    if n == 0:
        raise ValueError("no samples")
    se = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return Estimate(float(values.mean()), se)


def probability_estimate(events: np.ndarray, weights: np.ndarray | None = None) -> Estimate:
    """Probability of an event and its standard error."""
    return mean_estimate(np.asarray(events, dtype=float), weights)


def ratio_estimate(
    numerator: np.ndarray, denominator: np.ndarray, weights: np.ndarray | None = None
) -> Estimate:
    """E[numerator] / E[denominator] with its delta-method standard error (e.g. a mean over
    only the paths where something happens: numerator x·1{A}, denominator 1{A})."""
    a = _weighted(numerator, weights)
    b = _weighted(denominator, weights)
    n = a.size
    mean_b = b.mean()
    if mean_b == 0:
        return Estimate(math.nan, math.nan)
    ratio = a.mean() / mean_b
    residual = (a - ratio * b) / mean_b
    return Estimate(float(ratio), float(residual.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf)


def quantile_estimate(
    samples: np.ndarray, level: float, weights: np.ndarray | None = None
) -> Estimate:
    """The ``level`` quantile (lower quantile) and its standard error, from the tail estimate."""
    samples = np.asarray(samples, dtype=float)
    n = samples.size
    order = np.argsort(samples, kind="stable")
    ordered = samples[order]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[order]
    # tail[k] = (1/n) Σ_{j > k} w_j: the estimate of P(X > ordered[k]) ignoring ties.
    tail = (w.sum() - np.cumsum(w)) / n
    target = 1.0 - level

    def crossing(t: float) -> float:
        """Smallest ordered value whose tail estimate is at most t."""
        k = int(np.searchsorted(-tail, -t, side="left"))
        return float(ordered[min(k, n - 1)])

    value = crossing(target)
    exceed = samples > value
    spread = probability_estimate(exceed, weights).se
    if spread == 0 or not math.isfinite(spread):
        spread = math.sqrt(level * (1 - level) / n)
    low, high = crossing(target + spread), crossing(target - spread)
    return Estimate(value, (high - low) / 2.0)


def effective_sample_size(weights: np.ndarray | None, n: int) -> float:
    """(Σw)² / Σw²: n for plain Monte Carlo."""
    if weights is None:
        return float(n)
    weights = np.asarray(weights, dtype=float)
    return float(weights.sum() ** 2 / np.square(weights).sum())


def moments_estimate(
    total: np.ndarray, total_sq: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard errors from running sums of w·x and (w·x)² (per period)."""
    mean = total / n
    variance = np.maximum(total_sq / n - mean**2, 0.0) * n / max(n - 1, 1)
    return mean, np.sqrt(variance / n)
