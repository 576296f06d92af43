"""Pool collections per path and month, from sparse default events.

Scheduled cash flows of the whole pool are known in advance; a default removes the loan's
scheduled interest and principal from its default month on, and brings back a recovery
(recovery rate × balance outstanding at default) ``lag`` months later. Only defaulted loans are
touched, so the work grows with defaults × months — never with paths × loans × months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securitize.schedules import PoolSchedule


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


def _sum_by_path(path: np.ndarray, rows: np.ndarray, paths: int) -> np.ndarray:
    """Add event rows (events × months) into their paths."""
    out = np.zeros((paths, rows.shape[1]))
    if path.size:
        order = np.argsort(path, kind="stable")
        path, rows = path[order], rows[order]
        starts = np.flatnonzero(np.r_[True, path[1:] != path[:-1]])
        out[path[starts]] = np.add.reduceat(rows, starts, axis=0)
    return out


_NO_EVENTS = np.zeros(0, dtype=np.int64)


def collect(
    schedule: PoolSchedule,
    recovery_rate: np.ndarray,
    recovery_lag: int,
    months: int,
    paths: int,
    path: np.ndarray,
    loan: np.ndarray,
    month: np.ndarray,
    recovery: np.ndarray | None = None,
    prepayments: tuple[np.ndarray, np.ndarray, np.ndarray] = (_NO_EVENTS,) * 3,
) -> Collections:
    """Collections over ``months`` months for ``paths`` paths with the given default events
    (``recovery``: each event's recovery rate, by default its loan's) and prepayments
    (path, loan, month): a prepaying loan pays that month's interest and its whole balance."""
    padded = schedule.padded(months)
    interest, principal, closing = padded.interest, padded.principal, padded.closing_balance
    grid = np.arange(1, months + 1)
    from_default = grid[None, :] >= month[:, None]
    at_default = schedule.opening_balance[loan, month - 1]
    rate = recovery_rate[loan] if recovery is None else recovery
    recovered = rate * at_default
    recovery_month = month + recovery_lag
    prepay_path, prepay_loan, prepay_month = prepayments
    after_prepayment = grid[None, :] > prepay_month[:, None]
    lost_path = np.r_[path, prepay_path]

    def pool_minus_lost(per_loan: np.ndarray, prepay_mask: np.ndarray) -> np.ndarray:
        rows = np.r_[per_loan[loan] * from_default, per_loan[prepay_loan] * prepay_mask]
        lost = _sum_by_path(lost_path, rows, paths)
        # The difference is never negative; the floor removes float rounding (~1e-13) only.
        return np.maximum(per_loan.sum(axis=0)[None, :] - lost, 0.0)

    recoveries = np.zeros((paths, months))
    landed = recovery_month <= months
    np.add.at(recoveries, (path[landed], recovery_month[landed] - 1), recovered[landed])
    defaulted = np.zeros((paths, months))
    np.add.at(defaulted, (path, month - 1), at_default)
    # Recoveries landing after the legal final month never reach the deal: they are lost too.
    loss = np.zeros(paths)
    np.add.at(loss, path, at_default - np.where(landed, recovered, 0.0))
    at_prepayment = grid[None, :] >= prepay_month[:, None]
    performing = pool_minus_lost(closing, at_prepayment)
    principal_collected = pool_minus_lost(principal, after_prepayment)
    np.add.at(
        principal_collected,
        (prepay_path, prepay_month - 1),
        schedule.closing_balance[prepay_loan, prepay_month - 1],
    )
    return Collections(
        interest=pool_minus_lost(interest, after_prepayment),
        principal=principal_collected,
        recoveries=recoveries,
        defaulted=defaulted,
        performing_balance=performing,
        loss=loss,
        scheduled_principal=principal.sum(axis=0),
    )
