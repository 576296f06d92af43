"""Calendar arithmetic on numpy ``datetime64[D]`` arrays: coercion, date parts, month steps.

The day-count, business-day and dated-schedule modules all work on whole days; this module is
the one place that turns what a caller passes (``datetime.date``, ``numpy.datetime64``,
``pandas.Timestamp``, ISO strings, or arrays of them) into ``datetime64[D]`` and back, so that
each of them can stay vectorised.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from securitize.errors import CalendarError

DAY = np.timedelta64(1, "D")


def as_days(values: Any, what: str = "date") -> np.ndarray:
    """``values`` as a ``datetime64[D]`` array (0-d for a single date); NaT is refused."""
    try:
        days = np.asarray(values, dtype="datetime64[D]")
    except (TypeError, ValueError) as exc:
        raise CalendarError(f"{what}: {values!r} is not a date ({exc})") from None
    if np.isnat(days).any():
        raise CalendarError(f"{what}: missing date (NaT) in {values!r}")
    return days


def to_python(days: np.ndarray) -> dt.date | np.ndarray:
    """A 0-d result back as a ``datetime.date``; arrays stay ``datetime64[D]``."""
    return days.item() if days.ndim == 0 else days


def year_month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Civil year, month (1–12) and day of month (1–31) of each date, as integer arrays."""
    months = days.astype("datetime64[M]")
    years = months.astype("datetime64[Y]")
    year = years.astype(int) + 1970
    month = (months - years).astype(int) + 1
    day = (days - months.astype("datetime64[D]")).astype(int) + 1
    return year, month, day


def month_start(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[M]").astype("datetime64[D]")


def month_end(days: np.ndarray) -> np.ndarray:
    """The last calendar day of each date's month."""
    return (days.astype("datetime64[M]") + 1).astype("datetime64[D]") - DAY


def days_in_month(days: np.ndarray) -> np.ndarray:
    return (month_end(days) - month_start(days)).astype(int) + 1


def add_months(days: np.ndarray, months: Any) -> np.ndarray:
    """Each date moved by whole months, the day of month kept and clipped to the month's end.

    Always counted from the given date, never chained: 31 Jan + 1 month is 28/29 Feb and
    31 Jan + 2 months is 31 Mar (not 28 Mar).
    """
    target = days.astype("datetime64[M]") + np.asarray(months, dtype=int)
    first = target.astype("datetime64[D]")
    _, _, day = year_month_day(days)
    length = days_in_month(first)
    return first + (np.minimum(day, length) - 1).astype("timedelta64[D]")


def is_leap_year(year: np.ndarray) -> np.ndarray:
    return (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))


def leap_days_before(days: np.ndarray) -> np.ndarray:
    """How many 29 Februaries fall strictly before each date (counted from year 1)."""
    year, month, _ = year_month_day(days)
    earlier = year - 1
    in_earlier_years = earlier // 4 - earlier // 100 + earlier // 400
    # This year's 29 February is before the date from 1 March on.
    return in_earlier_years + (is_leap_year(year) & (month > 2)).astype(int)
