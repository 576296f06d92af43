"""What the memo calls each thing a scenario names, in each language.

A scenario names its tranches, enhancers, fees and stresses with identifiers (``senior``,
``zhejiang_provincial_guarantor``) and its participants in English text. A reader wants
优先级资产支持证券 and 浙江省融资担保有限公司. Each name is looked up, in order, in the
scenario's own ``name_en`` / ``name_zh`` (``title_zh``, ``originator_zh``, ``holder_zh``), the
enhancer profile's, the package glossary (``securitize/data/glossary.toml``: common identifiers),
and — for a stress without ``name_zh`` — a Chinese description of what it changes; otherwise the
name is shown as written. The resolved names go into the results (``deal.display_names``), so a
memo rendered from ``results.json`` alone names things the same way.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from securitize.enhancers.spec import enhancer_data
from securitize.scenario import TAX_NAME

KINDS = ("tranche", "enhancer", "fee", "stress", "party")


@cache
def glossary() -> dict[str, dict[str, dict[str, str]]]:
    """The package glossary: kind → identifier → {"en": ..., "zh": ...}."""
    text = resources.files("securitize.data").joinpath("glossary.toml").read_text("utf-8")
    return tomllib.loads(text)


def _named(kind: str, name: str, en: str | None, zh: str | None) -> dict[str, str]:
    known = glossary().get(kind, {}).get(name, {})
    english = en or known.get("en") or name
    return {"en": english, "zh": zh or known.get("zh") or english}


def stress_words_zh(stress: Any) -> str:
    """A stress without ``name_zh``, described in Chinese from what it changes."""
    parts = []
    if stress.default_multiplier is not None:
        parts.append(f"违约率×{stress.default_multiplier:g}")
    if stress.default_vector is not None:
        parts.append("给定违约时间分布")
    if stress.front_loaded is not None:
        parts.append(f"违约前置（{100 * stress.front_loaded:g}%集中于前期）")
    if stress.recovery_haircut is not None:
        cut = stress.recovery_haircut
        parts.append("无回收" if cut == 1 else f"回收率下调{100 * cut:g}%")
    if stress.spread_compression_bp is not None:
        parts.append(f"贷款利率下降{stress.spread_compression_bp:g}个基点")
    if stress.index_shift_bp is not None:
        shift = stress.index_shift_bp
        parts.append(f"基准利率{'上调' if shift >= 0 else '下调'}{abs(shift):g}个基点")
    if stress.asset_correlation is not None:
        parts.append(f"资产相关系数{stress.asset_correlation:.2f}")
    return "，".join(parts)


def display_names(scenario: Any) -> dict[str, dict[str, dict[str, str]]]:
    """kind → name as the results carry it → {"en": ..., "zh": ...}, for every tranche,
    enhancer, fee (the waterfall's and the intermediaries'), stress and participant."""
    deal = scenario.deal
    names: dict[str, dict[str, dict[str, str]]] = {kind: {} for kind in KINDS}
    for tranche in scenario.tranches:
        names["tranche"][tranche.name] = _named(
            "tranche", tranche.name, tranche.name_en, tranche.name_zh
        )
        if tranche.holder:
            holder = tranche.holder
            names["party"][holder] = _named("party", holder, None, tranche.holder_zh)
    for enhancer in scenario.enhancers:
        names["enhancer"][enhancer.name] = _named(
            "enhancer", enhancer.name, enhancer.name_en, enhancer.name_zh
        )
        if enhancer.profile and enhancer.profile != enhancer.name:
            profile = enhancer_data()["profiles"][enhancer.profile]
            names["enhancer"][enhancer.profile] = _named(
                "enhancer", enhancer.profile, profile.get("name_en"), profile.get("name_zh")
            )
    fees = list(scenario.fees)
    if scenario.economics is not None:
        fees += list(scenario.economics.intermediary_fees)
    for fee in fees:
        names["fee"][fee.name] = _named("fee", fee.name, fee.name_en, fee.name_zh)
    if scenario.tax_terms is not None:
        names["fee"][TAX_NAME] = _named("fee", TAX_NAME, None, None)
    for name, words in glossary().get("stress", {}).items():
        names["stress"][name] = dict(words)
    for stress in scenario.stresses:
        names["stress"][stress.name] = {
            "en": stress.name,
            "zh": stress.name_zh or stress_words_zh(stress) or stress.name,
        }
    for text, zh in ((deal.title, deal.title_zh), (deal.originator, deal.originator_zh)):
        if text:
            names["party"][text] = _named("party", text, None, zh)
    return names


def shown_in(names: dict[str, dict[str, dict[str, str]]], lang: str) -> Callable[[Any], Any]:
    """``name → what a reader in ``lang`` is shown``: a tranche's name wins over an enhancer's,
    fee's, stress's or participant's of the same spelling; anything unknown is shown as is."""
    table: dict[str, str] = {}
    for kind in reversed(KINDS):
        for name, words in names.get(kind, {}).items():
            table[name] = words.get(lang) or name

    def shown(value: Any) -> Any:
        return table.get(value, value) if isinstance(value, str) else value

    return shown
