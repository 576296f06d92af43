"""The dated calendar of a deal: collection periods (收款期间), their collection dates (归集日,
the last day of each period) and payment dates (兑付日) on exchange business days, with the
interest accrual of each period under the notes' day counts.

The engine runs on a relative month grid: month ``m`` ends ``m`` months after the pool cut-off
and notes are paid at the end of months ``interval, 2·interval, …`` up to the legal final month
(``payment_months``). This module puts dates on that grid without changing it: period ``k`` of
the dated schedule is the payment period that ends in grid month ``payment_months(...)[k-1]``,
so the engine can take each period's accrual fraction from here instead of ``months / 12``.

``DealCalendar`` is the scenario-facing description (the ``[deal.calendar]`` table planned in
``docs/dates.md``); ``dated_schedule`` turns it into a labelled table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from securitize.business_days import (
    BusinessCalendar,
    CalendarName,
    RollConvention,
    exchange_calendar,
)
from securitize.civil_dates import (
    DAY,
    add_months,
    as_days,
    days_in_month,
    month_end,
    month_start,
)
from securitize.daycount import DayCount, check_day_count, year_fraction
from securitize.errors import CalendarError

# Room after the legal final collection date for its payment date when projecting weekdays.
_PROJECTION_MARGIN_DAYS = 400


def _day_count_name(value: Any) -> Any:
    """Refuse unknown day-count names with the message that names the choices."""
    if isinstance(value, str):
        try:
            check_day_count(value)
        except CalendarError as exc:
            raise ValueError(str(exc)) from None
    return value


# A day-count field for any scenario table (``[deal.calendar]``, later ``[[tranches]]``).
DayCountField = Annotated[DayCount, BeforeValidator(_day_count_name)]


class DealCalendar(BaseModel):
    """How a deal's periods and payment dates fall on the calendar (``[deal.calendar]``).

    Give exactly one payment rule: ``payment_lag_business_days`` (the payment date is that
    many exchange business days after each collection date) or ``payment_day`` (the first such
    day of a month after the collection date, moved onto a business day by
    ``business_day_convention``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    calendar: CalendarName = "XSHG"
    day_count: DayCountField
    cut_off_date: dt.date | None = None
    collection_period_end: Literal["same_day", "month_end"] = "same_day"
    payment_lag_business_days: Annotated[int, Field(ge=1, le=60)] | None = None
    payment_day: Annotated[int, Field(ge=1, le=31)] | None = None
    # Chinese plans move a payment date on a holiday to the next business day (顺延).
    business_day_convention: RollConvention = "following"
    after_coverage: Literal["error", "weekdays"] = "error"

    @model_validator(mode="after")
    def _one_payment_rule(self) -> DealCalendar:
        if (self.payment_lag_business_days is None) == (self.payment_day is None):
            raise ValueError(
                "give exactly one of 'payment_lag_business_days' (business days after each "
                "collection date) or 'payment_day' (day of the month)"
            )
        if self.payment_day is None and "business_day_convention" in self.model_fields_set:
            raise ValueError(
                "'business_day_convention' applies to 'payment_day'; a payment date counted "
                "in business days is one already"
            )
        return self


def payment_months(horizon: int, interval: int) -> np.ndarray:
    """Grid months (1-based, from the cut-off) on which notes are paid: every ``interval``
    months, and the legal final month ``horizon`` always (a short last period if need be)."""
    months = list(range(interval, horizon + 1, interval))
    if not months or months[-1] != horizon:
        months.append(horizon)
    return np.array(months)


def collection_dates(start: dt.date, months: np.ndarray, period_end: str) -> np.ndarray:
    """The last day of each collection period ending ``months`` grid months after ``start``.

    ``same_day``: the grid date itself (``start`` + m months, the day clipped to the month's
    end). ``month_end``: the last month end on or before the grid date, as plans whose
    collection periods end on calendar month ends (计算日为每月最后一日) have it.
    """
    grid = add_months(as_days(start), months)
    if period_end == "same_day":
        return grid
    return np.where(grid == month_end(grid), grid, month_start(grid) - DAY)


def payment_dates(
    collection_end: np.ndarray, terms: DealCalendar, calendar: BusinessCalendar
) -> np.ndarray:
    """Each period's payment date under the deal's payment rule."""
    if terms.payment_lag_business_days is not None:
        return calendar.add_business_days(collection_end, terms.payment_lag_business_days)
    # The first ``payment_day`` (clipped to short months) after the collection date.
    this_month = month_start(collection_end)
    candidate = this_month + (np.minimum(terms.payment_day, days_in_month(this_month)) - 1)
    next_month = (collection_end.astype("datetime64[M]") + 1).astype("datetime64[D]")
    later = next_month + (np.minimum(terms.payment_day, days_in_month(next_month)) - 1)
    unrolled = np.where(candidate > collection_end, candidate, later)
    return calendar.roll(unrolled, terms.business_day_convention)


def dated_schedule(
    terms: DealCalendar,
    closing_date: dt.date,
    payment_interval_months: int,
    horizon_months: int,
    tranche_day_counts: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per payment period: collection period, payment date, accrual days and the
    year fraction of the accrual period under the deal's day count (``year_fraction``) and
    under each tranche's own (``year_fraction_<tranche>``).

    Interest accrues from the closing date to the first payment date, then from payment date
    to payment date, the first day counted and the last not (算头不算尾). ``holidays_known``
    is False where a payment date relies on projected weekdays (``after_coverage``).
    """
    start = terms.cut_off_date or closing_date
    if start > closing_date:
        raise CalendarError(
            f"deal.calendar.cut_off_date: value {start}: must not be after the closing date "
            f"({closing_date})"
        )
    months = payment_months(horizon_months, payment_interval_months)
    collection_end = collection_dates(start, months, terms.collection_period_end)
    calendar = exchange_calendar(terms.calendar)
    if terms.after_coverage == "weekdays":
        calendar = calendar.projected_to(
            month_end(collection_end[-1] + np.timedelta64(_PROJECTION_MARGIN_DAYS, "D"))
        )
    try:
        paid = payment_dates(collection_end, terms, calendar)
    except CalendarError as exc:
        raise CalendarError(
            f"deal.calendar: a payment date cannot be set: {exc}. A deal running past the "
            'calendar can set after_coverage = "weekdays" to project Monday to Friday'
        ) from None
    _check_order(collection_end, paid, closing_date)
    accrual_start = np.r_[as_days(closing_date)[None], paid[:-1]]
    table = pd.DataFrame(
        {
            "month": months,
            "collection_start": np.r_[as_days(start)[None], collection_end[:-1] + DAY],
            "collection_end": collection_end,
            "accrual_start": accrual_start,
            "payment_date": paid,
            "accrual_days": (paid - accrual_start).astype(int),
            "year_fraction": year_fraction(accrual_start, paid, terms.day_count),
        },
        index=pd.RangeIndex(1, months.size + 1, name="period"),
    )
    for name, convention in (tranche_day_counts or {}).items():
        table[f"year_fraction_{name}"] = year_fraction(accrual_start, paid, convention)
    table["holidays_known"] = calendar.holidays_known(paid)
    return table


def _check_order(collection_end: np.ndarray, paid: np.ndarray, closing_date: dt.date) -> None:
    """Each payment after its collection date and after the previous payment; the first after
    the closing date (a ``preceding`` roll or an early cut-off can break these)."""
    closing = as_days(closing_date)
    for k in range(paid.size):
        previous = closing if k == 0 else paid[k - 1]
        if paid[k] <= collection_end[k] or paid[k] <= previous:
            after = "the closing date" if k == 0 else f"period {k}'s payment date"
            raise CalendarError(
                f"deal.calendar: period {k + 1} would be paid on {paid[k]}; a payment date must "
                f"fall after its collection date ({collection_end[k]}) and after {after} "
                f"({previous}); check payment_day, business_day_convention and cut_off_date"
            )
