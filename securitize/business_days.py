"""Exchange business days (交易日) and the rules that move a date onto one.

Payment dates of an exchange-listed plan fall on days the Shanghai and Shenzhen exchanges are
open. Their holidays follow the State Council's annual notice, but the exchanges do not open on
the weekend days that notice turns into make-up working days (调休): a make-up Saturday is a
working day for banks and the inter-bank market, not for the exchanges. The sessions come from
the ``exchange-calendars`` package (its ``XSHG`` calendar; Shenzhen keeps the same days, so
``XSHE`` here is the same list). A date outside the years the package records is an error, never
a guess: its holidays for those years are not known.

Every function takes a single date or an array of dates and is vectorised over numpy
``datetime64[D]`` (``numpy.searchsorted`` on the sorted sessions).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import Any, Literal, get_args

import numpy as np

from securitize.civil_dates import DAY, as_days, to_python
from securitize.errors import CalendarError

CalendarName = Literal["XSHG", "XSHE"]
CALENDARS: tuple[str, ...] = get_args(CalendarName)
# The package has one calendar for both exchanges: they close on the same days.
_SOURCE = {"XSHG": "XSHG", "XSHE": "XSHG"}

RollConvention = Literal[
    "following", "modified_following", "preceding", "modified_preceding", "unadjusted"
]
ROLL_CONVENTIONS: tuple[str, ...] = get_args(RollConvention)


@dataclass(frozen=True)
class BusinessCalendar:
    """The sessions of one exchange over the range its source knows (both ends included)."""

    name: str
    sessions: np.ndarray  # sorted datetime64[D]
    first_day: np.datetime64
    last_day: np.datetime64
    source: str
    # The last day whose holidays are known; later days up to ``last_day`` are projected.
    recorded_until: np.datetime64 | None = None

    @property
    def coverage(self) -> str:
        return f"{self.first_day} to {self.last_day}"

    def holidays_known(self, dates: Any) -> bool | np.ndarray:
        """Whether each date's business-day status comes from the exchange's published
        holidays rather than from a weekday projection."""
        days = as_days(dates)
        known = days <= (self.last_day if self.recorded_until is None else self.recorded_until)
        return bool(known) if known.ndim == 0 else known

    def projected_to(self, until: Any) -> BusinessCalendar:
        """This calendar continued to ``until`` with every Monday–Friday a business day.

        For deals that run past the years whose holidays have been announced (the notice for
        a year comes out near the end of the year before): the dates are a forecast that will
        move when the holidays are known, so callers must opt in and should flag them
        (``holidays_known``).
        """
        end = as_days(until, "projected until")
        recorded = self.last_day if self.recorded_until is None else self.recorded_until
        if end <= self.last_day:
            return self
        extra = np.arange(self.last_day + DAY, end + DAY, dtype="datetime64[D]")
        return BusinessCalendar(
            name=self.name,
            sessions=np.concatenate([self.sessions, extra[np.is_busday(extra)]]),
            first_day=self.first_day,
            last_day=np.datetime64(end, "D"),
            source=f"{self.source}; Monday to Friday projected after {recorded}",
            recorded_until=recorded,
        )

    def check_covered(self, days: np.ndarray, what: str = "date") -> None:
        """A ``CalendarError`` naming the first date the calendar does not know."""
        outside = (days < self.first_day) | (days > self.last_day)
        if outside.any():
            first = days.ravel()[np.flatnonzero(outside.ravel())[0]]
            count = int(outside.sum())
            more = f" (and {count - 1} more)" if count > 1 else ""
            raise CalendarError(
                f"{what} {first}{more} is outside the {self.name} exchange calendar, which "
                f"covers {self.coverage} ({self.source}); its holidays are not known there"
            )

    def is_business_day(self, dates: Any) -> bool | np.ndarray:
        """Whether the exchange is open on each date."""
        days = as_days(dates)
        self.check_covered(days)
        position = np.searchsorted(self.sessions, days)
        found = self.sessions[np.minimum(position, self.sessions.size - 1)] == days
        return bool(found) if found.ndim == 0 else found

    def roll(self, dates: Any, convention: str) -> dt.date | np.ndarray:
        """Each date moved onto a business day by ``convention``.

        ``following`` / ``preceding``: the date if a business day, else the next / the previous
        one. ``modified_following`` takes the following business day unless it is in the next
        month, then the preceding one (so a month-end payment stays in its month);
        ``modified_preceding`` mirrors it at the start of a month; ``unadjusted`` keeps the
        date (checked to be inside the calendar all the same).
        """
        convention = check_roll_convention(convention)
        days = as_days(dates)
        self.check_covered(days)
        flat = np.atleast_1d(days)
        if convention == "unadjusted":
            rolled = flat
        elif convention in ("following", "modified_following"):
            rolled = self._following(flat)
        else:
            rolled = self._preceding(flat)
        if convention.startswith("modified_"):
            moved = rolled.astype("datetime64[M]") != flat.astype("datetime64[M]")
            if moved.any():
                back = self._preceding if convention == "modified_following" else self._following
                rolled = rolled.copy()
                rolled[moved] = back(flat[moved])
        return to_python(rolled.reshape(days.shape))

    def add_business_days(self, dates: Any, count: int) -> dt.date | np.ndarray:
        """The ``count``-th business day after each date (before it, for a negative count);
        0 rolls to the following business day."""
        days = as_days(dates)
        self.check_covered(days)
        if count == 0:
            return to_python(self._following(days))
        if count > 0:
            position = np.searchsorted(self.sessions, days, side="right") + count - 1
            return to_python(self._pick(position, days, f"business day {count} after it"))
        position = np.searchsorted(self.sessions, days, side="left") + count
        return to_python(self._pick(position, days, f"business day {-count} before it"))

    def _following(self, days: np.ndarray) -> np.ndarray:
        return self._pick(
            np.searchsorted(self.sessions, days, side="left"),
            days,
            "the first business day on or after it",
        )

    def _preceding(self, days: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self.sessions, days, side="right") - 1
        return self._pick(position, days, "the first business day on or before it")

    def _pick(self, position: np.ndarray, days: np.ndarray, wanted: str) -> np.ndarray:
        beyond = (position < 0) | (position >= self.sessions.size)
        if beyond.any():
            first = days.ravel()[np.flatnonzero(np.ravel(beyond))[0]]
            raise CalendarError(
                f"date {first}: {wanted} falls outside the {self.name} exchange calendar, which "
                f"covers {self.coverage} ({self.source}); its holidays are not known there"
            )
        return self.sessions[position]


def check_roll_convention(convention: str) -> str:
    if convention not in ROLL_CONVENTIONS:
        allowed = ", ".join(repr(name) for name in ROLL_CONVENTIONS)
        raise CalendarError(
            f"business-day convention {convention!r} is not known; use one of {allowed}"
        )
    return convention


@cache
def _sessions(source: str) -> tuple[np.ndarray, np.datetime64, np.datetime64]:
    """Every session of ``exchange-calendars``' calendar ``source`` and the range it records."""
    # Imported here: loading the package costs time that only dated schedules need.
    from exchange_calendars import get_calendar
    from exchange_calendars.exchange_calendar_xshg import XSHGExchangeCalendar

    kind = {"XSHG": XSHGExchangeCalendar}[source]
    first, last = kind.bound_min(), kind.bound_max()
    with warnings.catch_warnings():
        # exchange-calendars 4.13 reads tz-aware Series.values, which pandas 3.1 deprecates;
        # the sessions read below are tz-naive dates and unaffected.
        warnings.simplefilter("ignore", DeprecationWarning)
        calendar = get_calendar(source, start=first, end=last)
    sessions = np.asarray(calendar.sessions.values, dtype="datetime64[D]")
    return sessions, np.datetime64(first.date(), "D"), np.datetime64(last.date(), "D")


@cache
def exchange_calendar(name: str = "XSHG") -> BusinessCalendar:
    """The business days of exchange ``name`` over the whole range its source records.

    Built once per process with explicit bounds, so the answer does not depend on today's date
    (the package's default window does: it starts 20 years back).
    """
    if name not in CALENDARS:
        allowed = ", ".join(repr(c) for c in CALENDARS)
        raise CalendarError(f"calendar {name!r} is not known; use one of {allowed}")
    sessions, first, last = _sessions(_SOURCE[name])
    return BusinessCalendar(
        name=name,
        sessions=sessions,
        first_day=first,
        last_day=last,
        source=f"exchange-calendars {version('exchange-calendars')} {_SOURCE[name]}",
    )


def is_business_day(dates: Any, calendar: str = "XSHG") -> bool | np.ndarray:
    """Whether exchange ``calendar`` is open on each date."""
    return exchange_calendar(calendar).is_business_day(dates)


def roll(dates: Any, convention: str, calendar: str = "XSHG") -> dt.date | np.ndarray:
    """Each date moved onto a business day of ``calendar`` by ``convention``."""
    return exchange_calendar(calendar).roll(dates, convention)


def add_business_days(dates: Any, count: int, calendar: str = "XSHG") -> dt.date | np.ndarray:
    """The ``count``-th business day of ``calendar`` after each date."""
    return exchange_calendar(calendar).add_business_days(dates, count)
