"""The pool's cash: per path and month (``Collections``) or per payment period
(``PeriodCollections``, what the waterfall runs on).

Both are computed from sparse default and prepayment events in ``securitize.period_cash``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Collections:
    """Cash the pool delivers, paths × months (CNY), and its credit losses."""

    interest: np.ndarray
    principal: np.ndarray
    recoveries: np.ndarray
    defaulted: np.ndarray
    performing_balance: np.ndarray
    loss: np.ndarray
    scheduled_principal: np.ndarray

    @property
    def cash(self) -> np.ndarray:
        return self.interest + self.principal + self.recoveries

    def by_period(self, period_ends: np.ndarray, pool_balance: float) -> PeriodCollections:
        """The same cash summed over payment periods ending in ``period_ends`` (1-based months).

        ``fee_base`` sums each month's opening performing balance (the closing balance of the
        month before; the original pool balance for month 1), what pool-based fees accrue on.
        """
        ends = np.asarray(period_ends)
        starts = np.r_[0, ends[:-1]]
        opening = np.column_stack(
            [np.full(self.interest.shape[0], pool_balance), self.performing_balance[:, :-1]]
        )

        def total(values: np.ndarray) -> np.ndarray:
            return np.add.reduceat(values, starts, axis=1)

        return PeriodCollections(
            interest=total(self.interest),
            principal=total(self.principal),
            recoveries=total(self.recoveries),
            defaulted=total(self.defaulted),
            performing_balance=self.performing_balance[:, ends - 1],
            fee_base=total(opening),
            months=ends - starts,
            scheduled_principal=np.add.reduceat(self.scheduled_principal, starts),
        )


@dataclass(frozen=True)
class PeriodCollections:
    """What the pool delivers in each payment period (paths × periods, CNY); ``fee_base`` is
    the sum of the opening performing balance over the period's months."""

    interest: np.ndarray
    principal: np.ndarray
    recoveries: np.ndarray
    defaulted: np.ndarray
    performing_balance: np.ndarray
    fee_base: np.ndarray
    months: np.ndarray
    scheduled_principal: np.ndarray

    @property
    def cash(self) -> np.ndarray:
        return self.interest + self.principal + self.recoveries
