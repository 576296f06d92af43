"""Day counts (计息基准): the year fraction of an accrual period under a named convention.

An accrual period runs from ``start`` (counted) to ``end`` (not counted) — the Chinese rule
算头不算尾 — so the actual days of a period are ``end - start``. Every function takes single
dates or arrays of them and is vectorised over numpy ``datetime64[D]``.

The names, exactly (``docs/dates.md`` says where each is used):

- ``ACT/365`` — as Chinese exchange and inter-bank bond practice reads 实际天数/365: actual days
  less any 29 February in the period (闰年2月29日不计息), / 365 — the same as ``ACT/365NL``. Write
  ``ACT/365F`` where a plan's offering document counts 29 February.
- ``ACT/365F`` — Actual/365 Fixed: actual days (a 29 February counted) / 365.
- ``ACT/365NL`` — Actual/365 No Leap (also written NL/365): actual days less any 29 February in
  the period, / 365. A year from any date to the same date a year later is exactly 1.
- ``ACT/360`` — actual days / 360.
- ``ACT/ACT-ISDA`` — days falling in a leap year / 366 plus the other days / 365.
- ``30/360`` — 30/360 bond basis (2006 ISDA Definitions 4.16(f)): D1 = 31 → 30; D2 = 31 → 30
  only when D1 is then 30. No end-of-February rule (that is the US/SIA variant).
- ``30E/360`` — 30E/360 Eurobond basis (ISDA 4.16(g)): any 31st → 30.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from securitize.civil_dates import as_days, is_leap_year, leap_days_before, year_month_day
from securitize.errors import CalendarError

DayCount = Literal[
    "ACT/365", "ACT/365F", "ACT/365NL", "ACT/360", "ACT/ACT-ISDA", "30/360", "30E/360"
]
DAY_COUNTS: tuple[str, ...] = get_args(DayCount)

# Names read as another: the Chinese market's ACT/365 does not accrue 29 February.
SAME_AS = {"ACT/365": "ACT/365NL"}


def check_day_count(convention: str) -> str:
    """``convention`` if it is a known name; otherwise a ``CalendarError`` listing the names."""
    if convention in DAY_COUNTS:
        return convention
    allowed = ", ".join(repr(name) for name in DAY_COUNTS)
    raise CalendarError(f"day count {convention!r} is not known; use one of {allowed}")


def accrual_days(start: Any, end: Any, convention: str) -> np.ndarray:
    """The day count of each period under ``convention`` (the numerator of the fraction)."""
    convention = SAME_AS.get(check_day_count(convention), convention)
    first, last = _periods(start, end)
    if convention in ("30/360", "30E/360"):
        return _thirty_days(first, last, eurobond=convention == "30E/360")
    actual = (last - first).astype(int)
    if convention == "ACT/365NL":
        return actual - (leap_days_before(last) - leap_days_before(first))
    return actual


def year_fraction(start: Any, end: Any, convention: str) -> float | np.ndarray:
    """The share of a year from ``start`` to ``end`` under ``convention``; arrays broadcast.

    >>> year_fraction("2023-12-31", "2024-12-31", "ACT/365F")
    1.0027397260273974
    >>> year_fraction("2023-12-31", "2024-12-31", "ACT/365NL")
    1.0
    """
    convention = SAME_AS.get(check_day_count(convention), convention)
    if convention == "ACT/ACT-ISDA":
        first, last = _periods(start, end)
        fraction = _act_act_isda(first, last)
    else:
        days = accrual_days(start, end, convention)
        fraction = days / (360.0 if convention.endswith("/360") else 365.0)
    return fraction.item() if np.ndim(fraction) == 0 else fraction


def _periods(start: Any, end: Any) -> tuple[np.ndarray, np.ndarray]:
    first, last = np.broadcast_arrays(as_days(start, "start"), as_days(end, "end"))
    backwards = last < first
    if backwards.any():
        k = np.flatnonzero(backwards.ravel())[0]
        raise CalendarError(
            f"accrual period ends ({last.ravel()[k]}) before it starts ({first.ravel()[k]}); "
            "the end date must not be earlier than the start date"
        )
    return first, last


def _thirty_days(first: np.ndarray, last: np.ndarray, eurobond: bool) -> np.ndarray:
    y1, m1, d1 = year_month_day(first)
    y2, m2, d2 = year_month_day(last)
    d1 = np.minimum(d1, 30)
    d2 = np.minimum(d2, 30) if eurobond else np.where((d2 == 31) & (d1 == 30), 30, d2)
    return 360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1)


def _act_act_isda(first: np.ndarray, last: np.ndarray) -> np.ndarray:
    y1, _, _ = year_month_day(first)
    y2, _, _ = year_month_day(last)
    length1 = np.where(is_leap_year(y1), 366.0, 365.0)
    length2 = np.where(is_leap_year(y2), 366.0, 365.0)
    # Whole years between, plus the rest of the first year and the start of the last.
    next_new_year = (first.astype("datetime64[Y]") + 1).astype("datetime64[D]")
    new_year = last.astype("datetime64[Y]").astype("datetime64[D]")
    rest_of_first = (next_new_year - first).astype(int) / length1
    start_of_last = (last - new_year).astype(int) / length2
    across = (y2 - y1 - 1) + rest_of_first + start_of_last
    # Inside one year the split is not needed, and dividing once keeps the fraction exact.
    return np.where(y1 == y2, (last - first).astype(int) / length1, across)
