"""Deterministic stress runs and each tranche's break-even default rate (临界违约率).

A deterministic run replaces random defaults by their expected timing: each loan's balance
survives month m with probability 1 − F_i(m), so a fraction F_i(m) − F_i(m−1) of it defaults in
month m (missing that month's payment) and is recovered at its recovery rate after the lag. The
pool's cash is then one path of fractional defaults, run through the same waterfall (guarantors
standing). Stresses change F, the recoveries or the loan coupons:

* ``default_multiplier`` k: F'(m) = min(k F(m), 0.9999);
* ``default_vector``: annual default rates (CDR) by year for every loan, replacing its PD;
* ``front_loaded`` f: a share f of each loan's lifetime defaults happens in its first 12 months
  (evenly), the rest evenly over the remaining months;
* ``recovery_haircut`` h: recoveries × (1 − h);
* ``spread_compression_bp`` δ: loan coupons lowered by δ (interest scaled by (c − δ)/c);
* ``asset_correlation``: a Monte Carlo rerun with that correlation (one-factor models).

The break-even default rate of a tranche is the smallest lifetime pool default rate (balance
weighted) at which it first loses more than one cent, with the base default timing scaled up or
down, found by a grid search whose points are the rows of one vectorised waterfall run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from securitize.collections import Collections
from securitize.enhancers.pool_cover import deterministic_cover_claims
from securitize.pool import Pool
from securitize.scenario import Stress
from securitize.schedules import PoolSchedule
from securitize.structure import Structure
from securitize.waterfall.ledger import Ledger, run_waterfall

CENT = 0.01
_MAX_CUMULATIVE = 0.9999
_BISECTION_STEPS = 40
# Points per bracket and round of the break-even search (rows of one waterfall run).
_GRID = 32


@dataclass(frozen=True)
class StressInputs:
    """What a deterministic run changes: default curve, recoveries, coupons."""

    cumulative_pd: np.ndarray
    recovery_rate: np.ndarray
    coupon_scale: np.ndarray


def expected_collections(
    pool: Pool, structure: Structure, lag: int, inputs: StressInputs
) -> Collections:
    """One path of fractional defaults: the pool's cash if every loan defaulted by its curve."""
    months = structure.horizon
    exposure = _Exposure.of_loans(pool.schedule.padded(months), inputs)
    return _cash_of(exposure, _padded_curves(inputs.cumulative_pd, months), lag)


def _padded_curves(cumulative_pd: np.ndarray, months: int) -> np.ndarray:
    """Cumulative default curves on ``months`` months, held at their last value."""
    cumulative = np.zeros((cumulative_pd.shape[0], months))
    width = min(cumulative_pd.shape[1], months)
    cumulative[:, :width] = cumulative_pd[:, :width]
    cumulative[:, width:] = cumulative_pd[:, [width - 1]]
    return cumulative


@dataclass(frozen=True)
class _Exposure:
    """Rows × months of what a deterministic run weighs by a row's default curve: the balance
    that can default, its recoverable part (× recovery rate) and the scheduled interest (×
    coupon scale) and principal. Rows are loans, or cohorts of loans sharing a curve: the run
    is linear in these given the curve, so a cohort's sums stand for its loans."""

    opening_balance: np.ndarray
    recoverable: np.ndarray
    interest: np.ndarray
    principal: np.ndarray

    @classmethod
    def of_loans(cls, schedule: PoolSchedule, inputs: StressInputs) -> _Exposure:
        return cls(
            schedule.opening_balance,
            schedule.opening_balance * inputs.recovery_rate[:, None],
            schedule.interest * inputs.coupon_scale[:, None],
            schedule.principal,
        )

    def summed(self, of_row: np.ndarray, rows: int) -> _Exposure:
        """The rows added up into ``rows`` groups (``of_row``: each row's group)."""

        def add(values: np.ndarray) -> np.ndarray:
            out = np.zeros((rows, values.shape[1]))
            np.add.at(out, of_row, values)
            return out

        return _Exposure(
            add(self.opening_balance),
            add(self.recoverable),
            add(self.interest),
            add(self.principal),
        )


def _cash_of(exposure: _Exposure, cumulative: np.ndarray, lag: int) -> Collections:
    """The expected cash of ``exposure``'s rows, each under its cumulative default curve."""
    months = cumulative.shape[1]
    survival = 1.0 - cumulative
    defaulting = np.diff(np.c_[np.zeros(cumulative.shape[0]), cumulative], axis=1)
    defaulted = exposure.opening_balance * defaulting
    recovered = (exposure.recoverable * defaulting).sum(axis=0)
    recoveries = np.zeros(months)
    recoveries[lag:] = recovered[: months - lag] if lag < months else 0.0
    lost = defaulted.sum() - recovered.sum()
    late = recovered[max(months - lag, 0) :].sum() if lag > 0 else 0.0
    closing = exposure.opening_balance - exposure.principal
    return Collections(
        interest=(exposure.interest * survival).sum(axis=0)[None, :],
        principal=(exposure.principal * survival).sum(axis=0)[None, :],
        recoveries=recoveries[None, :],
        defaulted=defaulted.sum(axis=0)[None, :],
        performing_balance=(closing * survival).sum(axis=0)[None, :],
        loss=np.array([lost + late]),
        scheduled_principal=exposure.principal.sum(axis=0),
    )


@dataclass(frozen=True)
class _Cohorts:
    """The loans grouped by identical default curve under one stress's recoveries and coupons:
    a search that scales the default level (which keeps equal curves equal) runs on a few
    cohorts instead of thousands of loans."""

    of_loan: np.ndarray  # each loan's cohort
    curves: np.ndarray  # cohorts × months: each cohort's cumulative default curve
    exposure: _Exposure  # cohorts × months
    loans: StressInputs  # the loans' inputs the cohorts were formed under

    @classmethod
    def of(cls, pool: Pool, months: int, inputs: StressInputs) -> _Cohorts:
        cumulative = _padded_curves(inputs.cumulative_pd, months)
        curves, of_loan = np.unique(cumulative, axis=0, return_inverse=True)
        of_loan = of_loan.ravel()
        exposure = _Exposure.of_loans(pool.schedule.padded(months), inputs)
        return cls(of_loan, curves, exposure.summed(of_loan, curves.shape[0]), inputs)

    def loan_inputs(self, curves: np.ndarray) -> StressInputs:
        """The loans' inputs with the cohorts' curves replaced by ``curves``."""
        return replace(self.loans, cumulative_pd=curves[self.of_loan])


def _fractional_defaults(
    pool: Pool, months: int, inputs: StressInputs
) -> tuple[np.ndarray, np.ndarray]:
    """Loans × months: cumulative default probability, and the balance defaulting each month."""
    schedule = pool.schedule.padded(months)
    cumulative = _padded_curves(inputs.cumulative_pd, months)
    defaulting = np.diff(np.c_[np.zeros(pool.size), cumulative], axis=1)
    return cumulative, schedule.opening_balance * defaulting


def stressed_inputs(pool: Pool, base_cumulative: np.ndarray, stress: Stress | None) -> StressInputs:
    """Apply a stress's changes to the base default curves, recoveries and coupons."""
    cumulative = base_cumulative.copy()
    recovery = pool.recovery_rate.copy()
    coupon_scale = np.ones(pool.size)
    if stress is None:
        return StressInputs(cumulative, recovery, coupon_scale)
    months = cumulative.shape[1]
    grid = np.arange(1, months + 1)
    tenor = pool.tenor_months
    if stress.default_vector is not None:
        rates = np.asarray(stress.default_vector, dtype=float)
        year = np.minimum((grid - 1) // 12, rates.size - 1)
        monthly_survival = (1.0 - rates[year]) ** (1.0 / 12.0)
        curve = 1.0 - np.cumprod(monthly_survival)
        cumulative = np.broadcast_to(curve, cumulative.shape).copy()
    if stress.front_loaded is not None:
        lifetime = cumulative[np.arange(pool.size), tenor - 1][:, None]
        first = np.minimum(grid[None, :], 12) / 12.0
        rest_months = np.maximum(tenor - 12, 1)[:, None]
        rest = np.clip((grid[None, :] - 12) / rest_months, 0.0, 1.0)
        share = stress.front_loaded * first + (1.0 - stress.front_loaded) * rest
        cumulative = lifetime * np.where(grid[None, :] <= tenor[:, None], share, 1.0)
    if stress.default_multiplier is not None:
        cumulative = np.minimum(cumulative * stress.default_multiplier, _MAX_CUMULATIVE)
    if stress.recovery_haircut is not None:
        recovery = recovery * (1.0 - stress.recovery_haircut)
    if stress.spread_compression_bp is not None:
        coupon = pool.loans["coupon"].to_numpy(dtype=float)
        lowered = np.maximum(coupon - stress.spread_compression_bp / 10_000, 0.0)
        coupon_scale = np.divide(lowered, coupon, out=np.zeros_like(coupon), where=coupon > 0)
    hold = grid[None, :] > tenor[:, None]
    cumulative = np.where(hold, cumulative[np.arange(pool.size), tenor - 1][:, None], cumulative)
    return StressInputs(cumulative, recovery, coupon_scale)


def run_deterministic(
    pool: Pool, structure: Structure, lag: int, inputs: StressInputs
) -> tuple[Collections, Ledger]:
    collections = expected_collections(pool, structure, lag, inputs)
    standing = np.full((1, len(structure.guarantees)), structure.horizon + 1)
    _, defaulted = _fractional_defaults(pool, structure.horizon, inputs)
    losses = defaulted * (1.0 - inputs.recovery_rate[:, None])
    covers = deterministic_cover_claims(pool, structure, losses)
    return collections, run_waterfall(structure, collections, standing, covers)


def pool_default_rate(pool: Pool, cumulative: np.ndarray) -> float:
    """Lifetime cumulative default rate of the pool, weighted by original balance."""
    lifetime = cumulative[np.arange(pool.size), pool.tenor_months - 1]
    return float(lifetime @ pool.balance / pool.total_balance)


def tranche_losses(structure: Structure, ledger: Ledger) -> dict[str, dict[str, float]]:
    """Each tranche's stand-alone and wrapped loss (share of its balance) on one path."""
    out = {}
    for terms, t in zip(structure.tranches, ledger.tranches, strict=True):
        standalone = t.unpaid_principal + t.investor_arrears + t.guarantor_arrears
        wrapped = t.unpaid_principal - t.guarantor_principal.sum(axis=1) + t.investor_arrears
        out[terms.name] = {
            "standalone_loss": float(standalone[0] / terms.balance),
            "wrapped_loss": float(wrapped[0] / terms.balance),
        }
    return out


def deterministic_result(
    name: str, pool: Pool, structure: Structure, lag: int, inputs: StressInputs
) -> dict[str, Any]:
    """A stress run's figures: default rate, pool loss, tranche losses, coverage by date."""
    collections, ledger = run_deterministic(pool, structure, lag, inputs)
    due = ledger.due[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(due > CENT, ledger.available[0] / due, np.nan)
    return {
        "name": name,
        "pool_default_rate": pool_default_rate(pool, inputs.cumulative_pd),
        "pool_loss": float(collections.loss[0] / pool.total_balance),
        "tranches": tranche_losses(structure, ledger),
        "coverage_multiple": [None if np.isnan(c) else float(c) for c in coverage],
        "minimum_coverage_multiple": float(np.nanmin(coverage))
        if np.isfinite(coverage).any()
        else None,
    }


def _batch_ledger(
    pool: Pool,
    structure: Structure,
    lag: int,
    runs: list[StressInputs] | list[np.ndarray],
    cohorts: _Cohorts | None = None,
) -> Ledger:
    """Several deterministic runs as the rows of one waterfall run (it is vectorised over
    paths): row k is ``run_deterministic`` of ``runs[k]``. With ``cohorts`` each run is given
    as the cohorts' default curves (cohorts × months)."""
    months = structure.horizon
    if cohorts is None:
        parts = [expected_collections(pool, structure, lag, inputs) for inputs in runs]
    else:
        parts = [_cash_of(cohorts.exposure, curves, lag) for curves in runs]
    collections = Collections(
        interest=np.vstack([c.interest for c in parts]),
        principal=np.vstack([c.principal for c in parts]),
        recoveries=np.vstack([c.recoveries for c in parts]),
        defaulted=np.vstack([c.defaulted for c in parts]),
        performing_balance=np.vstack([c.performing_balance for c in parts]),
        loss=np.concatenate([c.loss for c in parts]),
        scheduled_principal=parts[0].scheduled_principal,
    )
    claims = []
    # Without pool-level enhancers there is nothing to claim (and the claims are slow to lay out).
    for run in runs if structure.pool_enhancers else []:
        inputs = run if cohorts is None else cohorts.loan_inputs(run)
        _, defaulted = _fractional_defaults(pool, months, inputs)
        losses = defaulted * (1.0 - inputs.recovery_rate[:, None])
        claims.append(deterministic_cover_claims(pool, structure, losses))
    covers = {k: np.vstack([c[k] for c in claims]) for k in (claims[0] if claims else {})}
    if not claims:
        covers = deterministic_cover_claims(pool, structure, np.zeros((pool.size, months)))
        covers = {k: np.repeat(v, len(runs), axis=0) for k, v in covers.items()}
    standing = np.full((len(runs), len(structure.guarantees)), months + 1)
    return run_waterfall(structure, collections, standing, covers)


def break_even_default_rates(
    pool: Pool,
    structure: Structure,
    lag: int,
    base_cumulative: np.ndarray,
    stress: Stress | None = None,
    basis: str = "lifetime",
) -> list[float | None]:
    """Every tranche's break-even default rate (most senior first): the smallest lifetime pool
    default rate at which it loses (stand-alone) more than one cent, scaling the base default
    timing; None if it never loses, 0 if it loses with no defaults.

    ``stress`` (optional) is applied first, as in a stress run: its timing, recovery haircut and
    spread compression stay in place while the default level is scaled. ``basis`` is how the
    rate is measured: ``"lifetime"`` (:func:`pool_default_rate`, original balances) or
    ``"defaulted_balance"`` (the balance outstanding at default over the pool's cut-off balance,
    the measure of the Monte Carlo's ``pool.defaulted``).

    The scale is searched on a grid of ``_GRID`` points inside each tranche's bracket, every
    point of every tranche one row of a single waterfall run, until the bracket is as narrow
    as ``_BISECTION_STEPS`` halvings would make it; the answer is the first scale that loses.
    """
    if basis not in ("lifetime", "defaulted_balance"):
        raise ValueError(f"basis {basis!r}: must be 'lifetime' or 'defaulted_balance'")
    base = stressed_inputs(pool, base_cumulative, stress)
    count = len(structure.tranches)
    largest = float(base.cumulative_pd.max())
    if pool_default_rate(pool, base.cumulative_pd) <= 0 or largest <= 0:
        return [None] * count
    top = _MAX_CUMULATIVE / largest
    balances = np.array([t.balance for t in structure.tranches])
    cohorts = _Cohorts.of(pool, structure.horizon, base)

    def scaled(scale: float) -> np.ndarray:
        """The cohorts' curves with the default level scaled."""
        return np.minimum(cohorts.curves * scale, _MAX_CUMULATIVE)

    def loses(scales: np.ndarray) -> np.ndarray:
        """Scales × tranches: whether the tranche loses more than a cent at that scale."""
        ledger = _batch_ledger(pool, structure, lag, [scaled(float(x)) for x in scales], cohorts)
        owed = np.column_stack(
            [t.unpaid_principal + t.investor_arrears + t.guarantor_arrears for t in ledger.tranches]
        )
        return (owed > CENT) & (balances[None, :] > 0)

    ends = loses(np.array([0.0, top]))
    low, high = np.zeros(count), np.full(count, top)
    searching = ends[1] & ~ends[0]
    fractions = np.arange(1, _GRID + 1) / (_GRID + 1)
    width = top * 0.5**_BISECTION_STEPS
    while True:
        open_ = np.flatnonzero(searching & (high - low > width))
        if open_.size == 0:
            break
        points = low[open_, None] + (high - low)[open_, None] * fractions[None, :]
        flags = loses(points.ravel()).reshape(open_.size, _GRID, count)
        for row, j in enumerate(open_):
            hits = flags[row, :, j]
            first = int(np.argmax(hits)) if hits.any() else _GRID
            if first > 0:
                low[j] = points[row, first - 1]
            if first < _GRID:
                high[j] = points[row, first]
    out: list[float | None] = []
    for j in range(count):
        if not ends[1, j]:
            out.append(None)
        elif ends[0, j]:
            out.append(0.0)
        else:
            inputs = cohorts.loan_inputs(scaled(float(high[j])))
            if basis == "lifetime":
                out.append(pool_default_rate(pool, inputs.cumulative_pd))
            else:
                _, defaulted = _fractional_defaults(pool, structure.horizon, inputs)
                out.append(float(defaulted.sum() / pool.total_balance))
    return out


def break_even_default_rate(
    pool: Pool,
    structure: Structure,
    lag: int,
    base_cumulative: np.ndarray,
    tranche: int,
    stress: Stress | None = None,
    basis: str = "lifetime",
) -> float | None:
    """One tranche's :func:`break_even_default_rates`."""
    return break_even_default_rates(pool, structure, lag, base_cumulative, stress, basis)[tranche]
