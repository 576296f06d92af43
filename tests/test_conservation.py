"""Properties every waterfall run must keep, over random small pools, structures and defaults.

Cash is conserved (what is available on a payment date is exactly what is paid out, and every
month's collections are paid out on some payment date), no balance or arrears goes negative, and
principal is paid strictly sequentially, so losses fall on the most junior notes first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from securitize.collections import Collections, collect
from securitize.scenario import FullGuarantee
from securitize.schedules import AMORTISATION_TYPES, pool_schedule
from securitize.structure import FeeTerms, GuaranteeTerms, Structure, TrancheTerms
from securitize.waterfall.sequential import Ledger, run_waterfall

SETTINGS = settings(max_examples=40, deadline=None)
RELATIVE = 1e-6
CENT = 0.01


@dataclass(frozen=True)
class Case:
    structure: Structure
    collections: Collections
    ledger: Ledger
    paths: int


@st.composite
def cases(draw) -> Case:
    loans = draw(st.integers(2, 6))
    balance = np.array(
        draw(st.lists(st.integers(100_000, 5_000_000), min_size=loans, max_size=loans)), float
    )
    coupon = np.array(draw(st.lists(st.floats(0.0, 0.12), min_size=loans, max_size=loans)))
    tenor = np.array(draw(st.lists(st.integers(1, 36), min_size=loans, max_size=loans)))
    kind = np.array(
        draw(st.lists(st.sampled_from(AMORTISATION_TYPES), min_size=loans, max_size=loans))
    )
    recovery = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=loans, max_size=loans)))
    lag = draw(st.integers(0, 12))
    interval = draw(st.integers(1, 6))
    horizon = int(tenor.max()) + draw(st.integers(0, 15))

    n_tranches = draw(st.integers(2, 3))
    weights = np.array(draw(st.lists(st.integers(1, 20), min_size=n_tranches, max_size=n_tranches)))
    shares = weights / weights.sum()
    total = float(balance.sum())
    tranches = tuple(
        TrancheTerms(f"t{j}", float(s * total), draw(st.floats(0.0, 0.10)), "")
        for j, s in enumerate(shares)
    )
    fees = tuple(
        FeeTerms(f"fee{k}", draw(st.floats(0.0, 0.02))) for k in range(draw(st.integers(0, 2)))
    )
    guarantees: tuple[GuaranteeTerms, ...] = ()
    paths = draw(st.integers(1, 4))
    enhancer_months = np.zeros((paths, 0), dtype=int)
    if draw(st.booleans()):
        covered = draw(st.integers(0, n_tranches - 1))
        net_fee = draw(st.floats(0.0, 0.015))
        spec = FullGuarantee(
            name="guarantor",
            type="full_guarantee",
            covers=f"t{covered}",
            fee_bp=net_fee * 10_000,
            policy_discount_bp=0,
            annual_pd=0.01,
            asset_correlation=0.2,
        )
        guarantees = (
            GuaranteeTerms("guarantor", covered, net_fee, 0.01, 0.2, draw(st.floats(0, 1)), spec),
        )
        enhancer_months = np.array(
            draw(st.lists(st.integers(1, horizon + 1), min_size=paths, max_size=paths))
        )[:, None]
    structure = Structure(tranches, fees, guarantees, horizon, interval, total)

    # Sparse default events sorted by path, at most one per loan and path, within the loan's life.
    path, loan, month = [], [], []
    for p in range(paths):
        for i in range(loans):
            if draw(st.integers(0, 2)) == 0:
                path.append(p)
                loan.append(i)
                month.append(draw(st.integers(1, int(tenor[i]))))
    schedule = pool_schedule(balance, coupon, tenor, kind, int(tenor.max()))
    collections = collect(
        schedule,
        recovery,
        lag,
        horizon,
        paths,
        np.array(path, dtype=np.int64),
        np.array(loan, dtype=np.int64),
        np.array(month, dtype=np.int64),
    )
    ledger = run_waterfall(structure, collections, enhancer_months)
    return Case(structure, collections, ledger, paths)


def paid_out(ledger: Ledger) -> np.ndarray:
    """Everything the priority of payments pays from available funds, paths × months."""
    total = sum(ledger.fees_paid.values(), np.zeros_like(ledger.residual))
    for t in ledger.tranches:
        total = total + t.interest_paid + t.guarantor_reimbursed + t.principal_paid
    return total + ledger.residual


def balances_after_each_month(case: Case) -> list[np.ndarray]:
    """Each tranche's balance after each month's payments, rebuilt from principal paid."""
    return [
        terms.balance - np.cumsum(t.principal_paid, axis=1)
        for terms, t in zip(case.structure.tranches, case.ledger.tranches, strict=True)
    ]


@SETTINGS
@given(cases())
def test_available_funds_equal_everything_paid_out_on_each_payment_date(case: Case) -> None:
    available = case.ledger.available
    out = paid_out(case.ledger)
    tolerance = RELATIVE * np.maximum(1.0, np.abs(available))
    assert np.all(np.abs(available - out) <= tolerance)


@SETTINGS
@given(cases())
def test_nothing_is_paid_out_between_payment_dates(case: Case) -> None:
    off = np.ones(case.structure.horizon, dtype=bool)
    off[case.structure.payment_months - 1] = False
    assert np.all(case.ledger.available[:, off] == 0.0)
    assert np.all(paid_out(case.ledger)[:, off] == 0.0)


@SETTINGS
@given(cases())
def test_all_cash_collected_is_available_on_some_payment_date(case: Case) -> None:
    collected = case.collections.cash.sum(axis=1)
    available = case.ledger.available.sum(axis=1)
    assert np.all(np.abs(collected - available) <= RELATIVE * np.maximum(1.0, collected))


@SETTINGS
@given(cases())
def test_no_payment_balance_or_arrears_is_negative(case: Case) -> None:
    ledger = case.ledger
    for name, paid in ledger.fees_paid.items():
        assert np.all(paid >= 0.0), name
    assert np.all(ledger.residual >= -1e-9)
    for t in ledger.tranches:
        for amounts in (
            t.interest_paid,
            t.principal_paid,
            t.guarantor_reimbursed,
            t.guarantor_interest,
            t.guarantor_principal,
        ):
            assert np.all(amounts >= 0.0)
        assert np.all(t.unpaid_principal >= -1e-6)
        assert np.all(t.investor_arrears >= -1e-6)
        assert np.all(t.guarantor_arrears >= -1e-6)
    for balance in balances_after_each_month(case):
        assert np.all(balance >= -1e-6)


@SETTINGS
@given(cases())
def test_unpaid_principal_is_the_original_balance_less_principal_paid(case: Case) -> None:
    for terms, t in zip(case.structure.tranches, case.ledger.tranches, strict=True):
        expected = terms.balance - t.principal_paid.sum(axis=1)
        assert np.all(np.abs(t.unpaid_principal - expected) <= RELATIVE * terms.balance)


@SETTINGS
@given(cases())
def test_junior_receives_principal_only_once_every_senior_is_repaid(case: Case) -> None:
    balances = balances_after_each_month(case)
    for j, junior in enumerate(case.ledger.tranches):
        paid = junior.principal_paid > 1e-9
        for i in range(j):
            assert np.all(balances[i][paid] <= 1e-6), (i, j)


@SETTINGS
@given(cases())
def test_losses_fall_bottom_up_at_the_legal_final_month(case: Case) -> None:
    tranches = case.ledger.tranches
    terms = case.structure.tranches
    for i in range(len(tranches)):
        senior_short = tranches[i].unpaid_principal > CENT
        for j in range(i + 1, len(tranches)):
            # A junior class is never paid any principal while a senior one is still owed some,
            # so a senior shortfall at the end means the junior class lost its whole balance.
            junior_paid = tranches[j].principal_paid.sum(axis=1)
            assert np.all(junior_paid[senior_short] <= 1e-9), (i, j)
            ratio_senior = tranches[i].unpaid_principal / terms[i].balance
            ratio_junior = tranches[j].unpaid_principal / terms[j].balance
            assert np.all(ratio_junior >= ratio_senior - 1e-9), (i, j)


@SETTINGS
@given(cases())
def test_notes_are_paid_down_to_the_performing_balance_when_cash_allows(case: Case) -> None:
    # On a payment date that ends with a residual, principal was not short of cash: the notes
    # stand at the performing pool balance (or below it, if they already did), and at the legal
    # final month they are fully repaid.
    ledger = case.ledger
    balances = balances_after_each_month(case)
    notes = sum(balances)
    performing = case.collections.performing_balance
    tolerance = RELATIVE * case.structure.pool_balance
    for m in case.structure.payment_months:
        col = m - 1
        surplus = ledger.residual[:, col] > 1e-6
        final = m == case.structure.horizon
        target = np.zeros(case.paths) if final else performing[:, col]
        assert np.all(notes[surplus, col] <= target[surplus] + tolerance), m
