"""Monte Carlo against the exact finite-pool result, reported by every one-factor run.

For one-factor models (Gaussian or Student-t) with fixed recoveries and no prepayment, the
distribution of cumulative loss booked at default is known exactly (conditional independence;
``securitize.credit.analytic``). Each run compares its simulated pool-loss mean, quantiles and
loss-tranche expected losses with it. A figure agrees when the difference is within four
standard errors plus the exact engine's lattice rounding (its largest rounding of a loan's
loss, counted once per loan).
"""

from __future__ import annotations

from typing import Any

from securitize.credit.analytic import finite_pool_loss_distribution
from securitize.credit.paths import CreditModel
from securitize.evaluate import Outcomes
from securitize.pool import Pool
from securitize.stats import Estimate, mean_estimate, moments_estimate, quantile_estimate
from securitize.structure import Structure

AGREEMENT_STANDARD_ERRORS = 4.0
QUANTILES = (0.95, 0.99, 0.999)


def not_applicable(model: CreditModel) -> str | None:
    """Why the exact engine cannot answer this run's question, or None when it can."""
    if model.copula.factors != 1:
        return "the exact engine covers one-factor models; this run has several factors"
    if not model.recovery.is_fixed:
        return "the exact engine needs fixed recoveries; this run draws Beta recoveries"
    if model.prepayment_rate > 0:
        return "the exact engine has no prepayment; this run prepays"
    return None


def _row(name: str, simulated: Estimate, exact: float, tolerance_extra: float) -> dict[str, Any]:
    difference = simulated.value - exact
    allowed = AGREEMENT_STANDARD_ERRORS * simulated.se + tolerance_extra
    return {
        "figure": name,
        "monte_carlo": simulated.value,
        "monte_carlo_se": simulated.se,
        "exact": exact,
        "difference": difference,
        "z": difference / simulated.se if simulated.se > 0 else None,
        "agrees": bool(abs(difference) <= allowed),
    }


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
    exact = finite_pool_loss_distribution(
        share, model.cumulative_pd, model.copula.loadings[:, 0], curve_months, nu=model.copula.nu
    )
    slack = exact.max_rounding_error * pool.size
    weight = outcomes.per_path["weight"]
    final = outcomes.per_path["pool.loss_at_default"]
    rows = [
        _row("expected pool loss", mean_estimate(final, weight), exact.expected_loss(months), slack)
    ]
    for level in QUANTILES:
        rows.append(
            _row(
                f"pool loss {100 * level:g}% quantile",
                quantile_estimate(final, level, weight),
                exact.quantile(months, level),
                slack + exact.unit,
            )
        )
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
                slack / width,
            )
        )
    return {
        "applicable": True,
        "month": months,
        "lattice_unit": exact.unit,
        "max_rounding_error": exact.max_rounding_error,
        "rule": f"|Monte Carlo − exact| ≤ {AGREEMENT_STANDARD_ERRORS:g} SE + lattice rounding",
        "all_agree": bool(all(r["agrees"] for r in rows)),
        "figures": rows,
        "loss_tranche_curves": curves,
    }
