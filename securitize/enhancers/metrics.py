"""What writing the cover costs each enhancer: claims, their tail, fees and return on capital,
and its leverage and concentration against its regulatory limits.

Per path the waterfall records each enhancer's claims paid, reimbursements received and cover
written (CNY-years, on which its fee accrues). From those: nominal and present-value claims, fee
income (from the trust for tranche enhancers; from the borrowers for pool enhancers), the
expected net result, the break-even fee, and the return on the capital its 99.9% claim requires
(economic capital: the 99.9% claim quantile less the expected claim). Every Monte Carlo figure
carries its standard error; ratios of estimates carry a delta-method one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from securitize.pool import Pool
from securitize.stats import (
    Estimate,
    mean_estimate,
    probability_estimate,
    quantile_estimate,
    ratio_estimate,
)
from securitize.structure import GuaranteeTerms, Structure, borrower_cover
from securitize.waterfall.kernel_lower import fee_years

CENT = 0.01
CLAIM_QUANTILES = (0.99, 0.995, 0.999)
TAIL_LEVELS = (0.99, 0.999)
CAPITAL_LEVEL = 0.999


def discount_factors(structure: Structure, rate: float) -> np.ndarray:
    """Per payment date, the value today of 1 paid then (annual compounding, on the time to
    each date: ``Structure.payment_years``)."""
    return (1.0 + rate) ** (-structure.payment_years)


def _scaled(estimate: Estimate, factor: float) -> Estimate:
    return Estimate(estimate.value * factor, estimate.se * abs(factor))


def _quotient(a: Estimate, b: Estimate) -> Estimate | None:
    """a / b with the delta-method SE of independent-ish estimates (conservative: no
    covariance credit); None when b is not positive."""
    if b.value <= CENT:
        return None
    value = a.value / b.value
    se = abs(value) * math.hypot(a.se / max(abs(a.value), 1e-300), b.se / b.value)
    return Estimate(value, se if a.value != 0 else a.se / b.value)


def claim_metrics(
    per_path: dict[str, np.ndarray], key: str, weight: np.ndarray | None, covered: float
) -> dict[str, Estimate]:
    """The enhancer's claim distribution, tail, fees, net result and return on capital."""
    claims = per_path[f"{key}.claims"]
    metrics = {
        "probability_of_claim": probability_estimate(claims > CENT, weight),
        "expected_claim": mean_estimate(claims, weight),
    }
    for level in CLAIM_QUANTILES:
        metrics[f"claim_quantile_{level:g}"] = quantile_estimate(claims, level, weight)
    for level in TAIL_LEVELS:
        # Expected shortfall, the mean claim over the worst (1 − level) of paths:
        # ES = q + E[(X − q)⁺] / (1 − level), right also when q sits on an atom (often 0).
        threshold = metrics.get(f"claim_quantile_{level:g}") or quantile_estimate(
            claims, level, weight
        )
        excess = mean_estimate(np.maximum(claims - threshold.value, 0.0), weight)
        metrics[f"expected_shortfall_{level:g}"] = Estimate(
            threshold.value + excess.value / (1.0 - level),
            math.hypot(threshold.se, excess.se / (1.0 - level)),
        )
    pv_net = mean_estimate(per_path[f"{key}.pv_net_claims"], weight)
    pv_fees = mean_estimate(per_path[f"{key}.pv_fees"], weight)
    metrics.update(
        expected_net_claim=mean_estimate(per_path[f"{key}.net_claims"], weight),
        pv_net_claims=pv_net,
        expected_fee_income=mean_estimate(per_path[f"{key}.fees"], weight),
        pv_fees=pv_fees,
        expected_net_result=mean_estimate(
            per_path[f"{key}.pv_fees"] - per_path[f"{key}.pv_net_claims"], weight
        ),
        break_even_net_fee_bp=_scaled(
            ratio_estimate(per_path[f"{key}.pv_net_claims"], per_path[f"{key}.pv_cover"], weight),
            1e4,
        ),
    )
    quantile = metrics[f"claim_quantile_{CAPITAL_LEVEL:g}"]
    expected = metrics["expected_claim"]
    capital = Estimate(quantile.value - expected.value, math.hypot(quantile.se, expected.se))
    metrics[f"economic_capital_{CAPITAL_LEVEL:g}"] = capital
    roc = _quotient(metrics["expected_net_result"], capital)
    if roc is not None:
        metrics[f"return_on_capital_{CAPITAL_LEVEL:g}"] = roc
        years = mean_estimate(per_path[f"{key}.cover_years"], weight).value / max(covered, CENT)
        if years > 0:
            metrics[f"return_on_capital_{CAPITAL_LEVEL:g}_per_year"] = _scaled(roc, 1.0 / years)
    return metrics


def covered_amount(pool: Pool, structure: Structure, g: GuaranteeTerms) -> float:
    """What the enhancer covers at closing (CNY): its guarantee liability for this deal."""
    if g.kind == "first_loss":
        return g.cap
    if g.pool_level:
        return float(min(borrower_cover(pool, g.spec).sum(), g.cap))
    return float(min(g.share * structure.tranches[g.tranche].balance, g.cap))


def _largest_client(pool: Pool, g: GuaranteeTerms, group: str | None, covered: float) -> float:
    """The largest exposure to one client (or related group): a tranche enhancer's client is
    the trust, so the whole cover counts as one; a loan-level one covers each borrower (up to
    its per-borrower cap), and a related group is the sum of its borrowers' covers."""
    if g.kind != "loan_guarantee":
        return covered
    loans = pool.loans
    per_borrower = borrower_cover(pool, g.spec)
    if group is None or group not in loans.columns:
        return float(per_borrower.max())
    group_of = loans.groupby("enterprise")[group].first()
    group_of = group_of.where(group_of.notna() & (group_of != ""), group_of.index.to_series())
    return float(per_borrower.groupby(group_of).sum().max())


def annual_claims_ratio(
    structure: Structure, per_period_means: dict[str, np.ndarray], key: str
) -> list[dict[str, float]]:
    """Per deal year: expected claims over the expected cover released in that year (by
    amortisation, claims or the end of the deal), the claims ratio (代偿率) an enhancer reports."""
    claims = per_period_means[f"{key}.claims"]
    # Cover is CNY-years: the amount outstanding × the period's year fraction.
    outstanding = per_period_means[f"{key}.cover"] / fee_years(structure)
    released = outstanding - np.r_[outstanding[1:], 0.0]
    year = (structure.payment_months - 1) // 12
    rows = []
    for y in np.unique(year):
        in_year = year == y
        paid, freed = float(claims[in_year].sum()), float(released[in_year].sum())
        rows.append(
            {
                "year": int(y) + 1,
                "expected_claims": paid,
                "cover_released": freed,
                "claims_ratio": paid / freed if freed > CENT else 0.0,
            }
        )
    return rows


def within_limit(figure: float, limit: float) -> bool:
    """The one rule every enhancer limit is checked by: a figure is within its limit when it is
    at most the limit. ``limit_checks`` (the results), the book's leverage and the memo's
    statements (annex and risk factors, through ``checked_limits``) all ask this function."""
    return figure <= limit


@dataclass(frozen=True)
class LimitCheck:
    """One limit check of ``limit_checks``: the keys of the figure checked, of its limit and of
    the verdict, as they appear in ``EnhancerResult.limits``."""

    name: str
    figure: str
    limit: str
    verdict: str


LIMIT_CHECKS = (
    LimitCheck(
        "claims_ratio", "claims_ratio", "annual_claims_ratio_limit", "claims_ratio_within_limit"
    ),
    LimitCheck("leverage", "leverage_after", "leverage_limit", "leverage_within_limit"),
    LimitCheck(
        "single_client",
        "single_client_share",
        "single_client_limit",
        "single_client_within_limit",
    ),
    LimitCheck(
        "related_client",
        "related_client_share",
        "related_client_limit",
        "related_client_within_limit",
    ),
)
CHECKS = {c.name: c for c in LIMIT_CHECKS}


def _check(out: dict[str, Any], name: str, figure: float, limit: float) -> None:
    """Store check ``name``'s figure, limit and verdict in ``out`` under its keys."""
    check = CHECKS[name]
    out[check.figure] = figure
    out[check.limit] = limit
    out[check.verdict] = within_limit(figure, limit)


def checked_limits(limits: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each check ``limits`` (a ``limit_checks`` result) holds, in ``LIMIT_CHECKS`` order: the
    figure checked and its limit with their keys, and the verdict of ``within_limit`` on them,
    so a statement that a limit is met always names the figure it was met by."""
    return [
        {
            "check": c.name,
            "figure_key": c.figure,
            "figure": limits[c.figure],
            "limit_key": c.limit,
            "limit": limits[c.limit],
            "verdict_key": c.verdict,
            "within_limit": within_limit(limits[c.figure], limits[c.limit]),
        }
        for c in LIMIT_CHECKS
        if c.figure in limits and c.limit in limits
    ]


def limit_checks(
    pool: Pool, structure: Structure, g: GuaranteeTerms, claims_by_year: list[dict[str, float]]
) -> dict[str, Any]:
    """Leverage and concentration before and after this deal, against the enhancer's limits;
    every verdict is ``within_limit`` on the figure stored beside it (``LIMIT_CHECKS``)."""
    spec = g.spec
    covered = covered_amount(pool, structure, g)
    # The deal's claims ratio: its expected claims over all the cover it releases (by
    # amortisation, claims or the end of the deal); this is the figure checked against the
    # annual ceiling. A single year's ratio is shown too, for information, but the last years of
    # a deal release little cover, so it is not what the ceiling on the enhancer's book is
    # checked against.
    claims = sum(row["expected_claims"] for row in claims_by_year)
    released = sum(row["cover_released"] for row in claims_by_year)
    ratio = claims / released if released > CENT else 0.0
    out: dict[str, Any] = {"covered_amount": covered}
    _check(out, "claims_ratio", ratio, spec.limits.annual_claims_ratio)
    out["max_annual_claims_ratio"] = max(
        (row["claims_ratio"] for row in claims_by_year), default=0.0
    )
    if spec.net_assets is None:
        out["assessed"] = False
        out["reason"] = "net_assets not given: leverage and concentration not assessed"
        return out
    assets = spec.net_assets
    single = _largest_client(pool, g, None, covered)
    related = _largest_client(pool, g, "related_group", covered)
    out.update(
        assessed=True,
        net_assets=assets,
        existing_liability=spec.existing_liability,
        leverage_before=spec.existing_liability / assets,
    )
    after = (spec.existing_liability + covered) / assets
    _check(out, "leverage", after, spec.limits.leverage_multiple)
    out["headroom"] = spec.limits.leverage_multiple * assets - spec.existing_liability - covered
    _check(out, "single_client", single / assets, spec.limits.single_client_share)
    _check(out, "related_client", related / assets, spec.limits.related_client_share)
    return out
