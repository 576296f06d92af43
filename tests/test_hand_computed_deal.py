"""A two-loan deal whose every payment date is worked out by hand from the waterfall's rules.

The rules (securitize/waterfall/ledger.py): collections accumulate in the account and are
paid on each payment date (months 3, 6, 9, 12, 15) in this order —
1. fees: the trustee fee (50 bp a year, accruing monthly on the previous month's closing
   performing pool balance; CNY 2,000,000 before month 1), then the guarantee fee (net rate a
   year, accruing monthly on the senior balance after the last payment date);
2. interest, senior first: investor arrears, then the guarantor's advances, then the current
   period's (balance × coupon × 3/12); a shortfall on a guaranteed tranche is advanced by the
   guarantor (in full while it stands, × its recovery rate once it has defaulted);
3. principal, senior first, down to the performing pool balance (all notes in month 15);
4. the residual to the subordinated holder.
At month 15 the guarantor also pays the senior's unpaid principal.

Pool: two bullet loans of CNY 1,000,000 at 6% for 12 months, recovery 40% three months after
default. Each loan pays 1,000,000 × 6% / 12 = 5,000 interest a month while it performs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from securitize.collections import Collections
from securitize.structure import Structure
from securitize.waterfall.ledger import Ledger
from tests.waterfall_support import HAND_DEAL, HAND_TAPE, TRUSTEE_FEE, build_deal, run_one_path

CENT = 0.005
PAYMENT_MONTHS = [3, 6, 9, 12, 15]
COLUMNS = [m - 1 for m in PAYMENT_MONTHS]

# The scenario file: HAND_DEAL (tests/waterfall_support.py) with the trustee fee.
SCENARIO = HAND_DEAL + TRUSTEE_FEE

GUARANTEE = """
[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 120
policy_discount_bp = 20
annual_pd = 0.01
asset_correlation = 0.3
recovery_rate = 0.4
"""


def scenario(guaranteed: bool) -> str:
    """The deal, with the senior guaranteed or not."""
    return SCENARIO + (GUARANTEE if guaranteed else "")


def run(
    tmp_path: Path,
    guaranteed: bool,
    defaults: Sequence[tuple[int, int]],
    guarantor_default_month: int | None = None,
) -> tuple[Structure, Collections, Ledger]:
    """The deal on one path with defaults as (0-based loan, month)."""
    return run_one_path(
        tmp_path,
        scenario(guaranteed),
        defaults,
        tape=HAND_TAPE,
        guarantor_default_month=guarantor_default_month,
    )


def on_dates(values: np.ndarray) -> np.ndarray:
    """The ledger keeps one column per payment date; this deal has one path."""
    assert values.shape[1] == len(COLUMNS)
    return values[0]


def assert_cents(got: np.ndarray, expected: list[float]) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=CENT)


# ---------------------------------------------------------------------------------------------
# Deal 1: no enhancer; loan 2 defaults in month 6 (interest for months 1-5 only), recovery
# 0.4 × 1,000,000 = 400,000 in month 9; loan 1 pays interest every month and 1,000,000 in month 12.
#
# Collections by quarter:
#   Q1 (m1-3):   3 × 10,000                         =    30,000
#   Q2 (m4-6):   10,000 + 10,000 + 5,000            =    25,000
#   Q3 (m7-9):   3 × 5,000 + 400,000                =   415,000
#   Q4 (m10-12): 3 × 5,000 + 1,000,000              = 1,015,000
#   Q5 (m13-15): nothing                            =         0
# Performing balance (closing): 2,000,000 in months 1-5, 1,000,000 in months 6-11, 0 from 12.
# Trustee fee a month: 0.005/12 × 2,000,000 = 833.33 (months 1-6, opening on months 0-5),
#   0.005/12 × 1,000,000 = 416.67 (months 7-12), 0 after:  Q1 2,500, Q2 2,500, Q3 1,250,
#   Q4 1,250, Q5 0.
# Senior interest = balance × 4% × 3/12 = balance × 1%.
#
# Q1: 30,000 - 2,500 fee = 27,500; interest 1,800,000 × 1% = 18,000 → 9,500;
#     principal target 2,000,000 - 2,000,000 = 0; residual 9,500.
# Q2: 25,000 - 2,500 = 22,500; interest 18,000 → 4,500; target 2,000,000 - 1,000,000
#     = 1,000,000, senior gets the 4,500 left → senior 1,795,500; residual 0.
# Q3: 415,000 - 1,250 = 413,750; interest 1,795,500 × 1% = 17,955 → 395,795; target
#     1,995,500 - 1,000,000 = 995,500, senior gets 395,795 → senior 1,399,705; residual 0.
# Q4: 1,015,000 - 1,250 = 1,013,750; interest 1,399,705 × 1% = 13,997.05 → 999,752.95;
#     target all 1,599,705, senior gets 999,752.95 → senior 399,952.05; residual 0.
# Q5: nothing; interest 399,952.05 × 1% = 3,999.5205 unpaid (arrears); legal final: senior
#     399,952.05 and subordinated 200,000 unpaid.
# Check: 7,500 fees + 67,952.05 interest + 1,400,047.95 principal + 9,500 residual = 1,485,000.
# ---------------------------------------------------------------------------------------------

PLAIN_AVAILABLE = [30_000.0, 25_000.0, 415_000.0, 1_015_000.0, 0.0]
PLAIN_FEE = [2_500.0, 2_500.0, 1_250.0, 1_250.0, 0.0]
PLAIN_SENIOR_INTEREST = [18_000.0, 18_000.0, 17_955.0, 13_997.05, 0.0]
PLAIN_SENIOR_PRINCIPAL = [0.0, 4_500.0, 395_795.0, 999_752.95, 0.0]
PLAIN_RESIDUAL = [9_500.0, 0.0, 0.0, 0.0, 0.0]


@pytest.fixture
def plain(tmp_path: Path):
    return run(tmp_path, guaranteed=False, defaults=[(1, 6)])


def test_scenario_resolves_to_the_deal_described(plain) -> None:
    structure, _, _ = plain
    assert [t.balance for t in structure.tranches] == [1_800_000.0, 200_000.0]
    assert structure.payment_months.tolist() == PAYMENT_MONTHS
    assert structure.horizon == 15
    assert structure.pool_balance == 2_000_000.0


def test_available_funds_are_the_quarters_collections(plain) -> None:
    _, _, ledger = plain
    assert_cents(on_dates(ledger.available), PLAIN_AVAILABLE)


def test_trustee_fee_accrues_on_the_previous_months_performing_balance(plain) -> None:
    _, _, ledger = plain
    assert_cents(on_dates(ledger.fees_paid["trustee"]), PLAIN_FEE)


def test_senior_interest_is_paid_on_the_balance_after_the_last_payment_date(plain) -> None:
    _, _, ledger = plain
    senior = ledger.tranches[0]
    assert_cents(on_dates(senior.interest_paid), PLAIN_SENIOR_INTEREST)
    assert_cents(senior.investor_arrears, [3_999.5205])


def test_senior_principal_follows_the_performing_balance_as_far_as_cash_allows(plain) -> None:
    _, _, ledger = plain
    assert_cents(on_dates(ledger.tranches[0].principal_paid), PLAIN_SENIOR_PRINCIPAL)


def test_subordinated_receives_no_principal_while_senior_is_outstanding(plain) -> None:
    _, _, ledger = plain
    assert_cents(on_dates(ledger.tranches[1].principal_paid), [0.0] * 5)
    assert_cents(on_dates(ledger.tranches[1].interest_paid), [0.0] * 5)


def test_residual_is_what_remains_after_principal(plain) -> None:
    _, _, ledger = plain
    assert_cents(on_dates(ledger.residual), PLAIN_RESIDUAL)


def test_final_unpaid_balances_carry_the_loss_beyond_the_subordination(plain) -> None:
    _, _, ledger = plain
    assert_cents(ledger.tranches[0].unpaid_principal, [399_952.05])
    assert_cents(ledger.tranches[1].unpaid_principal, [200_000.0])


def test_collections_record_the_default_and_the_recovery(plain) -> None:
    _, collections, _ = plain
    assert_cents(collections.defaulted[0, [5]], [1_000_000.0])
    assert_cents(collections.recoveries[0], [0.0] * 8 + [400_000.0] + [0.0] * 6)
    assert_cents(collections.loss, [600_000.0])


# ---------------------------------------------------------------------------------------------
# Deal 2: the senior fully guaranteed (fee 120 bp less 20 bp policy discount = 100 bp a year on
# the senior balance: 1,800,000 × 0.01/12 = 1,500 a month). Both loans default: loan 2 in
# month 2 (recovery 400,000 in month 5), loan 1 in month 5 (recovery 400,000 in month 8).
#
# Collections: m1 10,000; m2-m4 5,000 each; m5 400,000; m8 400,000; nothing else.
#   Q1 20,000; Q2 405,000; Q3 400,000; Q4 0; Q5 0.
# Performing (closing): 2,000,000 in month 1, 1,000,000 in months 2-4, 0 from month 5.
# Trustee fee: m1 833.333 + m2 833.333 + m3 416.667 = 2,083.333 (Q1);
#   m4 416.667 + m5 416.667 + m6 0 = 833.333 (Q2); 0 after.
#
# Q1: 20,000 - 2,083.333 - 4,500 = 13,416.667 to senior interest of 18,000: shortfall
#     4,583.333, advanced by the guarantor. Principal target 2,000,000 - 1,000,000, no cash.
# Q2: 405,000 - 833.333 - 4,500 = 399,666.667; guarantor reimbursed 4,583.333 → 395,083.333;
#     current interest 18,000 → 377,083.333 → senior principal; senior 1,422,916.667.
# Q3: guarantee fee 1,422,916.667 × 0.01 × 3/12 = 3,557.292; interest 1,422,916.667 × 1%
#     = 14,229.167; principal 400,000 - 3,557.292 - 14,229.167 = 382,213.542;
#     senior 1,040,703.125.
# Q4: no cash; guarantee fee 2,601.758 unpaid; interest 10,407.031 advanced.
# Q5: no cash; interest 10,407.031 advanced; the guarantor pays the unpaid 1,040,703.125.
# ---------------------------------------------------------------------------------------------

SENIOR = 1_800_000.0
Q1_AFTER_FEES = 20_000.0 - (2 * 2_000_000.0 + 1_000_000.0) * 0.005 / 12 - 3 * 1_500.0
Q1_SHORTFALL = SENIOR * 0.01 - Q1_AFTER_FEES
Q2_AFTER_FEES = 405_000.0 - (2 * 1_000_000.0) * 0.005 / 12 - 3 * 1_500.0
Q2_PRINCIPAL = Q2_AFTER_FEES - Q1_SHORTFALL - SENIOR * 0.01
SENIOR_AFTER_Q2 = SENIOR - Q2_PRINCIPAL
Q3_GUARANTEE_FEE = SENIOR_AFTER_Q2 * 0.01 * 3 / 12
Q3_INTEREST = SENIOR_AFTER_Q2 * 0.01
Q3_PRINCIPAL = 400_000.0 - Q3_GUARANTEE_FEE - Q3_INTEREST
SENIOR_AFTER_Q3 = SENIOR_AFTER_Q2 - Q3_PRINCIPAL
LATE_INTEREST = SENIOR_AFTER_Q3 * 0.01


@pytest.fixture
def guaranteed(tmp_path: Path):
    """The guarantor never defaults: its default month lies after the legal final month."""
    return run(tmp_path, guaranteed=True, defaults=[(1, 2), (0, 5)], guarantor_default_month=16)


@pytest.fixture
def guarantor_in_default(tmp_path: Path):
    """The guarantor defaults in month 3, the first claim date: it pays 40% of each claim."""
    return run(tmp_path, guaranteed=True, defaults=[(1, 2), (0, 5)], guarantor_default_month=3)


# Guarantor in default from month 3: its fee accrues for months 1-2 only (2 × 1,500 = 3,000),
# nothing afterwards, and every claim is paid at its 40% recovery rate.
# Q1: 20,000 - 2,083.333 - 3,000 = 14,916.667 to interest of 18,000: shortfall 3,083.333;
#     the guarantor pays 40% (1,233.333), investors are owed 60% (1,850).
# Q2: 405,000 - 833.333 = 404,166.667; investors' arrears 1,850, then the guarantor's 1,233.333,
#     then 18,000 current; principal 383,083.333 → senior 1,416,916.667.
# Q3: no guarantee fee; interest 14,169.167; principal 385,830.833 → senior 1,031,085.833.
# Q4, Q5: no cash; interest 10,310.858 claimed each time, 40% paid by the guarantor.
# Final: the guarantor pays 40% of the unpaid 1,031,085.833.
D_Q1_AFTER_FEES = 20_000.0 - (2 * 2_000_000.0 + 1_000_000.0) * 0.005 / 12 - 2 * 1_500.0
D_Q1_SHORTFALL = SENIOR * 0.01 - D_Q1_AFTER_FEES
D_Q2_PRINCIPAL = 405_000.0 - (2 * 1_000_000.0) * 0.005 / 12 - D_Q1_SHORTFALL - SENIOR * 0.01
D_SENIOR_AFTER_Q2 = SENIOR - D_Q2_PRINCIPAL
D_Q3_INTEREST = D_SENIOR_AFTER_Q2 * 0.01
D_Q3_PRINCIPAL = 400_000.0 - D_Q3_INTEREST
D_SENIOR_AFTER_Q3 = D_SENIOR_AFTER_Q2 - D_Q3_PRINCIPAL
D_LATE_INTEREST = D_SENIOR_AFTER_Q3 * 0.01


def test_guaranteed_deal_available_funds_and_fees(guaranteed) -> None:
    _, _, ledger = guaranteed
    assert_cents(on_dates(ledger.available), [20_000.0, 405_000.0, 400_000.0, 0.0, 0.0])
    assert_cents(on_dates(ledger.fees_paid["trustee"]), [2_083.333333, 833.333333, 0, 0, 0])
    assert_cents(
        on_dates(ledger.fees_paid["guarantor"]), [4_500.0, 4_500.0, Q3_GUARANTEE_FEE, 0, 0]
    )


def test_guarantor_advances_every_senior_interest_shortfall_while_standing(guaranteed) -> None:
    _, _, ledger = guaranteed
    senior = ledger.tranches[0]
    assert_cents(on_dates(senior.interest_paid), [Q1_AFTER_FEES, SENIOR * 0.01, Q3_INTEREST, 0, 0])
    assert_cents(on_dates(senior.guarantor_interest), [Q1_SHORTFALL, 0, 0, *[LATE_INTEREST] * 2])
    assert_cents(senior.investor_arrears, [0.0])


def test_guarantor_is_reimbursed_before_current_interest(guaranteed) -> None:
    _, _, ledger = guaranteed
    senior = ledger.tranches[0]
    assert_cents(on_dates(senior.guarantor_reimbursed), [0.0, Q1_SHORTFALL, 0.0, 0.0, 0.0])
    assert_cents(senior.guarantor_arrears, [2 * LATE_INTEREST])


def test_guaranteed_senior_principal_and_guarantor_final_payment(guaranteed) -> None:
    _, _, ledger = guaranteed
    senior = ledger.tranches[0]
    assert_cents(on_dates(senior.principal_paid), [0.0, Q2_PRINCIPAL, Q3_PRINCIPAL, 0.0, 0.0])
    assert_cents(on_dates(senior.guarantor_principal), [0.0, 0.0, 0.0, 0.0, 1_040_703.125])
    assert_cents(senior.unpaid_principal, [1_040_703.125])
    assert_cents(ledger.tranches[1].unpaid_principal, [200_000.0])
    assert_cents(on_dates(ledger.residual), [0.0] * 5)


def test_defaulted_guarantor_earns_no_fee_after_its_default(guarantor_in_default) -> None:
    _, _, ledger = guarantor_in_default
    assert_cents(on_dates(ledger.fees_paid["guarantor"]), [3_000.0, 0, 0, 0, 0])
    assert_cents(ledger.unpaid_fees["guarantor"], [0.0])


def test_defaulted_guarantor_pays_its_recovery_rate_on_interest_claims(
    guarantor_in_default,
) -> None:
    _, _, ledger = guarantor_in_default
    senior = ledger.tranches[0]
    # Q2: investors' arrears first, then the guarantor's, then the current 18,000.
    advanced = [0.4 * D_Q1_SHORTFALL, 0.0, 0.0, 0.4 * D_LATE_INTEREST, 0.4 * D_LATE_INTEREST]
    assert_cents(on_dates(senior.guarantor_interest), advanced)
    paid = [D_Q1_AFTER_FEES, 0.6 * D_Q1_SHORTFALL + SENIOR * 0.01, D_Q3_INTEREST, 0.0, 0.0]
    assert_cents(on_dates(senior.interest_paid), paid)
    assert_cents(on_dates(senior.guarantor_reimbursed), [0.0, 0.4 * D_Q1_SHORTFALL, 0, 0, 0])
    assert_cents(senior.investor_arrears, [2 * 0.6 * D_LATE_INTEREST])
    assert_cents(senior.guarantor_arrears, [2 * 0.4 * D_LATE_INTEREST])


def test_defaulted_guarantor_pays_its_recovery_rate_on_the_final_principal(
    guarantor_in_default,
) -> None:
    _, _, ledger = guarantor_in_default
    senior = ledger.tranches[0]
    assert_cents(on_dates(senior.principal_paid), [0.0, D_Q2_PRINCIPAL, D_Q3_PRINCIPAL, 0, 0])
    assert_cents(on_dates(senior.guarantor_principal), [0, 0, 0, 0, 0.4 * D_SENIOR_AFTER_Q3])
    assert_cents(senior.unpaid_principal, [D_SENIOR_AFTER_Q3])


def test_fees_left_unpaid_at_the_legal_final_month_are_recorded(guaranteed) -> None:
    _, _, ledger = guaranteed
    # Q4 and Q5 guarantee fees on the senior's 1,040,703.125: 0.01 × 3/12 each, no cash to pay.
    assert_cents(ledger.unpaid_fees["guarantor"], [2 * SENIOR_AFTER_Q3 * 0.01 * 3 / 12])
    assert_cents(ledger.unpaid_fees["trustee"], [0.0])


def test_recoveries_after_the_legal_final_month_count_as_loss(tmp_path: Path) -> None:
    from securitize.period_cash import collect

    _, pool, _ = build_deal(tmp_path, scenario(guaranteed=False), HAND_TAPE)
    # Loan 2 defaults in month 12: its 400,000 recovery would land in month 15. With the
    # collections cut at month 14 it never reaches the deal: the whole 1,000,000 is lost.
    kept = collect(
        pool.schedule, pool.recovery_rate, 3, 15, 1, np.array([0]), np.array([1]), np.array([12])
    )
    cut = collect(
        pool.schedule, pool.recovery_rate, 3, 14, 1, np.array([0]), np.array([1]), np.array([12])
    )
    assert_cents(kept.loss, [600_000.0])
    assert_cents(cut.loss, [1_000_000.0])
    assert_cents([cut.recoveries.sum()], [0.0])
