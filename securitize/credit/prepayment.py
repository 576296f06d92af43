"""Prepayment at a constant annual rate (CPR): the loan repays its whole balance early.

The monthly rate is SMM = 1 − (1 − CPR)^(1/12). A loan can prepay in months 1 .. tenor − 1; the
prepayment month is drawn independently of defaults, and whichever of default and prepayment
comes first happens (a prepaid loan cannot default afterwards, and vice versa).
"""

from __future__ import annotations

import numpy as np

from securitize.credit.sampler import bernoulli_positions


def monthly_rate(annual_rate: float) -> float:
    return -float(np.expm1(np.log1p(-annual_rate) / 12.0))


def sample_prepayments(
    annual_rate: float, tenor: np.ndarray, paths: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(path, loan, month) of every prepayment on ``paths`` paths."""
    empty = np.zeros(0, dtype=np.int64)
    if annual_rate <= 0:
        return empty, empty, empty
    smm = monthly_rate(annual_rate)
    tenor = np.asarray(tenor, dtype=np.int64)
    chance = -np.expm1(np.log1p(-smm) * (tenor - 1))
    loan, path = bernoulli_positions(chance, np.full(tenor.size, paths), rng)
    u = rng.random(loan.size)
    month = np.ceil(np.log1p(-u * chance[loan]) / np.log1p(-smm)).astype(np.int64)
    return path, loan, np.clip(month, 1, np.maximum(tenor[loan] - 1, 1))


def first_event_wins(
    default: tuple[np.ndarray, np.ndarray, np.ndarray],
    prepay: tuple[np.ndarray, np.ndarray, np.ndarray],
    loans: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Masks keeping the defaults and the prepayments that come first on their (path, loan)."""
    d_key = default[0] * loans + default[1]
    p_key = prepay[0] * loans + prepay[1]
    keep_default = np.ones(d_key.size, dtype=bool)
    keep_prepay = np.ones(p_key.size, dtype=bool)
    if d_key.size and p_key.size:
        _, d_at, p_at = np.intersect1d(d_key, p_key, assume_unique=True, return_indices=True)
        prepay_first = prepay[2][p_at] < default[2][d_at]
        keep_default[d_at[prepay_first]] = False
        keep_prepay[p_at[~prepay_first]] = False
    return keep_default, keep_prepay
