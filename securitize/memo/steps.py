"""Phrases the engine generates in English, in the reader's language.

``securitize.waterfall.describe`` writes each step of the compiled program as an English
sentence (the form ``results.json`` keeps); the validation names its figures and the pool its
PD and recovery sources the same way. For a Chinese memo this module rewrites each known form
with the terms of art of a 计划说明书 (顺序偿付, 加速清偿, 储备账户, ...). A form it does not
know is shown as generated, in English, rather than guessed at.

The steps name tranches, fees and enhancers by their identifiers; ``shown`` (the run's display
names, ``securitize.display``) puts each reader-facing name in their place, in either language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Shown = Callable[[Any], Any]


def _as_is(name: Any) -> Any:
    return name


MODES = {"sequential": "顺序偿付", "pro rata": "按比例偿付"}


def _names(text: str, shown: Shown = _as_is) -> str:
    """``senior → mezzanine and junior`` with each name shown, in Chinese punctuation."""
    return "、".join(
        "→".join(str(shown(name)) for name in group.split(" → ")) for group in text.split(" and ")
    )


def _target(text: str, shown: Shown = _as_is) -> str:
    """``5% of the performing pool, at least CNY 1,000,000`` in Chinese."""
    match = re.fullmatch(r"CNY ([\d,]+)", text)
    if match:
        return f"{match[1]}元"
    match = re.fullmatch(r"([\d.e+-]+)% of (.+?)(?:, at least CNY ([\d,]+))?", text)
    if not match:
        return text
    base = {"the performing pool": "正常资产池余额", "all notes": "全部证券余额"}.get(match[2])
    if base is None:
        tranche = re.fullmatch(r"the (.+) balance", match[2])
        base = f"{shown(tranche[1])}余额" if tranche else match[2]
    floor = f"，且不低于{match[3]}元" if match[3] else ""
    return f"{base}的{match[1]}%{floor}"


def _amount(text: str, shown: Shown = _as_is) -> str:
    if text == "the principal due (notes down to the performing pool)":
        return "应付本金（证券余额降至正常资产池余额）"
    if text == "all remaining cash (turbo)":
        return "全部剩余现金（加速偿付）"
    if text == "to target":
        return "至目标余额"
    if text.startswith("down to "):
        return f"降至{_target(text.removeprefix('down to '), shown)}"
    return text


Rule = tuple[str, Callable[[re.Match[str], Shown], str]]
RULES: tuple[Rule, ...] = (
    (
        r"tax (\S+): ([\d.e+-]+)% of the interest collected",
        lambda m, s: f"{s(m[1])}：利息收入的{m[2]}%",
    ),
    (r"fee (\S+): CNY ([\d,]+) a year", lambda m, s: f"{s(m[1])}：每年{m[2]}元"),
    (
        r"fee (\S+): ([\d.e+-]+) bp a year on the performing pool",
        lambda m, s: f"{s(m[1])}：按正常资产池余额每年{m[2]}个基点",
    ),
    (
        r"fee (\S+): ([\d.e+-]+) bp a year on the (.+) balance",
        lambda m, s: f"{s(m[1])}：按{s(m[3])}余额每年{m[2]}个基点",
    ),
    (
        r"guarantee fee of (\S+): ([\d.e+-]+) bp a year on the (.+) balance",
        lambda m, s: f"{s(m[1])}的担保费：按{s(m[3])}余额每年{m[2]}个基点",
    ),
    (
        r"current interest to (.+?)( \(pro rata\))? \(arrears are deferred\)",
        lambda m, s: (
            f"{_names(m[1], s)}的当期利息{'（按比例）' if m[2] else ''}（欠付利息递延支付）"
        ),
    ),
    (
        r"interest to (.+?)( \(pro rata\))?: arrears first, then current",
        lambda m, s: (
            f"{_names(m[1], s)}的利息{'（按比例）' if m[2] else ''}：先付欠付利息，再付当期利息"
        ),
    ),
    (r"deferred interest of (.+)", lambda m, s: f"{_names(m[1], s)}的递延利息"),
    (r"fund reserve (\S+) to (.+)", lambda m, s: f"补足储备账户 {m[1]} 至{_target(m[2], s)}"),
    (
        r"draw reserve (\S+) to cover (.+)",
        lambda m, s: (
            f"动用储备账户 {m[1]}，弥补"
            + "、".join(
                "费用"
                if part == "fees"
                else f"{s(part.removesuffix(' interest'))}的利息"
                if part.endswith(" interest")
                else part
                for part in m[2].split(", ")
            )
        ),
    ),
    (
        r"principal, (sequential|pro rata), (.+?): (.+)",
        lambda m, s: f"本金（{MODES[m[1]]}）：{_names(m[2], s)}，{_amount(m[3], s)}",
    ),
    (r"residual to (.+)", lambda m, s: f"剩余资金分配给{s(m[1])}"),
)


def _english(text: str, shown: Shown) -> str:
    """An English step with each identifier it names (a whole word) replaced by its shown
    name: ``interest to senior`` → ``interest to Senior notes``."""
    return re.sub(r"[A-Za-z0-9_\-]+", lambda m: str(shown(m[0])), text)


def target_words(target: str, lang: str = "en", shown: Shown = _as_is) -> str:
    """An account's target (``2% of the senior balance``) in ``lang``."""
    return _english(target, shown) if lang == "en" else _target(target, shown)


def step_words(step: str, lang: str = "en", shown: Shown = _as_is) -> str:
    """One generated waterfall step in ``lang`` (English as generated, names shown)."""
    if lang == "en":
        return _english(step, shown)
    for pattern, write in RULES:
        match = re.fullmatch(pattern, step)
        if match:
            return write(match, shown)
    return step


PHRASES: tuple[Rule, ...] = (
    (r"expected pool loss", lambda m, s: "资产池预期损失"),
    (r"pool loss ([\d.]+)% quantile", lambda m, s: f"资产池损失{m[1]}%分位数"),
    (
        r"loss tranche (\S+) \[([\d.]+%), ([\d.]+%)\) expected loss",
        lambda m, s: f"损失分层 {s(m[1])}［{m[2]}，{m[3]}）预期损失",
    ),
    (r"score band table", lambda m, s: "科创指数评分档表"),
    (r"tape column '(\w+)'", lambda m, s: f"贷款明细 {m[1]} 列"),
    (
        r"IP appraised value after haircut \(capped at 1\)",
        lambda m, s: "知识产权评估值扣减折扣（上限为1）",
    ),
    (r"scenario \(inline pool\)", lambda m, s: "情景文件（内置资产池）"),
)


def phrase_words(text: str, lang: str = "en", shown: Shown = _as_is) -> str:
    """A generated figure name or source (``pool loss 99% quantile``) in ``lang``."""
    if lang == "en":
        return _english(text, shown)
    for pattern, write in PHRASES:
        match = re.fullmatch(pattern, text)
        if match:
            return write(match, shown)
    return text
