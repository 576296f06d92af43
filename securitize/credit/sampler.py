"""Sampling default events by thinning, conditional on the systematic factors.

Drawing one normal per loan and path wastes almost all of them: given the factors, defaults are
independent and rare. For each group of loans sharing their factor loadings, the paths are sorted
from worst to best systematic state and cut into blocks. Within a block, every path's conditional
default probability p_i(path) is bounded by p̄ (the probability at the block's worst corner:
lowest factor value, most extreme mixing variable), so candidate defaults are placed as a
Bernoulli(p̄) process over the block's positions — geometric gaps, one draw per candidate — and
each candidate is kept with probability p_i(path) / p̄. The kept candidates are exactly the
defaults of the model. The same uniform that decides a candidate also gives its idiosyncratic
draw ε = Φ⁻¹(W p̄) conditioned on default, and so its latent value and its default month. Work
and memory grow with the number of defaults, not with loans × paths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri, stdtr

from securitize.credit.models import FactorCopula, Systematic

# Paths per block of the sorted systematic states: smaller blocks give tighter bounds (fewer
# rejected candidates) but more (loan, block) pairs to set up.
BLOCK_PATHS = 512
# Above this bound a block is cheaper to treat densely: every position is a candidate.
DENSE_PROBABILITY = 0.25


@dataclass(frozen=True)
class DefaultEvents:
    """Defaults within each loan's life: path, loan and month (1-based), in no set order."""

    path: np.ndarray
    loan: np.ndarray
    month: np.ndarray


def bernoulli_positions(
    probability: np.ndarray, length: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Successes of independent Bernoulli trials: for each sequence k (``length[k]`` positions,
    success probability ``probability[k]``), the (sequence, position) of every success.

    Gaps between successes are geometric, so the draws needed are about the number of
    successes. Sequences with probability of one are returned whole.
    """
    probability = np.asarray(probability, dtype=float)
    length = np.asarray(length, dtype=np.int64)
    sequences, positions = [], []
    certain = np.flatnonzero((probability >= 1.0) & (length > 0))
    if certain.size:
        counts = length[certain]
        sequences.append(np.repeat(certain, counts))
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        positions.append(np.arange(counts.sum()) - starts)
    active = np.flatnonzero((probability > 0) & (probability < 1) & (length > 0))
    start = np.zeros(probability.size, dtype=np.int64)
    while active.size:
        remaining = length[active] - start[active]
        expected = remaining * probability[active]
        draws = np.ceil(expected + 3.0 * np.sqrt(expected) + 1.0).astype(np.int64)
        repeated = np.repeat(active, draws)
        # A gap past the sequence's end ends it; capping keeps tiny probabilities (gaps near the
        # int64 limit) from overflowing the running sum.
        room = np.repeat(remaining + 1, draws)
        gaps = np.minimum(rng.geometric(probability[repeated]), room)
        total = np.cumsum(gaps)
        ends = np.cumsum(draws) - 1
        before = np.repeat(total[ends] - np.add.reduceat(gaps, ends - draws + 1), draws)
        position = np.repeat(start[active], draws) + (total - before) - 1
        inside = position < np.repeat(length[active], draws)
        sequences.append(repeated[inside])
        positions.append(position[inside])
        last = position[ends]
        unfinished = last < length[active]
        start[active[unfinished]] = last[unfinished] + 1
        active = active[unfinished]
    if not sequences:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(sequences), np.concatenate(positions)


def _month_of(
    latent_u: np.ndarray, loan: np.ndarray, cumulative: np.ndarray, tenor: np.ndarray
) -> np.ndarray:
    """First month whose cumulative PD reaches u, per event (one search over all loans' curves:
    loan i's curve is shifted to i + F_i(m), so one sorted array holds every curve)."""
    months = cumulative.shape[1]
    keys = (np.arange(cumulative.shape[0])[:, None] + cumulative).ravel()
    index = np.searchsorted(keys, loan + latent_u, side="left")
    month = index - loan * months + 1
    return np.clip(month, 1, tenor[loan])


def sample_default_events(
    copula: FactorCopula,
    systematic: Systematic,
    cumulative_pd: np.ndarray,
    tenor: np.ndarray,
    rng: np.random.Generator,
) -> DefaultEvents:
    """All defaults (within each loan's tenor) on the given systematic paths.

    ``cumulative_pd`` is loans × months, F_i(m), held flat after the loan's maturity.
    """
    paths = systematic.factors.shape[0]
    tenor = np.asarray(tenor, dtype=np.int64)
    loans = np.arange(tenor.size)
    at_maturity = cumulative_pd[loans, tenor - 1]
    threshold = copula.threshold(at_maturity)
    scale = copula.idiosyncratic_scale
    inverse_mixing = systematic.inverse_mixing
    groups, group_of = np.unique(copula.loadings, axis=0, return_inverse=True)
    events_path, events_loan, events_latent = [], [], []
    for g, loading in enumerate(groups):
        members = np.flatnonzero(group_of.ravel() == g)
        members = members[np.isfinite(threshold[members])]
        if members.size == 0:
            continue
        state = systematic.factors @ loading
        typical = float(np.median(threshold[members]))
        order = np.argsort(state - typical * inverse_mixing, kind="stable")
        starts = np.arange(0, paths, BLOCK_PATHS)
        sizes = np.diff(np.r_[starts, paths])
        worst_state = np.minimum.reduceat(state[order], starts)
        mixing = inverse_mixing[order]
        # p = Φ((c·(1/M) − state)/s) is largest where c·(1/M) is largest: the smallest 1/M in
        # the block when c < 0 (PD below one half), the largest when c > 0.
        bound_mixing = np.where(
            threshold[members, None] < 0,
            np.minimum.reduceat(mixing, starts)[None, :],
            np.maximum.reduceat(mixing, starts)[None, :],
        )
        s = scale[members, None]
        bound = ndtr((threshold[members, None] * bound_mixing - worst_state[None, :]) / s)
        bound = np.where(bound > DENSE_PROBABILITY, 1.0, bound)
        pair, position = bernoulli_positions(bound.ravel(), np.tile(sizes, members.size), rng)
        member, block = np.divmod(pair, starts.size)
        path = order[starts[block] + position]
        loan = members[member]
        limit = bound.ravel()[pair]
        conditional = ndtr((threshold[loan] * inverse_mixing[path] - state[path]) / scale[loan])
        draw = rng.random(path.size) * limit
        kept = draw <= conditional
        path, loan, draw = path[kept], loan[kept], draw[kept]
        epsilon = ndtri(draw)
        latent = (state[path] + scale[loan] * epsilon) / inverse_mixing[path]
        events_path.append(path)
        events_loan.append(loan)
        events_latent.append(latent)
    if not events_path:
        empty = np.zeros(0, dtype=np.int64)
        return DefaultEvents(empty, empty, empty)
    path = np.concatenate(events_path)
    loan = np.concatenate(events_loan)
    latent = np.concatenate(events_latent)
    u = ndtr(latent) if copula.nu is None else stdtr(copula.nu, latent)
    return DefaultEvents(path, loan, _month_of(u, loan, cumulative_pd, tenor))
