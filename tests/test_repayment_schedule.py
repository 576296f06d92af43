"""The repayment schedule (兑付计划): each tranche's payments date by date with no defaults, on the
deal's calendar (exchange business days, each tranche's day count) or on the month grid, in
results.json, repayment_schedule.csv and both memos; checked against hand computations."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from securitize import run_scenario
from securitize.cli import main
from tests.conftest import PILOT

POOL = 20_000_000.0
TAPE = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value\n"
    "L1,Alpha Tech,Smart equipment,Lucheng,12000000,0.05,12,bullet,80,20000000\n"
    "L2,Beta Tech,New materials,Ruian,8000000,0.05,12,bullet,80,16000000\n"
)


def dated_deal(calendar: str, senior_day_count: str = "") -> str:
    return f"""
[deal]
name = "dated"
closing_date = 2021-01-05
payment_interval_months = 3
legal_final_months = 12

[deal.calendar]
{calendar}

[pool]
tape = "tape.csv"

[credit]
recovery_lag_months = 0

[simulation]
paths = 500

[[tranches]]
name = "senior"
share = 0.9
coupon = 0.04
{senior_day_count}

[[tranches]]
name = "subordinated"
share = 0.1
coupon = 0.0
"""


def senior_rows(results) -> list[dict]:
    return [r for r in results.repayment_schedule if r["tranche"] == "senior"]


def test_payment_dates_roll_over_the_holidays_and_interest_is_act_365(write_scenario) -> None:
    """Collections end on the 5th of each quarter's last month; payment on the 5th of the next
    month, moved to the next exchange business day: 5 May 2021 is Labour Day (the exchanges
    reopened on 6 May) and 5 February 2022 falls in the Spring Festival closure (reopened on
    7 February). Interest: balance × 4 % × days / 365, from closing (5 January 2021)."""
    path = write_scenario(dated_deal('day_count = "ACT/365"\npayment_day = 5'), TAPE)
    results = run_scenario(path, paths=500).results
    rows = senior_rows(results)
    expected_dates = ["2021-05-06", "2021-08-05", "2021-11-05", "2022-02-07"]
    days = [121, 91, 92, 94]  # 5 Jan → 6 May → 5 Aug → 5 Nov → 7 Feb
    assert [r["payment_date"] for r in rows] == expected_dates
    assert [r["accrual_days"] for r in rows] == days
    balance = 0.9 * POOL
    for row, n in zip(rows, days, strict=True):
        assert row["dated"] is True
        assert row["interest"] == pytest.approx(balance * 0.04 * n / 365, abs=0.005)
        assert row["opening_balance"] == pytest.approx(balance, abs=0.005)
    # The bullet loans repay at month 12: the senior notes in full on the last date.
    assert [r["principal"] for r in rows[:3]] == [0.0, 0.0, 0.0]
    assert rows[3]["principal"] == pytest.approx(balance, abs=0.005)
    assert rows[3]["closing_balance"] == pytest.approx(0.0, abs=0.005)
    junior = [r for r in results.repayment_schedule if r["tranche"] == "subordinated"]
    assert sum(r["principal"] for r in junior) == pytest.approx(0.1 * POOL, abs=0.005)


def test_a_tranche_day_count_overrides_the_deals(write_scenario) -> None:
    """ACT/360 on the senior notes: the same dates, interest × 365/360."""
    path = write_scenario(
        dated_deal('day_count = "ACT/365"\npayment_day = 5', 'day_count = "ACT/360"'), TAPE
    )
    rows = senior_rows(run_scenario(path, paths=500).results)
    assert rows[0]["interest"] == pytest.approx(0.9 * POOL * 0.04 * 121 / 360, abs=0.005)
    assert rows[0]["year_fraction"] == pytest.approx(121 / 360)


def test_the_leap_day_accrues_under_act_365f_and_not_under_act_365(write_scenario) -> None:
    """Closing 5 January 2024: the first period (to 6 May 2024, after the Labour Day closure of
    1–5 May) holds 29 February; ACT/365F counts it, the Chinese ACT/365 does not."""
    counts = {}
    for name in ("ACT/365", "ACT/365F"):
        text = dated_deal(f'day_count = "{name}"\npayment_day = 5')
        text = text.replace("closing_date = 2021-01-05", "closing_date = 2024-01-05")
        rows = senior_rows(run_scenario(write_scenario(text, TAPE), paths=500).results)
        assert rows[0]["payment_date"] == "2024-05-06"
        counts[name] = rows[0]["interest"] / (0.9 * POOL * 0.04) * 365
    assert counts["ACT/365F"] == pytest.approx(122)  # 5 Jan → 6 May 2024, 29 February counted
    assert counts["ACT/365"] == pytest.approx(121)


def test_without_a_calendar_the_grid_dates_and_30_360_are_used() -> None:
    """The pilot states no calendar: closing date + payment month, 30/360 on whole months:
    the senior notes (92 % of CNY 190m at 3.6 %) earn 174.8m × 3.6 % / 4 = 1,573,200 a quarter."""
    results = run_scenario(PILOT, paths=500).results
    rows = senior_rows(results)
    assert rows[0]["payment_date"] == "2021-04-05" and rows[0]["dated"] is False
    assert rows[0]["accrual_days"] is None
    assert rows[0]["interest"] == pytest.approx(1_573_200.0, abs=0.005)
    assert sum(r["principal"] for r in rows) == pytest.approx(174_800_000.0, abs=0.005)


def test_a_day_count_without_a_calendar_is_refused(write_scenario, capsys) -> None:
    text = dated_deal('day_count = "ACT/365"\npayment_day = 5', 'day_count = "ACT/360"')
    text = text.replace('[deal.calendar]\nday_count = "ACT/365"\npayment_day = 5\n', "")
    path = write_scenario(text, TAPE)
    assert main(["run", str(path), "--out", str(path.parent / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "tranches[0].day_count" in err and "[deal.calendar]" in err
    assert not (path.parent / "out").exists()


def test_run_writes_the_schedule_as_csv_and_both_memos_show_it(write_scenario, tmp_path) -> None:
    path = write_scenario(dated_deal('day_count = "ACT/365"\npayment_day = 5'), TAPE)
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out), "--quiet", "--lang", "both"]) == 0
    table = pd.read_csv(io.StringIO((out / "repayment_schedule.csv").read_text("utf-8")))
    senior = table[table["tranche"] == "senior"]
    assert list(senior["payment_date"]) == ["2021-05-06", "2021-08-05", "2021-11-05", "2022-02-07"]
    assert senior["interest"].iloc[0] == round(18_000_000 * 0.04 * 121 / 365, 2)
    english = (out / "memo.en.html").read_text("utf-8")
    chinese = (out / "memo.zh.html").read_text("utf-8")
    assert 'id="repayment-schedule"' in english and "6 May 2021" in english
    assert "兑付计划" in chinese and "2022年2月7日" in chinese
    assert dt.date(2022, 2, 7).weekday() == 0  # a Monday: the day the exchanges reopened


TWO_LOANS = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value\n"
    "L1,Alpha Tech,Smart equipment,Lucheng,4000000,0.05,12,bullet,80,8000000\n"
    "L2,Beta Tech,New materials,Ruian,16000000,0.05,24,bullet,80,32000000\n"
)


def put_reset_deal(market_rate: float) -> str:
    """Two years, half-yearly, on the exchange calendar (ACT/365), VAT on; a floating senior at
    the index + 0.50 % whose margin resets to 0.20 % after month 12, with a month-12 put."""
    return f"""
[deal]
name = "put_reset"
closing_date = 2021-01-05
payment_interval_months = 6
legal_final_months = 24
index_path = [{{ month = 0, rate = 0.0385 }}, {{ month = 3, rate = 0.0370 }}]

[deal.calendar]
day_count = "ACT/365"
payment_day = 5

[pool]
tape = "tape.csv"

[credit]
recovery_lag_months = 0

[simulation]
paths = 500

[tax]

[[tranches]]
name = "senior"
share = 0.6
margin = 0.005
reset = {{ month = 12, margin = 0.002 }}
put = {{ month = 12, rule = "reset_below_market", market_rate = {market_rate} }}

[[tranches]]
name = "subordinated"
share = 0.4
coupon = 0.0
"""


# 5 Aug 2021; 5 Feb 2022 is in the Spring Festival closure → 7 Feb; 5 Aug 2022; 5 Feb 2023 is
# a Sunday → 6 Feb. Days from closing: 212, 186, 179, 185.
PUT_DATES = ["2021-08-05", "2022-02-07", "2022-08-05", "2023-02-06"]
PUT_DAYS = [212, 186, 179, 185]


def test_a_dated_floating_senior_with_reset_and_an_unexercised_put_by_hand(write_scenario):
    """Reset coupon 3.70 % + 0.20 % = 3.90 % is above the 3.50 % market rate: no put. The
    senior (CNY 12m) earns index + margin on its balance × days / 365: 4.35 % (index 3.85 % at
    the first period's start), then 4.20 % (3.70 %), then the reset 3.90 %; L1's CNY 4m repays it
    in part at month 12, L2's CNY 16m the rest at month 24."""
    path = write_scenario(put_reset_deal(0.035), TWO_LOANS)
    run = run_scenario(path, paths=500)
    rows = senior_rows(run.results)
    assert [r["payment_date"] for r in rows] == PUT_DATES
    assert [r["accrual_days"] for r in rows] == PUT_DAYS
    balances = [12e6, 12e6, 8e6, 8e6]
    coupons = [0.0435, 0.0420, 0.0390, 0.0390]
    for row, b, c, n in zip(rows, balances, coupons, PUT_DAYS, strict=True):
        assert row["opening_balance"] == pytest.approx(b, abs=0.005)
        assert row["interest"] == pytest.approx(b * c * n / 365, abs=0.005)
    assert [r["principal"] for r in rows] == pytest.approx([0.0, 4e6, 0.0, 8e6], abs=0.005)
    assert rows[-1]["closing_balance"] == pytest.approx(0.0, abs=0.005)


def test_the_put_exercised_makes_the_senior_due_at_month_12(write_scenario):
    """At a 4.50 % market rate the reset 3.90 % is below it: the notes are put at month 12, all
    CNY 12m due. The trust has L1's CNY 4m and what is left of the period's interest after VAT
    and the senior's interest; it pays that and owes the senior nothing more (the rest is its
    shortfall, which a guarantee would pay), so the table stops at month 12."""
    path = write_scenario(put_reset_deal(0.045), TWO_LOANS)
    rows = senior_rows(run_scenario(path, paths=500).results)
    interest_in = 20e6 * 0.05 * 6 / 12  # the loans' half-year interest (30/360)
    tax = interest_in * 0.03 / 1.03 * (1 + 0.07 + 0.03 + 0.02)  # VAT on a tax-inclusive base
    senior_interest = 12e6 * 0.0420 * 186 / 365
    assert rows[1]["interest"] == pytest.approx(senior_interest, abs=0.005)
    principal = 4e6 + interest_in - tax - senior_interest
    assert [r["principal"] for r in rows] == pytest.approx([0.0, principal, 0.0, 0.0], abs=0.005)
    assert rows[1]["closing_balance"] == pytest.approx(0.0, abs=0.005)
    assert [r["interest"] for r in rows[2:]] == [0.0, 0.0]
