"""Monte Carlo against the exact finite-pool result, reported by every one-factor run.

For one-factor models (Gaussian or Student-t) with fixed recoveries and no prepayment, the
distribution of cumulative loss booked at default is known exactly (conditional independence;
``securitize.credit.analytic``). Each run compares its simulated pool-loss mean, quantiles and
loss-tranche expected losses with it. The tolerance is statistical plus proven, so the block can
disagree when an engine is wrong:

* means (expected pool loss, loss-tranche expected losses): |MC − exact| ≤ 4 SE + the exact
  engine's proven rounding bound on that mean (``mean_rounding_bound``, over the tranche width
  for a tranche) + 1e-9 of the figure for the quadrature;
* quantiles, compared where a quantile is defined, in probability: with q̂ the simulated
  quantile at level α and D the engine's pathwise rounding bound, the exact CDF must satisfy
  P(L ≤ q̂ + D) ≥ α − 4σ and P(L < q̂ − D) ≤ α + 4σ, σ the standard error of the simulated
  tail probability at q̂. (A loss distribution with atoms has quantiles that jump, so a
  difference of quantiles over its SE is not a usable statistic there.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from securitize.credit.analytic import LossDistribution, finite_pool_loss_distribution
from securitize.credit.paths import CreditModel
from securitize.evaluate import Outcomes
from securitize.pool import Pool
from securitize.stats import (
    Estimate,
    mean_estimate,
    moments_estimate,
    probability_estimate,
    quantile_estimate,
)
from securitize.structure import Structure

AGREEMENT_STANDARD_ERRORS = 4.0
QUANTILES = (0.95, 0.99, 0.999)
# The quadrature's relative error on a mean is ~1e-12 (securitize.credit.analytic); 1e-9 of the
# figure covers it with room.
QUADRATURE_RELATIVE = 1e-9


def not_applicable(model: CreditModel) -> str | None:
    """Why the exact engine cannot answer this run's question, or None when it can."""
    if model.copula.factors != 1:
        return "the exact engine covers one-factor models; this run has several factors"
    if not model.recovery.is_fixed:
        return "the exact engine needs fixed recoveries; this run draws Beta recoveries"
    if model.prepayment_rate > 0:
        return "the exact engine has no prepayment; this run prepays"
    return None


def _row(name: str, simulated: Estimate, exact: float, bound: float) -> dict[str, Any]:
    """A mean's figure: agrees when within 4 SE plus the exact engine's proven bound."""
    difference = simulated.value - exact
    allowed = AGREEMENT_STANDARD_ERRORS * simulated.se + bound + QUADRATURE_RELATIVE * abs(exact)
    return {
        "figure": name,
        "monte_carlo": simulated.value,
        "monte_carlo_se": simulated.se,
        "exact": exact,
        "difference": difference,
        "z": difference / simulated.se if simulated.se > 0 else None,
        "allowed": allowed,
        "agrees": bool(abs(difference) <= allowed),
    }


def _quantile_row(
    level: float,
    losses: np.ndarray,
    weight: np.ndarray | None,
    exact: LossDistribution,
    month: int,
) -> dict[str, Any]:
    """A quantile's figure, judged in probability (see the module notes)."""
    simulated = quantile_estimate(losses, level, weight)
    q = simulated.value
    sigma = max(
        probability_estimate(losses > q, weight).se,
        probability_estimate(losses >= q, weight).se,
        math.sqrt(level * (1.0 - level) / losses.size),
    )
    slack = exact.rounding_bound + 1e-9 * exact.unit + 1e-12 * abs(q)
    reaches = float(exact.cdf(month, q + slack))  # P(L ≤ q̂ + D)
    below = float(exact.cdf(month, q - slack))  # P(L < q̂ − D), the lattice being discrete
    below = 0.0 if math.isnan(below) else below  # below the engine's accuracy floor: ~0
    allowed = AGREEMENT_STANDARD_ERRORS * sigma
    row = _row(f"pool loss {100 * level:g}% quantile", simulated, exact.quantile(month, level), 0)
    gap = max(level - reaches, below - level, 0.0)
    row.update(
        allowed=None,
        probability_gap=gap,
        probability_se=sigma,
        agrees=bool(gap <= allowed),
    )
    return row


def compare_with_exact(
    pool: Pool, structure: Structure, model: CreditModel, outcomes: Outcomes
) -> dict[str, Any]:
    """The validation block of the results: each figure, both engines, and whether they agree."""
    reason = not_applicable(model)
    if reason is not None:
        return {"applicable": False, "reason": reason}
    months = int(pool.tenor_months.max())
    # The exact expected-loss curves at the payment dates within the pool's life.
    curve_months = sorted({*(int(m) for m in structure.payment_months if m < months), months})
    share = pool.schedule.opening_balance * (1.0 - pool.recovery_rate)[:, None]
    share = share / pool.total_balance
    try:
        exact = finite_pool_loss_distribution(
            share,
            model.cumulative_pd,
            model.copula.loadings[:, 0],
            curve_months,
            nu=model.copula.nu,
        )
    except ValueError as error:
        return {"applicable": False, "reason": f"the exact engine refuses this pool: {error}"}
    weight = outcomes.per_path["weight"]
    final = np.asarray(outcomes.per_path["pool.loss_at_default"], dtype=float)
    mean_bound = exact.mean_rounding_bound
    rows = [
        _row(
            "expected pool loss",
            mean_estimate(final, weight),
            exact.expected_loss(months),
            mean_bound,
        )
    ]
    rows += [_quantile_row(level, final, weight, exact, months) for level in QUANTILES]
    curves = []
    for tranche in structure.loss_tranches:
        total, total_sq = outcomes.per_month[f"loss_tranche.{tranche.name}"]
        mean, se = moments_estimate(total, total_sq, outcomes.paths)
        exact_curve = exact.tranche_expected_loss(tranche.attachment, tranche.detachment)
        curves += [
            {
                "tranche": tranche.name,
                "month": month,
                "monte_carlo": float(mean[month - 1]),
                "monte_carlo_se": float(se[month - 1]),
                "exact": float(value),
            }
            for month, value in zip(curve_months, exact_curve, strict=True)
        ]
        exact_el = exact_curve[-1]
        width = tranche.detachment - tranche.attachment
        rows.append(
            _row(
                f"loss tranche {tranche.name} [{tranche.attachment:.2%}, "
                f"{tranche.detachment:.2%}) expected loss",
                Estimate(float(mean[months - 1]), float(se[months - 1])),
                float(exact_el),
                mean_bound / width,
            )
        )
    return {
        "applicable": True,
        "month": months,
        "lattice_unit": exact.unit,
        "max_rounding_error": exact.max_rounding_error,
        "rounding_bound": exact.rounding_bound,
        "mean_rounding_bound": exact.mean_rounding_bound,
        "rule": (
            f"means: |Monte Carlo − exact| ≤ {AGREEMENT_STANDARD_ERRORS:g} SE + the exact "
            "engine's proven lattice bound; quantiles: the exact CDF at the simulated quantile "
            f"(± the pathwise lattice bound) within {AGREEMENT_STANDARD_ERRORS:g} SE of the level"
        ),
        "all_agree": bool(all(r["agrees"] for r in rows)),
        "figures": rows,
        "loss_tranche_curves": curves,
    }
