"""VAT and surcharges, coupon resets, an investor put, an issuer call and a floating coupon on
an index path, each worked out by hand on a small deal (docs/waterfall.md).

The deal: two performing bullet loans of CNY 1,000,000 at 6 % for 24 months (interest
1,000,000 × 6 % / 12 = 5,000 a loan a month: 60,000 a half-year; the 2,000,000 principal in
month 24), half-yearly dates 6, 12, 18, 24, no defaults. The plain priority of payments:
tax, the trustee fee, interest from the top, principal sequentially, the residual.

- Tax τ per yuan of interest: VAT 3 % on the tax-inclusive interest, 0.03 / 1.03, plus the
  surcharges 7 % + 3 % + 2 % of the VAT: τ = 0.03 / 1.03 × 1.12; 60,000 τ = 1,957.2816 a date.
- Trustee fee 50 bp a year on the 2,000,000 performing pool: 5,000 a half-year.
- a1: 10,000 at 4 % (200 a half-year), issuer call at month 6.
- senior: 990,000 at 5 % (24,750 a half-year), reset to 3 % at month 12; investors put at
  month 12 under ``reset_below_market`` with a market rate of 3.5 % (3 % < 3.5 %: exercised);
  fully guaranteed (no fee).
- mezz: 600,000 at the index + 1 %; the index is 3.85 % from month 0 and 3.45 % from month 12,
  so the coupon is 4.85 % for the periods fixed at months 0 and 6 (14,550 a half-year) and
  4.45 % for those fixed at 12 and 18 (13,350).
- subordinated: 400,000, no coupon, the residual.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from securitize.cli import main
from securitize.scenario import load_scenario
from securitize.waterfall import kernel_lower
from tests.waterfall_support import HAND_DEAL, HAND_TAPE, build_deal, run_one_path

CENT = 0.005
TAU = 0.03 / 1.03 * 1.12
TAX = 60_000.0 * TAU
FEE = 5_000.0

TAPE = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,pd,recovery_rate\n"
    "L1,Alpha Tech,Software,Lucheng,1000000,0.06,24,bullet,80,0,{pd},0.40\n"
    "L2,Beta Tech,New materials,Ruian,1000000,0.06,24,bullet,80,0,{pd},0.40\n"
)

DEAL = """
[deal]
name = "features"
closing_date = 2024-01-01
payment_interval_months = 6
legal_final_months = 24
index_path = [ {{ month = 0, rate = 0.0385 }}, {{ month = 12, rate = 0.0345 }} ]

[pool]
tape = "tape.csv"

[credit]
recovery_lag_months = 3

[tax]

[[tranches]]
name = "a1"
balance = {a1}
coupon = 0.04
call = {{ month = 6 }}

[[tranches]]
name = "senior"
balance = {senior}
coupon = 0.05
reset = {{ month = 12, coupon = 0.03 }}
put = {{ month = 12, rule = "reset_below_market", market_rate = {market} }}

[[tranches]]
name = "mezz"
balance = 600000
margin = 0.01

[[tranches]]
name = "subordinated"
balance = 400000

[[fees]]
name = "trustee"
rate_bp = 50

[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 0
annual_pd = 0.0
asset_correlation = 0.0
"""


def deal(a1: float = 10_000, market: float = 0.035, stress: str = "") -> str:
    return DEAL.format(a1=a1, senior=1_000_000 - a1, market=market) + stress


def run(tmp_path: Path, text: str):
    return run_one_path(tmp_path, text, tape=TAPE.format(pd=0.02))


def assert_cents(got, expected) -> None:
    np.testing.assert_allclose(np.ravel(got), expected, rtol=0, atol=CENT)


@pytest.fixture
def put_exercised(tmp_path: Path):
    return run(tmp_path, deal())


# ---------------------------------------------------------------------------------------------
# Put exercised, call exercised.
# Date 6: 60,000 − tax 1,957.2816 − fee 5,000 − interest 200 + 24,750 + 14,550 = 13,542.7184.
#   The call's test: the funds 60,000 cover tax, fee, all interest and a1's 10,000
#   (56,457.2816): a1 is repaid at par, 10,000; the residual 3,542.7184.
# Date 12: 60,000 − 1,957.2816 − 5,000 − senior 24,750 (5 %, fixed at 6) − mezz 14,550
#   = 13,742.7184 → the put makes the senior's 990,000 due: it gets 13,742.7184, the guarantor
#   pays the 976,257.2816 left, and the trust owes the senior nothing more.
# Date 18: 60,000 − 1,957.2816 − 5,000 − mezz 13,350 (4.45 %) = 39,692.7184 residual.
# Date 24: 2,060,000 − 1,957.2816 − 5,000 − 13,350 = 2,039,692.7184 → mezz 600,000,
#   subordinated 400,000, residual 1,039,692.7184.
# ---------------------------------------------------------------------------------------------


def test_tax_is_the_vat_and_surcharges_on_each_dates_interest(put_exercised) -> None:
    _, _, ledger = put_exercised
    assert_cents(ledger.fees_paid["vat_and_surcharges"], [TAX] * 4)
    assert_cents(ledger.fees_paid["trustee"], [FEE] * 4)
    assert_cents(ledger.unpaid_fees["vat_and_surcharges"], [0.0])


def test_floating_coupon_follows_the_index_path_fixed_at_the_period_start(put_exercised) -> None:
    structure, _, ledger = put_exercised
    assert_cents(structure.tranches[2].coupon_path, [0.0485, 0.0485, 0.0445, 0.0445])
    assert_cents(ledger.tranches[2].interest_paid, [14_550.0, 14_550.0, 13_350.0, 13_350.0])


def test_call_repays_the_tranche_at_par_when_the_funds_allow(put_exercised) -> None:
    _, _, ledger = put_exercised
    assert_cents(ledger.tranches[0].principal_paid, [10_000.0, 0, 0, 0])
    assert_cents(ledger.tranches[0].interest_paid, [200.0, 0, 0, 0])
    assert ledger.redeemed["a1"][0].tolist() == [True, False, False, False]


def test_exercised_put_falls_due_and_its_guarantor_pays_what_the_trust_cannot(
    put_exercised,
) -> None:
    structure, _, ledger = put_exercised
    senior = ledger.tranches[1]
    assert structure.tranches[1].put_exercised
    assert_cents(senior.interest_paid, [24_750.0, 24_750.0, 0, 0])
    assert_cents(senior.principal_paid, [0, 13_742.7184, 0, 0])
    assert_cents(senior.guarantor_principal, [0, 976_257.2816, 0, 0])
    assert_cents(senior.balance, [990_000.0, 0, 0, 0])
    # Stand-alone the trust failed to pay the put; wrapped, investors got par.
    assert_cents(senior.unpaid_principal, [976_257.2816])
    wrapped = senior.unpaid_principal - senior.guarantor_principal.sum(axis=1)
    assert_cents(wrapped, [0.0])


def test_excess_spread_after_tax_goes_to_the_residual(put_exercised) -> None:
    _, _, ledger = put_exercised
    assert_cents(ledger.residual, [3_542.7184, 0.0, 39_692.7184, 1_039_692.7184])
    assert_cents(ledger.tranches[2].principal_paid, [0, 0, 0, 600_000.0])
    assert_cents(ledger.tranches[3].principal_paid, [0, 0, 0, 400_000.0])


def test_coverage_due_counts_the_tax_and_the_redeemed_senior_notes(put_exercised) -> None:
    _, _, ledger = put_exercised
    # Date 6: tax + fee + interest 39,500 + a1's whole 10,000 (called); date 12: a1 is repaid.
    assert_cents(ledger.due[0, :2], [TAX + FEE + 39_500.0 + 10_000.0, TAX + FEE + 39_300.0])


def test_tax_reduces_the_residual_by_exactly_the_tax(tmp_path: Path) -> None:
    without = deal().replace("\n[tax]\n", "\n")
    _, _, taxed = run(tmp_path, deal())
    _, _, untaxed = run(tmp_path, without)
    assert "vat_and_surcharges" not in untaxed.fees_paid
    assert_cents(untaxed.residual[0, [0, 2]] - taxed.residual[0, [0, 2]], [TAX, TAX])


# ---------------------------------------------------------------------------------------------
# Put not exercised (market rate 2.5 % ≤ the reset 3 %): the senior stays and pays 3 % from
# the period fixed at month 12 (990,000 × 3 % / 2 = 14,850).
# Date 12: 13,742.7184 residual.  Date 18: 60,000 − 6,957.2816 − 14,850 − 13,350 = 24,842.7184.
# Date 24: 2,060,000 − 6,957.2816 − 28,200 − 990,000 − 600,000 − 400,000 = 34,842.7184.
# ---------------------------------------------------------------------------------------------


def test_put_not_exercised_keeps_the_tranche_at_the_reset_coupon(tmp_path: Path) -> None:
    structure, _, ledger = run(tmp_path, deal(market=0.025))
    senior = ledger.tranches[1]
    assert not structure.tranches[1].put_exercised
    assert_cents(structure.tranches[1].coupon_path, [0.05, 0.05, 0.03, 0.03])
    assert_cents(senior.interest_paid, [24_750.0, 24_750.0, 14_850.0, 14_850.0])
    assert_cents(senior.principal_paid, [0, 0, 0, 990_000.0])
    assert_cents(senior.guarantor_principal, [0, 0, 0, 0])
    assert_cents(ledger.residual, [3_542.7184, 13_742.7184, 24_842.7184, 34_842.7184])


def test_put_rules_always_and_never(tmp_path: Path) -> None:
    rule = 'rule = "reset_below_market", market_rate = 0.035'
    for text, exercised in (('rule = "always"', True), ('rule = "never"', False)):
        _, _, structure = build_deal(tmp_path, deal().replace(rule, text), TAPE.format(pd=0.02))
        assert structure.tranches[1].put_exercised is exercised


# Call lapses: a1 20,000 (400 a half-year), senior 980,000 (24,500). Date 6 needs
# 1,957.2816 + 5,000 + 400 + 24,500 + 14,550 + 20,000 = 66,407.2816 > 60,000: no redemption,
# a1 is paid nothing (no principal is due), the residual is 60,000 − 46,407.2816.


def test_call_lapses_when_the_funds_fall_short(tmp_path: Path) -> None:
    _, _, ledger = run(tmp_path, deal(a1=20_000))
    assert ledger.redeemed["a1"][0].tolist() == [False] * 4
    assert_cents(ledger.tranches[0].principal_paid[0, 0], [0.0])
    assert_cents(ledger.residual[0, 0], [60_000.0 - TAX - FEE - 400.0 - 24_500.0 - 14_550.0])


# ---------------------------------------------------------------------------------------------
# Tax arrears: a custom waterfall that pays senior interest before the tax, on the quarterly
# two-loan deal of tests/waterfall_support.py (12-month bullets, senior 1,800,000 at 4 %:
# 18,000 a quarter). Loan 2 defaults in month 1: loan 1 pays 15,000 a quarter, and the 400,000
# recovery lands in month 4. Q1: senior interest takes all 15,000; the tax 15,000 τ = 489.3204
# is carried. Q2: 415,000 pays senior interest 21,000 (with arrears), then the tax with its
# arrears, 978.6408. Q3, Q4: 489.3204 each. Q5: no interest, no tax.
# ---------------------------------------------------------------------------------------------

TAX_AFTER_INTEREST = """
[waterfall]
combined = [
  { pay = "interest", tranches = ["senior"] },
  { pay = "tax" },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""


def test_unpaid_tax_is_carried_forward_as_arrears(tmp_path: Path) -> None:
    _, _, ledger = run_one_path(tmp_path, HAND_DEAL + TAX_AFTER_INTEREST, [(1, 1)], tape=HAND_TAPE)
    one = 15_000.0 * TAU
    assert_cents(ledger.fees_paid["vat_and_surcharges"], [0.0, 2 * one, one, one, 0.0])
    assert_cents(ledger.unpaid_fees["vat_and_surcharges"], [0.0])


def test_tax_step_without_a_tax_section_uses_the_packaged_rates(tmp_path: Path) -> None:
    _, _, structure = build_deal(tmp_path, HAND_DEAL + TAX_AFTER_INTEREST, HAND_TAPE)
    (tax,) = [f for f in structure.fees if f.name == "vat_and_surcharges"]
    assert tax.basis == "interest_collections"
    assert tax.annual_rate == pytest.approx(TAU, abs=1e-15)


def test_tax_rates_can_be_overridden(tmp_path: Path) -> None:
    text = deal().replace(
        "[tax]\n", "[tax]\nvat_rate = 0.06\nsurcharge_rates = { education = 0 }\n"
    )
    _, _, structure = build_deal(tmp_path, text, TAPE.format(pd=0.02))
    tax = structure.fees[0]
    assert tax.annual_rate == pytest.approx(0.06 / 1.06 * 1.09, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# Index shift stress: +100 bp moves the mezz coupon to 5.85 % then 5.45 %. On the expected
# timing with PD 0 (every loan performs) the run's coverage multiple on date 6 is
# 60,000 ÷ (tax + fee + interest 200 + 24,750 + 17,550 + a1's 10,000) instead of ÷ 56,457.2816.
# ---------------------------------------------------------------------------------------------


def test_index_shift_moves_floating_coupons_only(tmp_path: Path) -> None:
    from securitize.structure import build_structure

    loaded, pool, base = build_deal(tmp_path, deal(), TAPE.format(pd=0.02))
    shifted = build_structure(loaded, pool, index_shift=0.01)
    assert_cents(shifted.tranches[2].coupon_path, [0.0585, 0.0585, 0.0545, 0.0545])
    assert shifted.tranches[1].coupon_path == base.tranches[1].coupon_path


def test_index_shift_stress_runs_on_the_shifted_coupons(tmp_path: Path) -> None:
    from securitize.credit.build import build_credit_model
    from securitize.run import stress_runs

    stress = '\n[[stresses]]\nname = "rates_up"\nindex_shift_bp = 100\n'
    loaded, pool, structure = build_deal(tmp_path, deal(stress=stress), TAPE.format(pd=0.0))
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    base, shifted = stress_runs(loaded, pool, structure, model)
    assert shifted["deterministic_change"]
    need = TAX + FEE + 200.0 + 24_750.0 + 10_000.0
    assert base["coverage_multiple"][0] == pytest.approx(60_000.0 / (need + 14_550.0), abs=1e-9)
    assert shifted["coverage_multiple"][0] == pytest.approx(60_000.0 / (need + 17_550.0), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# The compiled kernel implements every feature here (tests/test_kernel_by_hand.py repeats the
# hand computations on it).
# ---------------------------------------------------------------------------------------------

PLAIN = """
[[tranches]]
name = "senior"
balance = 1000000
coupon = 0.04
{extra}
[[tranches]]
name = "subordinated"
balance = 1000000
"""

BASE = """
[deal]
name = "plain"
closing_date = 2024-01-01
payment_interval_months = 6
legal_final_months = 24
{deal}
[pool]
tape = "tape.csv"
{tax}"""


@pytest.mark.parametrize(
    ("deal_extra", "tax", "tranche_extra"),
    [
        ("", "", ""),
        ("", "[tax]\n", ""),
        ("", "", "reset = { month = 12, coupon = 0.03 }\n"),
        ("", "", 'put = { month = 12, rule = "never" }\n'),
        ("", "", 'put = { month = 12, rule = "always" }\n'),
        ("", "", "call = { month = 12 }\n"),
        ("index_path = [ { month = 0, rate = 0.03 } ]\n", "", ""),
    ],
)
def test_the_kernel_supports_every_feature(
    tmp_path: Path, deal_extra: str, tax: str, tranche_extra: str
) -> None:
    text = BASE.format(deal=deal_extra, tax=tax) + PLAIN.format(extra=tranche_extra)
    _, _, structure = build_deal(tmp_path, text, TAPE.format(pd=0.02))
    assert kernel_lower.supports(structure)


def test_a_floating_tranche_on_an_index_path_runs_on_the_kernel(tmp_path: Path) -> None:
    text = BASE.format(deal="index_path = [ { month = 0, rate = 0.03 } ]\n", tax="")
    text += PLAIN.format(extra="").replace("coupon = 0.04", "margin = 0.01")
    _, _, structure = build_deal(tmp_path, text, TAPE.format(pd=0.02))
    assert kernel_lower.supports(structure)
    assert kernel_lower.accrual(structure)[0].tolist() == pytest.approx([0.04 / 2] * 4, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# Bad input: one line naming the field, the value and the rule (exit status 2).
# ---------------------------------------------------------------------------------------------

GOOD_PUT = 'put = { month = 12, rule = "reset_below_market", market_rate = 0.035 }'


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "reset = { month = 12, coupon = 0.03 }",
            'reset = { month = "12", coupon = 0.03 }',
            ["tranches[1].reset[0].month", "'12'", "valid integer"],
        ),
        (
            "reset = { month = 12, coupon = 0.03 }",
            "reset = { month = 12, coupon = 0.03, margin = 0.01 }",
            ["tranches[1].reset[0]", "not both"],
        ),
        (
            "reset = { month = 12, coupon = 0.03 }",
            "reset = { month = 12, margin = 0.01 }",
            ["tranches[1]", "'margin' 0.01", "fixed-coupon tranche resets its 'coupon'"],
        ),
        (
            "reset = { month = 12, coupon = 0.03 }",
            "reset = [ { month = 12, coupon = 0.03 }, { month = 12, coupon = 0.02 } ]",
            ["tranches[1].reset", "month 12 follows one at month 12", "increase strictly"],
        ),
        (
            "reset = { month = 12, coupon = 0.03 }",
            "reset = { month = 12, coupon = 1.5 }",
            ["tranches[1].reset[0].coupon", "1.5", "less than 1"],
        ),
        (GOOD_PUT, "put = { month = 12 }", ["tranches[1].put.rule", "required field is missing"]),
        (
            GOOD_PUT,
            'put = { month = 12, rule = "sometimes" }',
            ["tranches[1].put.rule", "'sometimes'", "'always', 'never' or 'reset_below_market'"],
        ),
        (
            GOOD_PUT,
            'put = { month = 12, rule = "reset_below_market" }',
            ["tranches[1].put", "'market_rate' is required with rule 'reset_below_market'"],
        ),
        (
            GOOD_PUT,
            'put = { month = 12, rule = "always", market_rate = 0.03 }',
            ["tranches[1].put", "rule 'always'", "only with it"],
        ),
        (
            GOOD_PUT,
            'put = { month = 18, rule = "reset_below_market", market_rate = 0.035 }',
            ["tranches[1]", "put at month 18", "needs a coupon reset at month 18"],
        ),
        (
            "call = { month = 6 }",
            "call = { month = 9 }",
            ["tranches[0].call.month", "value 9", "must be a payment month", "6, 12, 18"],
        ),
        (
            "call = { month = 6 }",
            "call = { month = 24 }",
            ["tranches[0].call.month", "value 24", "before the legal final month 24"],
        ),
        (
            "call = { month = 6 }",
            "call = { month = 6.0 }",
            ["tranches[0].call.month", "6.0", "valid integer"],
        ),
        (
            "margin = 0.01\n",
            "margin = 0.01\nreset = { month = 30, margin = 0.02 }\n",
            ["tranches[2].reset[0].month", "value 30", "must be a payment month"],
        ),
        (
            "margin = 0.01\n",
            "margin = 0.01\nreset = { month = 12, coupon = 0.02 }\n",
            ["tranches[2]", "'coupon' 0.02", "priced over the index resets its 'margin'"],
        ),
        (
            "{ month = 12, rate = 0.0345 }",
            "{ month = 0, rate = 0.0345 }",
            ["deal.index_path", "month 0 follows month 0", "increase strictly"],
        ),
        (
            "{ month = 0, rate = 0.0385 }, ",
            "",
            ["deal.index_path", "first point is at month 12", "must start at month 0"],
        ),
        (
            "rate = 0.0385",
            "rate = 1.5",
            ["deal.index_path[0].rate", "1.5", "less than 1"],
        ),
        (
            "legal_final_months = 24\n",
            "legal_final_months = 24\nindex_rate = 0.03\n",
            ["field 'deal'", "'index_rate' (constant) or 'index_path', not both"],
        ),
        ("[tax]\n", '[tax]\nvat_rate = "3%"\n', ["tax.vat_rate", "'3%'", "valid number"]),
        (
            "[tax]\n",
            "[tax]\nsurcharge_rates = { city = 0.07 }\n",
            ["tax.surcharge_rates.city", "unknown field"],
        ),
        (
            "[tax]\n",
            "[tax]\nsurcharge_rates = { education = 1.5 }\n",
            ["tax.surcharge_rates.education", "1.5", "less than or equal to 1"],
        ),
        (
            'name = "trustee"',
            'name = "vat_and_surcharges"',
            ["'vat_and_surcharges' is reserved for the tax"],
        ),
    ],
)
def test_bad_feature_input_is_one_line_naming_field_value_and_rule(
    tmp_path: Path, capsys, old: str, new: str, expected: list[str]
) -> None:
    text = deal()
    assert old in text
    (tmp_path / "tape.csv").write_text(TAPE.format(pd=0.02), encoding="utf-8")
    path = tmp_path / "deal.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert "deal.toml" in err
    for fragment in expected:
        assert fragment in err, err
    assert not (tmp_path / "out").exists()


def test_index_shift_must_be_a_number_of_basis_points(tmp_path: Path, capsys) -> None:
    stress = '\n[[stresses]]\nname = "up"\nindex_shift_bp = "100"\n'
    (tmp_path / "tape.csv").write_text(TAPE.format(pd=0.02), encoding="utf-8")
    path = tmp_path / "deal.toml"
    path.write_text(deal(stress=stress), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "stresses[0].index_shift_bp" in err and "'100'" in err and "valid number" in err


def test_tax_section_with_a_waterfall_that_never_pays_it_is_refused(tmp_path: Path) -> None:
    from securitize.errors import ScenarioError

    text = HAND_DEAL + "\n[tax]\n" + TAX_AFTER_INTEREST.replace('  { pay = "tax" },\n', "")
    path = tmp_path / "deal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\[tax\] is given but no step of \[waterfall\]"):
        load_scenario(path)
