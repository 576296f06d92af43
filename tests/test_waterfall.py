"""The waterfall's steps, accounts and triggers, one behaviour per test, worked out by hand.

Each test builds a tiny one-path deal from a scenario file (tests/test_hand_computed_deal.py
style) and checks the ledger on each payment date against figures computed in the comments.
Unless a test says otherwise: an inline pool of two bullet loans of CNY 1,000,000 for 12 months,
quarterly payment dates (months 3, 6, 9, 12), recoveries three months after a default. A loan at
6% pays 1,000,000 × 6% / 12 = 5,000 interest a month, 15,000 a quarter. Note interest is
balance × coupon × 3/12 a quarter (so 1% of the balance at 4%). Comments number loans from 1;
the (loan, month) event arguments take 0-based loan indices.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from securitize.structure import Structure
from securitize.waterfall.ledger import Ledger
from tests.waterfall_support import HAND_DEAL, HAND_TAPE, TRUSTEE_FEE, run_one_path, two_tranches

CENT = 0.005


def deal(
    body: str,
    *,
    final: int = 12,
    count: int = 2,
    balance: float = 1_000_000,
    coupon: float = 0.06,
    recovery: float = 0.0,
    deal_extra: str = "",
) -> str:
    """A scenario over an inline pool of ``count`` identical bullet loans, plus ``body``."""
    return f"""
[deal]
name = "unit"
closing_date = 2024-01-01
payment_interval_months = 3
legal_final_months = {final}
{deal_extra}

[pool.inline]
count = {count}
balance = {balance}
annual_pd = 0.01
recovery_rate = {recovery}
tenor_months = 12
coupon = {coupon}
amortisation = "bullet"

[credit]
recovery_lag_months = 3
{body}
"""


def run(tmp_path: Path, text: str, **events: Any) -> tuple[Structure, Ledger]:
    """One path by ``run_one_path`` (``events``: defaults, prepayments, tape); these tests
    check the structure and the ledger, not the collections."""
    structure, _, ledger = run_one_path(tmp_path, text, **events)
    return structure, ledger


def dates(values: np.ndarray) -> np.ndarray:
    """One path: the values on each payment date."""
    return values[0]


def assert_cents(got, expected) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=0, atol=CENT)


def principal(ledger: Ledger, j: int) -> np.ndarray:
    return dates(ledger.tranches[j].principal_paid)


def interest(ledger: Ledger, j: int) -> np.ndarray:
    return dates(ledger.tranches[j].interest_paid)


ZERO_COUPON_ABC = """
[[tranches]]
name = "A"
balance = 1000000

[[tranches]]
name = "B"
balance = 600000

[[tranches]]
name = "C"
balance = 400000
"""

PRO_RATA_ABC = """
[waterfall]
combined = [
  { pay = "principal", tranches = ["A", "B", "C"], mode = "pro_rata" },
  { pay = "residual", tranche = "C" },
]
"""


# ---------------------------------------------------------------------------------------------
# Pro rata principal
# ---------------------------------------------------------------------------------------------


def test_pro_rata_principal_splits_by_balance(tmp_path: Path) -> None:
    # Zero-coupon notes A 1,200,000, B 600,000, C 200,000. Loan 1 prepays in month 2: Q1 brings
    # 2 × 5,000 + 1,000,000 from it and 15,000 from loan 2 = 1,025,000. Principal due = notes
    # 2,000,000 − performing 1,000,000 = 1,000,000, split 60/30/10 by balance; 25,000 residual.
    # Q4: loan 2's 1,000,000 at the legal final month repays the rest, again 60/30/10.
    tranches = ZERO_COUPON_ABC.replace("1000000", "1200000").replace("400000", "200000")
    text = deal(tranches + PRO_RATA_ABC)
    _, ledger = run(tmp_path, text, prepayments=[(0, 2)])
    assert_cents(principal(ledger, 0), [600_000, 0, 0, 600_000])
    assert_cents(principal(ledger, 1), [300_000, 0, 0, 300_000])
    assert_cents(principal(ledger, 2), [100_000, 0, 0, 100_000])
    assert_cents(dates(ledger.residual), [25_000, 15_000, 15_000, 15_000])


# ---------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------

CDR_DEAL = ZERO_COUPON_ABC + PRO_RATA_ABC

CDR_TRIGGER = """
[[triggers]]
name = "cumulative_defaults"
metric = "cumulative_default_ratio"
above = 0.2
effect = "sequential"
"""


def cdr_run(tmp_path: Path, trigger: str):
    # Four zero-coupon bullet loans of 500,000, no recovery; notes A/B/C 1,000,000/600,000/
    # 400,000 at no coupon. Loan 1 prepays in month 2, loan 2 defaults in month 4, loan 3
    # prepays in month 5, loan 4 pays at month 12 (the legal final month).
    text = deal(CDR_DEAL + trigger, count=4, balance=500_000, coupon=0.0)
    return run(tmp_path, text, defaults=[(1, 4)], prepayments=[(0, 2), (2, 5)])


def test_cumulative_default_trigger_switches_pro_rata_to_sequential_from_its_date(
    tmp_path: Path,
) -> None:
    # Q1: no default yet; 500,000 due (notes 2,000,000 − performing 1,500,000) paid pro rata
    #     250,000 / 150,000 / 100,000 → A 750,000, B 450,000, C 300,000.
    # Q2: the month-4 default is 500,000 / 2,000,000 = 25% > 20%: breached on this date, on this
    #     period's collections, so Q2 already pays sequentially: the 500,000 prepayment all to A.
    # Q3: nothing collected. Q4 (legal final): 500,000 against 1,000,000 notes: A 250,000 then
    #     B 250,000 (still sequential: the trigger stays breached); C nothing.
    _, ledger = cdr_run(tmp_path, CDR_TRIGGER)
    assert dates(ledger.triggers["cumulative_defaults"]).tolist() == [False, True, True, True]
    assert_cents(principal(ledger, 0), [250_000, 500_000, 0, 250_000])
    assert_cents(principal(ledger, 1), [150_000, 0, 0, 250_000])
    assert_cents(principal(ledger, 2), [100_000, 0, 0, 0])
    assert not ledger.accelerated.any()


def test_without_the_trigger_the_same_deal_stays_pro_rata(tmp_path: Path) -> None:
    # Q2: 500,000 split 750/450/300 of 1,500,000; Q4: 500,000 split 500/300/200 of 1,000,000.
    _, ledger = cdr_run(tmp_path, "")
    assert_cents(principal(ledger, 0), [250_000, 250_000, 0, 250_000])
    assert_cents(principal(ledger, 1), [150_000, 150_000, 0, 150_000])
    assert_cents(principal(ledger, 2), [100_000, 100_000, 0, 100_000])


OC_DEAL = (
    ZERO_COUPON_ABC
    + """
[waterfall]
combined = [{ pay = "principal", tranches = ["A", "B", "C"], mode = "pro_rata", amount = "all" }]

[[triggers]]
name = "oc"
metric = "overcollateralisation"
below = 1.0
effect = "sequential"
"""
)


@pytest.mark.parametrize("curable", [True, False])
def test_overcollateralisation_trigger_below(tmp_path: Path, curable: bool) -> None:
    # Twenty bullet loans of 100,000 at 12% (1,000 a month each); loan 1 defaults in month 1
    # with no recovery. Zero-coupon notes A/B/C 1,000,000/600,000/400,000; all cash pays
    # principal (turbo), pro rata unless the OC test — (performing pool + reserves) ÷ notes
    # before the date's payments — is below 1.0.
    # Q1: 19 × 3,000 = 57,000; OC 1,900,000 / 2,000,000 = 0.95 < 1: sequential, A 57,000.
    # Q2: OC 1,900,000 / 1,943,000 = 0.978: sequential, A 57,000 → A 886,000.
    # Q3: OC 1,900,000 / 1,886,000 = 1.007: cured if curable → 57,000 pro rata by balance;
    #     otherwise still sequential → all to A.
    # Q4: the loans have matured (OC 0: breached again); everything is repaid.
    text = deal(OC_DEAL + f"curable = {str(curable).lower()}\n", count=20, balance=100_000)
    text = text.replace("coupon = 0.06", "coupon = 0.12")
    _, ledger = run(tmp_path, text, defaults=[(0, 1)])
    state = dates(ledger.triggers["oc"]).tolist()
    assert state == ([True, True, False, True] if curable else [True, True, True, True])
    q3 = (
        [57_000 * 886 / 1886, 57_000 * 600 / 1886, 57_000 * 400 / 1886]
        if curable
        else [57_000, 0, 0]
    )
    assert_cents(principal(ledger, 0)[:3], [57_000, 57_000, q3[0]])
    assert_cents(principal(ledger, 1)[:3], [0, 0, q3[1]])
    assert_cents(principal(ledger, 2)[:3], [0, 0, q3[2]])
    for t in ledger.tranches:
        assert_cents(t.unpaid_principal, [0.0])


SHORTFALL_TRANCHES = """
[[tranches]]
name = "senior"
balance = 1400000
coupon = 0.04

[[tranches]]
name = "mezzanine"
balance = 400000
coupon = 0.08
{deferrable}

[[tranches]]
name = "subordinated"
balance = 200000

[waterfall]
combined = [
  {{ pay = "interest", tranches = ["senior"] }},
  {{ pay = "interest", tranches = ["mezzanine"] }},
  {{ pay = "principal", tranches = ["senior", "mezzanine", "subordinated"] }},
  {{ pay = "residual", tranche = "subordinated" }},
]
"""

EVENT_OF_DEFAULT = """
[[triggers]]
name = "event_of_default"
metric = "interest_shortfall"
effect = "accelerate"
"""


def shortfall_run(tmp_path: Path, deferrable: bool, trigger: str = EVENT_OF_DEFAULT):
    # Senior 1,400,000 at 4% (14,000 a quarter), mezzanine 400,000 at 8% (8,000 a quarter),
    # subordinated 200,000. Loan 2 defaults in month 1; 50% recovery (500,000) in month 4.
    tranches = SHORTFALL_TRANCHES.format(deferrable="deferrable = true" if deferrable else "")
    text = deal(tranches + trigger, recovery=0.5)
    return run(tmp_path, text, defaults=[(1, 1)])


def test_interest_shortfall_accelerates_from_the_next_date(tmp_path: Path) -> None:
    # Q1: 15,000: senior 14,000, mezzanine 1,000 of 8,000 — a 7,000 shortfall on a tranche that
    #     may not defer: an event of default, accelerating from the next date.
    # Q2 (accelerated): 515,000: senior interest 14,000, then all senior principal it can:
    #     501,000 → senior 899,000; nothing reaches the mezzanine (arrears 15,000).
    # Q3: 15,000: senior interest 8,990, senior principal 6,010 → 892,990; mezzanine arrears
    #     23,000.
    # Q4: 1,015,000: senior interest 8,929.90 and principal 892,990; mezzanine interest 23,000
    #     arrears + 8,000 current = 31,000, then its principal 82,080.10; subordinated nothing.
    _, ledger = shortfall_run(tmp_path, deferrable=False)
    assert dates(ledger.accelerated).tolist() == [False, True, True, True]
    assert dates(ledger.triggers["event_of_default"]).tolist() == [False, True, True, True]
    assert_cents(interest(ledger, 0), [14_000, 14_000, 8_990, 8_929.90])
    assert_cents(principal(ledger, 0), [0, 501_000, 6_010, 892_990])
    assert_cents(interest(ledger, 1), [1_000, 0, 0, 31_000])
    assert_cents(principal(ledger, 1), [0, 0, 0, 82_080.10])
    assert_cents(dates(ledger.tranches[1].shortfall), [7_000, 8_000, 8_000, 0])
    assert_cents(principal(ledger, 2), [0, 0, 0, 0])
    assert_cents(dates(ledger.residual), [0, 0, 0, 0])


def test_without_acceleration_the_same_shortfall_is_paid_next_date(tmp_path: Path) -> None:
    # No trigger: Q2 pays senior 14,000, mezzanine 7,000 arrears + 8,000 current, and the rest
    # (486,000) as principal due (notes 2,000,000 − performing 1,000,000), senior first.
    _, ledger = shortfall_run(tmp_path, deferrable=False, trigger="")
    assert not ledger.accelerated.any()
    assert_cents(interest(ledger, 1)[:2], [1_000, 15_000])
    assert_cents(principal(ledger, 0)[:2], [0, 486_000])


def test_deferrable_tranche_shortfall_does_not_accelerate(tmp_path: Path) -> None:
    # The same Q1 shortfall on a deferrable mezzanine is deferred, not an event of default: Q2
    # runs the normal waterfall and pays it with the current interest.
    _, ledger = shortfall_run(tmp_path, deferrable=True)
    assert not ledger.accelerated.any()
    assert not ledger.triggers["event_of_default"].any()
    assert_cents(dates(ledger.tranches[1].shortfall)[:2], [7_000, 0])
    assert_cents(interest(ledger, 1)[:2], [1_000, 15_000])
    assert_cents(principal(ledger, 0)[:2], [0, 486_000])


def test_after_acceleration_deferred_interest_is_paid_before_junior_tranches(
    tmp_path: Path,
) -> None:
    # Senior 1,000,000 at 4% (10,000 a quarter), mezzanine 500,000 at 8% deferrable (10,000 a
    # quarter, its arrears paid by a deferred_interest step), subordinated 500,000. Loan 2
    # defaults in month 1 (50% of the pool: the cumulative-default trigger accelerates at Q1)
    # and recovers in full in month 4.
    # Q1 (accelerated): 15,000: senior interest 10,000 and principal 5,000; the mezzanine's
    #     10,000 is deferred. Later dates have ample cash: every note is repaid and the
    #     subordinated holder takes a residual of 10,152.02 at month 12 — so the mezzanine's
    #     10,000 arrears, which rank above the junior notes, must have been paid.
    text = deal(
        """
[[tranches]]
name = "senior"
balance = 1000000
coupon = 0.04

[[tranches]]
name = "mezzanine"
balance = 500000
coupon = 0.08
deferrable = true

[[tranches]]
name = "subordinated"
balance = 500000

[[triggers]]
name = "cumulative_defaults"
metric = "cumulative_default_ratio"
above = 0.4
effect = "accelerate"

[waterfall]
combined = [
  { pay = "interest", tranches = ["senior"] },
  { pay = "interest", tranches = ["mezzanine"] },
  { pay = "principal", tranches = ["senior", "mezzanine", "subordinated"] },
  { pay = "deferred_interest", tranches = ["mezzanine"] },
  { pay = "residual", tranche = "subordinated" },
]
""",
        recovery=1.0,
    )
    _, ledger = run(tmp_path, text, defaults=[(1, 1)])
    assert dates(ledger.accelerated).all()
    assert_cents(ledger.tranches[2].unpaid_principal, [0.0])
    assert_cents(ledger.tranches[1].investor_arrears, [0.0])


# ---------------------------------------------------------------------------------------------
# Reserve account
# ---------------------------------------------------------------------------------------------

RESERVE_DEAL = (
    two_tranches()
    + """
[[accounts]]
name = "reserve"
target = { share_of = "senior", share = 0.01, floor = 5000 }

[waterfall]
combined = [
  { draw = "reserve", account = "reserve", cover_fees = false, cover_interest = ["senior"] },
  { pay = "interest", tranches = ["senior"] },
  { pay = "reserve", account = "reserve" },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""
)


def reserve_run(tmp_path: Path, **events):
    # Senior 1,800,000 at 4% (18,000 a quarter), subordinated 200,000; the reserve's target is
    # 1% of the senior balance (18,000 at first), at least 5,000. Legal final month 15, so the
    # last date (Q5) has no collections.
    return run(tmp_path, deal(RESERVE_DEAL, final=15), **events)


def test_reserve_is_funded_to_its_target_from_excess_spread(tmp_path: Path) -> None:
    # Q1: 30,000 − 18,000 interest = 12,000, all deposited (target 18,000).
    # Q2: 12,000 left after interest: 6,000 tops the account up to 18,000, 6,000 residual.
    # Q3: at target: the 12,000 excess spread is residual.
    # Q4: 2,030,000 − 18,000: target still 18,000 (the senior before this date's principal);
    #     notes repaid; 12,000 residual.
    _, ledger = reserve_run(tmp_path)
    assert_cents(dates(ledger.deposits["reserve"])[:4], [12_000, 6_000, 0, 0])
    assert_cents(dates(ledger.accounts["reserve"])[:4], [12_000, 18_000, 18_000, 18_000])
    assert_cents(dates(ledger.residual)[:4], [0, 6_000, 12_000, 12_000])
    assert_cents(dates(ledger.draws["reserve"])[:4], [0, 0, 0, 0])


def test_reserve_is_drawn_to_cover_senior_interest(tmp_path: Path) -> None:
    # Loan 2 defaults in month 4 (no recovery): from Q2 the pool pays 15,000 a quarter.
    # Q1: deposit 12,000. Q2: 15,000 against 18,000 senior interest: draw 3,000 (account
    # 9,000), interest paid in full. Q3: the same (account 6,000). Q4: 1,015,000: interest
    # 18,000, the account topped up by 12,000 to 18,000, 985,000 principal to the senior.
    _, ledger = reserve_run(tmp_path, defaults=[(1, 4)])
    assert_cents(dates(ledger.draws["reserve"])[:4], [0, 3_000, 3_000, 0])
    assert_cents(dates(ledger.accounts["reserve"])[:4], [12_000, 9_000, 6_000, 18_000])
    assert_cents(interest(ledger, 0)[:4], [18_000] * 4)
    assert_cents(dates(ledger.tranches[0].shortfall)[:4], [0] * 4)
    assert_cents(principal(ledger, 0)[:4], [0, 0, 0, 985_000])


def test_reserve_releases_its_excess_over_a_falling_target(tmp_path: Path) -> None:
    # Loan 1 prepays in month 5. Q2: 1,025,000: interest 18,000, deposit 6,000 (account 18,000),
    # 1,000,000 principal → senior 800,000; residual 1,000.
    # Q3: target 1% × 800,000 = 8,000: the 10,000 excess is released into the pot (recorded as
    # a draw) at the reserve step and flows down: 15,000 − 8,000 interest + 10,000 = 17,000
    # residual.
    _, ledger = reserve_run(tmp_path, prepayments=[(0, 5)])
    assert_cents(principal(ledger, 0)[:3], [0, 1_000_000, 0])
    assert_cents(dates(ledger.accounts["reserve"])[:4], [12_000, 18_000, 8_000, 8_000])
    assert_cents(dates(ledger.draws["reserve"])[:3], [0, 0, 10_000])
    assert_cents(dates(ledger.residual)[:3], [0, 1_000, 17_000])


def test_reserve_releases_its_whole_balance_at_the_legal_final_month(tmp_path: Path) -> None:
    # No defaults: the account holds 18,000 after Q4 (see the funding test). Q5, the legal
    # final month, collects nothing; the whole 18,000 is released and, the notes being repaid,
    # goes to the subordinated holder. The account ends empty — its floor (5,000) no longer
    # applies once the deal ends.
    _, ledger = reserve_run(tmp_path)
    assert_cents(dates(ledger.available)[4], 0.0)
    assert_cents(dates(ledger.draws["reserve"])[4], 18_000)
    assert_cents(dates(ledger.residual)[4], 18_000)
    assert_cents(dates(ledger.accounts["reserve"])[4], 0.0)


# ---------------------------------------------------------------------------------------------
# Separate interest and principal waterfalls
# ---------------------------------------------------------------------------------------------

SEPARATE_STEPS = """
[waterfall]
interest = [{ pay = "interest", tranches = ["senior"] }]
principal = [
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""

COMBINED_STEPS = """
[waterfall]
combined = [
  { pay = "interest", tranches = ["senior"] },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""


def test_interest_collections_alone_pay_the_interest_waterfall(tmp_path: Path) -> None:
    # Senior at 4% (18,000). Loan 2 defaults in month 1; 500,000 recovered in month 4.
    # Q1: interest collections 15,000: shortfall 3,000 (arrears).
    # Q2: interest collections 15,000 against 3,000 arrears + 18,000: 15,000 paid, 6,000 still
    #     owed — the 500,000 recovery is principal collections and goes to principal only.
    # Combined, the recovery would have paid all 21,000 of interest and 494,000 principal.
    text = two_tranches(senior_coupon=0.04) + SEPARATE_STEPS
    _, ledger = run(tmp_path, deal(text, recovery=0.5), defaults=[(1, 1)])
    assert_cents(interest(ledger, 0)[:2], [15_000, 15_000])
    assert_cents(dates(ledger.tranches[0].shortfall)[:2], [3_000, 6_000])
    assert_cents(principal(ledger, 0)[:2], [0, 500_000])

    combined = tmp_path / "combined"
    combined.mkdir()
    text = two_tranches(senior_coupon=0.04) + COMBINED_STEPS
    _, ledger = run(combined, deal(text, recovery=0.5), defaults=[(1, 1)])
    assert_cents(interest(ledger, 0)[:2], [15_000, 21_000])
    assert_cents(principal(ledger, 0)[:2], [0, 494_000])


def test_interest_waterfall_leftover_flows_to_the_principal_waterfall(tmp_path: Path) -> None:
    # Senior at 2% (9,000). Loan 2 defaults in month 1. Q1: interest collections 15,000 pay
    # 9,000 of interest; the 6,000 left flows into the principal waterfall and pays senior
    # principal (due: notes 2,000,000 − performing 1,000,000), though no principal was
    # collected. Q2: 15,000 − 1,794,000 × 0.5% = 6,030 leftover + 500,000 recovery.
    text = two_tranches(senior_coupon=0.02) + SEPARATE_STEPS
    _, ledger = run(tmp_path, deal(text, recovery=0.5), defaults=[(1, 1)])
    assert_cents(interest(ledger, 0)[:2], [9_000, 8_970])
    assert_cents(principal(ledger, 0)[:2], [6_000, 506_030])
    assert_cents(dates(ledger.residual)[:2], [0, 0])


# ---------------------------------------------------------------------------------------------
# Deferred interest
# ---------------------------------------------------------------------------------------------

DEFERRED = """
[[tranches]]
name = "senior"
balance = 1400000
coupon = 0.08

[[tranches]]
name = "mezzanine"
balance = 400000
coupon = 0.08
deferrable = true

[[tranches]]
name = "subordinated"
balance = 200000

[waterfall]
combined = [
  { pay = "interest", tranches = ["senior"] },
  { pay = "interest", tranches = ["mezzanine"] },
  { pay = "principal", tranches = ["senior", "mezzanine", "subordinated"] },
  {deferred}
  { pay = "residual", tranche = "subordinated" },
]
"""


def deferred_run(tmp_path: Path, step: str):
    # Loans at 12% (30,000 a quarter each); loan 2 defaults in month 1 and recovers in full
    # (1,000,000) in month 4. Senior 1,400,000 at 8% (28,000), mezzanine 400,000 at 8% (8,000).
    text = deal(DEFERRED.replace("{deferred}", step), coupon=0.12, recovery=1.0)
    return run(tmp_path, text, defaults=[(1, 1)])


def test_deferred_interest_step_alone_pays_a_tranches_arrears(tmp_path: Path) -> None:
    # Q1: 30,000: senior 28,000, mezzanine 2,000 of 8,000 → 6,000 deferred.
    # Q2: 1,030,000: senior 28,000; the mezzanine's interest step pays its current 8,000 only;
    #     principal due 1,000,000 takes the remaining 994,000 (senior → 406,000); nothing is
    #     left for the deferred step.
    # Q3: 30,000: senior 8,120, mezzanine 8,000, principal due (notes 1,006,000 − performing
    #     1,000,000) 6,000 to the senior; the deferred step then pays the 6,000 arrears; the
    #     residual is 1,880.
    _, ledger = deferred_run(tmp_path, '{ pay = "deferred_interest", tranches = ["mezzanine"] },')
    assert_cents(interest(ledger, 1)[:3], [2_000, 8_000, 14_000])
    assert_cents(principal(ledger, 0)[:3], [0, 994_000, 6_000])
    assert_cents(dates(ledger.residual)[:3], [0, 0, 1_880])
    assert_cents(ledger.tranches[1].investor_arrears, [0.0])
    assert not ledger.accelerated.any()


def test_without_a_deferred_step_the_interest_step_pays_arrears_first(tmp_path: Path) -> None:
    # The same deal without the step: Q2's mezzanine interest step pays 6,000 + 8,000.
    _, ledger = deferred_run(tmp_path, "")
    assert_cents(interest(ledger, 1)[:2], [2_000, 14_000])
    assert_cents(principal(ledger, 0)[:2], [0, 988_000])


# ---------------------------------------------------------------------------------------------
# Fees
# ---------------------------------------------------------------------------------------------


def test_fee_bases(tmp_path: Path) -> None:
    # Legal final month 14: dates at months 3, 6, 9, 12 and 14 (a two-month last period).
    # Loan 1 prepays in month 2.
    # pool_balance, 50 bp: accrues monthly on the opening performing balance: Q1 months 1-3 open
    #   at 2,000,000, 2,000,000, 1,000,000 → 5,000,000 × 0.005 / 12 = 2,083.33; then 1,250 a
    #   quarter; nothing in months 13-14 (pool repaid).
    # tranche_balance, 20 bp of the senior after the last date: Q1 1,800,000 × 0.002 / 4 = 900;
    #   after Q1's 1,000,000 principal the senior is 800,000 → 400 a quarter; 0 in Q5.
    # fixed, 12,000 a year: 3,000 a quarter, 2,000 for the two-month Q5 — left unpaid, as Q5
    #   collects nothing.
    text = deal(
        two_tranches()
        + """
[waterfall]
combined = [
  { pay = "fee", name = "trustee", rate_bp = 50 },
  { pay = "fee", name = "agent", basis = "tranche_balance", tranche = "senior", rate_bp = 20 },
  { pay = "fee", name = "admin", basis = "fixed", amount_per_year = 12000 },
  { pay = "interest", tranches = ["senior"] },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
""",
        final=14,
    )
    _, ledger = run(tmp_path, text, prepayments=[(0, 2)])
    assert_cents(dates(ledger.fees_paid["trustee"]), [5_000_000 * 0.005 / 12, *[1_250] * 3, 0])
    assert_cents(dates(ledger.fees_paid["agent"]), [900, 400, 400, 400, 0])
    assert_cents(dates(ledger.fees_paid["admin"]), [3_000, 3_000, 3_000, 3_000, 0])
    assert_cents(ledger.unpaid_fees["admin"], [2_000])
    assert_cents(ledger.unpaid_fees["trustee"], [0])
    assert_cents(principal(ledger, 0)[:1], [1_000_000])


# ---------------------------------------------------------------------------------------------
# Principal to a target
# ---------------------------------------------------------------------------------------------


def test_principal_to_target_pays_a_tranche_down_to_its_target(tmp_path: Path) -> None:
    # Zero-coupon senior 1,800,000 paid down to 1,790,000 from excess cash. Q1: 30,000: 10,000
    # takes the senior to its target; principal due is then 0 (notes 1,990,000 < pool
    # 2,000,000); 20,000 residual. Q2, Q3: at target: 30,000 residual. Q4 (legal final): notes
    # repaid, 40,000 residual.
    text = deal(
        two_tranches(senior_coupon=0.0)
        + """
[waterfall]
combined = [
  { pay = "principal", tranches = ["senior"], amount = "to_target", target = { amount = 1790000 } },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""
    )
    _, ledger = run(tmp_path, text)
    assert_cents(principal(ledger, 0), [10_000, 0, 0, 1_790_000])
    assert_cents(dates(ledger.tranches[0].balance), [1_790_000, 1_790_000, 1_790_000, 0])
    assert_cents(dates(ledger.residual), [20_000, 30_000, 30_000, 40_000])


# ---------------------------------------------------------------------------------------------
# Clean-up call
# ---------------------------------------------------------------------------------------------


def call_run(tmp_path: Path, extra: str = ""):
    # Twenty bullet loans of 100,000 at 6% (500 a month each); call at 10% (200,000). Loans
    # 1-17 prepay in month 2, loans 18-19 in month 5; loan 20 would pay to month 12.
    text = deal(
        two_tranches() + extra,
        count=20,
        balance=100_000,
        deal_extra="clean_up_call = 0.1",
    )
    prepayments = [(i, 2) for i in range(17)] + [(17, 5), (18, 5)]
    return run(tmp_path, text, prepayments=prepayments)


def test_clean_up_call_repays_the_notes_and_stops_collections(tmp_path: Path) -> None:
    # Q1: 17 × (1,000 + 100,000) + 3 × 1,500 = 1,721,500; performing 300,000 (15%): no call.
    #     Interest 18,000; principal due 1,700,000 → senior 100,000; residual 3,500.
    # Q2: 2 × (1,000 + 100,000) + 1,500 = 203,500; performing 100,000 (5% ≤ 10%): called —
    #     the originator buys loan 20 at par, 100,000 more cash; all notes due: interest 1,000,
    #     senior 100,000 and subordinated 200,000; residual 2,500.
    # Q3, Q4: loan 20's collections belong to the originator: nothing available.
    _, ledger = call_run(tmp_path)
    assert dates(ledger.called).tolist() == [False, True, True, True]
    assert_cents(dates(ledger.available), [1_721_500, 303_500, 0, 0])
    assert_cents(interest(ledger, 0), [18_000, 1_000, 0, 0])
    assert_cents(principal(ledger, 0), [1_700_000, 100_000, 0, 0])
    assert_cents(principal(ledger, 1), [0, 200_000, 0, 0])
    assert_cents(dates(ledger.residual), [3_500, 2_500, 0, 0])


def test_nothing_falls_due_after_the_clean_up_call(tmp_path: Path) -> None:
    # Once the originator has bought the pool the trust holds no loans: a fee on the pool
    # balance has nothing to accrue on, and no amount is due on later dates.
    _, ledger = call_run(tmp_path, '\n[[fees]]\nname = "trustee"\nrate_bp = 50\n')
    assert dates(ledger.called).tolist() == [False, True, True, True]
    assert_cents(dates(ledger.due)[2:], [0, 0])
    assert_cents(ledger.unpaid_fees["trustee"], [0.0])


# ---------------------------------------------------------------------------------------------
# Coupons over an index
# ---------------------------------------------------------------------------------------------


def test_index_rate_plus_margin_is_the_coupon(tmp_path: Path) -> None:
    # Index 3%: senior margin 1% → 4% (18,000 a quarter); mezzanine margin −0.5% → 2.5%
    # (150,000 × 2.5% / 4 = 937.50).
    text = deal(
        """
[[tranches]]
name = "senior"
balance = 1800000
margin = 0.01

[[tranches]]
name = "mezzanine"
balance = 150000
margin = -0.005

[[tranches]]
name = "subordinated"
balance = 50000
""",
        deal_extra="index_rate = 0.03",
    )
    structure, ledger = run(tmp_path, text)
    assert [t.coupon for t in structure.tranches] == pytest.approx([0.04, 0.025, 0.0])
    assert_cents(interest(ledger, 0)[:3], [18_000] * 3)
    assert_cents(interest(ledger, 1)[:3], [937.50] * 3)


# ---------------------------------------------------------------------------------------------
# The default priority of payments, and the coverage multiple's amounts due
# ---------------------------------------------------------------------------------------------

EXPLICIT = """
[waterfall]
combined = [
  { pay = "fee", name = "trustee", rate_bp = 50 },
  { pay = "interest", tranches = ["senior"] },
  { pay = "interest", tranches = ["subordinated"] },
  { pay = "principal", tranches = ["senior", "subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""


def ledger_arrays(ledger: Ledger) -> dict[str, np.ndarray]:
    out = {
        "available": ledger.available,
        "due": ledger.due,
        "residual": ledger.residual,
        "carried": ledger.carried,
    }
    out |= {f"fee.{k}": v for k, v in ledger.fees_paid.items()}
    for j, t in enumerate(ledger.tranches):
        for name in ("interest_paid", "principal_paid", "balance", "shortfall", "interest_due"):
            out[f"{j}.{name}"] = getattr(t, name)
    return out


def test_default_program_is_the_plain_priority_of_payments(tmp_path: Path) -> None:
    # The tests/test_hand_computed_deal.py deal (loan 2 defaults in month 6, 400,000 recovered
    # in month 9): fees, interest senior first, principal sequentially down to the performing
    # pool, residual to the subordinated holder — the same ledger as that priority written out.
    default_dir, explicit_dir = tmp_path / "default", tmp_path / "explicit"
    default_dir.mkdir()
    explicit_dir.mkdir()
    structure, plain = run(default_dir, HAND_DEAL + TRUSTEE_FEE, defaults=[(1, 6)], tape=HAND_TAPE)
    _, written = run(explicit_dir, HAND_DEAL + EXPLICIT, defaults=[(1, 6)], tape=HAND_TAPE)
    kinds = [step.kind for step in structure.program.combined]
    assert kinds == ["fee", "interest", "interest", "principal", "residual"]
    assert structure.program.combined[3].tranches == (0, 1)
    assert structure.program.combined[3].mode == "sequential"
    got, expected = ledger_arrays(plain), ledger_arrays(written)
    assert got.keys() == expected.keys()
    for name in got:
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=1e-9, err_msg=name)
    assert_cents(dates(plain.available), [30_000, 25_000, 415_000, 1_015_000, 0])
    assert_cents(principal(plain, 0), [0, 4_500, 395_795, 999_752.95, 0])
    assert_cents(dates(plain.residual), [9_500, 0, 0, 0, 0])


def test_coverage_amounts_due(tmp_path: Path) -> None:
    # Due on a date (the coverage multiple's denominator, 覆盖倍数 of the senior notes) = fees
    # accrued and unpaid + every tranche's interest with arrears + the senior principal the pool
    # is scheduled to repay in the period (capped at the senior balance; all of the senior at the
    # legal final month, after acceleration or a clean-up call). Same deal: the bullet loans are
    # scheduled to repay at month 12.
    # Q1, Q2: 2,500 fee + 18,000 interest. Q3: 1,250 + 17,955.
    # Q4: 1,250 + 13,997.05 + min(senior 1,399,705, scheduled 2,000,000).
    # Q5: no fee; interest 399,952.05 × 1% = 3,999.5205; the whole senior 399,952.05.
    _, ledger = run(tmp_path, HAND_DEAL + TRUSTEE_FEE, defaults=[(1, 6)], tape=HAND_TAPE)
    assert_cents(
        dates(ledger.due),
        [20_500, 20_500, 19_205, 1_250 + 13_997.05 + 1_399_705, 3_999.5205 + 399_952.05],
    )
