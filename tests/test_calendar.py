"""Exchange business days and roll conventions, checked against the published holiday notices.

Holiday facts are from the State Council's notices and the exchanges' 休市安排 for each year;
each test names the days it relies on so a reader can check them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from securitize.business_days import (
    ROLL_CONVENTIONS,
    add_business_days,
    exchange_calendar,
    is_business_day,
    roll,
)
from securitize.errors import CalendarError, SecuritizeError

D = dt.date


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]


# Spring Festival 2021: the exchanges closed Thursday 11 to Wednesday 17 February.
@pytest.mark.parametrize("day", days_between(D(2021, 2, 11), D(2021, 2, 17)))
def test_the_exchange_is_closed_through_spring_festival_2021(day: dt.date) -> None:
    assert is_business_day(day) is False


@pytest.mark.parametrize("day", [D(2021, 2, 10), D(2021, 2, 18)])
def test_the_exchange_is_open_on_the_days_around_spring_festival_2021(day: dt.date) -> None:
    assert is_business_day(day) is True


# Make-up working days (调休) of 2021 and 2024: Sunday 7 Feb and Saturday 20 Feb 2021 (Spring
# Festival), Sunday 26 Sep and Saturday 9 Oct 2021 (National Day), Sunday 4 Feb and Sunday
# 18 Feb 2024. Offices work on them; the exchanges stay closed.
@pytest.mark.parametrize(
    "day", [D(2021, 2, 7), D(2021, 2, 20), D(2021, 9, 26), D(2021, 10, 9), D(2024, 2, 4)]
)
def test_the_exchange_does_not_open_on_make_up_working_weekend_days(day: dt.date) -> None:
    assert day.weekday() >= 5
    assert is_business_day(day) is False


def test_national_day_week_2021_is_closed_from_1_to_7_october() -> None:
    week = days_between(D(2021, 10, 1), D(2021, 10, 7))
    assert not is_business_day(week).any()
    assert is_business_day([D(2021, 9, 30), D(2021, 10, 8)]).all()


def test_following_skips_the_whole_national_day_week() -> None:
    assert roll(D(2021, 10, 1), "following") == D(2021, 10, 8)
    assert roll(D(2021, 10, 7), "preceding") == D(2021, 9, 30)


def test_following_and_preceding_cross_spring_festival_2021() -> None:
    assert roll(D(2021, 2, 11), "following") == D(2021, 2, 18)
    assert roll(D(2021, 2, 14), "preceding") == D(2021, 2, 10)


def test_modified_following_stays_in_the_month_at_a_weekend_month_end() -> None:
    # Sunday 31 October 2021: following is Monday 1 November, so it rolls back to Friday 29th.
    assert roll(D(2021, 10, 31), "following") == D(2021, 11, 1)
    assert roll(D(2021, 10, 31), "modified_following") == D(2021, 10, 29)


def test_modified_following_goes_back_over_the_extended_2020_spring_festival() -> None:
    # The exchanges were closed 24 January to 2 February 2020 (the holiday extended to the 31st
    # and a weekend): the last January business day was Thursday the 23rd.
    assert roll(D(2020, 1, 31), "following") == D(2020, 2, 3)
    assert roll(D(2020, 1, 31), "modified_following") == D(2020, 1, 23)


def test_modified_following_over_national_day_2023_lands_before_the_holiday() -> None:
    # Closed Friday 29 September to Friday 6 October 2023 (Mid-Autumn joined to National Day).
    assert roll(D(2023, 9, 30), "modified_following") == D(2023, 9, 28)


def test_modified_following_equals_following_inside_a_month() -> None:
    assert roll(D(2021, 2, 13), "modified_following") == D(2021, 2, 18)


def test_modified_preceding_moves_forward_at_a_month_start() -> None:
    # Saturday 1 May 2021 began the Labour Day closure (1–5 May); the preceding business day,
    # Friday 30 April, is in the month before, so it rolls forward to Thursday 6 May.
    assert roll(D(2021, 5, 1), "preceding") == D(2021, 4, 30)
    assert roll(D(2021, 5, 1), "modified_preceding") == D(2021, 5, 6)


def test_unadjusted_keeps_a_holiday() -> None:
    assert roll(D(2021, 2, 12), "unadjusted") == D(2021, 2, 12)


@pytest.mark.parametrize("convention", ROLL_CONVENTIONS)
def test_every_convention_keeps_a_business_day(convention: str) -> None:
    assert roll(D(2021, 2, 18), convention) == D(2021, 2, 18)


def test_rolling_an_array_matches_rolling_each_date() -> None:
    dates = np.array(["2021-02-11", "2021-10-31", "2020-01-31", "2021-02-18"], "datetime64[D]")
    rolled = roll(dates, "modified_following")
    assert rolled.dtype == np.dtype("datetime64[D]")
    assert list(rolled) == [roll(d.item(), "modified_following") for d in dates]


def test_business_days_after_a_date_skip_holidays_and_make_up_saturdays() -> None:
    # After Wednesday 10 Feb 2021: Thursday 18th, Friday 19th, then Monday 22nd (Saturday 20th
    # was a make-up working day the exchange did not open).
    assert add_business_days(D(2021, 2, 10), 1) == D(2021, 2, 18)
    assert add_business_days(D(2021, 2, 10), 3) == D(2021, 2, 22)
    assert add_business_days(D(2021, 2, 18), -1) == D(2021, 2, 10)
    assert add_business_days(D(2021, 2, 13), 0) == D(2021, 2, 18)


def test_shenzhen_has_the_shanghai_sessions() -> None:
    shanghai, shenzhen = exchange_calendar("XSHG"), exchange_calendar("XSHE")
    np.testing.assert_array_equal(shanghai.sessions, shenzhen.sessions)
    assert is_business_day(D(2021, 2, 20), calendar="XSHE") is False


def test_the_calendar_covers_the_years_the_documentation_states() -> None:
    calendar = exchange_calendar()
    assert calendar.first_day <= np.datetime64("1991-01-01")
    assert calendar.last_day >= np.datetime64("2026-12-31")
    assert calendar.last_day == np.datetime64(f"{calendar.last_day.item().year}-12-31")


def test_a_date_after_the_calendar_is_an_error_not_a_business_day() -> None:
    calendar = exchange_calendar()
    late = (calendar.last_day + np.timedelta64(1, "D")).item()
    with pytest.raises(CalendarError) as raised:
        is_business_day(late)
    message = str(raised.value)
    assert str(late) in message
    assert calendar.coverage in message
    assert "exchange-calendars" in message
    assert isinstance(raised.value, SecuritizeError)


@pytest.mark.parametrize("convention", ROLL_CONVENTIONS)
def test_rolling_a_date_outside_the_calendar_is_an_error(convention: str) -> None:
    with pytest.raises(CalendarError, match="1980-06-02 is outside the XSHG"):
        roll(D(1980, 6, 2), convention)


def test_an_array_with_one_date_outside_names_it_and_counts_the_rest() -> None:
    dates = ["2021-02-18", "2099-01-05", "2099-02-05"]
    with pytest.raises(CalendarError, match=r"2099-01-05 \(and 1 more\) is outside"):
        roll(dates, "following")


def test_a_business_day_beyond_the_last_covered_day_is_an_error() -> None:
    calendar = exchange_calendar()
    last = calendar.sessions[-1].item()
    with pytest.raises(CalendarError, match=f"date {last}: business day 1 after it falls outside"):
        add_business_days(last, 1)


def test_an_unknown_convention_lists_the_known_ones() -> None:
    with pytest.raises(CalendarError) as raised:
        roll(D(2021, 2, 18), "next")
    message = str(raised.value)
    assert "'next'" in message
    assert all(f"'{name}'" in message for name in ROLL_CONVENTIONS)


def test_an_unknown_calendar_is_an_error() -> None:
    with pytest.raises(CalendarError, match="calendar 'XHKG' is not known; use one of 'XSHG'"):
        is_business_day(D(2021, 2, 18), calendar="XHKG")


def test_a_value_that_is_not_a_date_is_an_error() -> None:
    with pytest.raises(CalendarError, match="is not a date"):
        is_business_day("2021-02-30")
    with pytest.raises(CalendarError, match="missing date"):
        roll(np.datetime64("NaT"), "following")


def test_a_projected_calendar_opens_on_weekdays_after_the_recorded_years_and_says_so() -> None:
    calendar = exchange_calendar()
    projected = calendar.projected_to(D(2029, 12, 31))
    # Saturday 26 June 2027 rolls to Monday 28 June; inside the recorded years nothing moves.
    assert projected.roll(D(2027, 6, 26), "following") == D(2027, 6, 28)
    assert projected.roll(D(2021, 2, 11), "following") == D(2021, 2, 18)
    assert projected.holidays_known([calendar.last_day, calendar.last_day + 1]).tolist() == [
        True,
        False,
    ]
    assert "projected" in projected.source
    with pytest.raises(CalendarError, match="2030-01-02 is outside"):
        projected.roll(D(2030, 1, 2), "following")
