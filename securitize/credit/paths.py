"""Simulated default paths, produced in deterministic seeded chunks.

A path is one draw of the systematic factor and of every loan's default month. Paths depend on
the pool and the credit assumptions, never on the structure, so one simulation serves every
design evaluated on it (common random numbers). Chunk k draws from the stream
``SeedSequence(seed, spawn_key=(k, 0))`` — the k-th spawned child of ``SeedSequence(seed)``,
sub-stream 0 — so the same seed gives the same paths whatever the number of workers. Defaults are
stored sparsely (path, loan, month): memory grows with the number of defaults, not with
paths × loans × months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from securitize.credit.gaussian import GaussianOneFactor, cumulative_pd
from securitize.parallel import map_in_order

LOAN_STREAM = 0
COUNTERPARTY_STREAM = 1


def chunk_stream(seed: int, chunk: int, *stream: int) -> np.random.Generator:
    """The generator for one chunk's sub-stream: child ``chunk`` of the seed, then ``stream``."""
    sequence = np.random.SeedSequence(seed, spawn_key=(chunk, *stream))
    return np.random.Generator(np.random.PCG64(sequence))


@dataclass(frozen=True)
class DefaultChunk:
    """One chunk of paths: the systematic factor per path and the sparse default events."""

    index: int
    paths: int
    seed: int
    factor: np.ndarray
    path: np.ndarray
    loan: np.ndarray
    month: np.ndarray


@dataclass(frozen=True)
class DefaultPaths:
    """All chunks of a simulation, with the settings that reproduce them."""

    chunks: tuple[DefaultChunk, ...]
    model: GaussianOneFactor
    seed: int
    chunk_size: int

    @property
    def paths(self) -> int:
        return sum(c.paths for c in self.chunks)


def chunk_sizes(paths: int, chunk_size: int) -> list[int]:
    """Full chunks of ``chunk_size`` paths and one shorter last chunk if needed."""
    full, rest = divmod(paths, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def _simulate_chunk(
    args: tuple[GaussianOneFactor, np.ndarray, np.ndarray, int, int, int],
) -> DefaultChunk:
    model, annual_pd, tenor, seed, index, paths = args
    rng = chunk_stream(seed, index, LOAN_STREAM)
    factor = rng.standard_normal(paths)
    idiosyncratic = rng.standard_normal((paths, annual_pd.size))
    cumulative = cumulative_pd(annual_pd, np.arange(1, int(tenor.max()) + 1))
    path, loan, month = model.default_months(model.latent(factor, idiosyncratic), cumulative, tenor)
    return DefaultChunk(index, paths, seed, factor, path, loan, month)


def simulate_defaults(
    annual_pd: np.ndarray,
    tenor_months: np.ndarray,
    model: GaussianOneFactor,
    paths: int,
    seed: int,
    chunk_size: int,
    workers: int = 1,
) -> DefaultPaths:
    """Default events for ``paths`` paths, chunk by chunk, on ``workers`` processes."""
    annual_pd = np.asarray(annual_pd, dtype=float)
    tenor = np.asarray(tenor_months, dtype=int)
    jobs = [
        (model, annual_pd, tenor, seed, index, size)
        for index, size in enumerate(chunk_sizes(paths, chunk_size))
    ]
    chunks = map_in_order(_simulate_chunk, jobs, workers)
    return DefaultPaths(tuple(chunks), model, seed, chunk_size)
