"""Each tranche's coupon terms in results.json (the coupon of every period, the margin, the day
count, the resets, the put and the call), checked by hand on the put-and-reset example deal, and
stated in both memos, which verify from the results."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from securitize.cli import main
from tests.conftest import GOOD_ROW, ROOT, tape_rows, tape_scenario

PUT_RESET = ROOT / "scenarios" / "wenzhou_put_reset.toml"
PATHS = 500


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("put_reset") / "out"
    args = ["run", str(PUT_RESET), "--paths", str(PATHS), "--out", str(folder), "--quiet"]
    assert main([*args, "--lang", "both"]) == 0
    return folder


@pytest.fixture(scope="module")
def document(out: Path) -> dict:
    return json.loads((out / "results.json").read_text("utf-8"))


def tranche(document: dict, name: str) -> dict:
    return next(t for t in document["tranches"] if t["name"] == name)


def test_the_class_a_coupon_path_is_the_lpr_path_plus_the_margin_and_the_reset(document):
    """Quarterly dates; a period's coupon is fixed at its start (the previous payment month).
    The LPR: 3.85 % from month 0, 3.70 % from 12, 3.65 % from 19, 3.55 % from 29, 3.10 % from
    45; the margin +0.20 %, reset to −0.30 % at month 24."""
    path = tranche(document, "senior_a")["coupon_path"]
    assert len(path) == len(document["deal"]["payment_months"]) == 18
    by_hand = {
        1: 0.0385 + 0.002,  # fixed at month 0
        4: 0.0385 + 0.002,  # month 9: the 3.80 % of month 11 is not yet in force
        5: 0.0370 + 0.002,  # month 12
        8: 0.0365 + 0.002,  # month 21: the last period before the reset
        9: 0.0365 - 0.003,  # month 24: the reset margin, 3.35 %
        11: 0.0355 - 0.003,  # month 30
        16: 0.0310 - 0.003,  # month 45
    }
    for period, coupon in by_hand.items():
        assert path[period - 1] == pytest.approx(coupon, abs=1e-12), period
    assert tranche(document, "senior_a")["coupon"] == path[0]


def test_a_fixed_class_has_its_coupon_in_every_period(document):
    assert tranche(document, "senior_b")["coupon_path"] == [0.042] * 18
    assert tranche(document, "subordinated")["coupon_path"] == [0.0] * 18


def test_the_repayment_schedule_accrues_the_coupon_of_its_period(document):
    """Period 5 (25 January → 25 April 2022, 90 days) pays 3.90 %, not the first period's 4.05 %."""
    rows = [r for r in document["repayment_schedule"] if r["tranche"] == "senior_a"]
    assert [r["coupon"] for r in rows] == tranche(document, "senior_a")["coupon_path"]
    row = rows[4]
    assert (row["payment_date"], row["accrual_days"]) == ("2022-04-25", 90)
    expected = row["opening_balance"] * (0.0370 + 0.002) * 90 / 365
    assert row["interest"] == pytest.approx(expected, abs=0.005)


def test_the_reset_put_and_call_are_stated_with_their_dates(document):
    """25 January 2023 fell in the Spring Festival closure: the month-24 date is 30 January."""
    a, b = tranche(document, "senior_a"), tranche(document, "senior_b")
    assert (a["margin"], a["day_count"], b["margin"]) == (0.002, "ACT/365", None)
    [reset] = a["resets"]
    assert reset["month"] == 24 and reset["payment_date"] == "2023-01-30"
    assert reset["margin"] == -0.003 and reset["coupon"] is None
    assert reset["coupon_after"] == pytest.approx(0.0335, abs=1e-12)
    put = a["put"]
    assert (put["month"], put["payment_date"], put["rule"]) == (
        24,
        "2023-01-30",
        "reset_below_market",
    )
    assert put["market_rate"] == 0.034 and put["exercised"] is True  # 3.35 % < 3.40 %
    assert b["call"] == {"month": 30, "payment_date": "2023-07-25"}
    assert a["call"] is None and b["put"] is None and b["resets"] == []


def terms_section(out: Path, lang: str) -> str:
    """The memo's coupon-terms list as a reader reads it (tags dropped, entities undone)."""
    page = (out / f"memo.{lang}.html").read_text("utf-8")
    start = page.index(">", page.index('id="coupon-terms"')) + 1
    return unescape(re.sub(r"<[^>]+>", "", page[start : page.index("</ul>", start)]))


def test_the_english_memo_states_the_reset_the_put_and_the_call(out):
    text = terms_section(out, "en")
    assert "Class A senior notes: coupon at the reference rate + 0.20%" in text
    assert "(4.05% in the first)" in text
    assert (
        "Coupon reset at month 24 (payment date 30 January 2023): the margin becomes -0.30%" in text
    )
    assert "a coupon of 3.35%" in text
    assert "Investor put at month 24 (payment date 30 January 2023)" in text
    assert "below the market rate of 3.40%" in text and "the put is exercised" in text
    assert "Issuer call at month 30 (payment date 25 July 2023)" in text
    assert "Exercised on 0.00% ± 0.00% of the simulated paths" in text  # the funds test fails
    assert "ACT/365 (actual days / 365, 29 February not counted)" in text


def test_the_chinese_memo_states_them_in_chinese(out):
    text = terms_section(out, "zh")
    assert "优先级A档资产支持证券：票面利率为基准利率+0.20%" in text
    assert "第24个月（兑付日2023年1月30日）票面利率调整：利差调整为-0.30%" in text
    assert "票面利率为3.35%" in text
    assert "第24个月（兑付日2023年1月30日）投资者回售" in text
    assert "市场利率3.40%" in text and "投资者行使回售" in text
    assert "第30个月（兑付日2023年7月25日）赎回" in text and "0.00% ± 0.00%的模拟路径" in text
    assert "实际天数/365（闰年2月29日不计息）" in text
    # No generated English: not one Latin word of three letters or more.
    assert re.findall(r"[A-Za-z][A-Za-z_\-]{2,}", text) == []


def test_the_repayment_tables_show_each_periods_coupon(out):
    english = (out / "memo.en.html").read_text("utf-8")
    table = english[english.index('id="repayment-schedule"') :]
    table = table[: table.index("</table>")]
    assert '<td>26 April 2021</td><td class="num">101</td><td class="num">4.05%</td>' in table
    assert '<td>25 April 2022</td><td class="num">90</td><td class="num">3.90%</td>' in table


def test_a_deal_without_options_has_no_coupon_terms_list(write_scenario):
    path = write_scenario(tape_scenario(), tape_rows(GOOD_ROW))
    out = path.parent / "out"
    assert main(["run", str(path), "--paths", "200", "--out", str(out), "--quiet"]) == 0
    assert 'id="coupon-terms"' not in (out / "memo.html").read_text("utf-8")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_memo_verifies_from_its_results(out, lang, capsys):
    """verify reruns the embedded scenario and renders the memo again from the rerun's results:
    the new figures and lines are reproduced."""
    capsys.readouterr()
    assert main(["verify", str(out / f"memo.{lang}.html")]) == 0
    report = capsys.readouterr().out
    assert "verified:" in report
