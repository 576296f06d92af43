"""Phrases the engine generates in English, in the reader's language.

``securitize.waterfall.describe`` writes each step of the compiled program as an English
sentence (the form ``results.json`` keeps); the validation names its figures and the pool its
PD and recovery sources the same way. For a Chinese memo this module rewrites each known form
with the terms of art of a 计划说明书 (顺序偿付, 加速清偿, 储备账户, ...). A form it does not
know is shown as generated, in English, rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MODES = {"sequential": "顺序偿付", "pro rata": "按比例偿付"}


def _names(text: str) -> str:
    return text.replace(" → ", "→").replace(" and ", "、")


def _target(text: str) -> str:
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
        base = f"{tranche[1]}档证券余额" if tranche else match[2]
    floor = f"，且不低于{match[3]}元" if match[3] else ""
    return f"{base}的{match[1]}%{floor}"


def _amount(text: str) -> str:
    if text == "the principal due (notes down to the performing pool)":
        return "应付本金（证券余额降至正常资产池余额）"
    if text == "all remaining cash (turbo)":
        return "全部剩余现金（加速偿付）"
    if text == "to target":
        return "至目标余额"
    if text.startswith("down to "):
        return f"降至{_target(text.removeprefix('down to '))}"
    return text


Rule = tuple[str, Callable[[re.Match[str]], str]]
RULES: tuple[Rule, ...] = (
    (r"fee (\S+): CNY ([\d,]+) a year", lambda m: f"费用 {m[1]}：每年{m[2]}元"),
    (
        r"fee (\S+): ([\d.e+-]+) bp a year on the performing pool",
        lambda m: f"费用 {m[1]}：按正常资产池余额每年{m[2]}个基点",
    ),
    (
        r"fee (\S+): ([\d.e+-]+) bp a year on the (.+) balance",
        lambda m: f"费用 {m[1]}：按{m[3]}档证券余额每年{m[2]}个基点",
    ),
    (
        r"guarantee fee of (\S+): ([\d.e+-]+) bp a year on the (.+) balance",
        lambda m: f"{m[1]}的担保费：按{m[3]}档证券余额每年{m[2]}个基点",
    ),
    (
        r"current interest to (.+?)( \(pro rata\))? \(arrears are deferred\)",
        lambda m: f"{_names(m[1])}的当期利息{'（按比例）' if m[2] else ''}（欠付利息递延支付）",
    ),
    (
        r"interest to (.+?)( \(pro rata\))?: arrears first, then current",
        lambda m: f"{_names(m[1])}的利息{'（按比例）' if m[2] else ''}：先付欠付利息，再付当期利息",
    ),
    (r"deferred interest of (.+)", lambda m: f"{_names(m[1])}的递延利息"),
    (r"fund reserve (\S+) to (.+)", lambda m: f"补足储备账户 {m[1]} 至{_target(m[2])}"),
    (
        r"draw reserve (\S+) to cover (.+)",
        lambda m: (
            f"动用储备账户 {m[1]}，弥补"
            + "、".join(
                "费用" if part == "fees" else part.replace(" interest", "的利息")
                for part in m[2].split(", ")
            )
        ),
    ),
    (
        r"principal, (sequential|pro rata), (.+?): (.+)",
        lambda m: f"本金（{MODES[m[1]]}）：{_names(m[2])}，{_amount(m[3])}",
    ),
    (r"residual to (.+)", lambda m: f"剩余资金分配给{m[1]}"),
)


def target_words(target: str, lang: str = "en") -> str:
    """An account's target (``2% of the senior balance``) in ``lang``."""
    return target if lang == "en" else _target(target)


def step_words(step: str, lang: str = "en") -> str:
    """One generated waterfall step in ``lang`` (English as generated)."""
    if lang == "en":
        return step
    for pattern, write in RULES:
        match = re.fullmatch(pattern, step)
        if match:
            return write(match)
    return step


PHRASES: tuple[Rule, ...] = (
    (r"expected pool loss", lambda m: "资产池预期损失"),
    (r"pool loss ([\d.]+)% quantile", lambda m: f"资产池损失{m[1]}%分位数"),
    (
        r"loss tranche (\S+) \[([\d.]+%), ([\d.]+%)\) expected loss",
        lambda m: f"损失分层 {m[1]}［{m[2]}，{m[3]}）预期损失",
    ),
    (r"score band table", lambda m: "科创指数评分档表"),
    (r"tape column '(\w+)'", lambda m: f"贷款明细 {m[1]} 列"),
    (
        r"IP appraised value after haircut \(capped at 1\)",
        lambda m: "知识产权评估值扣减折扣（上限为1）",
    ),
    (r"scenario \(inline pool\)", lambda m: "情景文件（内置资产池）"),
)


def phrase_words(text: str, lang: str = "en") -> str:
    """A generated figure name or source (``pool loss 99% quantile``) in ``lang``."""
    if lang == "en":
        return text
    for pattern, write in PHRASES:
        match = re.fullmatch(pattern, text)
        if match:
            return write(match)
    return text
