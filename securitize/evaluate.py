"""Evaluating a structure over simulated paths, chunk by chunk.

For each chunk: pool collections from its default events, the enhancers' default months, the
waterfall; then the chunk is reduced to per-path outcomes (losses, WAL, claims) and per-month
running sums. Chunks are reduced in order, so the totals do not depend on the worker count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from securitize.collections import PeriodCollections
from securitize.credit.counterparty import enhancer_default_months
from securitize.credit.losses import cumulative_loss_by_month
from securitize.credit.paths import DefaultChunk, DefaultPaths
from securitize.enhancers.metrics import enhancer_outcomes
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.parallel import map_in_order
from securitize.period_cash import period_collections
from securitize.pool import Pool
from securitize.structure import Structure
from securitize.waterfall import kernel
from securitize.waterfall.engine import Ledger, run_waterfall

# Amounts below one cent are rounding, not losses.
CENT = 0.01
# Yield solver: bisections to shrink the bracket, then Newton steps (quadratic near the root).
_IRR_BISECTIONS = 6
_IRR_NEWTON_STEPS = 6
_RATE_LIMIT = 20.0


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


def chunk_ledger(
    pool: Pool,
    structure: Structure,
    lag: int,
    chunk: DefaultChunk,
    capital: dict[int, np.ndarray] | None = None,
) -> tuple[PeriodCollections, np.ndarray, Ledger]:
    """Collections, pool losses and the waterfall's ledger for one chunk (``capital``: what
    each enhancer can still pay on each of the chunk's paths, if not its net assets)."""
    collections, loss = chunk_collections(pool, structure, lag, chunk)
    months = guarantor_default_months(structure, chunk)
    covers = pool_cover_claims(pool, structure, chunk)
    return collections, loss, run_waterfall(structure, collections, months, covers, capital)


def guarantor_default_months(structure: Structure, chunk: DefaultChunk) -> np.ndarray:
    """Paths × guarantors: each guarantor's default month on the chunk's paths."""
    return enhancer_default_months(
        chunk,
        [g.name for g in structure.guarantees],
        np.array([g.annual_pd for g in structure.guarantees]),
        np.array([g.asset_correlation for g in structure.guarantees]),
        structure.horizon,
    )


def _weighted_life(principal: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Per-path weighted-average life in years of the principal actually received."""
    received = principal.sum(axis=1)
    timed = principal @ years
    return np.divide(timed, received, out=np.full(received.shape, np.nan), where=received > CENT)


def internal_rate_of_return(cash: np.ndarray, years: np.ndarray, price: float) -> np.ndarray:
    """Per-path annual yield y with Σ cash_p (1 + y)^(−t_p) = price (−100% when nothing is ever
    paid), vectorised over paths.

    Solved for r = log(1 + y): the present value f(r) = Σ c_p e^(−r t_p) − price is convex and
    decreasing, and with ρ = log(Σc / price) and t₁, t₂ the first and last payment times the root
    lies between ρ/t₂ and ρ/t₁ (f ≥ 0 at the smaller, ≤ 0 at the larger). Bisection narrows that
    bracket; Newton's method from its left end then climbs to the root without overshooting.
    """
    total = cash.sum(axis=1)
    paid = total > CENT
    ratio = np.log(np.where(paid, total, price) / price)
    positive = cash > 0
    first = years[np.argmax(positive, axis=1)]
    last = years[cash.shape[1] - 1 - np.argmax(positive[:, ::-1], axis=1)]
    # Continuous rates beyond ±20 (a yield within 2e-9 of −100%, or above e^20) are clipped:
    # they only arise for cash of a fraction of a cent and would overflow the exponentials.
    low = np.clip(np.minimum(ratio / first, ratio / last), -_RATE_LIMIT, _RATE_LIMIT)
    high = np.clip(np.maximum(ratio / first, ratio / last), -_RATE_LIMIT, _RATE_LIMIT)

    def discounted(rate: np.ndarray) -> np.ndarray:
        return cash * np.exp(-rate[:, None] * years[None, :])

    for _ in range(_IRR_BISECTIONS):
        middle = 0.5 * (low + high)
        above = discounted(middle).sum(axis=1) >= price
        low = np.where(above, middle, low)
        high = np.where(above, high, middle)
    rate = low
    for _ in range(_IRR_NEWTON_STEPS):
        flows = discounted(rate)
        value = flows.sum(axis=1) - price
        slope = -(flows @ years)
        step = np.divide(value, slope, out=np.zeros_like(value), where=slope < 0)
        rate = np.clip(rate - step, -_RATE_LIMIT, _RATE_LIMIT)
    return np.where(paid, np.expm1(rate), -1.0)


def pool_outcomes(
    pool: Pool,
    structure: Structure,
    chunk: DefaultChunk,
    period: PeriodCollections,
    loss: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The chunk's pool figures, which no design changes: per-path, per-month and per-period
    series (the waterfall's are added by ``summarise`` or ``summarise_compiled``)."""
    exposure = pool.schedule.padded(structure.horizon).opening_balance
    cumulative_loss = cumulative_loss_by_month(
        chunk, exposure / pool.total_balance, structure.horizon
    )
    per_path: dict[str, np.ndarray] = {
        "weight": chunk.weight,
        "pool.loss_at_default": cumulative_loss[:, -1],
        "pool.loss": loss / pool.total_balance,
        "pool.defaulted": period.defaulted.sum(axis=1) / pool.total_balance,
    }
    per_month: dict[str, np.ndarray] = {"pool.cumulative_loss": cumulative_loss}
    for tranche in structure.loss_tranches:
        width = tranche.detachment - tranche.attachment
        share = np.clip(cumulative_loss - tranche.attachment, 0.0, width) / width
        per_month[f"loss_tranche.{tranche.name}"] = share
    per_period: dict[str, np.ndarray] = {
        "pool.interest": period.interest,
        "pool.principal": period.principal,
        "pool.recoveries": period.recoveries,
        "pool.defaulted": period.defaulted,
        "pool.performing_balance": period.performing_balance,
    }
    return per_path, per_month, per_period


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
    pool: Pool,
    structure: Structure,
    chunk: DefaultChunk,
    period: PeriodCollections,
    loss: np.ndarray,
    ledger: Ledger,
    yields: bool = True,
) -> Outcomes:
    """Reduce a chunk's ledger to the figures the results report (per-path yields only with
    ``yields``: design comparisons do not report them, and solving for them is costly)."""
    paths = period.interest.shape[0]
    years = structure.payment_months / 12.0
    per_path, per_month, per_period = pool_outcomes(pool, structure, chunk, period, loss)
    per_period.update(available=ledger.available, due=ledger.due, residual=ledger.residual)
    for name, paid in ledger.fees_paid.items():
        per_period[f"fee.{name}"] = paid
    for name, balance in ledger.accounts.items():
        per_period[f"account.{name}"] = balance
    for name, state in ledger.triggers.items():
        per_period[f"trigger.{name}"] = state.astype(float)
    per_period["accelerated"] = ledger.accelerated.astype(float)
    residual_holder = structure.program.residual_tranche
    for j, (terms, t) in enumerate(zip(structure.tranches, ledger.tranches, strict=True)):
        key = f"tranche.{terms.name}"
        # The holder of the residual earns it: it is part of that tranche's yield.
        excess = ledger.residual if j == residual_holder else 0.0
        standalone_interest = t.interest_paid + t.guarantor_reimbursed
        wrapped_interest = t.interest_paid + t.guarantor_interest
        wrapped_principal = t.principal_paid + t.guarantor_principal
        owed_standalone = t.unpaid_principal + t.investor_arrears + t.guarantor_arrears
        owed_wrapped = t.unpaid_principal - t.guarantor_principal[:, -1] + t.investor_arrears
        per_path[f"{key}.standalone.loss"] = owed_standalone / terms.balance
        per_path[f"{key}.wrapped.loss"] = owed_wrapped / terms.balance
        per_path[f"{key}.standalone.wal"] = _weighted_life(t.principal_paid, years)
        per_path[f"{key}.wrapped.wal"] = _weighted_life(wrapped_principal, years)
        if yields:
            per_path[f"{key}.standalone.irr"] = internal_rate_of_return(
                standalone_interest + t.principal_paid + excess, years, terms.balance
            )
            per_path[f"{key}.wrapped.irr"] = internal_rate_of_return(
                wrapped_interest + wrapped_principal + excess, years, terms.balance
            )
        per_path[f"{key}.interest_shortfall"] = t.shortfall.sum(axis=1)
        per_period[f"{key}.standalone.interest"] = standalone_interest
        per_period[f"{key}.standalone.principal"] = t.principal_paid
        per_period[f"{key}.wrapped.interest"] = wrapped_interest
        per_period[f"{key}.wrapped.principal"] = wrapped_principal
        per_period[f"{key}.balance"] = t.balance
    enhancer_paths, enhancer_periods = enhancer_outcomes(structure, ledger)
    per_path.update(enhancer_paths)
    per_period.update(enhancer_periods)
    if structure.pool_enhancers:
        per_period["pool_cover_cash"] = ledger.cover_cash
    weight = _weight(chunk)
    period_sums = moments(per_period, weight)
    # The cross moment Σ (w a)(w d) gives the standard error of the coverage multiple E[a]/E[d].
    w = 1.0 if weight is None else weight
    cross = (w * ledger.available * w * ledger.due).sum(axis=0)
    period_sums["coverage.cross"] = (cross, cross)
    return Outcomes(paths, per_path, moments(per_month, weight), period_sums)


def summarise_compiled(
    pool: Pool,
    structure: Structure,
    chunk: DefaultChunk,
    period: PeriodCollections,
    loss: np.ndarray,
    guarantor_default: np.ndarray,
    yields: bool = True,
) -> Outcomes:
    """``summarise``'s figures, the waterfall run and reduced by the compiled kernel
    (``waterfall.kernel``) instead of a numpy ledger."""
    per_path, per_month, per_period = pool_outcomes(pool, structure, chunk, period, loss)
    weight = _weight(chunk)
    compiled_paths, compiled_sums, cross = kernel.ledger_outcomes(
        structure, period, guarantor_default, None if weight is None else chunk.weight, yields
    )
    per_path.update(compiled_paths)
    period_sums = moments(per_period, weight)
    period_sums.update(compiled_sums)
    period_sums["coverage.cross"] = (cross, cross)
    return Outcomes(period.interest.shape[0], per_path, moments(per_month, weight), period_sums)


def _evaluate_chunk(
    args: tuple[Pool, Structure, int, DefaultPaths, int, dict[int, np.ndarray] | None, bool, bool],
) -> Outcomes:
    pool, structure, lag, defaults, index, capital, compiled, yields = args
    chunk = defaults.chunk(index)
    if compiled and capital is None and kernel.usable(structure):
        period, loss = chunk_collections(pool, structure, lag, chunk)
        months = guarantor_default_months(structure, chunk)
        return summarise_compiled(pool, structure, chunk, period, loss, months, yields)
    period, loss, ledger = chunk_ledger(pool, structure, lag, chunk, capital)
    return summarise(pool, structure, chunk, period, loss, ledger, yields)


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
    compiled: bool = False,
    yields: bool = True,
) -> Outcomes:
    """Run the structure over every chunk of ``defaults`` and combine in chunk order.
    ``capital`` (enhancer index → one amount per path) is what each enhancer can still pay
    before it is insolvent, when earlier deals of its book have used some of its net assets.
    ``compiled`` lets design evaluation (sweeps, comparisons, sizing) run on the compiled kernel
    where it applies; a scenario's own run (its memo) stays on the numpy engine, so its figures
    are the same to the last digit whether or not numba is installed. Without ``yields`` the
    per-path yields (``tranche.*.irr``) are neither solved for nor returned."""
    starts = np.r_[0, np.cumsum(defaults.sizes)]

    def part(k: int) -> dict[int, np.ndarray] | None:
        if capital is None:
            return None
        return {e: values[starts[k] : starts[k + 1]] for e, values in capital.items()}

    # Stored chunks travel to the workers one at a time; unstored ones are regenerated there.
    jobs = [
        (pool, structure, lag, _only_chunk(defaults, k), k, part(k), compiled, yields)
        for k in range(len(defaults.sizes))
    ]
    outcomes = map_in_order(
        _evaluate_chunk, jobs, workers, "evaluating" if progress else None, scheduler
    )
    per_path = {
        name: np.concatenate([o.per_path[name] for o in outcomes]) for name in outcomes[0].per_path
    }

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
