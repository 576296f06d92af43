"""How the memo writes numbers: CNY with thousands separators, rates in %, estimates as value ± SE.

One set of rules, registered as jinja2 filters, so every figure of a kind looks the same and the
tests can format a figure exactly as the memo does. A Monte Carlo figure's decimals follow its
standard error (two significant digits of the SE), so the memo neither hides nor invents precision.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from securitize.stats import Estimate

NOT_AVAILABLE = "n/a"

# How each field of the results is written; keys not listed fall back on their Python type.
KIND = {
    **dict.fromkeys(
        [
            "balance",
            "average_balance",
            "largest_balance",
            "ip_appraised_value",
            "expected_claim",
            "expected_net_claim",
            "expected_fee_income",
            "expected_interest_shortfall",
        ],
        "cny",
    ),
    **dict.fromkeys(
        [
            "share",
            "coupon",
            "annual_pd",
            "annual_rate",
            "recovery_rate",
            "recovery_haircut",
            "weighted_average_coupon",
            "weighted_average_annual_pd",
            "weighted_average_recovery_rate",
            "expected_loss",
            "probability_of_loss",
            "probability_of_any_default",
            "probability_of_claim",
            "expected_defaulted_share",
            "expected_yield",
            "probability_of_interest_shortfall",
        ],
        "pct",
    ),
    **dict.fromkeys(["loans", "obligors", "patents", "paths", "chunk_size"], "count"),
    **dict.fromkeys(["score_min", "score_max"], "score"),
    "wal_years": "years",
    "weighted_average_tenor_months": "months",
    "asset_correlation": "correlation",
    "seconds": "seconds",
}

LABEL = {
    "loan_id": "Loan",
    "enterprise": "Enterprise",
    "industry": "Industry",
    "region": "Region",
    "band": "Score band",
    "amortisation": "Amortisation",
    "loans": "Loans",
    "obligors": "Obligors",
    "balance": "Balance",
    "share": "Share of pool",
    "annual_pd": "Annual PD",
    "average_balance": "Average loan balance",
    "largest_balance": "Largest loan balance",
    "weighted_average_coupon": "Weighted average coupon",
    "weighted_average_tenor_months": "Weighted average tenor",
    "weighted_average_annual_pd": "Weighted average annual PD",
    "weighted_average_recovery_rate": "Weighted average recovery rate",
    "patents": "Pledged patents",
    "ip_appraised_value": "Appraised value of pledged IP",
    "expected_loss": "Expected loss",
    "probability_of_loss": "Probability of loss",
    "wal_years": "Weighted average life",
    "expected_yield": "Expected yield (IRR)",
    "probability_of_interest_shortfall": "Probability of an interest shortfall",
    "expected_interest_shortfall": "Expected interest shortfall (before guarantee)",
    "probability_of_any_default": "Probability of at least one default",
    "expected_defaulted_share": "Expected defaulted balance (share of pool)",
    "probability_of_claim": "Probability of a claim",
    "expected_claim": "Expected claims paid",
    "expected_net_claim": "Expected claims net of reimbursement",
    "expected_fee_income": "Expected guarantee fee income",
    "rating": "Rating",
    "fee_bp": "Guarantee fee",
    "policy_discount_bp": "Policy discount",
    "net_fee_bp": "Net guarantee fee",
    "recovery_rate": "Recovery on claims if the enhancer defaults",
    "asset_correlation": "Asset correlation",
    "score_min": "Score from",
    "score_max": "Score below",
    "shadow_rating": "Shadow rating",
    "model": "Default model",
    "recovery_lag_months": "Recovery lag",
    "recovery_haircut": "Haircut on appraised IP value",
    "pool_source": "Loan tape",
    "pd_sources": "PD sources",
    "recovery_sources": "Recovery sources",
}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, Real) and math.isnan(value))


def cny(value: float) -> str:
    """``CNY 190,000,000``: whole yuan, thousands separators."""
    return NOT_AVAILABLE if _is_missing(value) else f"CNY {value:,.0f}"


def pct(value: float, digits: int = 2) -> str:
    """A fraction as a percentage: 0.0237 → ``2.37%``."""
    return NOT_AVAILABLE if _is_missing(value) else f"{100 * value:.{digits}f}%"


def bp(value: float) -> str:
    """A rate in basis points as % a year with the bp figure: 90 → ``0.90% a year (90 bp)``."""
    return NOT_AVAILABLE if _is_missing(value) else f"{value / 100:.2f}% a year ({value:g} bp)"


def _decimals(se: float, lowest: int, highest: int) -> int:
    """Decimals that show two significant digits of ``se``, within [lowest, highest]."""
    if not math.isfinite(se) or se <= 0:
        return lowest
    return min(highest, max(lowest, 1 - math.floor(math.log10(se))))


def estimate(value: Estimate, kind: str) -> str:
    """A Monte Carlo figure as ``value ± standard error`` in the units of ``kind``."""
    if _is_missing(value.value):
        return NOT_AVAILABLE
    se_known = math.isfinite(value.se)
    if kind == "cny":
        se = f"{value.se:,.0f}" if se_known else NOT_AVAILABLE
        return f"{cny(value.value)} ± {se}"
    # A percentage carries its sign on both figures; years are named once, after the SE.
    scale, unit, suffix = {"pct": (100.0, "%", ""), "years": (1.0, "", " years")}.get(
        kind, (1.0, "", "")
    )
    digits = _decimals(scale * value.se, 2, 4)
    se = f"{scale * value.se:.{digits}f}{unit}" if se_known else NOT_AVAILABLE
    return f"{scale * value.value:.{digits}f}{unit} ± {se}{suffix}"


def kind_of(key: str) -> str:
    """The unit a results field is written in, from its name."""
    if key in KIND:
        return KIND[key]
    if key.endswith("_bp"):
        return "bp"
    if key.startswith("claim_quantile_"):
        return "cny"
    if key.startswith(("quantile_", "yield_quantile_")):
        return "pct"
    return "text"


def cell(value: Any, key: str) -> str:
    """A value of field ``key`` (exact or Monte Carlo) written in that field's units."""
    kind = kind_of(key)
    if isinstance(value, Estimate):
        return estimate(value, kind)
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if _is_missing(value):
        return NOT_AVAILABLE
    if kind == "text" and isinstance(value, Real) and not isinstance(value, bool):
        kind = "count" if isinstance(value, Integral) else "number"
    writers = {
        "cny": cny,
        "pct": pct,
        "bp": bp,
        "count": lambda v: f"{int(v):,}",
        "score": lambda v: f"{v:g}",
        "years": lambda v: f"{v:.2f} years",
        "months": lambda v: f"{v:.1f} months",
        "seconds": lambda v: f"{v:.2f} seconds",
        "correlation": lambda v: f"{v:.2f}",
        "number": lambda v: f"{v:,.4g}",
    }
    return writers[kind](value) if kind in writers else str(value)


def is_numeric(key: str) -> bool:
    """Whether a field is a number (right-aligned in tables)."""
    return kind_of(key) != "text"


def label(key: str) -> str:
    """A field's heading: from ``LABEL``, quantiles by level, otherwise the name in words."""
    if key in LABEL:
        return LABEL[key]
    for prefix, what in (
        ("claim_quantile_", "Claims"),
        ("yield_quantile_", "Yield"),
        ("quantile_", "Loss"),
    ):
        if key.startswith(prefix):
            return f"{what}, {float(key.removeprefix(prefix)) * 100:g}% quantile"
    return key.replace("_", " ").capitalize()
