"""How the memo writes numbers, in the reader's language.

One set of rules, registered as jinja2 filters, so every figure of a kind looks the same and the
tests can format a figure exactly as the memo does. A Monte Carlo figure's decimals follow its
standard error (two significant digits of the SE), so the memo neither hides nor invents precision.
English writes ``CNY 190,000,000`` and ``15 January 2021``; Chinese writes every amount in 万元,
as the tables of a 计划说明书 do (``19,000.00万元``, ``2,000.00万元``, ``30.00万元``: one unit in
every column, to the hundred yuan, a Monte Carlo figure to two digits of its SE but never past
the yuan) and dates as ``2021年1月15日``.
"""

from __future__ import annotations

import datetime as dt
import math
from numbers import Integral, Real
from typing import Any

from securitize.memo.i18n import has, message
from securitize.stats import Estimate

NOT_AVAILABLE = "n/a"
WAN = 1e4
MONTHS_EN = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

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
            "amount_per_year",
            "cap",
            "per_borrower_cap",
            "covered_amount",
            "net_assets",
            "existing_liability",
            "headroom",
            "defaulted_balance",
            "loss",
            "loss_zero_recovery",
            "subordination",
            "reserve",
            "enhancement",
            "expected_claims",
            "cover_released",
            "pv_net_claims",
            "pv_fees",
            "expected_net_result",
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
            "ip_haircut",
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
            "loan_to_value",
            "discount_rate",
            "single_client_limit",
            "related_client_limit",
            "annual_claims_ratio_limit",
        ],
        "pct",
    ),
    **dict.fromkeys(["loans", "obligors", "patents", "paths", "chunk_size"], "count"),
    **dict.fromkeys(["score_min", "score_max", "score"], "score"),
    **dict.fromkeys(
        ["leverage_before", "leverage_after", "leverage_limit", "coverage_multiple"], "multiple"
    ),
    **dict.fromkeys(["enterprises", "deal_years"], "number"),
    "wal_years": "years",
    **dict.fromkeys(["weighted_average_tenor_months", "tenor_months"], "months"),
    "asset_correlation": "correlation",
    "seconds": "seconds",
}


# Figures named by a confidence level (``claim_quantile_0.999``), by unit.
CNY_LEVELS = ("claim_quantile_", "expected_shortfall_", "economic_capital_")
PCT_LEVELS = ("quantile_", "yield_quantile_", "return_on_capital_")
LEVELS = ("claim_quantile_", "yield_quantile_", "expected_shortfall_", "economic_capital_")
LEVELS += ("return_on_capital_", "quantile_")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, Real) and math.isnan(value))


def not_available(lang: str = "en") -> str:
    """What a missing figure is written as."""
    return message(lang, "common.not_available")


# Chinese amounts: 万元 with two decimals (the hundred yuan); at most four (the yuan).
ZH_DIGITS, ZH_MOST_DIGITS = 2, 4


def cny(value: float, lang: str = "en") -> str:
    """An amount: ``CNY 190,000,000`` (en), ``19,000.00万元`` (zh)."""
    if _is_missing(value):
        return not_available(lang)
    if lang == "zh":
        return f"{value / WAN:,.{ZH_DIGITS}f}万元"
    return f"CNY {value:,.0f}"


def pct(value: float, digits: int = 2, lang: str = "en") -> str:
    """A fraction as a percentage: 0.0237 → ``2.37%``."""
    return not_available(lang) if _is_missing(value) else f"{100 * value:.{digits}f}%"


def bp(value: float, lang: str = "en") -> str:
    """A rate in basis points as % a year with the bp figure: 90 → ``0.90% a year (90 bp)``."""
    if _is_missing(value):
        return not_available(lang)
    return message(lang, "unit.bp", rate=f"{value / 100:.2f}", bp=f"{value:g}")


def date(value: str | dt.date, lang: str = "en") -> str:
    """A date: ``15 January 2021`` (en) or ``2021年1月15日`` (zh)."""
    if _is_missing(value) or value == "":
        return not_available(lang)
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"


def _decimals(se: float, lowest: int, highest: int) -> int:
    """Decimals that show two significant digits of ``se``, within [lowest, highest]."""
    if not math.isfinite(se) or se <= 0:
        return lowest
    return min(highest, max(lowest, 1 - math.floor(math.log10(se))))


def estimate(value: Estimate, kind: str, lang: str = "en") -> str:
    """A Monte Carlo figure as ``value ± standard error`` in the units of ``kind``."""
    if _is_missing(value.value):
        return not_available(lang)
    se_known = math.isfinite(value.se)
    if kind == "cny":
        if lang == "zh":
            digits = _decimals(value.se / WAN, ZH_DIGITS, ZH_MOST_DIGITS) if se_known else ZH_DIGITS
            figure = f"{value.value / WAN:,.{digits}f}"
            se = f"{value.se / WAN:,.{digits}f}" if se_known else not_available(lang)
            return f"{figure} ± {se}万元"
        se = f"{value.se:,.0f}" if se_known else not_available(lang)
        return f"{cny(value.value)} ± {se}"
    # A percentage carries its sign on both figures; years are named once, after the SE.
    scale, unit = (100.0, "%") if kind == "pct" else (1.0, "")
    if kind == "bp":
        unit = message(lang, "unit.bp_suffix")
    suffix = message(lang, "unit.years_suffix") if kind == "years" else ""
    digits = _decimals(scale * value.se, 2, 4)
    se = f"{scale * value.se:.{digits}f}{unit}" if se_known else not_available(lang)
    return f"{scale * value.value:.{digits}f}{unit} ± {se}{suffix}"


def kind_of(key: str) -> str:
    """The unit a results field is written in, from its name."""
    if key in KIND:
        return KIND[key]
    if key.endswith("_bp"):
        return "bp"
    if key.startswith(CNY_LEVELS) or key.endswith(("_cny", "_amount")):
        return "cny"
    if key.startswith(PCT_LEVELS) or key.endswith(("_ratio", "_share", "_rate")):
        return "pct"
    return "text"


def cell(value: Any, key: str, lang: str = "en") -> str:
    """A value of field ``key`` (exact or Monte Carlo) written in that field's units."""
    kind = kind_of(key)
    if isinstance(value, Estimate):
        return estimate(value, kind, lang)
    if isinstance(value, dict) and set(value) == {"value", "se"}:
        return estimate(Estimate(value["value"], value["se"]), kind, lang)
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if _is_missing(value):
        return not_available(lang)
    if isinstance(value, bool):
        return message(lang, "common.yes" if value else "common.no")
    if kind == "text" and isinstance(value, str) and has(lang, f"value.{key}.{value}"):
        return message(lang, f"value.{key}.{value}")  # a coded value in words: fee_paid_by
    if kind == "text" and isinstance(value, Real):
        kind = "count" if isinstance(value, Integral) else "number"
    writers = {
        "cny": lambda v: cny(v, lang),
        "pct": lambda v: pct(v, lang=lang),
        "bp": lambda v: bp(v, lang),
        "count": lambda v: f"{int(v):,}",
        "score": lambda v: f"{v:g}",
        "years": lambda v: message(lang, "unit.years", value=f"{v:.2f}"),
        "months": lambda v: message(lang, "unit.months", value=f"{v:.1f}"),
        "seconds": lambda v: message(lang, "unit.seconds", value=f"{v:.2f}"),
        "correlation": lambda v: f"{v:.2f}",
        "multiple": lambda v: f"{v:,.2f}×",
        "number": lambda v: f"{v:,.4g}",
    }
    return writers[kind](value) if kind in writers else str(value)


def is_numeric(key: str) -> bool:
    """Whether a field is a number (right-aligned in tables)."""
    return kind_of(key) != "text"


def label(key: str, scope: str = "", lang: str = "en") -> str:
    """A field's heading: from the catalogue's ``label`` table (``label.<scope>.<key>`` first,
    for a name that means something else in a scope: an enhancer's ``share``), quantiles by
    level, otherwise the English label or the name in words (so a new results field shows)."""
    if scope and has(lang, f"label.{scope}.{key}"):
        return message(lang, f"label.{scope}.{key}")
    if has(lang, f"label.{key}"):
        return message(lang, f"label.{key}")
    for prefix in LEVELS:
        if key.startswith(prefix):
            rest = key.removeprefix(prefix)
            yearly = rest.endswith("_per_year")
            level = f"{float(rest.removesuffix('_per_year')) * 100:g}"
            text = message(lang, f"quantile.{prefix.rstrip('_')}", level=level)
            return text + (message(lang, "quantile.per_year") if yearly else "")
    if has("en", f"label.{key}"):
        return message("en", f"label.{key}")
    return key.replace("_", " ").capitalize()
