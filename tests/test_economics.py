"""Enterprise all-in financing cost and the government's cost, against a two-enterprise case
computed by hand (the CNY 100 000 premium-subsidy cap binds for the larger one)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from securitize.economics import EconomicsSpec, economics_totals, enterprise_economics
from securitize.errors import ScenarioError
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.structure import build_structure
from tests.conftest import ROOT, TAPE_HEADER

TAPE = (
    TAPE_HEADER
    + "\nL1,Alpha,Electrical equipment,Lucheng,20000000,0.05,36,bullet,80,40000000"
    + "\nL2,Beta,New materials,Ruian,5000000,0.06,36,bullet,70,10000000\n"
)

BASE = """
[deal]
name = "econ"
closing_date = 2024-01-01

[pool]
tape = "tape.csv"

[[tranches]]
name = "senior"
share = 0.9
coupon = 0.04

[[tranches]]
name = "subordinated"
share = 0.1

[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 90
policy_discount_bp = 20
annual_pd = 0.001
asset_correlation = 0.3
"""

ECONOMICS = """
[economics]
interest_subsidy_share = 0.1
insurance_premium_rate = 0.015
insurance_subsidy_share = 0.5
insurance_subsidy_cap = 100000
public_enhancers = ["guarantor"]

[[economics.intermediary_fees]]
name = "rating"
amount = 300000
basis = "one_off"
subsidy_share = 1.0

[[economics.intermediary_fees]]
name = "law_firm"
amount = 50000
basis = "per_year"
subsidy_share = 0.5
"""


def _run(write_scenario, text: str, claims: dict[str, float]):
    loaded = load_scenario(write_scenario(text, TAPE))
    pool = build_pool(loaded)
    return enterprise_economics(loaded, pool, build_structure(loaded, pool), claims)


def test_two_enterprises_by_hand(write_scenario) -> None:
    table = _run(write_scenario, BASE + ECONOMICS, {"guarantor": 200_000.0}).set_index("enterprise")
    # Guarantee: 90 − 20 bp on the 22.5m senior = 157 500 a year, shared 80 % / 20 % by balance;
    # the 20 bp discount (45 000) is forgone by a public guarantor.
    # Intermediaries: rating 300 000 over 3 years + law firm 50 000 = 150 000 a year, of which
    # 100 000 + 25 000 subsidised; shared 80 % / 20 %.
    alpha = table.loc["Alpha"]
    assert alpha["interest_cny"] == pytest.approx(1_000_000)
    assert alpha["interest_subsidy_cny"] == pytest.approx(100_000)
    assert alpha["guarantee_fee_cny"] == pytest.approx(126_000)
    assert alpha["insurance_premium_cny"] == pytest.approx(300_000)
    assert alpha["insurance_subsidy_cny"] == pytest.approx(100_000)  # 150 000 capped
    assert alpha["intermediary_fees_cny"] == pytest.approx(120_000)
    assert alpha["intermediary_subsidy_cny"] == pytest.approx(100_000)
    alpha_all_in = 1_000_000 - 100_000 + 126_000 + 300_000 - 100_000 + 120_000 - 100_000
    assert alpha["all_in_cny"] == pytest.approx(alpha_all_in)
    assert alpha["all_in_rate"] == pytest.approx(alpha_all_in / 20_000_000)
    assert alpha["public_support_cny"] == pytest.approx(100_000 + 100_000 + 100_000 + 36_000)

    beta = table.loc["Beta"]
    assert beta["insurance_subsidy_cny"] == pytest.approx(37_500)  # under the cap
    beta_all_in = 300_000 - 30_000 + 31_500 + 75_000 - 37_500 + 30_000 - 25_000
    assert beta["all_in_cny"] == pytest.approx(beta_all_in)
    assert beta["all_in_rate"] == pytest.approx(0.0688)
    assert beta["coupon"] == pytest.approx(0.06)
    assert beta["interest_subsidy_rate"] == pytest.approx(0.006)
    assert beta["guarantee_fee_rate"] == pytest.approx(0.0063)
    assert beta["insurance_rate"] == pytest.approx(37_500 / 5_000_000)
    assert beta["intermediary_rate"] == pytest.approx(5_000 / 5_000_000)
    rates = ["coupon", "guarantee_fee_rate", "insurance_rate", "intermediary_rate"]
    assert beta["all_in_rate"] == pytest.approx(
        sum(beta[r] for r in rates) - beta["interest_subsidy_rate"]
    )

    totals = economics_totals(table.reset_index())
    support = 336_000 + 30_000 + 37_500 + 25_000 + 9_000
    assert totals["public_support_cny"] == pytest.approx(support)
    assert totals["deal_years"] == pytest.approx(3.0)
    assert totals["government_expected_cost_cny"] == pytest.approx(3 * support + 200_000)
    assert totals["all_in_rate"] == pytest.approx((alpha_all_in + beta_all_in) / 25_000_000)
    assert totals["enterprises"] == 2


def test_a_private_guarantor_s_discount_is_not_a_public_cost(write_scenario) -> None:
    text = BASE + ECONOMICS.replace('public_enhancers = ["guarantor"]', "")
    table = _run(write_scenario, text, {}).set_index("enterprise")
    assert table.loc["Alpha", "guarantee_discount_cny"] == pytest.approx(36_000)
    assert table.loc["Alpha", "public_support_cny"] == pytest.approx(300_000)


def test_without_an_economics_section_the_data_file_defaults_apply(write_scenario) -> None:
    defaults = tomllib.loads((ROOT / "securitize" / "data" / "economics.toml").read_text("utf-8"))
    table = _run(write_scenario, BASE, {}).set_index("enterprise")
    share = defaults["interest_subsidy_share"]
    assert table.loc["Alpha", "interest_subsidy_cny"] == pytest.approx(share * 1_000_000)
    premium = defaults["insurance_premium_rate"] * 20_000_000
    assert table.loc["Alpha", "insurance_premium_cny"] == pytest.approx(premium)
    assert EconomicsSpec().insurance_subsidy_cap == defaults["insurance_subsidy_cap"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("insurance_subsidy_share = 0.5", "insurance_subsidy_share = 1.5"),
            "field 'economics.insurance_subsidy_share': value 1.5: must be a share from 0 to 1",
        ),
        (
            ("insurance_subsidy_cap = 100000", "insurance_subsidy_cap = -1"),
            "field 'economics.insurance_subsidy_cap': value -1: must be at least 0 (CNY); a cap",
        ),
        (
            ("insurance_premium_rate = 0.015", "insurance_premium_rate = 1.2"),
            "field 'economics.insurance_premium_rate': value 1.2: must be an annual rate",
        ),
        (
            ("\nsubsidy_share = 0.5", "\nsubsidy_share = -0.5"),
            "field 'economics.intermediary_fees[1].subsidy_share': value -0.5: must be a share",
        ),
        (
            ("amount = 50000", "amount = -50000"),
            "field 'economics.intermediary_fees[1].amount': value -50000: must be at least 0",
        ),
        (
            ('basis = "per_year"', 'basis = "monthly"'),
            "field 'economics.intermediary_fees[1].basis'",
        ),
        (
            ('name = "law_firm"', 'name = "rating"'),
            "intermediary_fees: 'rating' is listed twice",
        ),
        (
            ("interest_subsidy_share = 0.1", "interest_subsidy_sahre = 0.1"),
            "field 'economics.interest_subsidy_sahre': unknown field",
        ),
    ],
)
def test_bad_economics_fields_name_the_field_and_rule(write_scenario, change, message) -> None:
    old, new = change
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write_scenario(BASE + ECONOMICS.replace(old, new, 1)))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "claims", "message"),
    [
        (
            ECONOMICS.replace('["guarantor"]', '["guarantor", "cbic"]'),
            {"guarantor": 1.0, "cbic": 1.0},
            "field 'economics.public_enhancers[1]': value 'cbic': is not an enhancer",
        ),
        (ECONOMICS, {"guarantor": 1.0, "other": 2.0}, "expected claims given for 'other'"),
        (ECONOMICS, {}, "no expected claims given for public enhancer(s) guarantor"),
        (ECONOMICS, {"guarantor": -5.0}, "expected claims of 'guarantor': value -5.0: must be"),
    ],
)
def test_public_enhancers_and_claims_must_match(write_scenario, text, claims, message) -> None:
    with pytest.raises(ScenarioError) as caught:
        _run(write_scenario, BASE + text, claims)
    assert message in str(caught.value)
    assert str(Path("deal.toml")) in str(caught.value)
