"""Pool collections from sparse default and prepayment events, per payment period (or per
month, with every month its own period: ``collect``).

Every effect of an event on every period is tabulated once per loan and
event month (loans × months rows, one column per period): a default in month m loses the loan's
scheduled interest and principal from month m on, removes its balance from the performing pool,
and books its balance at default; a prepayment in month k loses the cash after k and brings its
closing balance in month k. The per-path totals are then a sparse (paths × loan-months) matrix
of events times these tables: the work grows with events × periods, once, for every design
evaluated on the paths.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from securitize.collections import Collections, PeriodCollections
from securitize.credit.paths import DefaultChunk
from securitize.schedules import PoolSchedule


def _period_of(months: int, period_ends: np.ndarray) -> np.ndarray:
    """0-based period index of each month 1..months."""
    return np.searchsorted(period_ends, np.arange(1, months + 1), side="left")


def _by_period(per_month: np.ndarray, period: np.ndarray, periods: int) -> np.ndarray:
    """Sum the month columns of (rows × months) into (rows × periods)."""
    out = np.zeros((per_month.shape[0], periods))
    np.add.at(out.T, period, per_month.T)
    return out


def _lost_from(per_loan: np.ndarray, strict: bool) -> np.ndarray:
    """(loans × months) → (loans × months × months): for an event in month m, the loan's
    amounts in months t ≥ m (t > m when ``strict``)."""
    months = per_loan.shape[1]
    event = np.arange(1, months + 1)[:, None]
    month = np.arange(1, months + 1)[None, :]
    mask = (month > event) if strict else (month >= event)
    return per_loan[:, None, :] * mask[None, :, :]


def event_tables(
    schedule: PoolSchedule, horizon: int, period_ends: np.ndarray, lag: int
) -> dict[str, np.ndarray]:
    """Per-(loan, event month) effects on each period, as (loans·months × periods) tables."""
    padded = schedule.padded(horizon)
    loans, months = schedule.opening_balance.shape
    periods = len(period_ends)
    period = _period_of(horizon, period_ends)

    def table(per_loan_months: np.ndarray, strict: bool) -> np.ndarray:
        cube = _lost_from(per_loan_months, strict)[:, :months, :]
        flat = cube.reshape(loans * months, horizon)
        return _by_period(flat, period, periods)

    opening_next = np.c_[padded.opening_balance[:, :1], padded.closing_balance[:, :-1]]
    default_month_period = period[:months]
    at_default = schedule.opening_balance.reshape(-1)
    booked = np.zeros((loans * months, periods))
    booked[np.arange(loans * months), np.tile(default_month_period, loans)] = at_default
    recovery_month = np.arange(1, months + 1) + lag
    landed = recovery_month <= horizon
    recovery = np.zeros((loans * months, periods))
    rows = np.arange(loans * months).reshape(loans, months)[:, landed].ravel()
    cols = np.tile(period[recovery_month[landed] - 1], loans)
    recovery[rows, cols] = schedule.opening_balance[:, landed].ravel()
    closing_end = padded.closing_balance[:, np.asarray(period_ends) - 1]
    event = np.arange(1, months + 1)
    gone = (np.asarray(period_ends)[None, :] >= event[:, None]).astype(float)
    performing = (closing_end[:, None, :] * gone[None, :, :]).reshape(loans * months, periods)
    prepaid = np.zeros((loans * months, periods))
    prepaid[np.arange(loans * months), np.tile(default_month_period, loans)] = (
        schedule.closing_balance.reshape(-1)
    )
    return {
        "default.interest": table(padded.interest, strict=False),
        "default.principal": table(padded.principal, strict=False),
        "default.fee_base": table(opening_next, strict=True),
        "default.performing": performing,
        "default.booked": booked,
        "default.recovery": recovery,
        "prepay.interest": table(padded.interest, strict=True),
        "prepay.principal": table(padded.principal, strict=True) - prepaid,
        "prepay.fee_base": table(opening_next, strict=True),
        "prepay.performing": performing,
    }


_NO_EVENTS = np.zeros(0, dtype=np.int64)


def period_collections(
    schedule: PoolSchedule,
    recovery_rate: np.ndarray,
    horizon: int,
    period_ends: np.ndarray,
    lag: int,
    chunk: DefaultChunk,
    tables: dict[str, np.ndarray] | None = None,
) -> tuple[PeriodCollections, np.ndarray]:
    """The chunk's collections per payment period, and each path's loss (CNY, recoveries
    landing after the legal final month counted as lost)."""
    return events_to_periods(
        schedule,
        recovery_rate,
        horizon,
        period_ends,
        lag,
        chunk.paths,
        (chunk.path, chunk.loan, chunk.month),
        chunk.recovery,
        (chunk.prepay_path, chunk.prepay_loan, chunk.prepay_month),
        tables,
    )


def events_to_periods(
    schedule: PoolSchedule,
    recovery_rate: np.ndarray,
    horizon: int,
    period_ends: np.ndarray,
    lag: int,
    paths: int,
    defaults: tuple[np.ndarray, np.ndarray, np.ndarray],
    recovery: np.ndarray | None = None,
    prepayments: tuple[np.ndarray, np.ndarray, np.ndarray] = (_NO_EVENTS,) * 3,
    tables: dict[str, np.ndarray] | None = None,
) -> tuple[PeriodCollections, np.ndarray]:
    """Collections per period from default events (path, loan, month) with their recovery
    rates (each loan's by default) and prepayment events, and each path's loss (CNY)."""
    tables = tables or event_tables(schedule, horizon, period_ends, lag)
    months = schedule.opening_balance.shape[1]
    periods = len(period_ends)
    padded = schedule.padded(horizon)
    period = _period_of(horizon, period_ends)
    width = schedule.opening_balance.size
    path, loan, month = (np.asarray(a, dtype=np.int64) for a in defaults)
    rate = recovery_rate[loan] if recovery is None else recovery

    def events(path: np.ndarray, loan: np.ndarray, month: np.ndarray, value=None):
        data = np.ones(path.size) if value is None else value
        return sparse.csr_matrix((data, (path, loan * months + month - 1)), shape=(paths, width))

    defaulted = events(path, loan, month)
    recovered = events(path, loan, month, rate)
    prepays = events(*(np.asarray(a, dtype=np.int64) for a in prepayments))

    def pool_total(per_month: np.ndarray) -> np.ndarray:
        return _by_period(per_month.sum(axis=0)[None, :], period, periods)

    def left(total: np.ndarray, name: str) -> np.ndarray:
        """The pool's total less what defaults and prepayments took, in place (a chunk's
        series are large; fresh memory costs). The floor at zero removes float rounding
        (~1e-13) only: pool minus lost is never negative."""
        out = defaulted @ tables[f"default.{name}"]
        out += prepays @ tables[f"prepay.{name}"]
        np.subtract(total, out, out=out)
        return np.maximum(out, 0.0, out=out)

    opening = np.c_[padded.opening_balance[:, :1], padded.closing_balance[:, :-1]]
    performing_total = padded.closing_balance.sum(axis=0)[np.asarray(period_ends) - 1]
    at_default = schedule.opening_balance[loan, month - 1]
    landed = month + lag <= horizon
    loss = np.bincount(
        path, weights=at_default * (1.0 - np.where(landed, rate, 0.0)), minlength=paths
    )
    collections = PeriodCollections(
        interest=left(pool_total(padded.interest), "interest"),
        principal=left(pool_total(padded.principal), "principal"),
        recoveries=recovered @ tables["default.recovery"],
        defaulted=defaulted @ tables["default.booked"],
        performing_balance=left(performing_total[None, :], "performing"),
        fee_base=left(pool_total(opening), "fee_base"),
        months=np.diff(np.r_[0, period_ends]),
        scheduled_principal=pool_total(padded.principal)[0],
    )
    return collections, loss


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
    """Month-by-month collections over ``months`` months (every month its own period): for
    statements and hand-checked deals, where each month's cash is the thing to look at."""
    periods, loss = events_to_periods(
        schedule,
        recovery_rate,
        months,
        np.arange(1, months + 1),
        recovery_lag,
        paths,
        (path, loan, month),
        recovery,
        prepayments,
    )
    return Collections(
        interest=periods.interest,
        principal=periods.principal,
        recoveries=periods.recoveries,
        defaulted=periods.defaulted,
        performing_balance=periods.performing_balance,
        loss=loss,
        scheduled_principal=periods.scheduled_principal,
    )
