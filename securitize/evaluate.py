"""Evaluating a structure over simulated paths, chunk by chunk.

For each chunk: pool collections from its default events, the enhancers' default months, the
waterfall; then the chunk is reduced to per-path outcomes (losses, WAL, claims) and per-month
running sums. Chunks are reduced in order, so the totals do not depend on the worker count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from securitize.collections import Collections, collect
from securitize.credit.counterparty import enhancer_default_months
from securitize.credit.losses import cumulative_loss_by_month
from securitize.credit.paths import DefaultChunk, DefaultPaths
from securitize.parallel import map_in_order
from securitize.pool import Pool
from securitize.structure import Structure
from securitize.waterfall.sequential import Ledger, run_waterfall

# Amounts below one cent are rounding, not losses.
CENT = 0.01


@dataclass(frozen=True)
class Outcomes:
    """Per-path outcomes (name → paths) and per-month sums (name → (sum, sum of squares)),
    for one chunk or for all chunks combined."""

    paths: int
    per_path: dict[str, np.ndarray]
    per_month: dict[str, tuple[np.ndarray, np.ndarray]]


def chunk_collections(
    pool: Pool, structure: Structure, lag: int, chunk: DefaultChunk
) -> Collections:
    return collect(
        pool.schedule,
        pool.recovery_rate,
        lag,
        structure.horizon,
        chunk.paths,
        chunk.path,
        chunk.loan,
        chunk.month,
        recovery=chunk.recovery,
        prepayments=(chunk.prepay_path, chunk.prepay_loan, chunk.prepay_month),
    )


def chunk_ledger(
    pool: Pool, structure: Structure, lag: int, chunk: DefaultChunk
) -> tuple[Collections, Ledger]:
    """Collections and the waterfall's ledger for one chunk."""
    collections = chunk_collections(pool, structure, lag, chunk)
    enhancer_months = enhancer_default_months(
        chunk,
        [g.name for g in structure.guarantees],
        np.array([g.annual_pd for g in structure.guarantees]),
        np.array([g.asset_correlation for g in structure.guarantees]),
        structure.horizon,
    )
    return collections, run_waterfall(structure, collections, enhancer_months)


def _weighted_life(principal: np.ndarray) -> np.ndarray:
    """Per-path weighted-average life in years of the principal actually received."""
    years = np.arange(1, principal.shape[1] + 1) / 12.0
    received = principal.sum(axis=1)
    timed = principal @ years
    return np.divide(timed, received, out=np.full(received.shape, np.nan), where=received > CENT)


def summarise(
    pool: Pool,
    structure: Structure,
    chunk: DefaultChunk,
    collections: Collections,
    ledger: Ledger,
) -> Outcomes:
    """Reduce a chunk's ledger to the figures the results report."""
    paths = collections.cash.shape[0]
    exposure = pool.schedule.padded(structure.horizon).opening_balance
    cumulative_loss = cumulative_loss_by_month(
        chunk, exposure / pool.total_balance, structure.horizon
    )
    per_path: dict[str, np.ndarray] = {
        "weight": chunk.weight,
        "pool.loss_at_default": cumulative_loss[:, -1],
        "pool.loss": collections.loss / pool.total_balance,
        "pool.defaulted": collections.defaulted.sum(axis=1) / pool.total_balance,
    }
    per_month: dict[str, np.ndarray] = {
        "pool.interest": collections.interest,
        "pool.principal": collections.principal,
        "pool.recoveries": collections.recoveries,
        "pool.defaulted": collections.defaulted,
        "residual": ledger.residual,
        "pool.cumulative_loss": cumulative_loss,
    }
    for tranche in structure.loss_tranches:
        width = tranche.detachment - tranche.attachment
        share = np.clip(cumulative_loss - tranche.attachment, 0.0, width) / width
        per_month[f"loss_tranche.{tranche.name}"] = share
    for name, paid in ledger.fees_paid.items():
        per_month[f"fee.{name}"] = paid
    for terms, t in zip(structure.tranches, ledger.tranches, strict=True):
        key = f"tranche.{terms.name}"
        standalone_interest = t.interest_paid + t.guarantor_reimbursed
        wrapped_interest = t.interest_paid + t.guarantor_interest
        wrapped_principal = t.principal_paid + t.guarantor_principal
        owed_standalone = t.unpaid_principal + t.investor_arrears + t.guarantor_arrears
        owed_wrapped = t.unpaid_principal - t.guarantor_principal[:, -1] + t.investor_arrears
        per_path[f"{key}.standalone.loss"] = owed_standalone / terms.balance
        per_path[f"{key}.wrapped.loss"] = owed_wrapped / terms.balance
        per_path[f"{key}.standalone.wal"] = _weighted_life(t.principal_paid)
        per_path[f"{key}.wrapped.wal"] = _weighted_life(wrapped_principal)
        per_month[f"{key}.standalone.interest"] = standalone_interest
        per_month[f"{key}.standalone.principal"] = t.principal_paid
        per_month[f"{key}.wrapped.interest"] = wrapped_interest
        per_month[f"{key}.wrapped.principal"] = wrapped_principal
    for guarantee in structure.guarantees:
        t = ledger.tranches[guarantee.tranche]
        key = f"enhancer.{guarantee.name}"
        claims = t.guarantor_interest + t.guarantor_principal
        per_path[f"{key}.claims"] = claims.sum(axis=1)
        per_path[f"{key}.net_claims"] = claims.sum(axis=1) - t.guarantor_reimbursed.sum(axis=1)
        per_path[f"{key}.fees"] = ledger.fees_paid[guarantee.name].sum(axis=1)
        per_month[f"{key}.claims"] = claims
    weight = chunk.weight[:, None]
    sums = {
        name: ((weight * v).sum(axis=0), np.square(weight * v).sum(axis=0))
        for name, v in per_month.items()
    }
    return Outcomes(paths, per_path, sums)


def _evaluate_chunk(args: tuple[Pool, Structure, int, DefaultPaths, int]) -> Outcomes:
    pool, structure, lag, defaults, index = args
    chunk = defaults.chunk(index)
    collections, ledger = chunk_ledger(pool, structure, lag, chunk)
    return summarise(pool, structure, chunk, collections, ledger)


def _only_chunk(defaults: DefaultPaths, index: int) -> DefaultPaths:
    """``defaults`` carrying just chunk ``index`` (so a worker is not sent every chunk)."""
    if defaults.stored is None:
        return defaults
    stored = tuple(c if k == index else None for k, c in enumerate(defaults.stored))
    return replace(defaults, stored=stored)


def evaluate(
    pool: Pool,
    structure: Structure,
    lag: int,
    defaults: DefaultPaths,
    workers: int = 1,
    progress: bool = False,
) -> Outcomes:
    """Run the structure over every chunk of ``defaults`` and combine in chunk order."""
    # Stored chunks travel to the workers one at a time; unstored ones are regenerated there.
    jobs = [(pool, structure, lag, _only_chunk(defaults, k), k) for k in range(len(defaults.sizes))]
    outcomes = map_in_order(_evaluate_chunk, jobs, workers, "evaluating" if progress else None)
    per_path = {
        name: np.concatenate([o.per_path[name] for o in outcomes]) for name in outcomes[0].per_path
    }
    per_month = {}
    for name in outcomes[0].per_month:
        total = sum(o.per_month[name][0] for o in outcomes)
        total_sq = sum(o.per_month[name][1] for o in outcomes)
        per_month[name] = (total, total_sq)
    return Outcomes(sum(o.paths for o in outcomes), per_path, per_month)
