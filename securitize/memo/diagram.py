"""The transaction-structure diagram (交易结构图) as inline SVG, drawn from the deal itself:
originator and borrowers, the plan, one investor box per tranche, each enhancer beside the
tranche it covers, and the service providers paid from the waterfall; arrows carry cash.

Generated, not drawn by hand, so the picture always matches the structure the engine ran.
Every text is escaped: names come from scenario files someone else wrote.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from xml.sax.saxutils import escape

from markupsafe import Markup

from securitize.results import Results

BOX_W, BOX_H, ROW, HEAD = 190, 56, 84, 8
COLUMNS = (10, 250, 490, 730)
WIDTH = COLUMNS[-1] + BOX_W + 10
INK, MUTED, FILL, PLAN = "#1d1d1f", "#5a5a5f", "#f3f4f7", "#dce7f3"
# The memo's own font stack (memo.css), so a PDF renderer finds a CJK font for Chinese labels.
FONTS = (
    "'Helvetica Neue', Arial, 'Noto Sans', 'PingFang SC', 'Microsoft YaHei', "
    "'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', sans-serif"
)
PADDING = 8


def _width(text: str, size: float) -> float:
    """The width of ``text`` at font ``size`` px, on the safe side: a wide (CJK) character
    is one em, any other at most 0.62 em (bold capitals of the sans fonts above)."""
    return size * sum(1.0 if unicodedata.east_asian_width(c) in "WF" else 0.62 for c in text)


def fit(text: str, size: float, width: float = BOX_W - 2 * PADDING) -> str:
    """``text`` cut (with …) so that it fits ``width`` px at font ``size``."""
    if _width(text, size) <= width:
        return text
    while text and _width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


def _box(x: float, y: float, title: str, lines: list[str], fill: str = FILL) -> str:
    parts = [
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
        f'stroke="{INK}" stroke-width="1"/>',
        f'<text x="{x + BOX_W / 2}" y="{y + 18}" text-anchor="middle" font-size="12" '
        f'font-weight="bold" fill="{INK}">{escape(fit(title, 12))}</text>',
    ]
    for k, line in enumerate(lines[:2]):
        text = fit(line, 10)
        parts.append(
            f'<text x="{x + BOX_W / 2}" y="{y + 34 + 13 * k}" text-anchor="middle" '
            f'font-size="10" fill="{MUTED}">{escape(text)}</text>'
        )
    return "".join(parts)


def _arrow(x1: float, y1: float, x2: float, y2: float, label: str, dashed: bool = False) -> str:
    """A line with its arrowhead drawn as a triangle (no marker: nothing references an id, so
    several diagrams on a page cannot clash) and its label above the middle."""
    dash = ' stroke-dasharray="5,3"' if dashed else ""
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    bx, by = x2 - HEAD * ux, y2 - HEAD * uy
    left = (bx - HEAD / 2 * uy, by + HEAD / 2 * ux)
    right = (bx + HEAD / 2 * uy, by - HEAD / 2 * ux)
    head = f"{x2:.1f},{y2:.1f} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},{right[1]:.1f}"
    mid_x, mid_y = (x1 + x2) / 2, (y1 + y2) / 2 - 5
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="{INK}" '
        f'stroke-width="1.2"{dash}/>'
        f'<polygon points="{head}" fill="{INK}"/>'
        f'<text x="{mid_x:.1f}" y="{mid_y:.1f}" text-anchor="middle" font-size="10" '
        f'fill="{INK}" stroke="white" stroke-width="3" paint-order="stroke">{escape(label)}</text>'
    )


def structure_svg(
    results: Results, t: Callable[..., str], shown: Callable[[str], str] = str
) -> Markup:
    """The diagram for ``results``; ``t`` looks up the reader's words (``diagram.*`` keys),
    ``shown`` the names of tranches, enhancers, fees and parties. Every label is cut to fit its
    box (``fit``), in either script.

    Left: originator, borrowers and the enhancers that cover loans; middle: the plan and its
    service providers; right: one box per tranche, and the enhancers of each tranche beside it.
    """
    tranches = results.tranches
    pool_level = [e for e in results.enhancers if e.covers not in {tr.name for tr in tranches}]
    note_level = [e for e in results.enhancers if e not in pool_level]
    rows = max(3, 2 + len(pool_level), len(tranches), len(note_level))
    height = 40 + rows * ROW + (ROW if results.fees else 0)
    top = 30.0

    def row_y(k: float) -> float:
        return top + k * ROW

    left, plan, investors, enhancers = COLUMNS
    plan_y = row_y((rows - 1) / 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-label="{escape(t("diagram.aria"))}" '
        f'font-family="{FONTS}">',
        _box(
            left, row_y(0), t("diagram.originator"), [shown(results.deal.get("originator") or "")]
        ),
        _box(
            left,
            row_y(1),
            t("diagram.borrowers"),
            [t("diagram.borrowers_count", count=results.pool["obligors"])],
        ),
        _box(
            plan,
            plan_y,
            t("diagram.plan"),
            [shown(results.deal.get("title") or results.deal["name"])],
            PLAN,
        ),
        _arrow(left + BOX_W, row_y(0) + BOX_H / 2, plan, plan_y + 12, t("diagram.transfer")),
        _arrow(left + BOX_W, row_y(1) + BOX_H / 2, plan, plan_y + BOX_H - 12, t("diagram.repay")),
    ]
    for k, enhancer in enumerate(pool_level):
        y = row_y(2 + k)
        lines = [shown(enhancer.name), _kind(enhancer.kind, t)]
        parts.append(_box(left, y, t("diagram.enhancer"), lines))
        parts.append(
            _arrow(left + BOX_W, y + BOX_H / 2, plan + 20, plan_y + BOX_H, t("diagram.loan_claims"))
        )
    offset = (rows - len(tranches)) / 2
    tranche_y = {tr.name: row_y(offset + k) for k, tr in enumerate(tranches)}
    for tranche in tranches:
        y = tranche_y[tranche.name]
        parts.append(
            _box(
                investors,
                y,
                t("diagram.tranche", name=shown(tranche.name)),
                [shown(tranche.holder), f"{100 * tranche.share:.1f}%"],
            )
        )
        parts.append(
            _arrow(plan + BOX_W, plan_y + BOX_H / 2, investors, y + BOX_H / 2, t("diagram.pay"))
        )
    offset = (rows - len(note_level)) / 2
    for k, enhancer in enumerate(note_level):
        y = row_y(offset + k)
        parts.append(
            _box(
                enhancers, y, t("diagram.enhancer"), [shown(enhancer.name), _kind(enhancer.kind, t)]
            )
        )
        target = tranche_y[enhancer.covers] + BOX_H / 2
        parts.append(
            _arrow(enhancers, y + BOX_H / 2, investors + BOX_W, target, t("diagram.claims"))
        )
    if results.fees:
        y = row_y(rows)
        names = t("common.list_sep").join(shown(f["name"]) for f in results.fees)
        parts.append(_box(plan, y, t("diagram.services"), [names]))
        parts.append(
            _arrow(plan + BOX_W / 2, plan_y + BOX_H, plan + BOX_W / 2, y, t("diagram.fees"))
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _kind(kind: str, t: Callable[..., str]) -> str:
    return t(f"enhancement.kind_{kind}")
