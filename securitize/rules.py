"""The exchange and market rule block: a deal judged against the rules an ABS reviewer applies.

Each rule of ``securitize/data/exchange_rules.toml`` — risk retention, debtor dispersion, the IP
label test, the important-debtor disclosure tiers of the exchanges and of the inter-bank market
(NAFMII), cash flows from the originator's related parties (关联方) — is measured here and
reported with the figure it checked, the limit, the verdict and its citation. The limits and
citations are data; this module holds only how each figure is measured.

Verdicts: a requirement ``pass`` / ``fail``; a disclosure trigger ``triggered`` /
``not_triggered`` (with the debtors it names); either ``cannot_check`` or ``not_applicable``
with the reason when the inputs do not allow a verdict. Nothing unknown is read as a pass: a tape
without the ``related_party`` column cannot be checked for related-party cash flows.

"Debtor" means an enterprise together with its related parties: loans to the same enterprise, or
whose ``related_group`` labels match (transitively), are one debtor — the grouping the
selection's ``related_group_max`` limit uses (``securitize.selection.candidates.related_keys``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from securitize.results import Results
from securitize.selection.candidates import related_keys
from securitize.tape import ip_labels

TABLE = "securitize/data/exchange_rules.toml"
# Shares are sums of float64 ratios: a pool built to sit exactly at a limit (5 % retained,
# 70 % labelled) may come out a few ulps to either side of it, which is not a breach.
TOLERANCE = 1e-12
COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "at_least": (">=", lambda value, limit: value >= limit - TOLERANCE),
    "at_most": ("<=", lambda value, limit: value <= limit + TOLERANCE),
    "above": (">", lambda value, limit: value > limit + TOLERANCE),
}
# The rules a pool alone can be judged on (``pool select``); risk retention needs the structure.
POOL_RULES = (
    "debtor_count",
    "single_debtor",
    "ip_label",
    "important_debtors_exchange",
    "important_debtors_interbank",
    "related_party_cash_flows",
)


@cache
def rule_table() -> dict[str, Any]:
    """The rules, their sources and the markets, read once from the package data file."""
    text = resources.files("securitize.data").joinpath("exchange_rules.toml").read_text("utf-8")
    return tomllib.loads(text)


@dataclass(frozen=True)
class PoolFacts:
    """What the pool rules read: each loan's balance, debtor, IP label and related-party flag."""

    balance: np.ndarray
    debtor: np.ndarray  # the debtor-plus-related-parties key of each loan
    enterprises: int
    labels: np.ndarray | None
    label_source: str
    related_party: np.ndarray | None

    @property
    def total(self) -> float:
        return float(self.balance.sum())

    def debtor_shares(self) -> pd.Series:
        """Each debtor's share of the pool balance, largest first (ties by name)."""
        by = pd.Series(self.balance).groupby(self.debtor).sum() / self.total
        return by.sort_index().sort_values(ascending=False, kind="stable")


def pool_facts(
    loans: pd.DataFrame, path: Path | str | None, label_column: str = "ip_label"
) -> PoolFacts:
    """The figures the pool rules need, from a validated pool's (or selection's) loans."""
    related = loans.get("related_group", pd.Series("", index=loans.index))
    labels, label_source = ip_labels(loans, path, label_column)
    flags = loans["related_party"].to_numpy(dtype=bool) if "related_party" in loans else None
    return PoolFacts(
        balance=loans["balance"].to_numpy(dtype=float),
        debtor=related_keys(loans["enterprise"], related.fillna("").astype(str)),
        enterprises=int(loans["enterprise"].nunique()),
        labels=None if labels is None else np.asarray(labels, dtype=bool),
        label_source=label_source,
        related_party=flags,
    )


def _percent(share: float) -> str:
    return f"{100 * share:.2f} %"


def _counts(rule: dict[str, Any]) -> bool:
    """Whether the rule counts (a whole-number limit, such as 10 debtors) rather than shares."""
    return isinstance(rule.get("limit"), int)


def _shown(rule: dict[str, Any], value: float) -> str:
    return f"{value:g}" if _counts(rule) else _percent(value)


def _citation(rule: dict[str, Any]) -> dict[str, Any]:
    source = rule_table()["sources"][rule["source"]]
    citation = {
        "source": rule["source"],
        "short": source["short"],
        "document": source["document"],
        "english": source["english"],
        "article": source["article"],
    }
    if "note" in source:
        citation["note"] = source["note"]
    if "see_also" in rule:
        citation["see_also"] = rule["see_also"]
    return citation


def _check(rule: dict[str, Any], **found: Any) -> dict[str, Any]:
    """A rule's entry: its terms from the table, then what was found."""
    entry = {
        "id": rule["id"],
        "kind": rule["kind"],
        "title": rule["title"],
        "title_zh": rule["title_zh"],
        "comparison": rule["comparison"],
        "limit": rule.get("limit"),
        "unit": rule["unit"],
        "status": None,
        "value": None,
        "where": None,
        "reason": None,
    }
    if "market" in rule:
        entry["market"] = rule["market"]
        entry["market_applies_to"] = rule_table()["markets"][rule["market"]]
    entry.update(found)
    entry["citation"] = _citation(rule)
    entry["message"] = _message(rule, entry)
    return entry


def _message(rule: dict[str, Any], entry: dict[str, Any]) -> str:
    """One line: the rule, its verdict, the figure against the limit, and the source."""
    cite = entry["citation"]
    head = f"{rule['id']} [{cite['short']}, {cite['article']}]"
    status = entry["status"]
    if status in ("cannot_check", "not_applicable"):
        return f"{head}: {status.replace('_', ' ')}: {entry['reason']}"
    if rule["kind"] == "disclosure" and "tiers" in entry:
        parts = []
        for tier in entry["tiers"]:
            names = ", ".join(f"{d['debtor']} {_percent(d['share'])}" for d in tier["debtors"])
            parts.append(
                f"at {100 * tier['limit']:g} % ({tier['disclosure']}): " + (names or "none")
            )
        return f"{head}: {status.replace('_', ' ')}: " + "; ".join(parts)
    sign = COMPARISONS[rule["comparison"]][0]
    value = entry["value"]
    where = f" ({entry['where']})" if entry.get("where") else ""
    verdict = {"pass": "passes", "fail": "FAILS"}.get(status, status.replace("_", " "))
    meets = COMPARISONS[rule["comparison"]][1](value, rule["limit"])
    sign_shown = sign if meets else {"<=": ">", ">=": "<", ">": "<="}[sign]
    limit = f"{rule['limit']:g}" if _counts(rule) else f"{100 * rule['limit']:g} %"
    return f"{head}: {verdict}: {_shown(rule, value)}{where} {sign_shown} {limit}"


def _verdict(rule: dict[str, Any], value: float) -> str:
    meets = COMPARISONS[rule["comparison"]][1](value, rule["limit"])
    if rule["kind"] == "disclosure":
        return "triggered" if meets else "not_triggered"
    return "pass" if meets else "fail"


def _debtor_count(rule: dict[str, Any], facts: PoolFacts) -> dict[str, Any]:
    count = len(set(facts.debtor))
    return _check(
        rule,
        status=_verdict(rule, count),
        value=count,
        where=f"{facts.enterprises} enterprises",
    )


def _single_debtor(rule: dict[str, Any], facts: PoolFacts) -> dict[str, Any]:
    shares = facts.debtor_shares()
    return _check(
        rule,
        status=_verdict(rule, float(shares.iloc[0])),
        value=float(shares.iloc[0]),
        where=str(shares.index[0]),
    )


def _ip_label(rule: dict[str, Any], facts: PoolFacts) -> dict[str, Any]:
    if facts.labels is None:
        return _check(
            rule,
            status="cannot_check",
            reason=f"the pool does not say which loans are backed by IP ({facts.label_source})",
            label_source=facts.label_source,
        )
    share = float(facts.balance[facts.labels].sum() / facts.total)
    return _check(
        rule,
        status=_verdict(rule, share),
        value=share,
        where=f"{int(facts.labels.sum())} of {facts.labels.size} loans; {facts.label_source}",
        label_source=facts.label_source,
        labelled_loans=int(facts.labels.sum()),
    )


def _important_debtors(rule: dict[str, Any], facts: PoolFacts) -> dict[str, Any]:
    shares = facts.debtor_shares()
    compare = COMPARISONS[rule["comparison"]][1]
    tiers = []
    for tier in rule["tiers"]:
        named = shares[[compare(float(s), tier["limit"]) for s in shares]]
        tiers.append(
            {
                "limit": tier["limit"],
                "disclosure": tier["disclosure"],
                "disclosure_zh": tier["disclosure_zh"],
                "debtors": [{"debtor": str(k), "share": float(v)} for k, v in named.items()],
            }
        )
    triggered = any(t["debtors"] for t in tiers)
    return _check(
        rule,
        status="triggered" if triggered else "not_triggered",
        value=float(shares.iloc[0]),
        where=str(shares.index[0]),
        tiers=tiers,
    )


def _related_party(rule: dict[str, Any], facts: PoolFacts) -> dict[str, Any]:
    if facts.related_party is None:
        return _check(
            rule,
            status="cannot_check",
            reason="the tape has no related_party column (docs/tape.md)",
        )
    share = float(facts.balance[facts.related_party].sum() / facts.total)
    return _check(
        rule,
        status=_verdict(rule, share),
        value=share,
        where=f"{int(facts.related_party.sum())} of {facts.related_party.size} loans",
        related_loans=int(facts.related_party.sum()),
    )


POOL_MEASURES: dict[str, Callable[[dict[str, Any], PoolFacts], dict[str, Any]]] = {
    "debtor_count": _debtor_count,
    "single_debtor": _single_debtor,
    "ip_label": _ip_label,
    "important_debtors_exchange": _important_debtors,
    "important_debtors_interbank": _important_debtors,
    "related_party_cash_flows": _related_party,
}


def _retention(rule: dict[str, Any], results: Results) -> dict[str, Any]:
    """Tranches whose holder names the originator — the memo's risk-retention reading
    (``securitize.memo.disclosure.risk_retention``), used here so the two cannot disagree."""
    from securitize.memo.disclosure import risk_retention  # the memo package loads on use

    if not any(t.holder.strip() for t in results.tranches):
        return _check(
            rule,
            status="cannot_check",
            reason="no tranche states its holder ([[tranches]] holder, docs/scenario.md)",
        )
    retained = risk_retention(results)
    names = [t["name"] for t in retained["tranches"]]
    share = float(retained["share"])
    found: dict[str, Any] = {
        "value": share,
        "holders": sorted({t["holder"] for t in retained["tranches"]}),
        "tranches": names,
        "balance": float(retained["balance"]),
        "most_junior_retained": bool(results.tranches) and results.tranches[-1].name in names,
    }
    if not names:
        originator = results.deal.get("originator") or ""
        found["where"] = (
            "no tranche's holder names the originator"
            + (f" ('{originator}')" if originator else "")
            + " or says 'originator' / 原始权益人 / 发起机构"
        )
    else:
        found["where"] = ", ".join(
            f"{t['name']} held by {t['holder']}" for t in retained["tranches"]
        )
    return _check(rule, status=_verdict(rule, share), **found)


def pool_checks(facts: PoolFacts) -> list[dict[str, Any]]:
    """The pool rules' entries, in the table's order."""
    return [
        POOL_MEASURES[r["id"]](r, facts) for r in rule_table()["rules"] if r["id"] in POOL_RULES
    ]


def rule_block(checks: list[dict[str, Any]], market: str | None = None) -> dict[str, Any]:
    """The ``exchange_rules`` document: every check, and the ids by verdict."""

    def having(*statuses: str) -> list[str]:
        return [c["id"] for c in checks if c["status"] in statuses]

    if market is None:
        note = (
            "the scenario does not state its market: the exchange and the inter-bank "
            "(NAFMII) disclosure tiers are both reported, each with the market it applies to"
        )
    else:
        note = f"the deal is issued as {rule_table()['markets'][market]}: only its tiers apply"
    return {
        "table": TABLE,
        "debtor": "an enterprise together with its related parties (related_group, transitively)",
        "market": market,
        "market_note": note,
        "checks": checks,
        "failed": having("fail"),
        "triggered": having("triggered"),
        "not_checked": having("cannot_check", "not_applicable"),
    }


def _other_market(rule: dict[str, Any], market: str) -> dict[str, Any]:
    """A market's rule on a deal issued on the other market."""
    markets = rule_table()["markets"]
    return _check(
        rule,
        status="not_applicable",
        reason=f"applies to {markets[rule['market']]}; the deal is {markets[market]}",
        deal_market=market,
    )


def exchange_rules(
    results: Results,
    loans: pd.DataFrame,
    path: Path | str | None,
    label_column: str = "ip_label",
    market: str | None = None,
) -> dict[str, Any]:
    """The deal's rule block: risk retention from the results' tranches, every pool rule from
    ``loans`` (the pool's validated loans, which keep the tape's ``related_party`` and label
    columns). With ``market`` (``exchange`` or ``interbank``) the other market's tiers are
    not applicable."""
    facts = pool_facts(loans, path, label_column)
    checks = []
    for rule in rule_table()["rules"]:
        if rule["id"] == "risk_retention":
            checks.append(_retention(rule, results))
        elif market is not None and rule.get("market", market) != market:
            checks.append(_other_market(rule, market))
        else:
            checks.append(POOL_MEASURES[rule["id"]](rule, facts))
    return rule_block(checks, market)


def failed_lines(block: dict[str, Any]) -> list[str]:
    """One line per failed requirement (the terminal summary, ``pool select``)."""
    return [c["message"] for c in block.get("checks", []) if c["status"] == "fail"]


def note_lines(block: dict[str, Any]) -> list[str]:
    """One line per triggered disclosure and per rule that could not be checked."""
    return [
        c["message"]
        for c in block.get("checks", [])
        if c["status"] in ("triggered", "cannot_check", "not_applicable")
    ]
