"""The waterfall's ledger: what every party received on every path and payment date.

There is one engine, the compiled kernel (``kernel_loop.py``). Design evaluation has it reduce
each path as it goes; a scenario's single-path statements, its deterministic stresses and the
no-default repayment schedule need the ledger itself, so ``run_waterfall`` runs the kernel in
ledger mode, which writes each date's rows (``kernel_lower.ledger_series``) as it pays them.

Conventions. Interest is each tranche's coupon for the period × its year fraction (its day
count on the deal's dates, or 30/360 on the month grid) on its balance after the previous
payment date. Fees on the pool accrue monthly on the opening performing balance; VAT and
surcharges on the period's interest collections. Unpaid fees and interest carry forward
(interest arrears earn no interest). Several enhancers of one tranche are called in turn, each
on what the ones before it left unpaid: the originator's shortfall undertaking, then the
guarantees (a partial one takes its share of each shortfall, up to its cap), then a CRMW, which
pays only at the legal final month (unpaid principal and interest arrears). An enhancer in
default, or whose claims have used up its capital, pays its recovery rate. Advances are
reimbursed from the waterfall's interest steps, to the enhancers in the order they were called.
Pool enhancers pay their share of each defaulted loan's loss into the available funds in the
period of the default. Principal due brings the notes back to the performing pool balance (all
notes at the legal final month, after acceleration, a clean-up call, or a put or call date).
Reserve accounts release their excess over target, and their whole balance at the legal final
month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from securitize.collections import Collections, PeriodCollections
from securitize.structure import Structure
from securitize.waterfall.kernel_lower import (
    TRANCHE_SERIES,
    TRANCHE_TOTALS,
    ledger_ends,
    ledger_series,
)

__all__ = ["TRANCHE_SERIES", "TRANCHE_TOTALS", "Ledger", "TrancheLedger", "run_waterfall"]


@dataclass
class TrancheLedger:
    """What one tranche received per path and payment period, and what it was owed at the end."""

    interest_paid: np.ndarray
    principal_paid: np.ndarray
    guarantor_reimbursed: np.ndarray
    guarantor_interest: np.ndarray
    guarantor_principal: np.ndarray
    interest_due: np.ndarray
    balance: np.ndarray
    shortfall: np.ndarray
    unpaid_principal: np.ndarray = field(init=False)
    investor_arrears: np.ndarray = field(init=False)
    guarantor_arrears: np.ndarray = field(init=False)


@dataclass
class Ledger:
    """The waterfall's record for a set of paths, one column per payment period."""

    available: np.ndarray
    due: np.ndarray
    residual: np.ndarray
    accelerated: np.ndarray
    called: np.ndarray
    carried: np.ndarray
    cover_cash: np.ndarray
    tranches: list[TrancheLedger]
    fees_paid: dict[str, np.ndarray] = field(default_factory=dict)
    accounts: dict[str, np.ndarray] = field(default_factory=dict)
    deposits: dict[str, np.ndarray] = field(default_factory=dict)
    draws: dict[str, np.ndarray] = field(default_factory=dict)
    triggers: dict[str, np.ndarray] = field(default_factory=dict)
    claims: dict[str, np.ndarray] = field(default_factory=dict)
    reimbursed: dict[str, np.ndarray] = field(default_factory=dict)
    cover_base: dict[str, np.ndarray] = field(default_factory=dict)
    # Per tranche with a put or a call: true on the date (and paths) it is put or redeemed.
    redeemed: dict[str, np.ndarray] = field(default_factory=dict)
    unpaid_fees: dict[str, np.ndarray] = field(default_factory=dict)


# The ledger's true/false series and tables (the kernel writes them as 1 and 0).
_FLAGS = {"accelerated", "called", "triggers", "redeemed"}


def run_waterfall(
    structure: Structure,
    collections: Collections | PeriodCollections,
    enhancer_default_month: np.ndarray,
    pool_claims: dict[int, np.ndarray] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> Ledger:
    """Apply the structure's priority of payments to every path, date by date, on monthly or
    per-period collections. ``enhancer_default_month`` is paths × enhancers; ``pool_claims``
    holds each pool enhancer's claims (paths × periods, its share applied); ``capital`` what
    each enhancer can pay per path before it is insolvent (default: its net assets)."""
    from securitize.waterfall import kernel

    if isinstance(collections, Collections):
        collections = collections.by_period(structure.payment_months, structure.pool_balance)
    paths = collections.interest.shape[0]
    lanes = kernel.lanes_for(paths)
    run = kernel.ledger_run(
        structure, collections, enhancer_default_month, pool_claims, capital, lanes
    )
    series: dict[str, dict[str, np.ndarray]] = {}
    for (table, name), rows in zip(ledger_series(structure), run.out_ledger, strict=True):
        values = rows.T > 0.5 if table in _FLAGS else rows.T
        series.setdefault(table, {})[name] = values
    ends: dict[str, dict[str, np.ndarray]] = {}
    for (table, name), values in zip(ledger_ends(structure), run.out_end, strict=True):
        ends.setdefault(table, {})[name] = values
    tranches = []
    for j in range(len(structure.tranches)):
        t = TrancheLedger(**series.pop(f"tranche.{j}"))
        for name, values in ends.pop(f"tranche.{j}").items():
            setattr(t, name, values)
        tranches.append(t)
    # The ledger's own series (available, due, …) are the rows named "" in their table.
    own = {name: series.pop(name)[""] for name in list(series) if "" in series[name]}
    return Ledger(**own, tranches=tranches, **series, unpaid_fees=ends.get("unpaid_fees", {}))
