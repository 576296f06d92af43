"""Per-loan payment schedules on a monthly grid (bullet, equal principal, level payment).

Month ``m`` (1-based) runs from the cut-off date plus m-1 months to plus m months; a scheduled
payment falls at the end of its month. Interest is 30/360: balance × annual coupon / 12.
Arrays are loans × months; months after a loan's maturity are zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMORTISATION_TYPES = ("bullet", "equal_principal", "level_payment")


@dataclass(frozen=True)
class PoolSchedule:
    """Scheduled cash flows of every loan if none defaults or prepays (loans × months, CNY)."""

    opening_balance: np.ndarray
    interest: np.ndarray
    principal: np.ndarray

    @property
    def closing_balance(self) -> np.ndarray:
        return self.opening_balance - self.principal

    @property
    def months(self) -> int:
        return self.opening_balance.shape[1]

    def padded(self, months: int) -> PoolSchedule:
        """The same schedules on a longer grid (zeros after every loan has matured)."""

        def pad(values: np.ndarray) -> np.ndarray:
            out = np.zeros((values.shape[0], months))
            out[:, : values.shape[1]] = values
            return out

        return PoolSchedule(pad(self.opening_balance), pad(self.interest), pad(self.principal))


def _level_payment(balance: np.ndarray, monthly_rate: np.ndarray, tenor: np.ndarray) -> np.ndarray:
    """Annuity instalment B·r / (1 - (1+r)^-n); B/n at a zero rate."""
    with np.errstate(divide="ignore", invalid="ignore"):
        annuity = balance * monthly_rate / (1.0 - (1.0 + monthly_rate) ** (-tenor))
    return np.where(monthly_rate > 0, annuity, balance / tenor)


def pool_schedule(
    balance: np.ndarray,
    coupon: np.ndarray,
    tenor_months: np.ndarray,
    amortisation: np.ndarray,
    months: int,
) -> PoolSchedule:
    """Schedules for all loans over ``months`` months (at least the longest tenor)."""
    balance = np.asarray(balance, dtype=float)
    rate = np.asarray(coupon, dtype=float) / 12.0
    tenor = np.asarray(tenor_months, dtype=int)
    kind = np.asarray(amortisation)
    if months < tenor.max(initial=0):
        raise ValueError("schedule horizon is shorter than the longest loan")
    n = balance.size
    opening = np.zeros((n, months))
    principal = np.zeros((n, months))
    instalment = _level_payment(balance, rate, tenor)
    outstanding = balance.copy()
    for m in range(1, months + 1):
        live = m <= tenor
        opening[:, m - 1] = np.where(live, outstanding, 0.0)
        due = np.select(
            [kind == "bullet", kind == "equal_principal", kind == "level_payment"],
            [
                np.where(m == tenor, outstanding, 0.0),
                balance / tenor,
                instalment - outstanding * rate,
            ],
        )
        # The last instalment clears whatever rounding left behind.
        due = np.where(m == tenor, outstanding, np.minimum(due, outstanding))
        due = np.where(live, due, 0.0)
        principal[:, m - 1] = due
        outstanding = outstanding - due
    return PoolSchedule(opening, opening * rate[:, None], principal)
