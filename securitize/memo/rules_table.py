"""The exchange and market rule block (``results.exchange_rules``, ``securitize/rules.py``) as
the memo's table rows, in the reader's language: each rule's title, the figure it was checked
on and its limit in the rule's unit, its verdict, a note (where the figure comes from, why a
rule could not be checked, which debtors reach a disclosure tier) and its source."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from securitize.memo.formats import pct
from securitize.memo.i18n import has, message

SIGNS = {"at_least": "≥ ", "at_most": "≤ ", "above": "> "}


def _amount(value: float | None, unit: str, lang: str) -> str:
    if value is None:
        return "—"
    if unit.startswith("share"):
        return pct(value, lang=lang)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _limit(check: dict[str, Any], lang: str) -> str:
    sign = SIGNS.get(check.get("comparison") or "", "")
    if check.get("tiers"):
        return sign + " / ".join(pct(tier["limit"], 0, lang) for tier in check["tiers"])
    return sign + _amount(check.get("limit"), check.get("unit") or "", lang)


def _debtor(text: str, lang: str) -> str:
    """A debtor as ``securitize.rules`` names it (an enterprise, or ``related group G1 (A,
    B)``), in ``lang``."""
    if lang != "zh":
        return text
    return re.sub(r"^related group (\S+) \((.*)\)$", r"关联方组\1（\2）", text)


def _note(check: dict[str, Any], lang: str, shown: Callable[[str], str], loans: int) -> str | None:
    """Where the figure comes from, why the rule could not be checked, or who reaches a
    disclosure tier; in Chinese built from the check's fields, not its English ``where``."""
    sep = message(lang, "common.list_sep")
    if check["status"] == "cannot_check":
        key = f"rules.reason.{check['id']}"
        return message(lang, key) if has(lang, key) else check.get("reason")
    if check["status"] == "not_applicable" and check.get("deal_market"):
        return message(
            lang,
            "rules.other_market",
            applies=message(lang, f"value.market.{check['market']}"),
            market=message(lang, f"value.market.{check['deal_market']}"),
        )
    if check.get("tiers"):
        reached = [
            f"{tier['disclosure_zh'] if lang == 'zh' else tier['disclosure']} "
            f"({pct(tier['limit'], 0, lang)}): "
            + sep.join(
                f"{_debtor(d['debtor'], lang)} {pct(d['share'], lang=lang)}"
                for d in tier["debtors"]
            )
            for tier in check["tiers"]
            if tier["debtors"]
        ]
        return sep.join(reached) or None
    if lang != "zh":
        return check.get("where")
    if check["id"] == "risk_retention" and check.get("tranches"):
        tranches = "、".join(shown(name) for name in check["tranches"])
        holders = "、".join(shown(name) for name in check.get("holders", []))
        return message(lang, "rules.retained_by", tranches=tranches, holders=holders)
    if check["id"] == "single_debtor" and check.get("where"):
        return _debtor(check["where"], lang)
    if check["id"] == "ip_label" and check.get("labelled_loans") is not None:
        return message(lang, "rules.labelled", labelled=check["labelled_loans"], loans=loans)
    return None


def _source(check: dict[str, Any], lang: str) -> str:
    citation = check.get("citation") or {}
    article = citation.get("article") or ""
    if article == "article not verified":
        article = message(lang, "rules.article_not_verified")
    document = citation.get("document") if lang == "zh" else citation.get("short")
    if not article:
        return str(document or "")
    return f"{document}（{article}）" if lang == "zh" else f"{document} ({article})"


def exchange_rule_rows(
    results: Any, lang: str, shown: Callable[[str], str] = str
) -> list[dict[str, Any]]:
    """One row per rule of ``results.exchange_rules`` (empty when the run has none);
    ``shown`` names tranches and holders."""
    block = getattr(results, "exchange_rules", None) or {}
    loans = int(results.pool.get("loans", 0))
    return [
        {
            "id": check["id"],
            "status": check["status"],
            "title": check.get("title_zh") if lang == "zh" else check.get("title"),
            "figure": _amount(check.get("value"), check.get("unit") or "", lang),
            "limit": _limit(check, lang),
            "note": _note(check, lang, shown, loans),
            "source": _source(check, lang),
        }
        for check in block.get("checks", [])
    ]


def failed_titles(results: Any, lang: str) -> str:
    """The titles of the rules not met, joined for a sentence."""
    rows = exchange_rule_rows(results, lang)
    return message(lang, "common.list_sep").join(r["title"] for r in rows if r["status"] == "fail")
