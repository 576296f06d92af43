"""Results of a run: every figure the memo, JSON and terminal summary publish.

Monte Carlo figures are ``Estimate`` objects (value and standard error); exact figures (pool
totals, stratification) are plain numbers. ``Results.to_dict`` is the ``results.json`` document
whose schema ``docs/results.md`` documents; ``SCHEMA_VERSION`` changes whenever it does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from securitize.enhancers.metrics import (
    annual_claims_ratio,
    claim_metrics,
    covered_amount,
    limit_checks,
)
from securitize.evaluate import CENT, Outcomes
from securitize.pool import Pool
from securitize.stats import (
    Estimate,
    effective_sample_size,
    mean_estimate,
    moments_estimate,
    probability_estimate,
    quantile_estimate,
    ratio_estimate,
)
from securitize.stratification import largest_obligors, loan_table, pool_totals, stratifications
from securitize.structure import Structure
from securitize.waterfall.describe import describe

SCHEMA = "securitize.results"
SCHEMA_VERSION = "1.0"
POOL_LOSS_QUANTILES = (0.95, 0.99, 0.999)
LOSS_BINS = 40
# Low yield quantiles: the bad tail of what an investor earns.
YIELD_QUANTILES = (0.001, 0.01, 0.05)
# Importance weights are called degenerate (a warning in ``simulation.warnings``) when their
# effective sample size is below this share of the paths, or one path carries more than this
# share of the total weight.
DEGENERATE_ESS_SHARE = 0.01
DEGENERATE_WEIGHT_SHARE = 0.10


@dataclass(frozen=True)
class TrancheResult:
    """A tranche's terms and its metrics stand-alone (trust cash only) and wrapped."""

    name: str
    holder: str
    balance: float
    share: float
    coupon: float
    guaranteed_by: str | None
    standalone: dict[str, Estimate]
    wrapped: dict[str, Estimate]
    # The coupon applied in each payment period, the margin, the day count, the resets, the
    # put and the call (securitize/note_terms.py), so the memo states them from the results.
    coupon_path: list[float] = field(default_factory=list)
    margin: float | None = None
    day_count: str | None = None
    resets: list[dict[str, Any]] = field(default_factory=list)
    put: dict[str, Any] | None = None
    call: dict[str, Any] | None = None


@dataclass(frozen=True)
class EnhancerResult:
    """A guarantor's terms and its claim metrics."""

    name: str
    kind: str
    covers: str
    terms: dict[str, Any]
    metrics: dict[str, Estimate]
    limits: dict[str, Any] = field(default_factory=dict)
    claims_by_year: list[dict[str, float]] = field(default_factory=list)
    # Probability (with SE) of no claim, then of each equal-width range of claims (CNY).
    claim_distribution: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class Results:
    """Everything a run found, with the settings and hashes that reproduce it."""

    deal: dict[str, Any]
    assumptions: dict[str, Any]
    simulation: dict[str, Any]
    manifest: dict[str, Any]
    pool: dict[str, Any]
    stratification: dict[str, pd.DataFrame]
    largest_obligors: pd.DataFrame
    pool_loss: dict[str, Estimate]
    tranches: list[TrancheResult]
    enhancers: list[EnhancerResult]
    cash_flows: pd.DataFrame
    loss_distribution: pd.DataFrame
    loss_tranches: pd.DataFrame
    validation: dict[str, Any] = field(default_factory=dict)
    # Each tranche's payments date by date with no defaults (兑付计划; securitize/repayment.py).
    repayment_schedule: list[dict[str, Any]] = field(default_factory=list)
    stresses: list[dict[str, Any]] = field(default_factory=list)
    break_even: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] | None = None
    structure: dict[str, Any] = field(default_factory=dict)
    fees: list[dict[str, Any]] = field(default_factory=list)
    ratings: dict[str, Any] = field(default_factory=dict)
    # The domestic agencies' method (securitize/ratings/domestic.py): target against break-even
    # default rates by level, capped by the large-obligor test.
    domestic_ratings: dict[str, Any] = field(default_factory=dict)
    large_obligor: list[dict[str, Any]] = field(default_factory=list)
    economics: dict[str, Any] = field(default_factory=dict)
    # The exchange and market rule block (securitize/rules.py): each rule's figure, limit,
    # verdict and citation.
    exchange_rules: dict[str, Any] = field(default_factory=dict)
    loans: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Everything measured on the clock, in one block at the end of results.json: the only
    # figures that differ between two runs of the same inputs.
    timings: dict[str, Any] = field(default_factory=dict)

    def tranche_table(self) -> pd.DataFrame:
        """One row per tranche and view (standalone / wrapped); value and SE columns."""
        rows = []
        for t in self.tranches:
            for view, metrics in (("standalone", t.standalone), ("wrapped", t.wrapped)):
                row: dict[str, Any] = {"tranche": t.name, "view": view}
                for name, estimate in metrics.items():
                    row[name] = estimate.value
                    row[f"{name}_se"] = estimate.se
                rows.append(row)
        return pd.DataFrame(rows).set_index(["tranche", "view"])

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` document (a copy: editing it leaves the results alone)."""
        return copy.deepcopy(self._document())

    def _document(self) -> dict[str, Any]:

        def estimates(metrics: dict[str, Estimate]) -> dict[str, Any]:
            return {k: v.to_dict() for k, v in metrics.items()}

        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "deal": self.deal,
            "assumptions": self.assumptions,
            "simulation": self.simulation,
            "manifest": self.manifest,
            "pool": {
                "totals": self.pool,
                "stratification": {
                    k: v.to_dict(orient="records") for k, v in self.stratification.items()
                },
                "largest_obligors": self.largest_obligors.to_dict(orient="records"),
                "loans": self.loans.to_dict(orient="records"),
                "loss": estimates(self.pool_loss),
                "loss_distribution": self.loss_distribution.to_dict(orient="list"),
            },
            "fees": self.fees,
            "tranches": [
                {
                    "name": t.name,
                    "holder": t.holder,
                    "balance": t.balance,
                    "share": t.share,
                    "coupon": t.coupon,
                    "coupon_path": t.coupon_path,
                    "margin": t.margin,
                    "day_count": t.day_count,
                    "resets": t.resets,
                    "put": t.put,
                    "call": t.call,
                    "guaranteed_by": t.guaranteed_by,
                    "standalone": estimates(t.standalone),
                    "wrapped": estimates(t.wrapped),
                }
                for t in self.tranches
            ],
            "enhancers": [
                {
                    "name": e.name,
                    "type": e.kind,
                    "covers": e.covers,
                    "terms": e.terms,
                    "metrics": estimates(e.metrics),
                    "limits": e.limits,
                    "claims_by_year": e.claims_by_year,
                    "claim_distribution": e.claim_distribution.to_dict(orient="list"),
                }
                for e in self.enhancers
            ],
            "cash_flows": self.cash_flows.to_dict(orient="list"),
            "repayment_schedule": self.repayment_schedule,
            "loss_tranches": self.loss_tranches.to_dict(orient="list"),
            "validation": self.validation,
            "stresses": self.stresses,
            "break_even": self.break_even,
            "selection": self.selection,
            "structure": self.structure,
            "ratings": self.ratings,
            "domestic_ratings": self.domestic_ratings,
            "large_obligor": self.large_obligor,
            "economics": self.economics,
            "exchange_rules": self.exchange_rules,
            "timings": self.timings,
        }


def _tranche_metrics(
    per_path: dict[str, np.ndarray], key: str, balance: float, weight: np.ndarray
) -> dict[str, Estimate]:
    loss, wal, irr = (per_path[f"{key}.{name}"] for name in ("loss", "wal", "irr"))
    lost = loss > CENT / balance
    paid = np.isfinite(wal)
    metrics = {
        "expected_loss": mean_estimate(loss, weight),
        "probability_of_loss": probability_estimate(lost, weight),
        "wal_years": ratio_estimate(np.where(paid, wal, 0.0), paid, weight),
        "expected_yield": mean_estimate(irr, weight),
    }
    for level in YIELD_QUANTILES:
        metrics[f"yield_quantile_{level:g}"] = quantile_estimate(irr, level, weight)
    return metrics


def loss_histogram(
    loss: np.ndarray, weight: np.ndarray | None = None, bins: int = LOSS_BINS
) -> pd.DataFrame:
    """Probability (with SE) that pool loss is exactly zero, then of each equal-width bin.

    The zero row matters: in a small pool many paths have no default at all. Bins are
    [lower, upper) except the last, which includes the largest simulated loss.
    """
    largest = float(loss.max())
    edges = np.linspace(0.0, largest, bins + 1) if largest > 0 else np.zeros(2)
    bin_of = np.where(
        loss > 0, 1 + np.clip(np.searchsorted(edges, loss, "right") - 1, 0, bins - 1), 0
    )
    count = bins + 1 if largest > 0 else 1
    estimates = [probability_estimate(bin_of == k, weight) for k in range(count)]
    lower = np.r_[0.0, edges[:-1]] if largest > 0 else np.zeros(1)
    upper = np.r_[0.0, edges[1:]] if largest > 0 else np.zeros(1)
    return pd.DataFrame(
        {
            "lower": lower,
            "upper": upper,
            "probability": [e.value for e in estimates],
            "se": [e.se for e in estimates],
        }
    )


def _loss_tranche_table(structure: Structure, outcomes: Outcomes) -> pd.DataFrame:
    """Expected loss of each loss tranche at every month (share of its size), with SE."""
    rows = []
    for tranche in structure.loss_tranches:
        total, total_sq = outcomes.per_month[f"loss_tranche.{tranche.name}"]
        mean, se = moments_estimate(total, total_sq, outcomes.paths)
        for month, (value, error) in enumerate(zip(mean, se, strict=True), start=1):
            rows.append(
                {
                    "tranche": tranche.name,
                    "attachment": tranche.attachment,
                    "detachment": tranche.detachment,
                    "month": month,
                    "expected_loss": value,
                    "se": error,
                }
            )
    columns = ["tranche", "attachment", "detachment", "month", "expected_loss", "se"]
    return pd.DataFrame(rows, columns=columns)


def _cash_flow_table(outcomes: Outcomes, payment_months: np.ndarray) -> pd.DataFrame:
    """Expected amount on each payment date for every recorded series, with its SE; and the
    coverage multiple E[available funds] / E[amounts due] with its delta-method SE."""
    table: dict[str, np.ndarray] = {"month": payment_months}
    for name, (total, total_sq) in outcomes.per_period.items():
        if name == "coverage.cross":
            continue
        mean, se = moments_estimate(total, total_sq, outcomes.paths)
        table[name] = mean
        table[f"{name}.se"] = se
    n = outcomes.paths
    a, a_sq = outcomes.per_period["available"]
    d, d_sq = outcomes.per_period["due"]
    cross = outcomes.per_period["coverage.cross"][0]
    mean_a, mean_d = a / n, d / n
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(mean_d > CENT, mean_a / mean_d, np.nan)
        variance = (
            (a_sq / n - mean_a**2)
            - 2 * ratio * (cross / n - mean_a * mean_d)
            + ratio**2 * (d_sq / n - mean_d**2)
        ) / np.where(mean_d > CENT, mean_d**2, np.nan)
    table["coverage_multiple"] = ratio
    table["coverage_multiple.se"] = np.sqrt(np.maximum(variance, 0.0) / max(n - 1, 1))
    return pd.DataFrame(table)


def weight_diagnostics(weights: np.ndarray | None, paths: int) -> dict[str, Any]:
    """``effective_sample_size``, ``largest_weight_share`` (max w / Σ w) and ``warnings``: one
    line when the weights are degenerate (ESS below ``DEGENERATE_ESS_SHARE`` of the paths, or a
    path above ``DEGENERATE_WEIGHT_SHARE`` of the total weight)."""
    ess = effective_sample_size(weights, paths)
    if weights is None:
        largest = 1.0 / paths if paths else 0.0
    else:
        weights = np.asarray(weights, dtype=float)
        total = float(weights.sum())
        largest = float(weights.max()) / total if total > 0 else 1.0
    warnings = []
    if paths and (ess < DEGENERATE_ESS_SHARE * paths or largest > DEGENERATE_WEIGHT_SHARE):
        warnings.append(
            f"importance weights are degenerate: effective sample size {ess:,.1f} of {paths:,} "
            f"paths ({100 * ess / paths:.2g} %; warned below {100 * DEGENERATE_ESS_SHARE:g} %), "
            f"largest path weight {100 * largest:.2g} % of the total (warned above "
            f"{100 * DEGENERATE_WEIGHT_SHARE:g} %); estimates away from the tail the sampling "
            "aims at, and their standard errors, may be unreliable: use a shift nearer 0 "
            "(simulation.importance_shift) or more paths"
        )
    return {"effective_sample_size": ess, "largest_weight_share": largest, "warnings": warnings}


def build_results(
    pool: Pool,
    structure: Structure,
    outcomes: Outcomes,
    *,
    deal: dict[str, Any],
    assumptions: dict[str, Any],
    simulation: dict[str, Any],
    manifest: dict[str, Any],
    notes: list[dict[str, Any]] | None = None,
) -> Results:
    """Turn combined outcomes into estimates with standard errors (weighted under importance
    sampling). ``notes``: each tranche's coupon terms (``note_terms``); without them the coupon
    path alone, from the structure."""
    simulation = {**simulation, **weight_diagnostics(outcomes.per_path["weight"], outcomes.paths)}
    per_path = outcomes.per_path
    weight = per_path["weight"]
    pool_loss = per_path["pool.loss"]
    loss_metrics = {"expected_loss": mean_estimate(pool_loss, weight)}
    for level in POOL_LOSS_QUANTILES:
        loss_metrics[f"quantile_{level:g}"] = quantile_estimate(pool_loss, level, weight)
    loss_metrics["probability_of_any_default"] = probability_estimate(
        per_path["pool.defaulted"] > 0, weight
    )
    loss_metrics["expected_defaulted_share"] = mean_estimate(per_path["pool.defaulted"], weight)

    guarantor_of = {
        j: " + ".join(structure.guarantees[k].name for k in structure.enhancers_of(j))
        for j in range(len(structure.tranches))
        if structure.enhancers_of(j)
    }
    periods = len(structure.payment_months)
    if notes is None:
        notes = [{"coupon_path": t.coupons(periods)} for t in structure.tranches]
    tranches = []
    for j, terms in enumerate(structure.tranches):
        key = f"tranche.{terms.name}"
        tranches.append(
            TrancheResult(
                **notes[j],
                name=terms.name,
                holder=terms.holder,
                balance=terms.balance,
                share=terms.balance / structure.pool_balance,
                coupon=terms.coupon,
                guaranteed_by=guarantor_of.get(j),
                standalone={
                    **_tranche_metrics(per_path, f"{key}.standalone", terms.balance, weight),
                    "probability_of_interest_shortfall": probability_estimate(
                        per_path[f"{key}.interest_shortfall"] > CENT, weight
                    ),
                    "expected_interest_shortfall": mean_estimate(
                        per_path[f"{key}.interest_shortfall"], weight
                    ),
                },
                wrapped=_tranche_metrics(per_path, f"{key}.wrapped", terms.balance, weight),
            )
        )

    period_means = {
        name: total / outcomes.paths for name, (total, _) in outcomes.per_period.items()
    }
    enhancers = []
    for g in structure.guarantees:
        key = f"enhancer.{g.name}"
        covered = covered_amount(pool, structure, g)
        by_year = annual_claims_ratio(structure, period_means, key)
        spec = g.spec
        terms = {
            "rating": spec.rating,
            "profile": spec.profile,
            "fee_bp": spec.fee_bp,
            "policy_discount_bp": spec.policy_discount_bp,
            "net_fee_bp": spec.net_fee_bp,
            "fee_paid_by": "borrowers" if g.pool_level else "trust",
            "annual_pd": spec.annual_pd,
            "asset_correlation": spec.asset_correlation,
            "recovery_rate": spec.recovery_rate,
            "share": g.share,
            "cap": spec.cap,
            "per_borrower_cap": spec.per_borrower_cap,
            "discount_rate": spec.discount_rate,
        }
        if spec.risk_split is not None:
            terms["risk_split"] = spec.risk_split.model_dump()
        enhancers.append(
            EnhancerResult(
                name=g.name,
                kind=spec.type,
                covers=spec.covers if spec.covers is not None else "pool",
                terms=terms,
                metrics=claim_metrics(per_path, key, weight, covered),
                limits=limit_checks(pool, structure, g, by_year),
                claims_by_year=by_year,
                claim_distribution=loss_histogram(per_path[f"{key}.claims"], weight),
            )
        )

    return Results(
        deal=deal,
        assumptions=assumptions,
        simulation=simulation,
        manifest=manifest,
        pool=pool_totals(pool),
        stratification=stratifications(pool),
        largest_obligors=largest_obligors(pool),
        loans=loan_table(pool),
        pool_loss=loss_metrics,
        tranches=tranches,
        enhancers=enhancers,
        cash_flows=_cash_flow_table(outcomes, structure.payment_months),
        loss_distribution=loss_histogram(pool_loss, weight),
        loss_tranches=_loss_tranche_table(structure, outcomes),
        structure=describe(structure),
        fees=[
            {
                "name": f.name,
                "basis": f.basis,
                "annual_rate": f.annual_rate,
                "amount_per_year": f.amount_per_year,
            }
            for f in structure.fees
        ],
    )
