"""Dated deal schedules checked against dates worked out by hand from the holiday notices."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from securitize.dated_schedule import DealCalendar, dated_schedule, payment_months
from securitize.errors import CalendarError

D = dt.date
CLOSING = D(2021, 1, 5)

# A 3-year quarterly deal closing (and cut off) on 5 January 2021, paid on the 5th exchange
# business day after each collection date (the same day of the month, 3 months on).
COLLECTION_END = [
    D(2021, 4, 5), D(2021, 7, 5), D(2021, 10, 5), D(2022, 1, 5),
    D(2022, 4, 5), D(2022, 7, 5), D(2022, 10, 5), D(2023, 1, 5),
    D(2023, 4, 5), D(2023, 7, 5), D(2023, 10, 5), D(2024, 1, 5),
]  # fmt: skip
PAYMENT_DATE = [
    D(2021, 4, 12),  # Mon 5 Apr is Qingming: 6, 7, 8, 9, 12 April
    D(2021, 7, 12),  # 6, 7, 8, 9, 12 July
    D(2021, 10, 14),  # closed to 7 Oct, make-up Sat 9 Oct shut: 8, 11, 12, 13, 14 October
    D(2022, 1, 12),  # 6, 7, 10, 11, 12 January
    D(2022, 4, 12),  # Qingming 4–5 April 2022: 6, 7, 8, 11, 12 April
    D(2022, 7, 12),  # 6, 7, 8, 11, 12 July
    D(2022, 10, 14),  # closed 3–7 Oct 2022: 10, 11, 12, 13, 14 October
    D(2023, 1, 12),  # 6, 9, 10, 11, 12 January
    D(2023, 4, 12),  # Qingming Wed 5 April 2023: 6, 7, 10, 11, 12 April
    D(2023, 7, 12),  # 6, 7, 10, 11, 12 July
    D(2023, 10, 13),  # closed 29 Sep–6 Oct 2023: 9, 10, 11, 12, 13 October
    D(2024, 1, 12),  # 8, 9, 10, 11, 12 January
]
# 30/360 bond basis between consecutive accrual dates (no 31st among them): 360·Δy + 30·Δm + Δd.
THIRTY_360_DAYS = [97, 90, 92, 88, 90, 90, 92, 88, 90, 90, 91, 89]


@pytest.fixture(scope="module")
def quarterly() -> pd.DataFrame:
    terms = DealCalendar(day_count="ACT/365F", payment_lag_business_days=5)
    return dated_schedule(terms, CLOSING, 3, 36, {"subordinated": "30/360"})


def dates(column: pd.Series) -> list[dt.date]:
    return [value.date() for value in column]


def test_the_quarterly_deal_has_twelve_periods_on_the_engine_grid(quarterly) -> None:
    assert list(quarterly.index) == list(range(1, 13))
    assert quarterly.index.name == "period"
    assert list(quarterly["month"]) == list(range(3, 37, 3))


def test_collection_periods_follow_each_other_from_the_cut_off(quarterly) -> None:
    assert dates(quarterly["collection_end"]) == COLLECTION_END
    starts = [CLOSING] + [end + dt.timedelta(days=1) for end in COLLECTION_END[:-1]]
    assert dates(quarterly["collection_start"]) == starts


def test_payment_dates_are_five_exchange_business_days_after_collection(quarterly) -> None:
    assert dates(quarterly["payment_date"]) == PAYMENT_DATE


def test_interest_accrues_from_closing_then_from_payment_date_to_payment_date(quarterly) -> None:
    starts = [CLOSING, *PAYMENT_DATE[:-1]]
    assert dates(quarterly["accrual_start"]) == starts
    actual = [(end - start).days for start, end in zip(starts, PAYMENT_DATE, strict=True)]
    assert list(quarterly["accrual_days"]) == actual
    np.testing.assert_allclose(quarterly["year_fraction"], np.array(actual) / 365, rtol=1e-15)


def test_a_tranche_on_its_own_day_count_gets_its_own_column(quarterly) -> None:
    np.testing.assert_allclose(
        quarterly["year_fraction_subordinated"], np.array(THIRTY_360_DAYS) / 360, rtol=1e-15
    )
    assert quarterly["holidays_known"].all()


def test_month_end_collection_with_a_day_of_month_payment_skips_spring_festival() -> None:
    terms = DealCalendar(day_count="ACT/365NL", collection_period_end="month_end", payment_day=26)
    table = dated_schedule(terms, CLOSING, 3, 36)
    # The first collection period is short: 5 January to 31 March (the grid date, 5 April,
    # is past the month end).
    assert dates(table["collection_end"])[:4] == [
        D(2021, 3, 31), D(2021, 6, 30), D(2021, 9, 30), D(2021, 12, 31)
    ]  # fmt: skip
    paid = dates(table["payment_date"])
    assert paid[0] == D(2021, 4, 26)
    # 26 Jan 2023 fell in the Spring Festival closure (23–27 Jan); Sat 28 and Sun 29 were
    # make-up working days the exchanges did not open, so the payment moves to Mon 30 Jan.
    assert paid[7] == D(2023, 1, 30)
    assert paid[8] == D(2023, 4, 26)


def test_only_the_period_holding_29_february_differs_between_365f_and_no_leap() -> None:
    terms = DealCalendar(day_count="ACT/365F", payment_lag_business_days=5)
    table = dated_schedule(terms, D(2023, 10, 10), 3, 6, {"senior": "ACT/365NL"})
    # Period 2 accrues from 17 Jan to 17 Apr 2024, across 29 February.
    assert dates(table["accrual_start"])[1] == D(2024, 1, 17)
    gap = table["year_fraction"] - table["year_fraction_senior"]
    np.testing.assert_allclose(gap, [0.0, 1 / 365], atol=1e-15)


def test_a_short_last_period_ends_on_the_legal_final_month() -> None:
    assert list(payment_months(56, 3)[-3:]) == [51, 54, 56]
    assert list(payment_months(2, 3)) == [2]
    terms = DealCalendar(day_count="ACT/365F", payment_lag_business_days=1)
    table = dated_schedule(terms, CLOSING, 3, 8)
    assert dates(table["collection_end"]) == [D(2021, 4, 5), D(2021, 7, 5), D(2021, 9, 5)]


def test_a_cut_off_before_closing_starts_collections_and_not_interest() -> None:
    terms = DealCalendar(day_count="ACT/365F", payment_day=26, cut_off_date=D(2020, 12, 31))
    table = dated_schedule(terms, CLOSING, 3, 6)
    assert dates(table["collection_start"])[0] == D(2020, 12, 31)
    assert dates(table["collection_end"])[0] == D(2021, 3, 31)
    assert dates(table["accrual_start"])[0] == CLOSING


def test_a_deal_past_the_calendar_is_refused_with_the_way_out_named() -> None:
    terms = DealCalendar(day_count="ACT/365F", payment_day=26)
    with pytest.raises(CalendarError) as raised:
        dated_schedule(terms, D(2025, 6, 30), 3, 36)
    message = str(raised.value)
    assert "2027-01-26" in message and "outside the XSHG exchange calendar" in message
    assert 'after_coverage = "weekdays"' in message


def test_projected_weekdays_are_flagged_as_holidays_unknown() -> None:
    terms = DealCalendar(day_count="ACT/365F", payment_day=26, after_coverage="weekdays")
    table = dated_schedule(terms, D(2025, 6, 30), 3, 36)
    paid = table["payment_date"]
    known = paid <= pd.Timestamp("2026-12-31")
    assert known.any() and not known.all()
    assert (table["holidays_known"] == known).all()
    assert (paid.dt.day_of_week < 5).all()


def test_a_preceding_roll_onto_the_collection_date_is_an_error() -> None:
    # Collections end Friday 9 April 2021; the 10th is a Saturday, rolled back to the 9th.
    terms = DealCalendar(day_count="ACT/365F", payment_day=10, business_day_convention="preceding")
    with pytest.raises(CalendarError, match=r"period 1 would be paid on 2021-04-09; a payment"):
        dated_schedule(terms, D(2021, 1, 9), 3, 6)


def test_a_cut_off_after_closing_is_an_error() -> None:
    terms = DealCalendar(day_count="ACT/365F", payment_day=26, cut_off_date=D(2021, 2, 1))
    with pytest.raises(CalendarError, match="cut_off_date: value 2021-02-01: must not be after"):
        dated_schedule(terms, CLOSING, 3, 6)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"day_count": "ACT/365F"}, "give exactly one of 'payment_lag_business_days'"),
        (
            {"day_count": "ACT/365F", "payment_day": 26, "payment_lag_business_days": 2},
            "give exactly one of",
        ),
        (
            {
                "day_count": "ACT/365F",
                "payment_lag_business_days": 2,
                "business_day_convention": "following",
            },
            "'business_day_convention' applies to 'payment_day'",
        ),
        ({"day_count": "act/365f", "payment_day": 26}, "'act/365f' is not known"),
        ({"day_count": "ACT/365F", "payment_day": "26"}, "valid integer"),
        ({"day_count": "ACT/365F", "payment_day": 32}, "less than or equal to 31"),
        ({"day_count": "ACT/365F", "payment_day": 26, "calendar": "XNYS"}, "'XSHG' or 'XSHE'"),
        ({"day_count": "ACT/365F", "payment_day": 26, "holidays": []}, "Extra inputs"),
        ({"payment_day": 26}, "day_count"),
    ],
)
def test_deal_calendar_fields_are_validated_strictly(fields: dict, expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        DealCalendar.model_validate(fields)
