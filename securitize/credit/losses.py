"""Pool loss paths straight from the credit simulation, streamed chunk by chunk.

For quick structuring, validation and the enhancement agency's tail questions, the waterfall is
not needed: the cumulative pool loss booked at default (balance at default × (1 − recovery))
per path and month says how any loss tranche fares. Chunks are simulated, reduced to per-path
final losses, weights and per-month sums, and dropped, so memory is bounded by the chunk size
and the number of paths (one float per path), never by paths × loans × months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securitize.credit.paths import CreditModel, DefaultChunk, chunk_sizes, simulate_chunk
from securitize.parallel import map_in_order


def cumulative_loss_by_month(
    chunk: DefaultChunk, exposure_at_default: np.ndarray, months: int
) -> np.ndarray:
    """Paths × months cumulative loss of a chunk; ``exposure_at_default`` is loans × months, the
    balance lost (before recovery) if the loan defaults in that month, in any unit."""
    booked = exposure_at_default[chunk.loan, chunk.month - 1] * (1.0 - chunk.recovery)
    flat = np.bincount(
        chunk.path * months + (chunk.month - 1), weights=booked, minlength=chunk.paths * months
    )
    return np.cumsum(flat.reshape(chunk.paths, months), axis=1)


@dataclass(frozen=True)
class LossPaths:
    """Final cumulative loss and likelihood-ratio weight per path, and per-month weighted sums
    (of the loss and of its square) for expected-loss curves."""

    final: np.ndarray
    weight: np.ndarray
    monthly_sum: np.ndarray
    monthly_sum_sq: np.ndarray

    @property
    def paths(self) -> int:
        return self.final.size


def _chunk_losses(
    job: tuple[CreditModel, np.ndarray, int, int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    model, exposure_at_default, seed, index, size = job
    chunk = simulate_chunk(model, seed, index, size)
    months = exposure_at_default.shape[1]
    cumulative = cumulative_loss_by_month(chunk, exposure_at_default, months)
    weighted = cumulative * chunk.weight[:, None]
    return (
        cumulative[:, -1].astype(np.float64),
        chunk.weight,
        weighted.sum(axis=0),
        np.square(weighted).sum(axis=0),
    )


def simulate_pool_losses(
    model: CreditModel,
    exposure_at_default: np.ndarray,
    paths: int,
    seed: int,
    chunk_size: int,
    workers: int = 1,
    scheduler: str | None = None,
) -> LossPaths:
    """Stream ``paths`` paths through the credit model; keep only losses and weights."""
    jobs = [
        (model, exposure_at_default, seed, index, size)
        for index, size in enumerate(chunk_sizes(paths, chunk_size))
    ]
    parts = map_in_order(_chunk_losses, jobs, workers, scheduler=scheduler)
    return LossPaths(
        final=np.concatenate([p[0] for p in parts]),
        weight=np.concatenate([p[1] for p in parts]),
        monthly_sum=sum(p[2] for p in parts),
        monthly_sum_sq=sum(p[3] for p in parts),
    )
