"""Evaluating a structure over simulated paths, chunk by chunk.

For each chunk: pool collections from its default events, the enhancers' default months, the
waterfall; then the chunk is reduced to per-path outcomes (losses, WAL, claims) and per-month
running sums. Chunks are reduced in order, so the totals do not depend on the worker count.
Several designs on the same paths and dates share each chunk's collections and pool figures
(``evaluate_many``: simulate once, evaluate many).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from securitize.collections import PeriodCollections
from securitize.credit.counterparty import enhancer_default_months
from securitize.credit.losses import cumulative_loss_by_month
from securitize.credit.paths import DefaultChunk, DefaultPaths
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.parallel import in_process, map_in_order
from securitize.period_cash import period_collections
from securitize.pool import Pool
from securitize.structure import Structure
from securitize.waterfall import kernel
from securitize.waterfall.kernel_codes import COLLECTION_SERIES, LANES
from securitize.waterfall.kernel_lower import path_series

# Amounts below one cent are rounding, not losses.
CENT = 0.01


@dataclass(frozen=True)
class Outcomes:
    """Per-path outcomes (name → paths) and per-month sums (name → (sum, sum of squares)),
    for one chunk or for all chunks combined."""

    paths: int
    per_path: dict[str, np.ndarray]
    per_month: dict[str, tuple[np.ndarray, np.ndarray]]
    per_period: dict[str, tuple[np.ndarray, np.ndarray]]


def chunk_collections(
    pool: Pool, structure: Structure, lag: int, chunk: DefaultChunk
) -> tuple[PeriodCollections, np.ndarray]:
    """The chunk's collections per payment period and each path's pool loss (CNY)."""
    return period_collections(
        pool.schedule,
        pool.recovery_rate,
        structure.horizon,
        structure.payment_months,
        lag,
        chunk,
    )


def guarantor_default_months(structure: Structure, chunk: DefaultChunk) -> np.ndarray:
    """Paths × guarantors: each guarantor's default month on the chunk's paths."""
    return enhancer_default_months(
        chunk,
        [g.name for g in structure.guarantees],
        np.array([g.annual_pd for g in structure.guarantees]),
        np.array([g.asset_correlation for g in structure.guarantees]),
        structure.horizon,
    )


def pool_outcomes(
    pool: Pool,
    structure: Structure,
    chunk: DefaultChunk,
    period: PeriodCollections,
    loss: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The chunk's pool figures: per-path, per-month and per-period series (the waterfall's
    are added by ``summarise``). Only the loss tranches depend on
    the design."""
    cumulative_loss = _cumulative_loss(pool, structure, chunk)
    per_month = {"pool.cumulative_loss": cumulative_loss}
    per_month.update(loss_tranche_series(structure, cumulative_loss))
    return _pool_paths(pool, chunk, period, loss, cumulative_loss), per_month, _pool_periods(period)


def _cumulative_loss(pool: Pool, structure: Structure, chunk: DefaultChunk) -> np.ndarray:
    exposure = pool.schedule.padded(structure.horizon).opening_balance
    return cumulative_loss_by_month(chunk, exposure / pool.total_balance, structure.horizon)


def _pool_paths(
    pool: Pool,
    chunk: DefaultChunk,
    period: PeriodCollections,
    loss: np.ndarray,
    cumulative_loss: np.ndarray,
) -> dict[str, np.ndarray]:
    return {
        "weight": chunk.weight,
        "pool.loss_at_default": cumulative_loss[:, -1],
        "pool.loss": loss / pool.total_balance,
        "pool.defaulted": period.defaulted.sum(axis=1) / pool.total_balance,
    }


def _pool_periods(period: PeriodCollections) -> dict[str, np.ndarray]:
    return {
        "pool.interest": period.interest,
        "pool.principal": period.principal,
        "pool.recoveries": period.recoveries,
        "pool.defaulted": period.defaulted,
        "pool.performing_balance": period.performing_balance,
    }


def loss_tranche_series(structure: Structure, cumulative_loss: np.ndarray) -> dict[str, np.ndarray]:
    """Each loss tranche's share written down, by month: the design's own per-month series."""
    out = {}
    for tranche in structure.loss_tranches:
        width = tranche.detachment - tranche.attachment
        share = np.clip(cumulative_loss - tranche.attachment, 0.0, width) / width
        out[f"loss_tranche.{tranche.name}"] = share
    return out


@dataclass(frozen=True)
class SharedChunk:
    """One chunk of paths and what every design evaluated on it shares: the collections (and
    their block layout for the compiled kernel), each path's pool loss, and the pool's own
    figures and their sums. Made once per chunk by ``share_chunk``; designs on the same pool
    and payment dates then cost only their waterfall (``evaluate_many``)."""

    chunk: DefaultChunk
    period: PeriodCollections
    loss: np.ndarray
    cumulative_loss: np.ndarray
    pool_per_path: dict[str, np.ndarray]
    pool_month_sums: dict[str, tuple[np.ndarray, np.ndarray]]
    pool_period_sums: dict[str, tuple[np.ndarray, np.ndarray]]
    blocks: np.ndarray


def share_chunk(
    pool: Pool,
    structure: Structure,
    lag: int,
    chunk: DefaultChunk,
    periods: bool = True,
    buffer: np.ndarray | None = None,
) -> SharedChunk:
    """The chunk's shared part: its collections in the kernel's block layout (in ``buffer``
    if given) and the pool's figures (``periods``: also their per-month and per-period
    sums)."""
    period, loss = chunk_collections(pool, structure, lag, chunk)
    cumulative_loss = _cumulative_loss(pool, structure, chunk)
    weight = _weight(chunk)
    return SharedChunk(
        chunk,
        period,
        loss,
        cumulative_loss,
        _pool_paths(pool, chunk, period, loss, cumulative_loss),
        moments({"pool.cumulative_loss": cumulative_loss}, weight) if periods else {},
        moments(_pool_periods(period), weight) if periods else {},
        kernel.blocked(period, buffer),
    )


def _weight(chunk: DefaultChunk) -> np.ndarray | None:
    """Per-path weights as a column, or None for plain Monte Carlo (all one: no multiplying)."""
    return None if not chunk.log_weight.any() else chunk.weight[:, None]


def moments(
    series: dict[str, np.ndarray], weight: np.ndarray | None
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per column of each paths × dates series: the weighted sum and sum of squares."""
    out = {}
    for name, v in series.items():
        weighted = v if weight is None else weight * v
        out[name] = (weighted.sum(axis=0), np.einsum("ij,ij->j", weighted, weighted))
    return out


def summarise(
    structure: Structure,
    shared: SharedChunk,
    guarantor_default: np.ndarray,
    yields: bool = True,
    periods: bool = True,
    table: tuple[np.ndarray, int] | None = None,
    pool_claims: dict[int, np.ndarray] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> Outcomes:
    """Reduce a chunk to the figures the results report: the design's waterfall run and reduced
    by the kernel (``waterfall.kernel``), the pool's figures taken from ``shared``. Per-path
    yields only with ``yields``, per-month and per-period sums only with ``periods`` (design
    comparisons and sizing report neither); ``table``: see ``kernel.ledger_outcomes``."""
    return summarise_many(
        [structure], shared, [guarantor_default], yields, periods, [table], [pool_claims], capital
    )[0]


def summarise_many(
    structures: list[Structure],
    shared: SharedChunk,
    guarantor_defaults: list[np.ndarray],
    yields: bool = True,
    periods: bool = True,
    tables: list[tuple[np.ndarray, int] | None] | None = None,
    pool_claims: list[dict[int, np.ndarray] | None] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> list[Outcomes]:
    """``summarise`` for several designs on one chunk, run together by the kernel
    (``kernel.ledger_outcomes_many``; ``pool_claims`` and ``capital`` as
    ``waterfall.ledger.run_waterfall`` takes them)."""
    chunk = shared.chunk
    paths = shared.period.interest.shape[0]
    weight = _weight(chunk)
    figures = kernel.ledger_outcomes_many(
        structures,
        shared.period,
        guarantor_defaults,
        None if weight is None else chunk.weight,
        yields,
        shared.blocks,
        periods,
        tables,
        pool_claims,
        capital,
    )
    out = []
    for structure, (compiled_paths, compiled_sums, cross) in zip(structures, figures, strict=True):
        per_path = {**shared.pool_per_path, **compiled_paths}
        if not periods:
            out.append(Outcomes(paths, per_path, {}, {}))
            continue
        month_sums = dict(shared.pool_month_sums)
        month_sums.update(moments(loss_tranche_series(structure, shared.cumulative_loss), weight))
        period_sums = {**shared.pool_period_sums, **compiled_sums}
        period_sums["coverage.cross"] = (cross, cross)
        out.append(Outcomes(paths, per_path, month_sums, period_sums))
    return out


@dataclass(frozen=True)
class _Design:
    """One design of an evaluation: its structure and (when the chunks run in this process)
    the table its per-path figures are written into."""

    structure: Structure
    table: np.ndarray | None


def _evaluate_chunk(
    args: tuple[
        Pool,
        tuple[_Design, ...],
        int,
        DefaultPaths,
        int,
        int,
        dict[int, np.ndarray] | None,
        bool,
        bool,
        np.ndarray | None,
    ],
) -> list[Outcomes]:
    """Every design on one chunk, the chunk's shared part made once."""
    pool, designs, lag, defaults, index, first, capital, yields, periods, buffer = args
    chunk = defaults.chunk(index)
    shared = share_chunk(pool, designs[0].structure, lag, chunk, periods, buffer)
    # Designs that differ elsewhere share their guarantors' default months on the chunk.
    months_of: dict[tuple[tuple[str, float, float], ...], np.ndarray] = {}
    months = []
    for design in designs:
        guarantees = design.structure.guarantees
        key = tuple((g.name, g.annual_pd, g.asset_correlation) for g in guarantees)
        if key not in months_of:
            months_of[key] = guarantor_default_months(design.structure, chunk)
        months.append(months_of[key])
    return summarise_many(
        [d.structure for d in designs],
        shared,
        months,
        yields,
        periods,
        [None if d.table is None else (d.table, first) for d in designs],
        [pool_cover_claims(pool, d.structure, chunk) for d in designs],
        capital,
    )


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
    scheduler: str | None = None,
    capital: dict[int, np.ndarray] | None = None,
    yields: bool = True,
    periods: bool = True,
) -> Outcomes:
    """Run the structure over every chunk of ``defaults`` and combine in chunk order.
    ``capital`` (enhancer index → one amount per path) is what each enhancer can still pay
    before it is insolvent, when earlier deals of its book have used some of its net assets.
    Without ``yields`` the
    per-path yields (``tranche.*.irr``) are neither solved for nor returned; without
    ``periods`` only per-path figures are (design evaluation needs no more)."""
    return evaluate_many(
        pool,
        [structure],
        lag,
        defaults,
        workers,
        progress,
        scheduler,
        capital,
        yields,
        periods,
    )[0]


def same_collections(first: Structure, other: Structure) -> bool:
    """Whether two designs on one pool collect the same cash: the same horizon and dates."""
    return first.horizon == other.horizon and np.array_equal(
        first.payment_months, other.payment_months
    )


def evaluate_many(
    pool: Pool,
    structures: list[Structure],
    lag: int,
    defaults: DefaultPaths,
    workers: int = 1,
    progress: bool = False,
    scheduler: str | None = None,
    capital: dict[int, np.ndarray] | None = None,
    yields: bool = True,
    periods: bool = True,
) -> list[Outcomes]:
    """``evaluate`` for several designs on the same paths, pool and payment dates: simulate
    once, evaluate many. Each chunk's collections and pool figures are made once and every
    design runs its waterfall on them, so one more design costs its waterfall alone."""
    if not structures:
        return []
    if any(not same_collections(structures[0], s) for s in structures[1:]):
        raise ValueError("designs evaluated together must share the horizon and payment dates")
    starts = np.r_[0, np.cumsum(defaults.sizes)]

    def part(k: int) -> dict[int, np.ndarray] | None:
        if capital is None:
            return None
        return {e: values[starts[k] : starts[k + 1]] for e, values in capital.items()}

    here = in_process(len(defaults.sizes), workers, scheduler)
    designs = []
    for structure in structures:
        # Run here, the kernel writes each design's per-path figures straight into one table.
        designs.append(
            _Design(structure, _table(structure, defaults.paths, yields) if here else None)
        )
    # Run here, the chunks take turns with one buffer for their block layout.
    buffer = None
    if here:
        blocks = -(-max(defaults.sizes) // LANES)
        dates = len(structures[0].payment_months)
        buffer = np.empty((blocks, COLLECTION_SERIES, dates, LANES))
    # Stored chunks travel to the workers one at a time; unstored ones are regenerated there.
    jobs = [
        (
            pool,
            tuple(designs),
            lag,
            _only_chunk(defaults, k),
            k,
            int(starts[k]),
            part(k),
            yields,
            periods,
            buffer,
        )
        for k in range(len(defaults.sizes))
    ]
    by_chunk = map_in_order(
        _evaluate_chunk, jobs, workers, "evaluating" if progress else None, scheduler
    )
    joined: dict[tuple[int, ...], np.ndarray] = {}
    return [
        _combined([chunk[d] for chunk in by_chunk], design, joined)
        for d, design in enumerate(designs)
    ]


def _table(structure: Structure, paths: int, yields: bool) -> np.ndarray:
    """A design's per-path table (``path_series`` rows × paths), its rows the kernel will write
    set to NaN beforehand: the kernel writes a block's columns of every row at a time, and
    the first touch of fresh memory in that order costs several times what filling it in
    order does (and an entry left unwritten shows as NaN)."""
    names = path_series(structure)
    table = np.empty((len(names), paths))
    for row, name in zip(table, names, strict=True):
        if yields or not name.endswith(".irr"):
            row.fill(np.nan)
    return table


def _combined(
    outcomes: list[Outcomes], design: _Design, joined: dict[tuple[int, ...], np.ndarray]
) -> Outcomes:
    """One design's chunks combined, in chunk order. Per-path figures the kernel wrote into
    the design's table are already whole; the pool's, the same arrays for every design, are
    joined once (``joined``, by the chunks' arrays)."""
    whole = {}
    if design.table is not None:
        whole = dict(zip(path_series(design.structure), design.table, strict=True))
    per_path = {}
    for name in outcomes[0].per_path:
        if name in whole:
            per_path[name] = whole[name]
            continue
        parts = [o.per_path[name] for o in outcomes]
        key = tuple(id(part) for part in parts)
        if key not in joined:
            joined[key] = np.concatenate(parts)
        per_path[name] = joined[key]

    def combined(field: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        first = getattr(outcomes[0], field)
        return {
            name: (
                sum(getattr(o, field)[name][0] for o in outcomes),
                sum(getattr(o, field)[name][1] for o in outcomes),
            )
            for name in first
        }

    return Outcomes(
        sum(o.paths for o in outcomes), per_path, combined("per_month"), combined("per_period")
    )
