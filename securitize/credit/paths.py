"""Simulated default paths, produced in deterministic seeded chunks.

A path is one draw of the systematic factors and of every loan's default (and prepayment) month
and recovery. Paths depend on the pool and the credit assumptions, never on the structure, so one
simulation serves every design evaluated on it (common random numbers). Chunk k draws from the
stream ``SeedSequence(seed, spawn_key=(k, 0))`` — sub-stream 0 of the k-th spawned child of
``SeedSequence(seed)`` — so the same seed gives the same paths whatever the number of workers.
Events are stored sparsely (path, loan, month): memory grows with the number of defaults, not
with paths × loans × months. A chunk can always be regenerated from (model, seed, index), so
large runs need not keep their paths at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from securitize.credit.models import FactorCopula
from securitize.credit.prepayment import first_event_wins, sample_prepayments
from securitize.credit.recovery import RecoveryModel
from securitize.credit.sampler import sample_default_events
from securitize.parallel import map_in_order

LOAN_STREAM = 0
COUNTERPARTY_STREAM = 1
FACTOR_STREAM = 2


def chunk_stream(seed: int, chunk: int, *stream: int) -> np.random.Generator:
    """The generator for one chunk's sub-stream: child ``chunk`` of the seed, then ``stream``."""
    sequence = np.random.SeedSequence(seed, spawn_key=(chunk, *stream))
    return np.random.Generator(np.random.PCG64(sequence))


@dataclass(frozen=True)
class CreditModel:
    """Everything the simulation needs, nothing about the structure.

    ``cumulative_pd`` is loans × months (flat after each loan's maturity); ``shift`` is the
    importance-sampling mean shift of the independent factor normals (None: plain Monte Carlo);
    ``mixing_scale`` λ, for the t copula only, draws its χ²_ν mixing variable as λ · χ²_ν
    (None or 1: untilted); ``defensive_share`` α draws that share of paths untilted (None: 0).
    They change only the sampling law: the path weights undo it (``FactorCopula.draw_systematic``;
    ``securitize.credit.importance.aim_importance_sampling`` chooses all three for a tail event).
    """

    copula: FactorCopula
    cumulative_pd: np.ndarray
    tenor: np.ndarray
    recovery: RecoveryModel
    prepayment_rate: float = 0.0
    shift: np.ndarray | None = None
    mixing_scale: float | None = None
    defensive_share: float | None = None
    # Deals of one programme share the economy: with ``common_seed`` set, the systematic
    # factors and the enhancers' own draws come from that seed's streams (the same on every deal
    # of the programme), and only the loans' idiosyncratic draws from the deal's seed.
    common_seed: int | None = None
    # Months from the programme's start to this deal's closing: enhancers' default months are
    # drawn on the programme's calendar and read in the deal's months.
    calendar_offset: int = 0

    @property
    def loans(self) -> int:
        return int(np.asarray(self.tenor).size)


@dataclass(frozen=True)
class DefaultChunk:
    """One chunk of paths: the global factor, each path's log likelihood ratio, and the sparse
    default events (with their recovery rates) and prepayment events."""

    index: int
    paths: int
    seed: int
    factor: np.ndarray
    log_weight: np.ndarray
    path: np.ndarray
    loan: np.ndarray
    month: np.ndarray
    recovery: np.ndarray
    prepay_path: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    prepay_loan: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    prepay_month: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    common_seed: int | None = None
    calendar_offset: int = 0

    @property
    def counterparty_seed(self) -> int:
        """The seed of the enhancers' own draws: the programme's, if the chunk is of one."""
        return self.seed if self.common_seed is None else self.common_seed

    @property
    def weight(self) -> np.ndarray:
        """Likelihood ratio of each path (ones under plain Monte Carlo)."""
        return np.exp(self.log_weight)


def simulate_chunk(model: CreditModel, seed: int, index: int, paths: int) -> DefaultChunk:
    """Chunk ``index`` of the simulation: the same arguments always give the same chunk."""
    rng = chunk_stream(seed, index, LOAN_STREAM)
    factor_rng = (
        rng if model.common_seed is None else chunk_stream(model.common_seed, index, FACTOR_STREAM)
    )
    systematic = model.copula.draw_systematic(
        factor_rng, paths, model.shift, model.mixing_scale, model.defensive_share
    )
    events = sample_default_events(model.copula, systematic, model.cumulative_pd, model.tenor, rng)
    global_factor = systematic.factors[:, 0]
    recovery = model.recovery.draw(events.loan, global_factor[events.path], rng)
    prepay = sample_prepayments(model.prepayment_rate, model.tenor, paths, rng)
    keep_default, keep_prepay = first_event_wins(
        (events.path, events.loan, events.month), prepay, model.loans
    )
    return DefaultChunk(
        index=index,
        paths=paths,
        seed=seed,
        factor=global_factor,
        log_weight=systematic.log_weight,
        path=events.path[keep_default],
        loan=events.loan[keep_default],
        month=events.month[keep_default],
        recovery=recovery[keep_default],
        prepay_path=prepay[0][keep_prepay],
        prepay_loan=prepay[1][keep_prepay],
        prepay_month=prepay[2][keep_prepay],
        common_seed=model.common_seed,
        calendar_offset=model.calendar_offset,
    )


def chunk_sizes(paths: int, chunk_size: int) -> tuple[int, ...]:
    """Full chunks of ``chunk_size`` paths and one shorter last chunk if needed."""
    full, rest = divmod(paths, chunk_size)
    return tuple([chunk_size] * full + ([rest] if rest else []))


@dataclass(frozen=True)
class DefaultPaths:
    """A simulation: its model, seed and chunking, and its chunks if they were kept."""

    model: CreditModel
    seed: int
    chunk_size: int
    sizes: tuple[int, ...]
    stored: tuple[DefaultChunk, ...] | None = None

    @property
    def paths(self) -> int:
        return sum(self.sizes)

    def chunk(self, index: int) -> DefaultChunk:
        """Chunk ``index``, from memory or regenerated from its seed (identical either way)."""
        if self.stored is not None:
            return self.stored[index]
        return simulate_chunk(self.model, self.seed, index, self.sizes[index])

    @property
    def chunks(self) -> list[DefaultChunk]:
        return [self.chunk(k) for k in range(len(self.sizes))]


def _simulate(job: tuple[CreditModel, int, int, int]) -> DefaultChunk:
    return simulate_chunk(*job)


def simulate_defaults(
    model: CreditModel,
    paths: int,
    seed: int,
    chunk_size: int,
    workers: int = 1,
    keep: bool = True,
    progress: bool = False,
    scheduler: str | None = None,
) -> DefaultPaths:
    """Simulate ``paths`` paths in chunks on ``workers`` processes; ``keep`` holds them in
    memory for evaluating many designs (otherwise chunks are regenerated when needed)."""
    sizes = chunk_sizes(paths, chunk_size)
    stored = None
    if keep:
        jobs = [(model, seed, index, size) for index, size in enumerate(sizes)]
        label = "simulating" if progress else None
        stored = tuple(map_in_order(_simulate, jobs, workers, label, scheduler))
    return DefaultPaths(model, seed, chunk_size, sizes, stored)
