"""The Chinese memo reads as written in Chinese: things are called by their display names
(scenario ``name_zh``, enhancer profiles, the glossary), no generated English is left, every
amount is in 万元, and long names in either language stay inside the page and their boxes."""

from __future__ import annotations

import re
from functools import cache, partial
from html import unescape
from pathlib import Path

import pytest

from securitize import run_scenario
from securitize.display import display_names, shown_in, stress_words_zh
from securitize.memo import render_html
from securitize.memo.diagram import BOX_W, PADDING, _width, fit, structure_svg
from securitize.memo.i18n import message
from securitize.memo.seal import memo_html
from securitize.scenario import load_scenario, with_fields
from tests.browser_support import browser, open_page  # noqa: F401 (fixture)
from tests.conftest import INTERBANK

PATHS = 500
TAPE = INTERBANK.parent / "data" / "wenzhou_interbank_tape.csv"
BANDS = INTERBANK.parent.parent / "securitize" / "data" / "score_bands.csv"
# Words a Chinese memo keeps in Latin script: ratings, the cited rules' names and the
# abbreviations a 计划说明书 itself uses.
KEPT = {"AMAC", "CSRC", "SZSE", "NAFMII", "III", "CRE", "SEC-ERBA", "IRR", "Copula", "CNY"}
KEPT |= {"securitize", "numpy", "SeedSequence"}  # the software that made the memo
KEPT |= {"related_party"}  # a tape column the memo asks for, by its name
FILE = re.compile(r"[\w./-]+\.(?:csv|toml|json|xlsx|parquet)")  # files are named as they are
RATING = re.compile(r"^(AAA|AA|A|BBB|BB|B|CCC|CC|C)[+-]?(sf)?$")


@cache
def pilot(lang: str) -> str:
    return render_html(run_scenario(INTERBANK, paths=PATHS).results, lang=lang)


def prose(html: str) -> str:
    """What a reader reads before the annexes of inputs (assumptions, reproducibility: file
    paths, package versions and the tape's own notes), outside code and markup."""
    html = html.split('<section id="assumptions"')[0]
    html = re.sub(r"<(script|style|code|svg)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", "\n", html))


def test_the_pilot_is_named_in_chinese_in_the_chinese_memo() -> None:
    text = prose(pilot("zh"))
    for name in (
        "优先级资产支持证券",
        "次级资产支持证券",
        "浙江省融资担保有限公司",
        "计划管理及服务费",
        "温州技术产权资产支持票据（银行间市场，示例资产池）",
        "原始权益人（风险自留）",
        "违约率上升至1.5倍",
        "预期情形",
        "低于CCCsf",
    ):
        assert name in text, name
    for identifier in ("senior", "subordinated", "zhejiang_provincial_guarantor", "trustee"):
        assert identifier not in text, identifier


def test_no_generated_english_is_left_in_the_chinese_memo() -> None:
    # Every Latin word left is the tape's own data (enterprise names, industries, regions,
    # its notes), a rating or a kept abbreviation.
    sources = TAPE.read_text(encoding="utf-8") + BANDS.read_text(encoding="utf-8")
    text = FILE.sub(" ", prose(pilot("zh")))
    words = set(re.findall(r"[A-Za-z][A-Za-z_\-]{2,}", text))
    kept = KEPT | {"wenzhou_interbank_note"}  # the scenario's name, as its file is called
    left = {w for w in words if w not in sources and w not in kept and not RATING.match(w)}
    assert left == set()


def test_the_english_memo_uses_the_english_display_names() -> None:
    text = prose(pilot("en"))
    assert "Zhejiang Provincial Financing Guarantee Co., Ltd." in text
    assert "Senior notes" in text and "Trustee and servicing fee" in text
    assert "zhejiang_provincial_guarantor" not in text
    assert "优先级" not in text


def test_every_chinese_amount_is_in_wan_with_at_most_four_decimals() -> None:
    html = pilot("zh")
    amounts = re.findall(r"[\d,.]+(?: ± [\d,.]+)?(?:万元|亿元|(?<![万亿])元)", prose(html))
    assert len(amounts) > 50
    assert [a for a in amounts if not a.endswith("万元")] == []
    assert [a for a in amounts if re.search(r"\.\d{5,}", a)] == []


def test_a_scenario_names_things_in_both_languages() -> None:
    changes = {
        "tranches[0].name_en": "Class A notes (priority)",
        "tranches[0].name_zh": "优先A级",
        "tranches[1].holder_zh": "原始权益人",
        "enhancers[0].name_zh": "某省担保公司",
        "fees[0].name_zh": "管理费",
        "stresses[0].name_zh": "违约加压",
    }
    loaded = with_fields(load_scenario(INTERBANK), changes)
    names = display_names(loaded.scenario)
    assert names["tranche"]["senior"] == {"en": "Class A notes (priority)", "zh": "优先A级"}
    # A profile's name stands where the scenario gives none.
    assert names["enhancer"]["zhejiang_provincial_guarantor"]["en"] == (
        "Zhejiang Provincial Financing Guarantee Co., Ltd."
    )
    run = run_scenario(loaded, paths=PATHS)
    zh, en = render_html(run.results, lang="zh"), render_html(run.results, lang="en")
    for name in ("优先A级", "原始权益人", "某省担保公司", "管理费", "违约加压"):
        assert name in prose(zh), name
    assert "Class A notes (priority)" in prose(en) and "优先A级" not in en
    # The waterfall names the tranche as the tables do, in both languages.
    assert "优先A级的利息：先付欠付利息，再付当期利息" in zh
    assert "interest to Class A notes (priority): arrears first, then current" in en


def test_an_unknown_identifier_is_shown_as_written() -> None:
    shown = shown_in({"tranche": {"senior": {"en": "Senior notes", "zh": "优先级"}}}, "zh")
    assert shown("senior") == "优先级"
    assert shown("class_z") == "class_z"
    assert shown(3.5) == 3.5


def test_a_stress_without_a_chinese_name_is_described_from_what_it_changes() -> None:
    stresses = load_scenario(INTERBANK).scenario.stresses
    words = [stress_words_zh(s) for s in stresses]
    assert words[0] == "违约率×1.5"
    assert "回收率下调50%" in words
    assert "违约率×2，无回收" in words
    assert "贷款利率下降50个基点" in words
    assert "资产相关系数0.30" in words


@pytest.mark.parametrize("text", ["优先级资产支持证券" * 6, "W" * 80, "Senior notes " * 8])
def test_a_diagram_label_is_cut_to_fit_its_box(text: str) -> None:
    for size in (10, 12):
        label = fit(text, size)
        assert _width(label, size) <= BOX_W - 2 * PADDING
        assert label == text or (label.endswith("…") and text.startswith(label[:-1]))
    assert fit("优先级", 12) == "优先级"


# ------------------------------------------------------------------- long names, in a browser

LONG = 80  # NAME_LENGTH: the longest name a scenario may give
LONG_FIELDS = {
    "deal.title_zh": "技" * 200,
    "deal.title": "Technology property securitisation plan " * 5,
    "tranches[0].name_en": "S" * LONG,
    "tranches[0].name_zh": "优" * LONG,
    "tranches[0].holder": "Qualified investors of the exchange " * 5,
    "tranches[0].holder_zh": "合" * 200,
    "enhancers[0].name_en": "Guarantor" * 8,
    "enhancers[0].name_zh": "担" * LONG,
    "fees[0].name_zh": "费" * LONG,
    "stresses[0].name_zh": "压" * LONG,
    "stresses[1].name": "D" * LONG,
}


@pytest.fixture(scope="module")
def long_run():
    return run_scenario(with_fields(load_scenario(INTERBANK), LONG_FIELDS), paths=PATHS)


def test_long_names_stay_inside_the_diagram_boxes(long_run) -> None:
    for lang in ("en", "zh"):
        names = shown_in(long_run.results.deal["display_names"], lang)
        svg = str(structure_svg(long_run.results, partial(message, lang), names))
        labels = [unescape(t) for t in re.findall(r">([^<>]+)</text>", svg)]
        assert labels
        for label in labels:
            assert _width(label, 10) <= BOX_W or _width(label, 12) <= BOX_W, label
        assert any(label.endswith("…") for label in labels)
        assert names("senior")[:3] in svg


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_element_overflows_the_page_with_long_names(
    browser,  # noqa: F811 (the fixture imported above)
    long_run,
    lang: str,
    tmp_path: Path,
) -> None:
    path = tmp_path / "memo.html"
    path.write_text(memo_html(long_run, language=lang), encoding="utf-8")
    visit = open_page(browser, path)
    try:
        page = visit.page
        width = page.evaluate("document.documentElement.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        overflowing = page.evaluate(
            """(width) => [...document.querySelectorAll('body *')]
                .filter(e => { const r = e.getBoundingClientRect();
                               return r.width > 0 && (r.left < 0 || r.right > width + 0.5); })
                .map(e => e.tagName + ' ' + (e.textContent || '').slice(0, 40))""",
            width,
        )
        assert overflowing == []
        # Each diagram label lies inside the box drawn behind it.
        outside = page.evaluate(
            """() => [...document.querySelectorAll('svg text')].filter(t => {
                let box = t.previousElementSibling;
                while (box && box.tagName === 'text') box = box.previousElementSibling;
                if (!box || box.tagName !== 'rect') return false;  // an arrow's label
                const a = t.getBoundingClientRect(), b = box.getBoundingClientRect();
                return a.left < b.left - 0.5 || a.right > b.right + 0.5;
            }).map(t => t.textContent)"""
        )
        assert outside == []
    finally:
        page.close()
