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
