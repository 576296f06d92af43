"""Statements of a single path: what every account, tranche and enhancer did on each date.

A user asks "what happened on the worst path?" (or on path k). The path's chunk is regenerated
from its seed (identical to the run), its collections and the waterfall are run for that path
alone, and the ledger comes back as a table with one row per payment date.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from securitize.credit.paths import DefaultChunk
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.errors import SecuritizeError
from securitize.evaluate import chunk_collections, guarantor_default_months
from securitize.run import Run
from securitize.waterfall.ledger import run_waterfall


def worst_path(run: Run) -> int:
    """The path with the largest pool loss (the first one, if several tie)."""
    return int(np.argmax(run.outcomes.per_path["pool.loss"]))


def _single(chunk: DefaultChunk, local: int) -> DefaultChunk:
    """The chunk cut down to one path (renumbered 0), keeping its seed, index and the rest."""
    keep = chunk.path == local
    prepaid = chunk.prepay_path == local
    return replace(
        chunk,
        paths=1,
        factor=chunk.factor[[local]],
        log_weight=chunk.log_weight[[local]],
        path=np.zeros(int(keep.sum()), dtype=np.int64),
        loan=chunk.loan[keep],
        month=chunk.month[keep],
        recovery=chunk.recovery[keep],
        prepay_path=np.zeros(int(prepaid.sum()), dtype=np.int64),
        prepay_loan=chunk.prepay_loan[prepaid],
        prepay_month=chunk.prepay_month[prepaid],
    )


def path_statement(run: Run, path: int | str = "worst") -> pd.DataFrame:
    """One row per payment date for ``path`` (an index, or "worst"): pool cash, fees, each
    tranche's interest, principal, guarantor payments and balance, accounts and triggers."""
    index = worst_path(run) if path == "worst" else int(path)
    if not 0 <= index < run.defaults.paths:
        raise SecuritizeError(
            f"path {index}: no such path; this run has paths 0 to {run.defaults.paths - 1}"
        )
    structure = run.structure
    chunk_index, local = divmod(index, run.defaults.chunk_size)
    chunk = run.defaults.chunk(chunk_index)
    months = guarantor_default_months(structure, chunk)[[local]]
    one = _single(chunk, local)
    lag = run.loaded.scenario.credit.recovery_lag_months
    period, _ = chunk_collections(run.pool, structure, lag, one)
    covers = pool_cover_claims(run.pool, structure, one)
    ledger = run_waterfall(structure, period, months, covers)
    table: dict[str, np.ndarray] = {
        "month": structure.payment_months,
        "pool.interest": period.interest[0],
        "pool.principal": period.principal[0],
        "pool.recoveries": period.recoveries[0],
        "pool.defaulted": period.defaulted[0],
        "pool.performing_balance": period.performing_balance[0],
        "available": ledger.available[0],
    }
    for name, paid in ledger.fees_paid.items():
        table[f"fee.{name}"] = paid[0]
    for terms, t in zip(structure.tranches, ledger.tranches, strict=True):
        key = f"tranche.{terms.name}"
        table[f"{key}.interest_due"] = t.interest_due[0]
        table[f"{key}.interest_paid"] = t.interest_paid[0]
        table[f"{key}.shortfall"] = t.shortfall[0]
        table[f"{key}.guarantor_interest"] = t.guarantor_interest[0]
        table[f"{key}.guarantor_reimbursed"] = t.guarantor_reimbursed[0]
        table[f"{key}.principal_paid"] = t.principal_paid[0]
        table[f"{key}.guarantor_principal"] = t.guarantor_principal[0]
        table[f"{key}.balance"] = t.balance[0]
    for name in ledger.accounts:
        table[f"account.{name}.deposit"] = ledger.deposits[name][0]
        table[f"account.{name}.draw"] = ledger.draws[name][0]
        table[f"account.{name}.balance"] = ledger.accounts[name][0]
    for name in ledger.claims:
        table[f"enhancer.{name}.claims"] = ledger.claims[name][0]
        table[f"enhancer.{name}.reimbursed"] = ledger.reimbursed[name][0]
    if structure.pool_enhancers:
        table["pool_cover_cash"] = ledger.cover_cash[0]
    for name, state in ledger.triggers.items():
        table[f"trigger.{name}"] = state[0]
    table["accelerated"] = ledger.accelerated[0]
    table["residual"] = ledger.residual[0]
    table["carried"] = ledger.carried[0]
    frame = pd.DataFrame(table)
    frame.attrs.update(
        path=index,
        defaults=[
            {"loan": str(run.pool.loans["loan_id"].iloc[i]), "month": int(m), "recovery": float(r)}
            for i, m, r in zip(one.loan, one.month, one.recovery, strict=True)
        ],
        guarantor_default_month={
            g.name: int(months[0, k]) if months[0, k] <= structure.horizon else None
            for k, g in enumerate(structure.guarantees)
        },
    )
    return frame
