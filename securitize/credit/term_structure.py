"""Default-probability term structures: cumulative PD by month for each loan.

Three ways to state one: a constant annual PD p (F(m) = 1 − (1 − p)^(m/12)); a constant annual
hazard rate λ (F(m) = 1 − exp(−λ m / 12)); or a cumulative PD curve given at some months, read
between its points with a piecewise-constant hazard (log-survival linear in time) and beyond its
last point with the last segment's hazard.
"""

from __future__ import annotations

import numpy as np


def from_annual_pd(annual_pd: np.ndarray, months: int) -> np.ndarray:
    """Loans × months cumulative PD for constant annual PDs."""
    annual_pd = np.asarray(annual_pd, dtype=float)[:, None]
    grid = np.arange(1, months + 1)[None, :]
    return -np.expm1(np.log1p(-annual_pd) * grid / 12.0)


def from_hazard_rate(hazard: np.ndarray, months: int) -> np.ndarray:
    """Loans × months cumulative PD for constant annual hazard rates."""
    hazard = np.asarray(hazard, dtype=float)[:, None]
    return -np.expm1(-hazard * np.arange(1, months + 1)[None, :] / 12.0)


def from_curve(points_months: np.ndarray, cumulative: np.ndarray, months: int) -> np.ndarray:
    """One cumulative PD curve (given at ``points_months``) on the monthly grid 1..months."""
    points_months = np.asarray(points_months, dtype=float)
    log_survival = np.log1p(-np.asarray(cumulative, dtype=float))
    knots = np.r_[0.0, points_months]
    values = np.r_[0.0, log_survival]
    grid = np.arange(1, months + 1, dtype=float)
    inside = np.interp(grid, knots, values)
    last_hazard = (values[-1] - values[-2]) / (knots[-1] - knots[-2])
    beyond = values[-1] + last_hazard * (grid - knots[-1])
    return -np.expm1(np.where(grid <= knots[-1], inside, beyond))


def flat_after_maturity(cumulative: np.ndarray, tenor: np.ndarray) -> np.ndarray:
    """Hold each loan's curve at its maturity value afterwards: a repaid loan cannot default."""
    cumulative = np.array(cumulative, dtype=float)
    grid = np.arange(1, cumulative.shape[1] + 1)[None, :]
    at_maturity = cumulative[np.arange(len(tenor)), np.asarray(tenor) - 1][:, None]
    return np.where(grid <= np.asarray(tenor)[:, None], cumulative, at_maturity)
