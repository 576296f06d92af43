"""The memo's exchange and market rule section states, in both languages, each rule's verdict
as the results reached it, beside the figure and limit it was reached on; a rule that fails
is flagged, and a rule that cannot be checked says why."""

from __future__ import annotations

import re
from functools import cache
from html import unescape

import pytest

from securitize import run_scenario
from securitize.display import shown_in
from securitize.memo import render_html
from securitize.memo.formats import pct
from securitize.memo.i18n import LANGUAGES, message
from securitize.memo.render import rating_words
from securitize.scenario import load_scenario, with_fields
from tests.conftest import INTERBANK

# The pilot as filed, and with its subordinated notes sold to investors: no risk retention.
CASES = {"pilot": {}, "no_retention": {"tranches[1].holder": "Investors"}}


@cache
def results(case: str):
    loaded = with_fields(load_scenario(INTERBANK), CASES[case]) if CASES[case] else INTERBANK
    return run_scenario(loaded, paths=500).results


def rows(case: str, lang: str) -> dict[str, list[str]]:
    """The section's rows by rule title: the text of each cell."""
    html = render_html(results(case), lang=lang)
    section = re.search(r'<section id="exchange-rules">(.*?)</section>', html, re.S)
    assert section, lang
    body = re.search(r"<tbody>(.*?)</tbody>", section[1], re.S)[1]
    table = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [
            unescape(re.sub(r"<[^>]+>", " ", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        table[cells[0]] = cells[1:]
    return table


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_is_shown_with_its_figure_limit_and_verdict(case: str, lang: str) -> None:
    shown = rows(case, lang)
    checks = results(case).exchange_rules["checks"]
    assert len(shown) == len(checks)
    for check in checks:
        title = check["title_zh"] if lang == "zh" else check["title"]
        figure, limit, verdict, _source = shown[title]
        assert verdict.startswith(message(lang, f"rules.status_{check['status']}")), title
        if check["value"] is not None and check["unit"].startswith("share"):
            assert figure == pct(check["value"], lang=lang)
        if check["limit"] is not None and check["unit"].startswith("share"):
            assert limit.endswith(pct(check["limit"], lang=lang))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_rule_the_deal_fails_is_flagged_and_named(lang: str) -> None:
    failed = results("no_retention").exchange_rules["failed"]
    assert failed == ["risk_retention"]
    assert results("pilot").exchange_rules["failed"] == []
    html = render_html(results("no_retention"), lang=lang)
    title = next(
        c["title_zh"] if lang == "zh" else c["title"]
        for c in results("no_retention").exchange_rules["checks"]
        if c["id"] == "risk_retention"
    )
    assert message(lang, "rules.failed", rules=title) in unescape(html)
    assert f'<span class="flag">{message(lang, "rules.status_fail")}</span>' in html
    assert message(lang, "rules.none_failed") in render_html(results("pilot"), lang=lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_rule_that_cannot_be_checked_says_why(lang: str) -> None:
    shown = rows("pilot", lang)
    check = next(
        c
        for c in results("pilot").exchange_rules["checks"]
        if c["id"] == "related_party_cash_flows"
    )
    assert check["status"] == "cannot_check"
    _figure, _limit, verdict, _source = shown[check["title_zh"] if lang == "zh" else check["title"]]
    assert message(lang, "rules.reason.related_party_cash_flows") in verdict


@pytest.mark.parametrize("lang", LANGUAGES)
def test_both_rating_read_outs_stand_side_by_side(lang: str) -> None:
    # The domestic method (TDR vs BDR, capped by large obligors) and the loss-table rating,
    # in one row per tranche, each as the results reached it.
    run = results("pilot")
    html = render_html(run, lang=lang)
    table = re.search(r'<h3 id="domestic-ratings">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert table, lang
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table[1], re.S):
        cells = [
            unescape(re.sub(r"<[^>]+>", " ", c)).strip()
            for c in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        rows[cells[0]] = " | ".join(cells[1:])
    shown = shown_in(run.deal["display_names"], lang)
    assert set(rows) == {shown(name) for name in run.domestic_ratings["tranches"]}
    for name, domestic in run.domestic_ratings["tranches"].items():
        row = rows[shown(name)]
        loss_table = run.ratings[name]["standalone"]["rating"]
        for rating in (domestic["rating"], domestic["large_obligor_rating"], loss_table):
            assert rating_words(rating, lang) in row, (lang, name, rating, row)
