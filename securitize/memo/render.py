"""Render a run's ``Results`` as the issuance memo: one self-contained HTML document, in English
or Chinese from the same results and the same templates.

The templates only lay figures out; words come from the message catalogues (``i18n``),
formatting from the filters registered here (``formats``), and any figure not in ``Results``
from a pure function in ``derive`` / ``disclosure``. Autoescaping is on because enterprise names
and notes come from a loan tape someone else wrote; the environment is sandboxed because a
template folder named with ``--templates`` may be someone else's too.
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner
from markupsafe import Markup, escape

from securitize.display import shown_in
from securitize.memo import charts, derive, disclosure, formats
from securitize.memo.diagram import structure_svg
from securitize.memo.i18n import LANGUAGES, has, message
from securitize.memo.rules_table import exchange_rule_rows, failed_titles
from securitize.memo.steps import phrase_words, step_words, target_words
from securitize.results import EnhancerResult, Results
from securitize.validation import AGREEMENT_STANDARD_ERRORS

TEMPLATES = Path(__file__).parent / "templates"
HTML_LANG = {"en": "en", "zh": "zh-CN"}
RANGE_KEYS = ("rating", "best", "worst")


@dataclass(frozen=True)
class Section:
    """A memo section: its anchor, its catalogue key (``toc.<key>``) and its template."""

    id: str
    key: str
    template: str


SECTIONS = (
    Section("cover", "cover", "cover.j2"),
    Section("basic-terms", "basic_terms", "basic_terms.j2"),
    Section("participants", "participants", "participants.j2"),
    Section("enhancement", "enhancement", "enhancement.j2"),
    Section("underlying-pool", "pool", "pool.j2"),
    Section("pool-distributions", "distributions", "distributions.j2"),
    Section("largest-loans", "largest", "largest.j2"),
    Section("ip-collateral", "ip", "ip.j2"),
    Section("pool-selection", "selection", "selection.j2"),
    Section("cash-flow-forecast", "cash_flows", "cash_flows.j2"),
    Section("credit-analysis", "credit", "credit.j2"),
    Section("stress-tests", "stress", "stress.j2"),
    Section("waterfall", "waterfall", "waterfall.j2"),
    Section("risk-retention", "retention", "retention.j2"),
    Section("exchange-rules", "exchange_rules", "exchange_rules.j2"),
    Section("risk-factors", "risk_factors", "risk_factors.j2"),
    Section("enhancer-annex", "enhancer_annex", "enhancer_annex.j2"),
    Section("regulator-annex", "regulator_annex", "regulator_annex.j2"),
    Section("validation-annex", "validation", "validation_annex.j2"),
    Section("assumptions", "assumptions", "assumptions.j2"),
    Section("reproducibility", "reproducibility", "reproducibility.j2"),
)
# Sections shown only when the run has what they disclose.
OPTIONAL = {
    "pool-selection": lambda results: bool(results.selection),
    "exchange-rules": lambda results: bool(getattr(results, "exchange_rules", None)),
}
BASE_ENHANCER_FIELDS = {f.name for f in dataclasses.fields(EnhancerResult)} - {
    "limits",
    "claims_by_year",
}


# Values whose methods a template may call (``dict.items``, ``str.split``, ...; the immutable
# sandbox already refuses the methods that change them), and jinja's own helper objects.
PLAIN_TYPES = (str, int, float, bool, type(None), dict, list, tuple, set, frozenset)
JINJA_OBJECTS = (LoopContext, Cycler, Joiner)


def template_callable(function: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a function the renderer hands a template (``t``, ``bucket_bound``) as callable there."""
    function.memo_template_callable = True  # type: ignore[attr-defined]
    return function


class MemoSandbox(ImmutableSandboxedEnvironment):
    """jinja2's immutable sandbox, and calls limited to what a memo template needs: macros, the
    functions the renderer hands it (marked with ``template_callable``) and the environment's
    globals, methods of plain values and of jinja's loop helpers. The objects a template is
    shown (a results document, pandas frames, numpy arrays) keep their methods out of reach: a
    frame's ``to_csv`` or an array's ``tofile`` would write files wherever a template said."""

    def is_safe_callable(self, obj: Any) -> bool:
        if not super().is_safe_callable(obj):
            return False
        if isinstance(obj, Macro | Joiner | LoopContext):
            return True
        if any(obj is value for value in self.globals.values()):
            return True
        if isinstance(obj, types.MethodType | types.BuiltinMethodType | types.MethodWrapperType):
            owner = obj.__self__
            return type(owner) in PLAIN_TYPES or isinstance(owner, JINJA_OBJECTS)
        return getattr(obj, "memo_template_callable", False) is True

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # The error names what was called, not its repr (a frame's repr is many lines).
        if not self.is_safe_callable(obj):
            name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
            raise SecurityError(f"calling {name} is unsafe")
        return super().call(context, obj, *args, **kwargs)


# Embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): a name carrying one could
# reverse the text that follows it, e.g. a figure's digits.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def isolate_bidi(value: Any) -> Any:
    """Each printed value that carries bidirectional controls, wrapped in a first-strong isolate
    (U+2068 … U+2069): the closing isolate ends every override opened inside, so the value cannot
    reorder the memo around it."""
    if isinstance(value, str) and BIDI_CONTROLS.search(value):
        return (
            Markup("\u2068")
            + (value if isinstance(value, Markup) else escape(value))
            + Markup("\u2069")
        )
    return value


# The display names of the memo being rendered (``render_html`` sets them): filters read them
# here because the macros a template imports do not see its context.
SHOWN: ContextVar[Callable[[Any], Any]] = ContextVar("shown", default=lambda value: value)


def _shown(value: Any) -> Any:
    """A tranche, enhancer, fee, stress or participant as the reader knows it: the run's
    display names in the memo's language."""
    return SHOWN.get()(value)


def _named_words(words: Callable[..., str], lang: str) -> Callable[..., str]:
    """A ``steps`` writer as a filter that shows the names it meets."""

    def write(value: str) -> str:
        return words(value, lang=lang, shown=SHOWN.get())

    return write


@cache
def environment(templates: Path | None = None, lang: str = "en") -> jinja2.Environment:
    """The memo's jinja2 environment for ``lang``: package templates (a file in ``templates``, a
    folder the user named explicitly, takes the place of the package's), autoescape, undefined
    names are errors.

    The environment is sandboxed (``MemoSandbox``): a template reads the figures it is given and
    calls the filters and functions registered here, but cannot reach Python internals
    (``__class__``, ``__globals__``, ...), change the objects it is shown or call their methods;
    a template that tries raises ``jinja2.exceptions.SecurityError`` instead of running."""
    if lang not in LANGUAGES:
        raise ValueError(f"memo language {lang!r}: must be one of {', '.join(LANGUAGES)}")
    env = MemoSandbox(
        loader=jinja2.FileSystemLoader(TEMPLATES if templates is None else [templates, TEMPLATES]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=isolate_bidi,
    )
    env.filters.update(
        cny=partial(formats.cny, lang=lang),
        pct=partial(formats.pct, lang=lang),
        bp=partial(formats.bp, lang=lang),
        date=partial(formats.date, lang=lang),
        estimate=partial(formats.estimate, lang=lang),
        cell=partial(formats.cell, lang=lang),
        label=partial(formats.label, lang=lang),
        step_words=_named_words(step_words, lang),
        target_words=_named_words(target_words, lang),
        phrase_words=_named_words(phrase_words, lang),
        shown=_shown,
        rating=partial(rating_words, lang=lang),
    )
    env.tests["numeric_field"] = formats.is_numeric
    env.tests["message"] = partial(has, lang)
    env.globals.update(t=partial(message, lang), lang=lang)
    return env


# The body's numbered sections: everything but the cover and the annexes.
UNNUMBERED = {"cover", "assumptions", "reproducibility"}
CHINESE_NUMERALS = "一二三四五六七八九十"


def _numeral(n: int, lang: str) -> str:
    if lang != "zh":
        return f"{n}. "
    tens, units = divmod(n, 10)
    text = ("" if tens <= 1 else CHINESE_NUMERALS[tens - 1]) + ("十" if tens else "")
    return text + (CHINESE_NUMERALS[units - 1] if units else "") + "、"


def numbered(t: Callable[..., str], sections: list[Section], lang: str) -> Callable[..., str]:
    """``t`` with the body's section titles numbered in order, so an optional section that a
    run leaves out leaves no gap (一、二、… in Chinese, 1. 2. … in English)."""
    body = [s for s in sections if s.id not in UNNUMBERED and not s.id.endswith("-annex")]
    prefix = {f"toc.{s.key}": _numeral(n, lang) for n, s in enumerate(body, start=1)}

    def message(key: str, **fields: Any) -> str:
        return prefix.get(key, "") + t(key, **fields)

    return message


def sections_of(results: Results) -> list[Section]:
    """The sections this run's memo has, in order."""
    return [s for s in SECTIONS if OPTIONAL.get(s.id, lambda _: True)(results)]


def _bucket_bound(lang: str, key: str, value: float) -> str:
    if key == "balance":
        return formats.cny(value, lang)
    if key == "term":
        return message(lang, "unit.months", value=f"{value:g}")
    return formats.pct(value, 1, lang)


def rating_words(rating: str | None, lang: str = "en") -> str | None:
    """A rating as the reader's language writes it: the label beyond the scale (``below
    CCCsf``, ``securitize.ratings.tables.below_scale``) in words, any other as it is."""
    if isinstance(rating, str) and rating.startswith("below "):
        return message(lang, "credit.below_scale", rating=rating.removeprefix("below "))
    return rating


def implied_ratings(results: Results, lang: str) -> dict[str, dict[str, str]]:
    """Each tranche's implied rating stand-alone and wrapped, with its range at ±2 SE (the
    results' ``ratings``; empty when the run has none)."""
    return {
        name: {
            view: message(
                lang,
                "credit.rating_range",
                **{k: rating_words(found[k], lang) for k in RANGE_KEYS},
            )
            for view, found in views.items()
        }
        for name, views in (results.ratings or {}).items()
    }


def _capital_ratings(results: Results) -> tuple[dict[str, str | None], str]:
    """The rating each tranche's risk weight uses (its implied wrapped rating, else the
    guarantor's for a guaranteed tranche), and where it comes from."""
    if results.ratings:
        return {n: r["wrapped"]["rating"] for n, r in results.ratings.items()}, "implied"
    by_tranche = {e.covers: e.terms.get("rating") or None for e in results.enhancers}
    return {tr.name: by_tranche.get(tr.name) for tr in results.tranches}, "guarantor"


LARGE_OBLIGOR_COLUMNS = (
    "tranche",
    "obligors",
    "largest_obligors",
    "defaulted_balance",
    "loss",
    "enhancement",
    "coverage_multiple",
    "passes",
    "passes_zero_recovery",
    "passes_with_enhancers",
    "passes_with_enhancers_zero_recovery",
)
ECONOMICS_COLUMNS = (
    "enterprise",
    "balance",
    "coupon",
    "interest_subsidy_rate",
    "guarantee_fee_rate",
    "all_in_rate",
    "public_support_cny",
)


def _large_obligor(results: Results) -> list[dict[str, Any]] | None:
    rows = results.large_obligor
    return [dict(row) for row in rows] if rows else None


def _enhancer_extra(results: Results) -> dict[str, dict[str, Any]]:
    """Fields of each enhancer result beyond its terms and metrics (limits, claims by year, and
    whatever later versions add), so new fields appear in the annex without a template change."""
    extra = {}
    for e in results.enhancers:
        fields = {
            f.name: getattr(e, f.name)
            for f in dataclasses.fields(e)
            if f.name not in BASE_ENHANCER_FIELDS
        }
        extra[e.name] = {k: v for k, v in fields.items() if v not in (None, {}, [], "")}
    return extra


def _economics(results: Results) -> dict[str, Any] | None:
    return results.economics or None


def render_html(results: Results, *, templates: Path | None = None, lang: str = "en") -> str:
    """The memo for ``results`` in ``lang`` (``en`` or ``zh``) as an HTML string (inline CSS,
    charts as data URIs, the structure diagram as inline SVG)."""
    env = environment(templates, lang)
    t = partial(message, lang)
    shown = shown_in(results.deal.get("display_names") or {}, lang)
    font = charts.cjk_font()
    font_ok = lang == "en" or font is not None
    chart_words = t if font_ok else partial(message, "en")
    chart_names = shown if font_ok else shown_in(results.deal.get("display_names") or {}, "en")
    sections = sections_of(results)
    t = numbered(t, sections, lang)
    ratings = implied_ratings(results, lang)
    capital_ratings, rating_source = _capital_ratings(results)
    large_obligor = _large_obligor(results)
    loans = results.loans
    context: dict[str, Any] = {
        "t": template_callable(t),
        "html_lang": HTML_LANG[lang],
        "results": results,
        "deal": results.deal,
        "manifest": results.manifest,
        "simulation": results.simulation,
        "timings": results.timings,
        "assumptions": results.assumptions,
        "sections": sections,
        "tranche_names": [tr.name for tr in results.tranches],
        "section_keys": {s.id: s.key for s in sections},
        "charts": charts.memo_charts(
            results, chart_words, font if lang == "zh" else None, chart_names
        ),
        "chart_font_ok": font_ok,
        "structure_svg": structure_svg(results, t, shown),
        "participants": disclosure.participants(results),
        "enhancement": disclosure.enhancement_order(results),
        "pool_summary": disclosure.pool_summary(results),
        "distributions": disclosure.distributions(results),
        "band_ratings": dict(zip(loans["band"], loans["shadow_rating"], strict=True))
        if "band" in loans and "shadow_rating" in loans
        else {},
        "bucket_bound": template_callable(partial(_bucket_bound, lang)),
        "limits": disclosure.rules()["concentration"],
        "concentration": disclosure.concentration(results),
        "largest": disclosure.largest_loans(results),
        "ip_rows": disclosure.ip_collateral(results),
        "ip_has_registration": "ip_registration" in loans and "ip_expiry" in loans,
        "retention": disclosure.risk_retention(results),
        "exchange_rules": results.exchange_rules,
        "exchange_rows": exchange_rule_rows(results, lang, shown),
        "exchange_failed": failed_titles(results, lang),
        "risk_factors": disclosure.risk_factors(results),
        "industry_top": results.stratification["industry"].iloc[0].to_dict()
        if "industry" in results.stratification
        else None,
        "enhancer_economics": disclosure.enhancer_economics(results),
        "enhancer_extra": _enhancer_extra(results),
        "checklist": disclosure.checklist({s.id for s in sections}),
        "capital": disclosure.capital(results, capital_ratings),
        "rating_source": rating_source,
        "economics": _economics(results),
        "implied_ratings": ratings,
        "domestic": getattr(results, "domestic_ratings", None) or None,
        "large_obligor": large_obligor,
        "large_obligor_columns": [
            c for c in LARGE_OBLIGOR_COLUMNS if large_obligor and c in large_obligor[0]
        ],
        "economics_columns": ECONOMICS_COLUMNS,
        "subordination": derive.subordination(results),
        "note_terms": derive.note_terms(results),
        "schedule": derive.payment_schedule(results, t, shown),
        "repayment": derive.repayment_tables(results),
        "command": derive.reproduce_command(results, lang),
        "model_description": derive.model_description(results, t),
        "sampling_description": derive.sampling_description(results, t),
        "loss_tranches": derive.loss_tranche_rows(results),
        "validation": results.validation,
        "agreement_standard_errors": f"{AGREEMENT_STANDARD_ERRORS:g}",
        "convergence": derive.convergence(results, t, shown),
        "stresses": derive.stress_rows(results),
        "coverage": derive.coverage_rows(results),
        "break_even": results.break_even,
    }
    token = SHOWN.set(shown)
    try:
        return env.get_template("memo.html.j2").render(context)
    finally:
        SHOWN.reset(token)
