"""The memo's two languages: complete catalogues, Chinese number and date forms, the waterfall
in Chinese terms of art, and charts that never draw boxes in place of characters."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import get_args

import pytest

from securitize import run_scenario
from securitize.enhancers.metrics import LIMIT_CHECKS
from securitize.enhancers.spec import EnhancerKind
from securitize.memo import charts, render_html
from securitize.memo.disclosure import rules
from securitize.memo.formats import cny, date, estimate
from securitize.memo.i18n import LANGUAGES, catalogue
from securitize.memo.render import SECTIONS
from securitize.memo.steps import phrase_words, step_words
from securitize.results import Results
from securitize.stats import Estimate

ROOT = Path(__file__).resolve().parents[1]
MEMO = ROOT / "securitize" / "memo"
SCENARIOS = ROOT / "scenarios"
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_.]+)["']""")
# Keys the templates and code build from data (a section, a role, a distribution...).
DYNAMIC_KEYS = [
    *(f"toc.{s.key}" for s in SECTIONS),
    *(f"checklist.{item['item']}" for item in rules()["checklist"]),
    *(f"pool.by_{k}" for k in ("balance", "term", "rate", "industry", "region", "band")),
    *(f"chart.by_{k}" for k in ("industry", "region", "band")),
    *(
        f"participants.role_{r}"
        for r in ("originator", "borrowers", "plan", "investors", "enhancer", "service")
    ),
    *(f"waterfall.kind_{k}" for k in ("combined", "interest", "principal", "accelerated")),
    *(f"regulator.capital_rating_source_{s}" for s in ("implied", "guarantor")),
    *(
        f"convergence.{view}_{key}"
        for view in ("standalone", "wrapped")
        for key in ("expected_loss", "probability_of_loss")
    ),
    *(f"effect.{e}" for e in ("sequential", "accelerate")),
    *(f"quantile.{q}" for q in ("claim_quantile", "yield_quantile", "quantile")),
    *(f"enhancement.kind_{kind}" for kind in get_args(EnhancerKind)),
    *(f"enhancement.terms_{level}" for level in ("pool", "tranche")),
    *(f"risk.limit_{check.name}" for check in LIMIT_CHECKS),
]


def _used_keys() -> set[str]:
    files = [*MEMO.glob("templates/**/*.j2"), *MEMO.glob("*.py")]
    keys = {k for f in files for k in LITERAL_KEY.findall(f.read_text(encoding="utf-8"))}
    # A literal ending in "." or "_" is the prefix of a key built from data (DYNAMIC_KEYS).
    return {k for k in keys if not k.endswith((".", "_"))} | set(DYNAMIC_KEYS)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_catalogues_have_the_same_keys() -> None:
    en, zh = catalogue("en"), catalogue("zh")
    assert set(en) - set(zh) == set()
    assert set(zh) - set(en) == set()


def test_every_key_the_templates_use_exists_in_both_catalogues() -> None:
    used = _used_keys()
    assert len(used) > 300  # the scan found the templates
    for lang in LANGUAGES:
        assert sorted(used - set(catalogue(lang))) == [], lang


def test_both_languages_fill_the_same_placeholders() -> None:
    en, zh = catalogue("en"), catalogue("zh")
    differing = [k for k in en if _fields(en[k]) != _fields(zh[k])]
    assert differing == []


def test_chinese_amounts_are_all_in_wan() -> None:
    # One unit for every amount, so a column never mixes 亿元, 万元 and 元.
    assert cny(190_000_000, "zh") == "19,000.00万元"
    assert cny(123_456_789, "zh") == "12,345.68万元"
    assert cny(20_000_000, "zh") == "2,000.00万元"
    assert cny(9_500, "zh") == "0.95万元"
    assert cny(190_000_000) == "CNY 190,000,000"


def test_a_chinese_estimate_shares_the_unit_of_its_value() -> None:
    assert estimate(Estimate(2_345_678.0, 12_345.0), "cny", "zh") == "234.57 ± 1.23万元"
    assert estimate(Estimate(190_000_000.0, 345.0), "cny", "zh") == "19,000.000 ± 0.035万元"
    # Never past the yuan, however small the SE (not 157.320000万元 ± 0.000000万元).
    assert estimate(Estimate(1_573_200.0, 1e-4), "cny", "zh") == "157.3200 ± 0.0000万元"
    assert estimate(Estimate(1_573_200.0, 0.0), "cny", "zh") == "157.32 ± 0.00万元"
    assert estimate(Estimate(0.0123, 0.00045), "pct", "zh") == "1.230% ± 0.045%"


def test_dates_are_written_for_the_reader() -> None:
    assert date("2024-01-15", "zh") == "2024年1月15日"
    assert date("2024-01-15", "en") == "15 January 2024"


@pytest.mark.parametrize(
    "scenario", ["wenzhou_interbank_note.toml", "wenzhou_senior_mezz_reserve.toml"]
)
def test_every_waterfall_step_is_translated(scenario: str) -> None:
    run = run_scenario(SCENARIOS / scenario, paths=500, progress=False)
    steps = [s for w in run.results.structure["waterfalls"].values() for s in w]
    assert steps
    for step in steps:
        words = step_words(step, "zh")
        assert words != step
        assert not re.search(r"\b(interest|principal|fee|reserve|residual|to)\b", words), words


@pytest.fixture(scope="module")
def results() -> Results:
    return run_scenario(
        SCENARIOS / "wenzhou_interbank_note.toml", paths=3000, progress=False
    ).results


def test_generated_figure_names_and_sources_are_translated(results: Results) -> None:
    a = results.assumptions
    phrases = [row["figure"] for row in results.validation["figures"]]
    phrases += [*a["pd_sources"], *a["recovery_sources"], "tape column 'pd'"]
    assert len(phrases) >= 7
    for phrase in phrases:
        words = phrase_words(phrase, "zh")
        assert words != phrase
        assert not re.search(r"\b(loss|pool|quantile|tape|column|score)\b", words), words


def test_the_chinese_memo_uses_the_terms_of_art(results: Results) -> None:
    html = render_html(results, lang="zh")
    for term in (
        "优先级",
        "次级",
        "信用增级",
        "加速清偿",
        "临界违约率",
        "覆盖倍数",
        "风险自留",
        "差额",
        "入池标准",
        "违约事件",
    ):
        assert term in html, term


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_a_cjk_font_is_found_for_chinese_charts() -> None:
    # CI installs fonts-wqy-microhei (.ci/run); the memo looks for it by name.
    assert charts.cjk_font() in charts.CJK_FONTS


def test_charts_render_the_same_bytes_for_the_same_results(results: Results) -> None:
    first, second = render_html(results, lang="zh"), render_html(results, lang="zh")
    assert _images(first) == _images(second)
    assert len(_images(first)) >= 8


def test_without_a_cjk_font_chinese_charts_fall_back_to_english(
    results: Results, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    zh, en = render_html(results, lang="zh"), render_html(results, lang="en")
    assert catalogue("zh")["cover.no_cjk_font"] in zh
    assert catalogue("en")["cover.no_cjk_font"] not in en
    # English labels only: the very charts of the English memo.
    assert _images(zh) == _images(en)
