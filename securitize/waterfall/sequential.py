"""Priority of payments, first version: fees, interest, principal sequentially, residual.

Collections accumulate in the collection account and are paid out on each payment date:

1. senior fees in the order listed, then guarantee fees (unpaid amounts carry forward; a
   guarantor earns no fee from the month of its own default on);
2. interest on each tranche from most senior down: first unpaid interest owed to investors, then
   interest the guarantor advanced (its reimbursement, 代偿追偿), then the current period's;
3. principal, sequentially from most senior down, up to the amount that brings the notes back to
   the performing pool balance (all notes at the legal final month);
4. the residual to the subordinated holder.

A full guarantee pays the covered tranche's current interest shortfall on each payment date and
its unpaid principal at the legal final month. An enhancer that has defaulted pays only its
recovery rate on each claim. Interest is 30/360 on the balance after the previous payment date.
Every step is a few numpy operations on arrays over paths; the loop runs over months.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from securitize.collections import Collections
from securitize.structure import Structure


@dataclass
class TrancheLedger:
    """What one tranche received, per path and month (CNY), and what it was owed at the end."""

    interest_paid: np.ndarray
    principal_paid: np.ndarray
    guarantor_reimbursed: np.ndarray
    guarantor_interest: np.ndarray
    guarantor_principal: np.ndarray
    unpaid_principal: np.ndarray = field(init=False)
    investor_arrears: np.ndarray = field(init=False)
    guarantor_arrears: np.ndarray = field(init=False)


@dataclass
class Ledger:
    """The waterfall's record for a chunk of paths."""

    available: np.ndarray
    fees_paid: dict[str, np.ndarray]
    tranches: list[TrancheLedger]
    residual: np.ndarray
    payment_months: np.ndarray
    unpaid_fees: dict[str, np.ndarray]


def _take(available: np.ndarray, due: np.ndarray) -> np.ndarray:
    """Pay as much of ``due`` as ``available`` allows; reduces ``available`` in place."""
    paid = np.minimum(available, due)
    available -= paid
    return paid


def run_waterfall(
    structure: Structure, collections: Collections, enhancer_default_month: np.ndarray
) -> Ledger:
    """Apply the priority of payments to every path of a chunk."""
    paths, months = collections.cash.shape
    if months != structure.horizon:
        raise ValueError("collections and structure disagree on the legal final month")
    cash = collections.cash
    performing = collections.performing_balance
    pay_month = np.zeros(months + 1, dtype=bool)
    pay_month[structure.payment_months] = True
    n_tranches = len(structure.tranches)

    def zeros() -> np.ndarray:
        return np.zeros((paths, months))

    ledgers = [
        TrancheLedger(zeros(), zeros(), zeros(), zeros(), zeros()) for _ in range(n_tranches)
    ]
    fee_names = [f.name for f in structure.fees] + [g.name for g in structure.guarantees]
    fees_paid = {name: zeros() for name in fee_names}
    residual, available_record = zeros(), zeros()

    balance = [np.full(paths, t.balance) for t in structure.tranches]
    investor_arrears = [np.zeros(paths) for _ in range(n_tranches)]
    guarantor_arrears = [np.zeros(paths) for _ in range(n_tranches)]
    fee_due = {name: np.zeros(paths) for name in fee_names}
    guarantee_of = {g.tranche: (k, g) for k, g in enumerate(structure.guarantees)}
    account = np.zeros(paths)
    opening_pool = np.full(paths, structure.pool_balance)
    months_accrued = 0

    for m in range(1, months + 1):
        col = m - 1
        account += cash[:, col]
        for fee in structure.fees:
            fee_due[fee.name] += fee.annual_rate / 12.0 * opening_pool
        for k, guarantee in enumerate(structure.guarantees):
            # A guarantor in default no longer provides cover, so it earns no further fee.
            standing = enhancer_default_month[:, k] > m
            accrued = guarantee.net_fee_rate / 12.0 * balance[guarantee.tranche]
            fee_due[guarantee.name] += np.where(standing, accrued, 0.0)
        opening_pool = performing[:, col]
        months_accrued += 1
        if not pay_month[m]:
            continue
        available = account
        account = np.zeros(paths)
        available_record[:, col] = available
        final = m == months

        for name in fee_names:
            paid = _take(available, fee_due[name])
            fees_paid[name][:, col] = paid
            fee_due[name] -= paid

        for j, tranche in enumerate(structure.tranches):
            ledger = ledgers[j]
            current = balance[j] * tranche.coupon * months_accrued / 12.0
            to_investor_arrears = _take(available, investor_arrears[j])
            to_guarantor = _take(available, guarantor_arrears[j])
            to_current = _take(available, current)
            investor_arrears[j] -= to_investor_arrears
            guarantor_arrears[j] -= to_guarantor
            ledger.interest_paid[:, col] = to_investor_arrears + to_current
            ledger.guarantor_reimbursed[:, col] = to_guarantor
            shortfall = current - to_current
            if j in guarantee_of:
                k, guarantee = guarantee_of[j]
                advanced = _claim_paid(shortfall, enhancer_default_month[:, k], m, guarantee)
                ledger.guarantor_interest[:, col] = advanced
                guarantor_arrears[j] += advanced
                investor_arrears[j] += shortfall - advanced
            else:
                investor_arrears[j] += shortfall

        notes = sum(balance)
        reduction = notes if final else np.maximum(notes - performing[:, col], 0.0)
        for j in range(n_tranches):
            paid = _take(available, np.minimum(balance[j], reduction))
            reduction = reduction - paid
            balance[j] = balance[j] - paid
            ledgers[j].principal_paid[:, col] = paid

        if final:
            for j, (k, guarantee) in guarantee_of.items():
                paid = _claim_paid(balance[j], enhancer_default_month[:, k], m, guarantee)
                ledgers[j].guarantor_principal[:, col] = paid
        residual[:, col] = available
        months_accrued = 0

    for j, ledger in enumerate(ledgers):
        ledger.unpaid_principal = balance[j]
        ledger.investor_arrears = investor_arrears[j]
        ledger.guarantor_arrears = guarantor_arrears[j]
    return Ledger(available_record, fees_paid, ledgers, residual, structure.payment_months, fee_due)


def _claim_paid(claim: np.ndarray, default_month: np.ndarray, month: int, guarantee) -> np.ndarray:
    """A claim in full while the guarantor stands; its recovery rate once it has defaulted."""
    standing = default_month > month
    return np.where(standing, claim, claim * guarantee.recovery_rate)
