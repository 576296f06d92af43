"""The issuance memo: complete in both languages, self-contained, figures as the results give
them, escaped."""

from __future__ import annotations

import base64
import dataclasses
import re
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from securitize import run_scenario
from securitize.display import shown_in
from securitize.memo import render_html
from securitize.memo.formats import estimate
from securitize.memo.render import SECTIONS as MEMO_SECTIONS
from securitize.memo.steps import step_words
from securitize.results import Results

INTERBANK = Path(__file__).resolve().parents[1] / "scenarios" / "wenzhou_interbank_note.toml"
# Every section the disclosure rules ask for; pool selection only when the scenario selects.
SECTIONS = [s.id for s in MEMO_SECTIONS if s.id != "pool-selection"]
LANGUAGES = ["en", "zh"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "wbr"}


@pytest.fixture(scope="module")
def results() -> Results:
    return run_scenario(INTERBANK, paths=4000).results


@pytest.fixture(scope="module")
def html(results: Results) -> str:
    return render_html(results)


@pytest.fixture(scope="module")
def memos(results: Results, html: str) -> dict[str, str]:
    return {"en": html, "zh": render_html(results, lang="zh")}


class _Outline(HTMLParser):
    """Collects each section's text and img sources, and checks that tags nest."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.section: str | None = None
        self.text: dict[str, str] = {}
        self.images: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "section":
            self.section = attributes.get("id") or ""
            self.text[self.section] = ""
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else None}>")
            return
        self.open.pop()
        if tag == "section":
            self.section = None

    def handle_data(self, data: str) -> None:
        if self.section is not None:
            self.text[self.section] += data


def outline(html: str) -> _Outline:
    parser = _Outline()
    parser.feed(html)
    parser.close()
    return parser


def test_memo_is_an_html_document_in_english_and_utf8(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    assert '<meta charset="utf-8">' in html


def test_chinese_memo_declares_its_language(memos: dict[str, str]) -> None:
    assert '<html lang="zh-CN">' in memos["zh"]
    assert "优先级" in memos["zh"] and "临界违约率" in memos["zh"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_tags_nest_and_close(memos: dict[str, str], lang: str) -> None:
    parsed = outline(memos[lang])
    assert parsed.errors == []
    assert parsed.open == []


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("section", SECTIONS)
def test_every_section_is_present_with_a_heading_and_content(
    memos: dict[str, str], lang: str, section: str
) -> None:
    html = memos[lang]
    text = outline(html).text
    assert section in text
    assert re.search(rf"<section id=\"{section}\">\s*<h[12][ >]", html)
    # Characters, not words: Chinese is written without spaces.
    assert len("".join(text[section].split())) > 80


def test_the_sections_are_the_same_in_both_languages(memos: dict[str, str]) -> None:
    ids = [list(outline(memos[lang]).text) for lang in LANGUAGES]
    assert ids[0] == ids[1]
    assert ids[0] == SECTIONS


def test_memo_references_no_external_resources(html: str) -> None:
    targets = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]+)""", html, flags=re.I)
    assert targets
    assert not [t for t in targets if re.match(r"(?:https?:)?//", t, flags=re.I)]
    assert "@import" not in html
    assert "url(" not in html


def test_every_image_is_an_embedded_png(html: str) -> None:
    sources = outline(html).images
    assert len(sources) >= 3
    prefix = "data:image/png;base64,"
    for src in sources:
        assert src.startswith(prefix)
        assert base64.b64decode(src.removeprefix(prefix), validate=True).startswith(PNG_SIGNATURE)


def test_figures_appear_as_the_results_give_them(results: Results, html: str) -> None:
    senior = results.tranches[0]
    standalone = estimate(senior.standalone["expected_loss"], "pct")
    wrapped = estimate(senior.wrapped["expected_loss"], "pct")
    claim = estimate(results.enhancers[0].metrics["claim_quantile_0.999"], "cny")
    assert " ± " in standalone
    for figure in (standalone, wrapped, claim):
        assert figure in html


def test_illustrative_tape_notice_is_shown(results: Results, html: str) -> None:
    assert any("ILLUSTRATIVE DATA" in line for line in results.assumptions["tape_notes"])
    assert html.count("ILLUSTRATIVE DATA - NOT REAL BORROWERS") >= 1
    assert html.index("ILLUSTRATIVE DATA") < html.index('<section id="basic-terms">')


def test_reproducibility_gives_the_command_and_hashes(results: Results, html: str) -> None:
    seed, paths = results.simulation["seed"], results.simulation["paths"]
    assert f"--seed {seed} --paths {paths}" in html
    assert results.manifest["scenario_sha256"] in html
    assert results.manifest["tape_sha256"] in html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_text_from_the_tape_and_scenario_is_escaped(results: Results, lang: str) -> None:
    hostile = "<script>alert(1)</script>"
    loans = results.loans.assign(enterprise=[hostile, *results.loans["enterprise"].iloc[1:]])
    deal = {**results.deal, "originator": hostile, "title": hostile}
    html = render_html(dataclasses.replace(results, loans=loans, deal=deal), lang=lang)
    assert "<script>alert(1)" not in html
    # In the largest-loans and IP tables, the participants table and the structure diagram.
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5


def test_memo_discloses_the_waterfall_the_engine_runs() -> None:
    """The priority of payments in the memo is generated from the compiled program."""
    scenario = INTERBANK.parent / "wenzhou_senior_mezz_reserve.toml"
    run = run_scenario(scenario, paths=2000)
    described = run.results.to_dict()["structure"]
    program = run.structure.program
    assert len(described["waterfalls"]["interest"]) == len(program.interest)
    assert len(described["waterfalls"]["principal"]) == len(program.principal)
    html = render_html(run.results)
    # Each step as generated, with the tranches under their display names.
    shown = shown_in(run.results.deal["display_names"], "en")
    for step in described["waterfalls"]["interest"] + described["waterfalls"]["principal"]:
        assert escape(step_words(step, "en", shown)) in html
    for trigger in described["triggers"]:
        assert trigger["name"] in html
    assert "current interest to Mezzanine notes (arrears are deferred)" in html
    assert "draw reserve liquidity_reserve to cover fees, Senior notes interest" in html
