"""Monte Carlo estimators that always carry their standard error.

Means and probabilities use the sample standard deviation over sqrt(n). Quantiles use the
distribution-free order-statistic interval: the ranks n·q ± sqrt(n·q·(1-q)) bracket the
q-quantile with about one standard error either side, so half the distance between those order
statistics is the quantile's standard error. It is honest for the lumpy loss distributions of
small pools, where a density-based formula is not.
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


def mean_estimate(samples: np.ndarray) -> Estimate:
    """Sample mean and its standard error."""
    samples = np.asarray(samples, dtype=float)
    n = samples.size
    if n == 0:
        raise ValueError("no samples")
    se = float(samples.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return Estimate(float(samples.mean()), se)


def probability_estimate(events: np.ndarray) -> Estimate:
    """Frequency of an event and its binomial standard error."""
    return mean_estimate(np.asarray(events, dtype=float))


def quantile_estimate(samples: np.ndarray, level: float) -> Estimate:
    """The ``level`` quantile (lower empirical quantile) with an order-statistic standard error."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    n = ordered.size
    centre = n * level
    spread = math.sqrt(n * level * (1.0 - level))
    rank = min(max(math.ceil(centre) - 1, 0), n - 1)
    low = min(max(math.floor(centre - spread) - 1, 0), n - 1)
    high = min(max(math.ceil(centre + spread) - 1, 0), n - 1)
    return Estimate(float(ordered[rank]), float(ordered[high] - ordered[low]) / 2.0)


def moments_estimate(
    total: np.ndarray, total_sq: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard errors from running sums and sums of squares (per period)."""
    mean = total / n
    variance = np.maximum(total_sq / n - mean**2, 0.0) * n / max(n - 1, 1)
    return mean, np.sqrt(variance / n)
