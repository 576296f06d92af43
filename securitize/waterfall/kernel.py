"""The compiled waterfall kernel (numba): the one engine that runs every priority of payments.

Evaluating a design on shared paths is the waterfall plus its reduction to outcomes. The kernel
runs the priority of payments on blocks of paths and reduces each path as it goes
(``ledger_outcomes``), so nothing paths × dates is written; the collections reach it in a block
layout made once per chunk (``blocked``), and several designs on one chunk run together, a few
blocks at a time through every design (``ledger_outcomes_many``). What needs the ledger itself
(statements, stresses, the repayment schedule) runs it in ledger mode (``ledger_run``, read by
``waterfall.ledger.run_waterfall``): the same code writing every date's rows as well.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from securitize.collections import PeriodCollections
from securitize.structure import Structure
from securitize.waterfall.kernel_codes import COLLECTION_SERIES, LANES
from securitize.waterfall.kernel_lower import (
    ledger_ends,
    ledger_series,
    lower,
    path_series,
    period_series,
)


def ensure_cache_dir() -> None:
    """Numba caches compiled code beside the source; where the package folder cannot be
    written (a system-wide install), it goes to a folder under the temporary directory.
    Called before the kernel's functions are defined (numba picks the folder then)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    beside = Path(__file__).parent / "__pycache__"
    try:
        beside.mkdir(exist_ok=True)
        writable = os.access(beside, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        folder = str(Path(tempfile.gettempdir()) / "securitize-numba")
        os.environ["NUMBA_CACHE_DIR"] = folder
        numba = sys.modules.get("numba")
        if numba is not None:
            # numba read its settings when it was imported.
            numba.config.CACHE_DIR = folder


# The yield solver (kernel_loop._yields): bisections to shrink the bracket, then Newton steps
# (quadratic near the root); continuous rates are kept within ±_RATE_LIMIT.
_IRR_BISECTIONS = 6
_IRR_NEWTON_STEPS = 6
_RATE_LIMIT = 20.0


def _floats(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _discount_steps(payment_months: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The months from one payment date to the next (from month 0 to the first), as an index
    into their distinct values: on the month grid the kernel discounts by powers of one monthly
    factor."""
    steps = np.diff(np.r_[0, payment_months]).astype(np.int64)
    gaps, index = np.unique(steps, return_inverse=True)
    return index.astype(np.int64), gaps.astype(np.int64)


def lanes_for(paths: int) -> int:
    """The block width for ``paths`` paths: ``LANES``, or for fewer paths the smallest power
    of two (at least 8, the kernel's partial sums) that holds them, so that a single path or a
    few stresses do not run a thousand empty lanes."""
    width = 8
    while width < min(paths, LANES):
        width *= 2
    return width


def _into_blocks(values: np.ndarray, out: np.ndarray) -> None:
    """Write one paths × periods series into ``out`` (blocks × periods × lanes): path
    b·lanes + l goes to block b, lane l; lanes past the last path are left as they are."""
    values = np.asarray(values, dtype=np.float64)
    paths, periods = values.shape
    lanes = out.shape[-1]
    full, rest = divmod(paths, lanes)
    out[:full] = values[: full * lanes].reshape(full, lanes, periods).transpose(0, 2, 1)
    if rest:
        out[full, :, :rest] = values[full * lanes :].T


def blocked(
    period: PeriodCollections, buffer: np.ndarray | None = None, lanes: int = LANES
) -> np.ndarray:
    """The collections in the kernel's block layout: blocks × series × periods × LANES, the
    paths padded with zeros to whole blocks, so that the kernel reads each block's dates as
    contiguous rows of lanes. Nothing in it depends on the design: it is made once per chunk
    and shared by every design evaluated on that chunk (``evaluate.evaluate_many``). Written
    into the leading blocks of ``buffer`` if given (one buffer serves every chunk of an
    evaluation, instead of fresh memory for each). ``lanes`` is the block width."""
    series = (
        period.interest,
        period.principal + period.recoveries,
        period.defaulted,
        period.performing_balance,
        period.fee_base,
    )
    paths, periods = period.interest.shape
    full, rest = divmod(paths, lanes)
    shape = (full + (rest > 0), COLLECTION_SERIES, periods, lanes)
    if buffer is None:
        out = np.zeros(shape)
    else:
        if buffer.shape[0] < shape[0] or buffer.shape[1:] != shape[1:]:
            raise ValueError("the block buffer does not fit the collections")
        out = buffer[: shape[0]]
        out[full:] = 0.0
    for c, values in enumerate(series):
        _into_blocks(values, out[:, c])
    return out


def pool_blocked(
    structure: Structure,
    claims: dict[int, np.ndarray],
    paths: int,
    periods: int,
    lanes: int = LANES,
) -> np.ndarray:
    """Each pool enhancer's claims (``enhancers.pool_cover.pool_cover_claims``: paths ×
    periods) in the block layout: blocks × pool enhancers × periods × lanes."""
    enhancers = structure.pool_enhancers
    full, rest = divmod(paths, lanes)
    out = np.zeros((full + (rest > 0), len(enhancers), periods, lanes))
    for slot, k in enumerate(enhancers):
        _into_blocks(claims[k], out[:, slot])
    return out


Figures = tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray]

# Blocks of paths run through every design before the next blocks: their collections (about
# 1.5 MB a block) stay in the processor's shared cache from one design to the next.
SPAN = 4


def ledger_outcomes(
    structure: Structure,
    period: PeriodCollections,
    guarantor_default: np.ndarray,
    weight: np.ndarray | None,
    yields: bool = True,
    blocks: np.ndarray | None = None,
    periods: bool = True,
    table: tuple[np.ndarray, int] | None = None,
    pool_claims: dict[int, np.ndarray] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> Figures:
    """What ``evaluate.summarise`` derives from the waterfall's ledger, computed by the kernel:
    per-path outcomes, per-period (weighted sum, sum of squares), and the per-period cross
    moment Σ (w·available)(w·due). Without ``yields`` the per-path yields are not solved for
    and left out; without ``periods`` the per-period sums are not made (empty, and the cross
    moment zero). ``blocks`` is ``blocked(period)`` when the caller shares it between
    designs. ``table`` (an array of ``path_series`` rows × every path of the evaluation, and
    this chunk's first column) receives the per-path figures in place, so that chunks need no
    joining afterwards; the figures returned are views of it. ``pool_claims`` and
    ``capital`` are ``waterfall.ledger.run_waterfall``'s: each pool enhancer's claims (paths ×
    periods) and what each enhancer can pay per path before it is insolvent."""
    return ledger_outcomes_many(
        [structure],
        period,
        [guarantor_default],
        weight,
        yields,
        blocks,
        periods,
        [table],
        [pool_claims],
        capital,
    )[0]


def ledger_outcomes_many(
    structures: list[Structure],
    period: PeriodCollections,
    guarantor_defaults: list[np.ndarray],
    weight: np.ndarray | None,
    yields: bool = True,
    blocks: np.ndarray | None = None,
    periods: bool = True,
    tables: list[tuple[np.ndarray, int] | None] | None = None,
    pool_claims: list[dict[int, np.ndarray] | None] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> list[Figures]:
    """``ledger_outcomes`` for several designs on one chunk, ``SPAN`` blocks of paths at a
    time through every design (the same figures as one design at a time, to the last
    digit)."""
    paths, dates = period.interest.shape
    if blocks is None:
        blocks = blocked(period)
    lanes = blocks.shape[-1]
    if blocks.shape != (-(-paths // lanes), COLLECTION_SERIES, dates, lanes):
        raise ValueError("blocked collections do not match the collections")
    weights = _floats(np.ones(paths) if weight is None else weight)
    none = [None] * len(structures)
    runs = [
        _Run(structure, period, months, yields, periods, table, claims, capital, lanes)
        for structure, months, table, claims in zip(
            structures, guarantor_defaults, tables or none, pool_claims or none, strict=True
        )
    ]
    _drive(runs, blocks, weights)
    return [run.figures() for run in runs]


def ledger_run(
    structure: Structure,
    period: PeriodCollections,
    guarantor_default: np.ndarray,
    pool_claims: dict[int, np.ndarray] | None,
    capital: dict[int, np.ndarray] | None,
    lanes: int = LANES,
) -> _Run:
    """The kernel in ledger mode on every path of ``period``: the run's ``out_ledger`` and
    ``out_end`` hold each date's ledger rows and the end-of-deal amounts
    (``kernel_lower.ledger_series`` and ``ledger_ends``; ``waterfall.ledger`` reads them)."""
    paths = period.interest.shape[0]
    run = _Run(
        structure, period, guarantor_default, False, False, None, pool_claims, capital, lanes, True
    )
    _drive([run], blocked(period, lanes=lanes), _floats(np.ones(paths)))
    return run


def _drive(runs: list[_Run], blocks: np.ndarray, weights: np.ndarray) -> None:
    """Run the kernel for every run on ``blocks``, ``SPAN`` blocks at a time through every
    run (their collections stay in cache from one design to the next)."""
    from securitize.waterfall.kernel_loop import run_kernel

    lanes, paths = blocks.shape[-1], weights.shape[0]
    for start in range(0, blocks.shape[0], SPAN):
        stop = min(start + SPAN, blocks.shape[0])
        first, last = start * lanes, min(stop * lanes, paths)
        for run in runs:
            run_kernel(
                blocks[start:stop],
                run.pool_blocks[start:stop],
                *run.dates,
                run.guarantor_default[first:last],
                run.capital[first:last],
                weights[first:last],
                run.discount,
                *run.lowered.arrays,
                run.out_sum,
                run.out_square,
                run.out_cross,
                run.out_path,
                run.first + first,
                run.out_ledger,
                run.out_end,
            )


class _Run:
    """One design's inputs and outputs for the kernel on one chunk."""

    def __init__(
        self,
        structure: Structure,
        period: PeriodCollections,
        guarantor_default: np.ndarray,
        yields: bool,
        periods: bool,
        table: tuple[np.ndarray, int] | None,
        pool_claims: dict[int, np.ndarray] | None,
        capital: dict[int, np.ndarray] | None,
        lanes: int = LANES,
        ledger: bool = False,
    ) -> None:
        from securitize.enhancers.metrics import discount_factors

        paths, dates = period.interest.shape
        if dates != len(structure.payment_months):
            raise ValueError("collections and structure disagree on the payment periods")
        self.paths, self.yields, self.periods = paths, yields, periods
        steps = (_IRR_BISECTIONS, _IRR_NEWTON_STEPS) if yields else (0, 0)
        self.lowered = lower(structure, *steps, _RATE_LIMIT, periods, ledger)
        self.by_period = period_series(structure)
        self.by_path = path_series(structure)
        self.dates = (
            _floats(period.months),
            _floats(structure.period_start_months),
            _floats(period.scheduled_principal),
            _floats(structure.payment_years),
            *self._discounting(structure),
        )
        guarantees = structure.guarantees
        self.guarantor_default = _floats(
            np.asarray(guarantor_default).reshape(paths, len(guarantees))
        )
        # What each enhancer can pay on each path before it is insolvent (its net assets,
        # less what earlier deals of its book took).
        self.capital = np.empty((paths, len(guarantees)))
        for k, g in enumerate(guarantees):
            self.capital[:, k] = (capital or {}).get(k, g.capital)
        self.pool_blocks = pool_blocked(structure, pool_claims or {}, paths, dates, lanes)
        # Ledger mode: every date's ledger rows, and the end-of-deal amounts, per path.
        rows = (len(ledger_series(structure)), len(ledger_ends(structure))) if ledger else (0, 0)
        self.out_ledger = np.zeros((rows[0], dates if ledger else 0, paths if ledger else 0))
        self.out_end = np.zeros((rows[1], paths if ledger else 0))
        self.discount = _floats(
            np.array([discount_factors(structure, g.spec.discount_rate) for g in guarantees])
        ).reshape(len(guarantees), dates)
        self.out_sum = np.zeros((dates, len(self.by_period)))
        self.out_square = np.zeros((dates, len(self.by_period)))
        self.out_cross = np.zeros(dates)
        if table is None:
            self.out_path, self.first = np.empty((len(self.by_path), paths)), 0
        else:
            self.out_path, self.first = table
            if self.out_path.shape[0] != len(self.by_path) or (
                self.first + paths > self.out_path.shape[1]
            ):
                raise ValueError("the per-path table does not fit the structure and chunk")

    @staticmethod
    def _discounting(structure: Structure) -> tuple[np.ndarray, np.ndarray]:
        """The yield solver's discount steps: powers of a monthly factor on the month grid; none
        on a dated deal, whose dates are days apart (the solver then discounts each date by
        its own exponential)."""
        if structure.dates is None:
            return _discount_steps(structure.payment_months)
        periods = len(structure.payment_months)
        return np.zeros(periods, dtype=np.int64), np.zeros(0, dtype=np.int64)

    def figures(self) -> Figures:
        """The figures the kernel wrote (``ledger_outcomes``'s return)."""
        first = self.first
        per_path = {
            name: values[first : first + self.paths]
            for name, values in zip(self.by_path, self.out_path, strict=True)
            if self.yields or not name.endswith(".irr")
        }
        if not self.periods:
            return per_path, {}, self.out_cross
        sums = {
            name: (self.out_sum[:, i], self.out_square[:, i])
            for i, name in enumerate(self.by_period)
        }
        return per_path, sums, self.out_cross
