"""The repayment schedule (兑付计划): what each tranche is paid on each payment date if no loan
defaults or prepays — the dated table an offering document shows per class of notes.

It is the deal's own priority of payments run once on the pool's scheduled cash (the
deterministic engine of ``securitize/stress.py`` with every default probability at zero), so
the fees, the tax and the triggers act as they do on every simulated path. Dates come from the
deal's calendar (``[deal.calendar]``: payment dates on exchange business days, each tranche's
day count); without one they are the month grid's (the closing date plus the payment month, not
moved onto a business day) and interest is 30/360 on whole months.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from securitize.civil_dates import add_months, as_days
from securitize.pool import Pool
from securitize.stress import StressInputs, run_deterministic
from securitize.structure import Structure

COLUMNS = (
    "tranche",
    "period",
    "month",
    "payment_date",
    "dated",
    "accrual_days",
    "year_fraction",
    "coupon",
    "opening_balance",
    "interest",
    "principal",
    "payment",
    "closing_balance",
)


def payment_dates(structure: Structure, closing_date: dt.date) -> tuple[np.ndarray, bool]:
    """Each period's payment date, and whether the dates are the calendar's (else the grid's)."""
    if structure.dates is not None:
        return structure.dates["payment_date"].to_numpy("datetime64[D]"), True
    return add_months(as_days(closing_date), structure.payment_months), False


def repayment_schedule(
    pool: Pool, structure: Structure, recovery_lag: int, closing_date: dt.date
) -> pd.DataFrame:
    """One row per tranche and payment period (``COLUMNS``; amounts in CNY)."""
    months = structure.horizon
    no_default = StressInputs(np.zeros((pool.size, months)), pool.recovery_rate, np.ones(pool.size))
    _, ledger = run_deterministic(pool, structure, recovery_lag, no_default)
    dates, dated = payment_dates(structure, closing_date)
    periods = len(structure.payment_months)
    grid_fraction = structure.months_per_period / 12.0
    days = structure.dates["accrual_days"].to_numpy(int) if dated else np.full(periods, np.nan)
    frames = []
    for j, (terms, book) in enumerate(zip(structure.tranches, ledger.tranches, strict=True)):
        closing = book.balance[0]
        opening = np.r_[terms.balance, closing[:-1]]
        fraction = (
            structure.day_count_fractions[j]
            if structure.day_count_fractions is not None
            else grid_fraction
        )
        interest = book.interest_paid[0]
        principal = book.principal_paid[0]
        frames.append(
            pd.DataFrame(
                {
                    "tranche": terms.name,
                    "period": np.arange(1, periods + 1),
                    "month": structure.payment_months,
                    "payment_date": pd.to_datetime(dates).date,
                    "dated": dated,
                    "accrual_days": days,
                    "year_fraction": fraction,
                    "coupon": terms.coupons(periods),
                    "opening_balance": opening,
                    "interest": interest,
                    "principal": principal,
                    "payment": interest + principal,
                    "closing_balance": closing,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def schedule_records(table: pd.DataFrame) -> list[dict]:
    """The schedule as results.json holds it: dates as ISO text, no NaN."""
    out = table.copy()
    out["payment_date"] = [d.isoformat() for d in out["payment_date"]]
    records = out.to_dict(orient="records")
    for row in records:
        if isinstance(row["accrual_days"], float) and np.isnan(row["accrual_days"]):
            row["accrual_days"] = None
        elif row["accrual_days"] is not None:
            row["accrual_days"] = int(row["accrual_days"])
        row["period"], row["month"] = int(row["period"]), int(row["month"])
    return records
