"""The memo's body sections are numbered in order whatever sections a run leaves out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from securitize.memo import render_html
from securitize.memo.render import _numeral
from securitize.run import run_scenario

INTERBANK = Path(__file__).parents[1] / "scenarios" / "wenzhou_interbank_note.toml"


def test_chinese_numerals() -> None:
    assert [_numeral(n, "zh") for n in (1, 8, 10, 11, 14, 20, 23)] == [
        "一、",
        "八、",
        "十、",
        "十一、",
        "十四、",
        "二十、",
        "二十三、",
    ]


@pytest.mark.parametrize(
    ("lang", "pattern"), [("en", r"(\d+)\. "), ("zh", r"([一二三四五六七八九十]+)、")]
)
def test_section_numbers_have_no_gap_without_a_pool_selection(lang: str, pattern: str) -> None:
    results = run_scenario(INTERBANK, paths=2000).results
    assert results.selection is None  # the pool-selection section is left out
    headings = re.findall(r"<h2>([^<]*)</h2>", render_html(results, lang=lang))
    numbered = [re.match(pattern, h) for h in headings]
    labels = [m.group(0) for m in numbered if m]
    assert labels == [_numeral(n, lang) for n in range(1, len(labels) + 1)]
    assert len(labels) >= 13
