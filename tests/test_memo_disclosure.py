"""Disclosure tables derived from results: concentration flags on a hand-made tape, pool
distributions, the weighted shadow rating, SEC-ERBA risk weights, risk retention, the optional IP
tape columns and the checklist's links."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from securitize import run_scenario
from securitize.errors import TapeError
from securitize.memo import render_html
from securitize.memo.capital import tranche_risk_weight, weighted_rating
from securitize.memo.disclosure import (
    distributions,
    ip_collateral,
    is_retained,
    largest_loans,
    risk_retention,
)
from securitize.results import Results
from securitize.tape import validate_tape

INTERBANK = Path(__file__).resolve().parents[1] / "scenarios" / "wenzhou_interbank_note.toml"
M = 1_000_000.0


@pytest.fixture(scope="module")
def results() -> Results:
    return run_scenario(INTERBANK, paths=2000, progress=False).results


def _loan(loan_id: str, enterprise: str, balance: float, group: str = "") -> dict:
    return {
        "loan_id": loan_id,
        "enterprise": enterprise,
        "related_group": group,
        "industry": "Smart equipment",
        "region": "Lucheng",
        "balance": balance,
        "coupon": 0.05,
        "tenor_months": 36,
    }


@pytest.fixture
def hand_made(results: Results) -> Results:
    """CNY 100m: Alpha 16% alone; Beta 12% and Gamma 10% related (22%); Delta two loans of 8%
    (16% as one debtor); Epsilon exactly 15%; 31 loans of 1% each."""
    rows = [
        _loan("A", "Alpha", 16 * M),
        _loan("B", "Beta", 12 * M, "G"),
        _loan("C", "Gamma", 10 * M, "G"),
        _loan("D1", "Delta", 8 * M),
        _loan("D2", "Delta", 8 * M),
        _loan("E", "Epsilon", 15 * M),
        *(_loan(f"S{k:02d}", f"Small {k}", 1 * M) for k in range(31)),
    ]
    loans = pd.DataFrame(rows)
    loans["share"] = loans["balance"] / loans["balance"].sum()
    return dataclasses.replace(results, loans=loans)


def test_concentration_flags_follow_the_15_and_20_percent_rules(hand_made: Results) -> None:
    rows = {r["loan_id"]: r for r in largest_loans(hand_made)}
    assert len(rows) == 20
    flagged_single = {k for k, r in rows.items() if r["single"]}
    flagged_related = {k for k, r in rows.items() if r["related"]}
    assert flagged_single == {"A", "D1", "D2"}  # Delta's two loans count as one debtor
    assert flagged_related == {"B", "C"}  # 12% + 10% through related group G
    assert rows["E"]["debtor_share"] == pytest.approx(0.15)  # exactly 15%: not above it
    assert rows["B"]["group_share"] == pytest.approx(0.22)
    assert rows["D1"]["debtor_share"] == pytest.approx(0.16)


def test_the_largest_loans_come_first(hand_made: Results) -> None:
    balances = [r["balance"] for r in largest_loans(hand_made)]
    assert balances == sorted(balances, reverse=True)
    assert balances[0] == 16 * M


def test_the_pilot_related_group_is_below_the_flag(results: Results) -> None:
    # WZ02 (18m) and WZ05 (15m) share group G1: 33m of 190m = 17.4%, under 20%.
    rows = {r["loan_id"]: r for r in largest_loans(results)}
    assert rows["WZ02"]["group_share"] == pytest.approx(33 / 190)
    assert rows["WZ05"]["group_share"] == pytest.approx(33 / 190)
    assert not any(r["single"] or r["related"] for r in rows.values())


def test_distributions_add_up_to_the_pool(results: Results) -> None:
    tables = distributions(results)
    assert set(tables) >= {"balance", "term", "rate", "industry", "region", "band"}
    for rows in tables.values():
        assert sum(r.loans for r in rows) == results.pool["loans"]
        assert sum(r.balance for r in rows) == pytest.approx(results.pool["balance"])
    by_balance = {(r.lower, r.upper): r.loans for r in tables["balance"]}
    # Loans of 5m-10m (upper bound included): WZ11, WZ12, WZ13, WZ14 and WZ15.
    assert by_balance[(5 * M, 10 * M)] == 5


def test_weighted_shadow_rating_averages_notches_by_balance() -> None:
    ratings = pd.Series(["AA-", "A", "BBB+"])
    assert weighted_rating(ratings, pd.Series([1.0, 1.0, 0.0])) == "A+"  # notches 3 and 5
    assert weighted_rating(ratings, pd.Series([0.0, 1.0, 3.0])) == "A-"  # 0.25·5 + 0.75·7
    assert weighted_rating(pd.Series(["", ""]), pd.Series([1.0, 1.0])) is None


def test_sec_erba_risk_weights_interpolate_adjust_and_floor() -> None:
    # Senior AAA: 15% at 1 year, 20% at 5; 3 years is half-way.
    assert tranche_risk_weight("AAA", senior=True, maturity_years=3, thickness=0.9) == 0.175
    assert tranche_risk_weight("AAAsf", senior=True, maturity_years=9, thickness=0.9) == 0.20
    # Non-senior A at 1 year: 80%, times (1 - thickness 0.08).
    assert tranche_risk_weight("A", senior=False, maturity_years=1, thickness=0.08) == (
        pytest.approx(0.8 * 0.92)
    )
    # Non-senior AAA thick tranche: 15% x 0.5 = 7.5%, floored at 15%.
    assert tranche_risk_weight("AAA", senior=False, maturity_years=1, thickness=0.6) == 0.15
    assert tranche_risk_weight(None, senior=False, maturity_years=1, thickness=0.08) == 12.5


def test_risk_retention_is_the_originators_tranches(results: Results) -> None:
    retained = risk_retention(results)
    assert [r["name"] for r in retained["tranches"]] == ["subordinated"]
    assert retained["share"] == pytest.approx(0.08)
    assert is_retained("原始权益人自持", "")
    assert not is_retained("Investors (Shenzhen Stock Exchange)", "Wenzhou programme")


def test_ip_collateral_lists_registration_protection_and_loan_to_value(results: Results) -> None:
    first = ip_collateral(results)[0]
    assert first["loan_id"] == "WZ01"
    assert first["loan_to_value"] == pytest.approx(20 / 41)
    assert first["ip_registration"] == "ILLUSTRATIVE-PLEDGE-2020-001"
    assert first["ip_expiry"] == "2035-06-30"


def _tape(**extra: str) -> pd.DataFrame:
    row = {
        "loan_id": "X1",
        "enterprise": "E",
        "industry": "I",
        "region": "R",
        "balance": "1000000",
        "coupon": "0.05",
        "tenor_months": "36",
        "amortisation": "bullet",
        "score": "70",
        "ip_appraised_value": "2000000",
        **extra,
    }
    return pd.DataFrame([row], dtype=str)


def test_ip_expiry_must_be_a_real_date() -> None:
    with pytest.raises(
        TapeError, match=r"row 1 \(loan X1\), column 'ip_expiry': value '2031-02-30'"
    ):
        validate_tape(_tape(ip_expiry="2031-02-30"), Path("t.csv"))
    with pytest.raises(TapeError, match="must be a date written YYYY-MM-DD"):
        validate_tape(_tape(ip_expiry="30/06/2035"), Path("t.csv"))
    assert validate_tape(_tape(ip_expiry=""), Path("t.csv")).loans["ip_expiry"].iloc[0] == ""
    assert validate_tape(_tape(ip_expiry="2035-06-30"), Path("t.csv")).loans.shape[0] == 1


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_checklist_links_every_item_to_a_section_of_the_memo(
    results: Results, lang: str
) -> None:
    html = render_html(results, lang=lang)
    annex = html[html.index('<section id="regulator-annex">') :]
    table = annex[: annex.index("</table>")]
    links = re.findall(r'<a href="#([a-z-]+)">', table)
    ids = set(re.findall(r'\bid="([a-z-]+)"', html))
    assert len(links) >= 18
    assert set(links) <= ids
    assert "not disclosed" not in table and "未披露" not in table


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_flagged_loans_are_marked_in_the_memo(hand_made: Results, lang: str) -> None:
    html = render_html(hand_made, lang=lang)
    section = html[html.index('<section id="largest-loans">') :]
    section = section[: section.index("</section>")]
    assert section.count('<tr class="flagged">') == 5
