"""Disclosure tables derived from a run's results alone: pool totals and distributions, the
largest loans with concentration flags, IP collateral, participants, the order in which credit
enhancement is called, risk retention, quantified risk factors and the disclosure checklist.

Presentation, not modelling: each function selects or groups figures ``Results`` already holds,
so the memo needs no arithmetic in its templates. Thresholds, distribution ranges and the
checklist come from ``disclosure_rules.toml`` (with their sources).
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from securitize.enhancers.metrics import checked_limits
from securitize.enhancers.spec import TRANCHE_KINDS
from securitize.memo.capital import tranche_risk_weight, weighted_rating
from securitize.results import Results
from securitize.stats import Estimate

RULES = Path(__file__).parent / "disclosure_rules.toml"
ORIGINATOR_WORDS = ("originator", "原始权益人", "发起机构")


@cache
def rules() -> dict[str, Any]:
    """Concentration thresholds and the checklist."""
    with RULES.open("rb") as stream:
        return tomllib.load(stream)


def pool_summary(results: Results) -> dict[str, Any]:
    """The pool totals the rules ask for: count, balance, weighted-average rate, remaining term,
    PD and shadow rating (balance-weighted notch of the loans' score-band ratings)."""
    loans = results.loans
    totals = results.pool
    shadow = (
        weighted_rating(loans["shadow_rating"].fillna(""), loans["balance"])
        if "shadow_rating" in loans
        else None
    )
    return {
        "loans": totals["loans"],
        "obligors": totals["obligors"],
        "balance": totals["balance"],
        "average_balance": totals["average_balance"],
        "largest_balance": totals["largest_balance"],
        "weighted_average_coupon": totals["weighted_average_coupon"],
        "weighted_average_tenor_months": totals["weighted_average_tenor_months"],
        "weighted_average_annual_pd": totals["weighted_average_annual_pd"],
        "weighted_shadow_rating": shadow or "",
        "weighted_average_recovery_rate": totals["weighted_average_recovery_rate"],
        "patents": totals["patents"],
        "ip_appraised_value": totals["ip_appraised_value"],
    }


@dataclass(frozen=True)
class Bucket:
    """One row of a distribution: a range (lower, upper) or a value, with loans and balance."""

    lower: float | None
    upper: float | None
    value: str
    loans: int
    balance: float
    share: float


def _bucketed(values: pd.Series, balance: pd.Series, edges: tuple[float, ...]) -> list[Bucket]:
    total = float(balance.sum())
    rows = []
    for lower, upper in itertools.pairwise(edges):
        inside = (values > lower) & (values <= upper) if lower > 0 else values <= upper
        if inside.any():
            amount = float(balance[inside].sum())
            rows.append(
                Bucket(
                    lower,
                    None if math.isinf(upper) else upper,
                    "",
                    int(inside.sum()),
                    amount,
                    amount / total,
                )
            )
    return rows


def distributions(results: Results) -> dict[str, list[Bucket]]:
    """Distributions by balance, remaining term and rate (ranges), and by industry, region and
    score band (values, from the results' stratification tables)."""
    loans = results.loans
    if loans.empty:
        return {}
    edges = rules()["distributions"]
    out = {
        key: _bucketed(loans[column], loans["balance"], (0.0, *edges[name], math.inf))
        for key, column, name in (
            ("balance", "balance", "balance_cny"),
            ("term", "tenor_months", "term_months"),
            ("rate", "coupon", "rate"),
        )
    }
    for key in ("industry", "region", "band"):
        if key in results.stratification:
            table = results.stratification[key]
            out[key] = [
                Bucket(None, None, str(r[key]), int(r["loans"]), float(r["balance"]), r["share"])
                for r in table.to_dict(orient="records")
            ]
    return out


def debtor_groups(loans: pd.DataFrame) -> pd.DataFrame:
    """Balance and share by debtor (enterprise) and by related-party group (``related_group``,
    or the debtor alone when blank), for the 15% / 20% concentration flags."""
    total = float(loans["balance"].sum())
    group = loans["enterprise"]
    if "related_group" in loans:
        named = loans["related_group"].fillna("").astype(str).str.strip()
        group = named.where(named != "", loans["enterprise"])
    debtor_share = loans.groupby("enterprise")["balance"].transform("sum") / total
    group_share = loans.groupby(group)["balance"].transform("sum") / total
    return pd.DataFrame(
        {"debtor_share": debtor_share, "group": group, "group_share": group_share},
        index=loans.index,
    )


def largest_loans(results: Results, count: int = 20) -> list[dict[str, Any]]:
    """The ``count`` largest loans with their debtor's and related group's shares and flags:
    ``single`` above the single-debtor threshold, ``related`` above the related-party one."""
    loans = results.loans
    if loans.empty:
        return []
    limits = rules()["concentration"]
    groups = debtor_groups(loans)
    order = loans["balance"].sort_values(ascending=False, kind="stable").index[:count]
    rows = []
    for i in order:
        loan = loans.loc[i]
        rows.append(
            {
                "loan_id": loan["loan_id"],
                "enterprise": loan["enterprise"],
                "related_group": loan.get("related_group", "") or "",
                "industry": loan["industry"],
                "region": loan["region"],
                "balance": float(loan["balance"]),
                "share": float(loan["share"]),
                "debtor_share": float(groups.at[i, "debtor_share"]),
                "group_share": float(groups.at[i, "group_share"]),
                "single": bool(groups.at[i, "debtor_share"] > limits["single_debtor"]),
                "related": bool(groups.at[i, "group_share"] > limits["related_parties"]),
            }
        )
    return rows


def concentration(results: Results) -> dict[str, Any]:
    """Largest debtor and related group, top-5 share and the loans flagged."""
    loans = results.loans
    if loans.empty:
        return {}
    groups = debtor_groups(loans)
    limits = rules()["concentration"]
    by_debtor = loans.groupby("enterprise")["balance"].sum().sort_values(ascending=False)
    total = float(loans["balance"].sum())
    return {
        "single_limit": limits["single_debtor"],
        "related_limit": limits["related_parties"],
        "largest_debtor": str(by_debtor.index[0]),
        "largest_debtor_share": float(by_debtor.iloc[0] / total),
        "top5_share": float(by_debtor.head(5).sum() / total),
        "largest_group": str(groups.loc[groups["group_share"].idxmax(), "group"]),
        "largest_group_share": float(groups["group_share"].max()),
        "flagged_single": int((groups["debtor_share"] > limits["single_debtor"]).sum()),
        "flagged_related": int((groups["group_share"] > limits["related_parties"]).sum()),
    }


def ip_collateral(results: Results) -> list[dict[str, Any]]:
    """Per loan: pledged patents, appraised value, loan-to-value, registration and protection end
    (the latter two when the tape has them; blank otherwise)."""
    loans = results.loans
    if loans.empty:
        return []
    rows = []
    for loan in loans.to_dict(orient="records"):
        rows.append(
            {
                "loan_id": loan["loan_id"],
                "enterprise": loan["enterprise"],
                "patents": loan.get("patents", float("nan")),
                "ip_appraised_value": loan.get("ip_appraised_value", float("nan")),
                "balance": loan["balance"],
                "loan_to_value": loan.get("loan_to_value", float("nan")),
                "ip_registration": loan.get("ip_registration", "") or "",
                "ip_expiry": loan.get("ip_expiry", "") or "",
            }
        )
    return rows


def is_retained(holder: str, originator: str) -> bool:
    """Whether a tranche is held by the originator: its holder names the originator."""
    text = holder.lower()
    return bool(originator and originator.lower() in text) or any(
        w in text for w in ORIGINATOR_WORDS
    )


def risk_retention(results: Results) -> dict[str, Any]:
    """Tranches the originator keeps (风险自留) and their share of the deal."""
    originator = results.deal.get("originator", "")
    rows = [
        {"name": t.name, "holder": t.holder, "balance": t.balance, "share": t.share}
        for t in results.tranches
        if is_retained(t.holder, originator)
    ]
    return {
        "tranches": rows,
        "balance": sum(r["balance"] for r in rows),
        "share": sum(r["share"] for r in rows),
    }


def participants(results: Results) -> list[dict[str, str]]:
    """Who takes part, by role: originator, borrowers, the plan, investors, enhancers, fees."""
    deal = results.deal
    rows = [
        {"role": "originator", "name": deal.get("originator") or "", "detail": ""},
        {"role": "borrowers", "name": "", "detail": str(results.pool["obligors"])},
        {"role": "plan", "name": deal.get("title") or deal["name"], "detail": ""},
    ]
    for t in results.tranches:
        rows.append({"role": "investors", "name": t.holder, "detail": t.name})
    for e in results.enhancers:
        rows.append(
            {"role": "enhancer", "name": e.name, "detail": f"{e.covers}|{e.terms.get('rating')}"}
        )
    for f in results.fees:
        if f["basis"] == "interest_collections":
            continue  # the VAT and surcharges: a tax, not a service provider
        rows.append({"role": "service", "name": f["name"], "detail": ""})
    return rows


def enhancement_order(results: Results) -> list[dict[str, Any]]:
    """The credit enhancement in the order it absorbs a shortfall: enhancers that cover loans
    (paid as loans default), excess spread, reserve accounts, subordination beneath each
    tranche, triggers and acceleration, then each tranche's enhancers in the order the engine
    calls them (the originator's undertaking, guarantees, a CRMW)."""
    names = [t.name for t in results.tranches]
    steps: list[dict[str, Any]] = [
        {"kind": "pool_cover", "name": e.name, "enhancer": e.kind}
        for e in results.enhancers
        if e.covers not in names
    ]
    steps.append({"kind": "excess_spread"})
    for account in results.structure.get("accounts", []):
        steps.append({"kind": "reserve", "name": account["name"], "target": account["target"]})
    below = 0.0
    cushion = {}
    for t in reversed(results.tranches):
        cushion[t.name] = below
        below += t.share
    for t in results.tranches:
        if cushion[t.name] > 0:
            steps.append({"kind": "subordination", "name": t.name, "share": cushion[t.name]})
    for trigger in results.structure.get("triggers", []):
        steps.append({"kind": "trigger", **trigger})
    if results.structure.get("waterfalls", {}).get("accelerated"):
        steps.append({"kind": "acceleration"})
    rank = {kind: k for k, kind in enumerate(TRANCHE_KINDS)}
    for name in names:
        covering = [e for e in results.enhancers if e.covers == name]
        for e in sorted(covering, key=lambda e: rank.get(e.kind, len(rank))):
            steps.append(
                {
                    "kind": "tranche_cover",
                    "name": e.name,
                    "enhancer": e.kind,
                    "covers": name,
                    "rating": e.terms.get("rating") or "",
                }
            )
    return steps


def risk_factors(results: Results) -> list[dict[str, Any]]:
    """Quantified risk factors: concentration, and each stress's effect against the expected
    case (pool loss, each tranche's stand-alone loss), the Monte Carlo change of a correlation
    stress, each assessed enhancer's limit checks (``checked_limits``: the figure checked, its
    limit and the verdict together) and what the guarantee carries (senior loss stand-alone
    against wrapped)."""
    rows: list[dict[str, Any]] = []
    conc = concentration(results)
    if conc:
        rows.append({"kind": "concentration", **conc})
    base = next((s for s in results.stresses if s["name"] == "expected case"), None)
    names = [t.name for t in results.tranches]
    for stress in results.stresses:
        if stress is base:
            continue
        row: dict[str, Any] = {
            "kind": "stress",
            "name": stress["name"],
            "pool_loss": stress["pool_loss"],
            "pool_loss_change": stress["pool_loss"] - base["pool_loss"] if base else None,
            "losses": [stress["tranches"][n]["standalone_loss"] for n in names],
            "base_losses": [base["tranches"][n]["standalone_loss"] for n in names]
            if base
            else None,
            "monte_carlo": None,
        }
        monte_carlo = stress.get("monte_carlo")
        if monte_carlo:
            row["monte_carlo"] = [
                (
                    t.standalone["expected_loss"],
                    Estimate(**monte_carlo[f"{t.name}.standalone.expected_loss"]),
                )
                for t in results.tranches
            ]
        rows.append(row)
    for e in results.enhancers:
        limits = getattr(e, "limits", None) or {}
        if limits.get("assessed"):
            rows.append(
                {"kind": "enhancer_limits", "name": e.name, "checks": checked_limits(limits)}
            )
    for e in results.enhancers:
        tranche = next((t for t in results.tranches if t.name == e.covers), None)
        if tranche is None:  # a pool-level cover: no single tranche to compare
            continue
        rows.append(
            {
                "kind": "guarantor",
                "name": e.name,
                "covers": e.covers,
                "annual_pd": e.terms["annual_pd"],
                "standalone": tranche.standalone["expected_loss"],
                "wrapped": tranche.wrapped["expected_loss"],
            }
        )
    return rows


def capital(results: Results, ratings: dict[str, str | None]) -> list[dict[str, Any]]:
    """Risk weight of each tranche (SEC-ERBA) from its rating, WAL and thickness."""
    rows = []
    for k, t in enumerate(results.tranches):
        rating = ratings.get(t.name)
        wal = t.wrapped["wal_years"].value
        maturity = wal if math.isfinite(wal) else float(results.deal["legal_final_months"]) / 12
        rows.append(
            {
                "name": t.name,
                "rating": rating or "",
                "senior": k == 0,
                "maturity_years": min(5.0, max(1.0, maturity)),
                "thickness": t.share,
                "risk_weight": tranche_risk_weight(
                    rating, senior=k == 0, maturity_years=maturity, thickness=t.share
                ),
            }
        )
    return rows


def enhancer_limits(limits: dict[str, Any]) -> dict[str, Any]:
    """An enhancer's limits as the annex shows them: each check (the figure checked, its limit
    and the verdict, ``checked_limits``) and, apart, every other figure of ``limits`` (the
    covered amount, net assets, the highest single-year claims ratio shown for information...)."""
    checks = checked_limits(limits)
    shown = {c[key] for c in checks for key in ("figure_key", "limit_key", "verdict_key")}
    return {"checks": checks, "other": {k: v for k, v in limits.items() if k not in shown}}


def enhancer_economics(results: Results) -> list[dict[str, Any]]:
    """Each enhancer's expected fee income against its expected net claims (fee cover), and its
    limits as the annex shows them (``enhancer_limits``)."""
    rows = []
    for e in results.enhancers:
        fee = e.metrics.get("expected_fee_income")
        claim = e.metrics.get("expected_net_claim")
        cover = (
            fee.value / claim.value
            if fee is not None and claim is not None and claim.value > 0
            else float("nan")
        )
        rows.append(
            {
                "name": e.name,
                "fee": fee,
                "net_claim": claim,
                "fee_cover": cover,
                "limits": enhancer_limits(getattr(e, "limits", None) or {}),
            }
        )
    return rows


def checklist(anchors: set[str]) -> list[dict[str, Any]]:
    """Each required item with its rule and the memo section disclosing it (present or not)."""
    return [{**item, "present": item["section"] in anchors} for item in rules()["checklist"]]


def finite(values: list[float]) -> bool:
    """Whether every value is a finite number."""
    return bool(np.all(np.isfinite(np.asarray(values, dtype=float))))
