"""Day counts checked against day numbers counted by hand in each test."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from securitize.daycount import DAY_COUNTS, accrual_days, year_fraction
from securitize.errors import CalendarError

D = dt.date


def test_act_365f_counts_the_leap_day_and_act_365nl_does_not() -> None:
    # 31 Dec 2023 to 31 Dec 2024: 366 actual days, one of them 29 February 2024.
    assert year_fraction(D(2023, 12, 31), D(2024, 12, 31), "ACT/365F") == pytest.approx(366 / 365)
    assert year_fraction(D(2023, 12, 31), D(2024, 12, 31), "ACT/365NL") == 1.0


def test_act_act_isda_splits_the_days_by_the_year_they_fall_in() -> None:
    # 31 Dec 2023 is the one day in 2023 (365-day year); the other 365 days are in 2024 (366).
    expected = 1 / 365 + 365 / 366
    assert year_fraction(D(2023, 12, 31), D(2024, 12, 31), "ACT/ACT-ISDA") == pytest.approx(
        expected, rel=1e-15
    )


def test_act_act_isda_inside_one_year_is_days_over_that_years_length() -> None:
    assert year_fraction(D(2024, 1, 1), D(2024, 7, 1), "ACT/ACT-ISDA") == pytest.approx(182 / 366)
    assert year_fraction(D(2023, 1, 1), D(2023, 7, 1), "ACT/ACT-ISDA") == pytest.approx(181 / 365)


def test_a_period_that_starts_on_29_february_loses_that_day_under_no_leap() -> None:
    # The first day is accrued (算头不算尾): 29 Feb → 1 Mar is one day, and it is 29 February.
    assert accrual_days(D(2024, 2, 29), D(2024, 3, 1), "ACT/365NL") == 0
    assert accrual_days(D(2024, 2, 29), D(2024, 3, 1), "ACT/365F") == 1


def test_a_period_that_ends_on_29_february_keeps_its_days_under_no_leap() -> None:
    # The last day is not accrued, so 28 Feb → 29 Feb accrues 28 February only.
    assert accrual_days(D(2024, 2, 28), D(2024, 2, 29), "ACT/365NL") == 1


@pytest.mark.parametrize("start", [D(2019, 3, 1), D(2020, 2, 28), D(2023, 6, 15), D(2099, 12, 31)])
def test_no_leap_makes_a_year_to_the_same_date_exactly_one(start: dt.date) -> None:
    # Three of these years hold a 29 February (2020 twice over, 2100 none at all).
    assert year_fraction(start, start.replace(year=start.year + 1), "ACT/365NL") == 1.0


def test_no_leap_from_29_february_to_28_february_is_short_of_a_year() -> None:
    # 365 actual days, the first of them 29 February 2020, which is not counted.
    assert accrual_days(D(2020, 2, 29), D(2021, 2, 28), "ACT/365NL") == 364


def test_no_leap_counts_the_century_rule() -> None:
    # 2000 was a leap year, 2100 will not be: 1 Jan 2000 → 1 Jan 2101 has 25 leap days less
    # 2100's missing one = 25 (2000, 2004, …, 2096).
    actual = (D(2101, 1, 1) - D(2000, 1, 1)).days
    assert accrual_days(D(2000, 1, 1), D(2101, 1, 1), "ACT/365NL") == actual - 25


def test_act_360_divides_actual_days_by_360() -> None:
    # 5 Jan → 6 Apr 2021: 26 + 28 + 31 + 6 = 91 days.
    assert year_fraction(D(2021, 1, 5), D(2021, 4, 6), "ACT/360") == pytest.approx(91 / 360)


@pytest.mark.parametrize(
    ("start", "end", "bond_basis", "eurobond"),
    [
        # 31 Jan is the 30th under both; 28 Feb stays the 28th (no end-of-February rule).
        (D(2021, 1, 31), D(2021, 2, 28), 28, 28),
        (D(2024, 1, 31), D(2024, 2, 29), 29, 29),
        # Bond basis keeps an end-date 31st when the start day is below 30; 30E never does.
        (D(2021, 2, 28), D(2021, 3, 31), 33, 32),
        (D(2024, 2, 29), D(2024, 3, 31), 32, 31),
        (D(2021, 3, 1), D(2021, 3, 31), 30, 29),
        # A 31st start makes a 31st end the 30th under both.
        (D(2021, 1, 31), D(2021, 3, 31), 60, 60),
        (D(2021, 3, 30), D(2021, 3, 31), 0, 0),
        # Month ends to month ends over a quarter: 90 days, whatever the months' lengths.
        (D(2021, 1, 31), D(2021, 4, 30), 90, 90),
        (D(2021, 12, 31), D(2022, 12, 31), 360, 360),
    ],
)
def test_thirty_360_end_of_month_cases(
    start: dt.date, end: dt.date, bond_basis: int, eurobond: int
) -> None:
    assert accrual_days(start, end, "30/360") == bond_basis
    assert accrual_days(start, end, "30E/360") == eurobond
    assert year_fraction(start, end, "30/360") == pytest.approx(bond_basis / 360)


def test_thirty_360_chained_month_ends_add_up_to_the_whole() -> None:
    ends = [D(2021, 1, 31), D(2021, 2, 28), D(2021, 3, 31)]
    pieces = accrual_days(ends[:-1], ends[1:], "30/360")
    assert list(pieces) == [28, 33]
    assert pieces.sum() == accrual_days(ends[0], ends[-1], "30/360") + 1  # 61 vs 60


@pytest.mark.parametrize("convention", DAY_COUNTS)
def test_arrays_give_what_each_date_pair_gives(convention: str) -> None:
    starts = np.array(["2021-01-31", "2023-12-31", "2024-02-29", "2021-03-30"], "datetime64[D]")
    ends = np.array(["2021-02-28", "2024-12-31", "2024-03-31", "2021-03-31"], "datetime64[D]")
    vector = year_fraction(starts, ends, convention)
    single = [
        year_fraction(s.item(), e.item(), convention) for s, e in zip(starts, ends, strict=True)
    ]
    np.testing.assert_array_equal(vector, single)
    assert isinstance(single[0], float)


@pytest.mark.parametrize("convention", DAY_COUNTS)
def test_an_empty_period_is_zero(convention: str) -> None:
    assert year_fraction(D(2024, 2, 29), D(2024, 2, 29), convention) == 0.0


def test_a_period_ending_before_it_starts_is_an_error() -> None:
    with pytest.raises(CalendarError, match=r"ends \(2021-01-04\) before it starts \(2021-01-05\)"):
        year_fraction(D(2021, 1, 5), D(2021, 1, 4), "ACT/365F")


def test_an_unknown_day_count_lists_the_known_names() -> None:
    with pytest.raises(CalendarError) as raised:
        year_fraction(D(2021, 1, 5), D(2021, 4, 5), "ACT/364")
    message = str(raised.value)
    assert "'ACT/364' is not known" in message
    assert all(f"'{name}'" in message for name in DAY_COUNTS)


def test_act_365_is_the_chinese_market_basis_that_skips_29_february() -> None:
    """实际天数/365 with 闰年2月29日不计息: a period across 29 February 2024 accrues one day
    fewer than ACT/365F, and one that does not cross it the same."""
    across = (D(2024, 2, 1), D(2024, 3, 1))
    assert year_fraction(*across, "ACT/365") == pytest.approx(28 / 365)
    assert year_fraction(*across, "ACT/365F") == pytest.approx(29 / 365)
    plain = (D(2021, 1, 5), D(2021, 4, 5))
    assert year_fraction(*plain, "ACT/365") == year_fraction(*plain, "ACT/365F") == 90 / 365
