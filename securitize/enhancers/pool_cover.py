"""What pool enhancers owe on a chunk's defaults, before their caps and their own default.

A pool enhancer (first-loss guarantee, loan-level guarantee, insurance risk pool) takes its share
of each defaulted loan's loss, exposure at default × (1 − recovery rate), in the payment period
of the default. Pool enhancers are called in the order the scenario lists them, each on the part
of the loss the earlier ones left (80% from a loan-level guarantee, then a risk pool's 50% of
the other 20%), so together they never pay more than the loss. A loan-level guarantee's claims
on one borrower stop at its per-borrower cap,
counted over all that borrower's loans in the order they default. The engine then applies the
enhancer's aggregate cap and its default (the waterfall kernel), so that both act in time order;
what an aggregate cap refuses is not passed on to a later pool enhancer.
"""

from __future__ import annotations

import numpy as np

from securitize.credit.paths import DefaultChunk
from securitize.pool import Pool
from securitize.structure import Structure


def event_losses(pool: Pool, chunk: DefaultChunk) -> np.ndarray:
    """Each default event's loss (CNY): the balance at default less the recovery."""
    at_default = pool.schedule.opening_balance[chunk.loan, chunk.month - 1]
    return at_default * (1.0 - chunk.recovery)


def capped_per_group(claim: np.ndarray, group: np.ndarray, order: np.ndarray, cap: float) -> None:
    """Cap the running total of ``claim`` within each group at ``cap``, events taken in
    ``order`` (sorted by group, then time); rewrites ``claim`` in place."""
    ordered = claim[order]
    ordered_group = group[order]
    total = np.cumsum(ordered)
    starts = np.r_[True, ordered_group[1:] != ordered_group[:-1]]
    before_group = np.maximum.accumulate(np.where(starts, total - ordered, 0.0))
    running = np.minimum(total - before_group, cap)
    previous = np.r_[0.0, running[:-1]]
    claim[order] = running - np.where(starts, 0.0, previous)


def pool_cover_claims(
    pool: Pool, structure: Structure, chunk: DefaultChunk
) -> dict[int, np.ndarray]:
    """Per pool enhancer (by index in ``structure.guarantees``): paths × periods of its share
    of the losses, with any per-borrower cap applied."""
    enhancers = structure.pool_enhancers
    if not enhancers:
        return {}
    periods = len(structure.payment_months)
    period = np.searchsorted(structure.payment_months, chunk.month, side="left")
    cell = chunk.path * periods + period
    losses = event_losses(pool, chunk)
    borrower = borrower_codes(pool)[chunk.loan]
    group = chunk.path * (int(borrower.max(initial=0)) + 1) + borrower
    order = np.lexsort((chunk.month, group))
    out = {}
    uncovered = losses.copy()
    for k in enhancers:
        terms = structure.guarantees[k]
        claim = terms.share * uncovered
        cap = terms.spec.per_borrower_cap
        if cap is not None and claim.size:
            capped_per_group(claim, group, order, cap)
        uncovered -= claim
        out[k] = np.bincount(cell, weights=claim, minlength=chunk.paths * periods).reshape(
            chunk.paths, periods
        )
    return out


def borrower_codes(pool: Pool) -> np.ndarray:
    """Each loan's borrower as a number 0 … B − 1 (per-borrower caps count all its loans)."""
    return pool.loans["enterprise"].astype("category").cat.codes.to_numpy()


def layered_claims(pool: Pool, structure: Structure, losses: np.ndarray) -> dict[int, np.ndarray]:
    """Per pool enhancer: its claims on ``losses`` (loans × months of loss, CNY), called in
    order, each on what the earlier ones left, within its per-borrower cap counted in time
    order; borrowers × months. Its aggregate cap is left to the caller (the engine applies it
    in time order)."""
    borrower = borrower_codes(pool)
    uncovered = np.zeros((int(borrower.max()) + 1, losses.shape[1]))
    np.add.at(uncovered, borrower, losses)
    out = {}
    for k in structure.pool_enhancers:
        terms = structure.guarantees[k]
        claim = terms.share * uncovered
        cap = terms.spec.per_borrower_cap
        if cap is not None:
            running = np.minimum(np.cumsum(claim, axis=1), cap)
            claim = np.diff(np.c_[np.zeros(len(claim)), running], axis=1)
        uncovered = uncovered - claim
        out[k] = claim
    return out


def deterministic_cover_claims(
    pool: Pool, structure: Structure, losses: np.ndarray
) -> dict[int, np.ndarray]:
    """As ``pool_cover_claims`` for one path of fractional defaults: ``losses`` is loans ×
    months of expected loss; returns 1 × periods per pool enhancer."""
    months = losses.shape[1]
    period = np.searchsorted(structure.payment_months, np.arange(1, months + 1), side="left")
    out = {}
    for k, claim in layered_claims(pool, structure, losses).items():
        per_period = np.zeros(len(structure.payment_months))
        np.add.at(per_period, period, claim.sum(axis=0))
        out[k] = per_period[None, :]
    return out


def cover_of_losses(pool: Pool, structure: Structure, losses: np.ndarray) -> float:
    """What the pool enhancers pay in all on losses (CNY per loan) that happen together,
    within their per-borrower and aggregate caps."""
    claims = layered_claims(pool, structure, losses[:, None])
    return float(sum(min(claim.sum(), structure.guarantees[k].cap) for k, claim in claims.items()))
