"""The memo's charts, each returned as a ``data:image/png;base64,`` URI to embed in the HTML.

Figures are built with matplotlib's object-oriented ``Figure`` rather than pyplot: rendering is
headless (Agg) without switching the process-wide backend, so rendering a memo from a notebook
does not break the notebook's own plots, and no figure is left in pyplot's global registry.

Labels come from the reader's catalogue (``t``). Chinese labels need a CJK font: ``cjk_font``
looks for one among the installed fonts; without one the caller draws English labels and says so
in the memo (never boxes in place of characters). PNGs carry no date or software metadata, so the
same results give the same bytes (``securitize verify`` re-renders and compares).
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.figure import Figure
from PIL import Image

from securitize.results import POOL_LOSS_QUANTILES, Results
from securitize.stats import Estimate

DPI = 100
COVERAGE_AXIS = 3.0
COVERAGE_FLOOR = 1.5
PALETTE = 64
INTEREST, PRINCIPAL, RESIDUAL, BARS = "#3b6ea5", "#9cc3e6", "#8c8c8c", "#3b6ea5"
WRAPPED, STRESS = "#b03a2e", "#d98c2b"
# Error bars span a 95% confidence interval: 1.96 standard errors either side.
Z_95 = 1.96
# CJK fonts looked for, best first (Debian: fonts-noto-cjk, fonts-wqy-microhei, fonts-wqy-zenhei).
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
)

Names = Callable[[str], str]
CHART_NAME = 30
Words = Callable[..., str]


# File names of those fonts, for a font installed after matplotlib built its font cache.
CJK_FILES = (
    "notosanscjk",
    "notosanssc",
    "sourcehansans",
    "wqy-microhei",
    "wqy-zenhei",
    "droidsansfallback",
    "uming",
)


def _installed() -> set[str]:
    return {entry.name for entry in font_manager.fontManager.ttflist}


@cache
def cjk_font() -> str | None:
    """The first installed font of ``CJK_FONTS`` that matplotlib can use, or None. Fonts
    installed since matplotlib cached its font list are found by file name and added."""
    if not any(name in _installed() for name in CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if Path(path).name.lower().startswith(CJK_FILES):
                with contextlib.suppress(OSError, RuntimeError, ValueError):
                    font_manager.fontManager.addfont(path)
    installed = _installed()
    return next((name for name in CJK_FONTS if name in installed), None)


@contextmanager
def _style(font: str | None) -> Iterator[None]:
    # The CJK font also backs up English labels (a tape may name enterprises in Chinese).
    backup = cjk_font()
    families = [font, "DejaVu Sans"] if font else ["DejaVu Sans", *([backup] if backup else [])]
    settings = {
        "font.family": families,
        "axes.unicode_minus": False,
        "svg.hashsalt": "securitize",
        "path.simplify": True,
    }
    with matplotlib.rc_context(settings):
        yield


def _data_uri(figure: Figure) -> str:
    """PNG bytes as a data URI, reduced to a fixed palette (a quarter of the size: charts are
    flat colours) and without software/date metadata, so equal inputs give equal bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    small = image.quantize(
        colors=PALETTE, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _plain(ax: object) -> None:
    ax.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]


def pool_loss_chart(pool_loss: dict[str, Estimate], distribution: pd.DataFrame, t: Words) -> str:
    """Pool loss distribution (% of pool balance) with the mean and tail quantiles marked."""
    figure = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = figure.subplots()
    lossy = distribution.iloc[1:]
    ax.bar(
        100 * lossy["lower"],
        100 * lossy["probability"],
        width=100 * (lossy["upper"] - lossy["lower"]),
        align="edge",
        color=BARS,
        yerr=Z_95 * 100 * lossy["se"],
        error_kw={"elinewidth": 0.6},
    )
    zero = distribution.iloc[0]
    ax.set_title(t("chart.pool_loss_title", zero=f"{100 * zero['probability']:.2f}"), fontsize=10)
    keys = ["expected_loss", *(f"quantile_{q:g}" for q in POOL_LOSS_QUANTILES)]
    labels = [t("chart.mean"), *(f"{100 * q:g}%" for q in POOL_LOSS_QUANTILES)]
    for key, label, style in zip(keys, labels, ["-", "--", "-.", ":"], strict=True):
        value = 100 * pool_loss[key].value
        ax.axvline(value, color=WRAPPED, linestyle=style, linewidth=1)
        ax.annotate(
            f"{label} {value:.1f}%",
            (value, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color=WRAPPED,
        )
    ax.set_xlabel(t("chart.pool_loss_x"))
    ax.set_ylabel(t("chart.probability_pct"))
    _plain(ax)
    return _data_uri(figure)


def _as_is(name: str) -> str:
    return name


def _amount_scale(t: Words) -> float:
    """Yuan per unit of the charts' amounts: the memo's unit (CNY m in English, 万元 in
    Chinese; the catalogues' ``chart.amount_scale``)."""
    return float(t("chart.amount_scale"))


def loss_probability_chart(results: Results, t: Words, shown: Names = _as_is) -> str:
    """Each tranche's probability of loss and expected loss, stand-alone and wrapped (± 1.96 SE)."""
    names = [shown(tr.name) for tr in results.tranches]
    x = np.arange(len(names))
    figure = Figure(figsize=(6.5, 2.8), layout="constrained")
    axes = figure.subplots(1, 2)
    for ax, key, title in zip(
        axes,
        ("probability_of_loss", "expected_loss"),
        (t("chart.probability_of_loss"), t("chart.expected_loss")),
        strict=True,
    ):
        for offset, view, color, label in (
            (-0.2, "standalone", BARS, t("chart.standalone")),
            (0.2, "wrapped", WRAPPED, t("chart.wrapped")),
        ):
            values = [getattr(tr, view)[key] for tr in results.tranches]
            ax.bar(
                x + offset,
                [100 * v.value for v in values],
                0.4,
                yerr=[Z_95 * 100 * v.se for v in values],
                color=color,
                label=label,
                error_kw={"elinewidth": 0.6},
            )
        ax.set_xticks(x, names)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("%")
        _plain(ax)
    axes[0].legend(fontsize=8, frameon=False)
    return _data_uri(figure)


def cash_flow_chart(results: Results, t: Words, shown: Names = _as_is) -> str:
    """Expected interest and principal (wrapped) on each payment month, a panel per tranche,
    and the residual released to the subordinated holder."""
    months = list(results.deal["payment_months"])
    tranches = [tr.name for tr in results.tranches]
    frame = results.cash_flows.set_index("month").loc[months]
    width = 0.7 * (months[1] - months[0]) if len(months) > 1 else 0.7
    scale = _amount_scale(t)
    figure = Figure(figsize=(7.0, 1.7 * (len(tranches) + 1)), layout="constrained")
    axes = figure.subplots(len(tranches) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, tranches, strict=False):
        interest = frame[f"tranche.{name}.wrapped.interest"] / scale
        principal = frame[f"tranche.{name}.wrapped.principal"] / scale
        ax.bar(months, interest, width, color=INTEREST, label=t("chart.interest"))
        ax.bar(
            months, principal, width, bottom=interest, color=PRINCIPAL, label=t("chart.principal")
        )
        ax.set_title(t("chart.tranche_wrapped", name=shown(name)), fontsize=9, loc="left")
    axes[0].legend(fontsize=8, frameon=False)
    axes[-1].bar(months, frame["residual"] / scale, width, color=RESIDUAL)
    axes[-1].set_title(t("chart.residual"), fontsize=9, loc="left")
    axes[-1].set_xlabel(t("chart.month"))
    for ax in axes:
        ax.set_ylabel(t("chart.amount_unit"))
        _plain(ax)
    figure.suptitle(t("chart.cash_flows_title"), fontsize=10)
    return _data_uri(figure)


def coverage_chart(results: Results, t: Words, shown: Names = _as_is) -> str:
    """Coverage multiple by payment date: Monte Carlo (± 1.96 SE band) and each stress run.

    The legend sits under the plot in two columns, so many or long stress names take height
    from the page, not width from the plot."""
    frame = results.cash_flows
    rows = math.ceil((len(results.stresses) + 1) / 2)
    figure = Figure(figsize=(6.5, 3.0 + 0.22 * rows), layout="constrained")
    ax = figure.subplots()
    months = frame["month"].to_numpy()
    mean = frame["coverage_multiple"].to_numpy(dtype=float)
    se = frame["coverage_multiple.se"].to_numpy(dtype=float)
    ax.plot(months, mean, color=BARS, linewidth=2, label=t("chart.monte_carlo"))
    ax.fill_between(months, mean - Z_95 * se, mean + Z_95 * se, color=BARS, alpha=0.2)
    styles = ["--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1))]
    for k, stress in enumerate(results.stresses):
        values = np.array([np.nan if v is None else v for v in stress["coverage_multiple"]])
        ax.plot(
            months,
            values,
            linestyle=styles[k % len(styles)],
            linewidth=1,
            label=shown(stress["name"]),
        )
    ax.axhline(1.0, color="black", linewidth=0.6)
    # Once the notes are nearly repaid the amounts due are tiny and the multiple soars: the
    # axis is set by the bulk of the values (1.2 × their 90th percentile, between
    # COVERAGE_FLOOR and COVERAGE_AXIS), so the lines near 1 stay apart (the table gives
    # every value).
    values = [mean]
    for stress in results.stresses:
        values.append([np.nan if v is None else v for v in stress["coverage_multiple"]])
    finite = np.concatenate([np.asarray(v, dtype=float) for v in values])
    finite = finite[np.isfinite(finite)]
    bulk = float(np.percentile(finite, 90)) if finite.size else 1.0
    ax.set_ylim(0.0, min(COVERAGE_AXIS, max(COVERAGE_FLOOR, 1.2 * bulk)))
    ax.set_xlabel(t("chart.month"))
    ax.set_ylabel(t("chart.coverage_y"))
    ax.set_title(t("chart.coverage_title"), fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    _plain(ax)
    return _data_uri(figure)


def stress_chart(results: Results, t: Words, shown: Names = _as_is) -> str:
    """Pool loss and each tranche's stand-alone loss under each deterministic run."""
    stresses = results.stresses
    names = [tr.name for tr in results.tranches]
    y = np.arange(len(stresses))
    height = 0.8 / (len(names) + 1)
    figure = Figure(figsize=(6.5, 0.45 * len(stresses) + 1.2), layout="constrained")
    ax = figure.subplots()
    ax.barh(
        y - 0.4 + height / 2,
        [100 * s["pool_loss"] for s in stresses],
        height,
        color=RESIDUAL,
        label=t("chart.pool_loss"),
    )
    for k, name in enumerate(names):
        ax.barh(
            y - 0.4 + height * (k + 1.5),
            [100 * s["tranches"][name]["standalone_loss"] for s in stresses],
            height,
            label=t("chart.tranche_loss", name=shown(name)),
        )
    ax.set_yticks(y, [shown(s["name"]) for s in stresses])
    ax.invert_yaxis()
    ax.set_xlabel(t("chart.stress_x"))
    ax.set_title(t("chart.stress_title"), fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    _plain(ax)
    return _data_uri(figure)


def stratification_chart(table: pd.DataFrame, key: str, title: str, t: Words) -> str:
    """Share of pool balance by ``key`` (largest at the top)."""
    figure = Figure(figsize=(6.5, 0.3 * len(table) + 1.0), layout="constrained")
    ax = figure.subplots()
    shares = 100 * table["share"]
    ax.barh(table[key].astype(str), shares, color=BARS)
    ax.invert_yaxis()
    for y, share in enumerate(shares):
        ax.annotate(
            f"{share:.1f}%", (share, y), xytext=(3, 0), textcoords="offset points", va="center"
        )
    ax.set_xlabel(t("chart.share_x"))
    ax.set_title(title, fontsize=10)
    _plain(ax)
    return _data_uri(figure)


def loss_tranche_chart(
    table: pd.DataFrame, exact: list[dict] | None, t: Words, shown: Names = _as_is
) -> str:
    """Expected loss of each loss tranche by month (the expected-loss curve), % of its size;
    the exact engine's values as markers where the validation computed them."""
    figure = Figure(figsize=(6.5, 2.8), layout="constrained")
    ax = figure.subplots()
    for name, rows in table.groupby("tranche", sort=False):
        ax.plot(rows["month"], 100 * rows["expected_loss"], label=shown(str(name)))
        ax.fill_between(
            rows["month"],
            100 * (rows["expected_loss"] - Z_95 * rows["se"]),
            100 * (rows["expected_loss"] + Z_95 * rows["se"]),
            alpha=0.25,
        )
    if exact:
        points = pd.DataFrame(exact)
        ax.plot(points["month"], 100 * points["exact"], "k.", markersize=4, label=t("chart.exact"))
    ax.set_xlabel(t("chart.month"))
    ax.set_ylabel(t("chart.pct_of_tranche"))
    ax.set_title(t("chart.loss_tranches_title"), fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    _plain(ax)
    return _data_uri(figure)


def claim_distribution_chart(distribution: pd.DataFrame, name: str, t: Words) -> str:
    """An enhancer's claim distribution (probability of each claim range, in the memo's unit)."""
    scale = _amount_scale(t)
    figure = Figure(figsize=(6.5, 2.6), layout="constrained")
    ax = figure.subplots()
    paid = distribution.iloc[1:] if float(distribution["upper"].iloc[0]) == 0 else distribution
    ax.bar(
        paid["lower"] / scale,
        100 * paid["probability"],
        width=(paid["upper"] - paid["lower"]) / scale,
        align="edge",
        color=WRAPPED,
    )
    ax.set_xlabel(t("chart.claims_x"))
    ax.set_ylabel(t("chart.probability_pct"))
    ax.set_title(t("chart.claims_title", name=name), fontsize=10)
    _plain(ax)
    return _data_uri(figure)


def claims_by_year_chart(
    by_year: list[dict[str, float]],
    limit: float | None,
    name: str,
    t: Words,
    checked: float | None = None,
) -> str:
    """An enhancer's expected claims by year (bars), each year's claims ratio (for information)
    and ``checked``, the deal's claims ratio over its life: the figure checked against the
    annual limit (``limits.claims_ratio``), drawn beside the limit."""
    frame = pd.DataFrame(by_year)
    figure = Figure(figsize=(6.5, 2.6), layout="constrained")
    ax = figure.subplots()
    ax.bar(frame["year"], frame["expected_claims"] / _amount_scale(t), 0.6, color=WRAPPED)
    ax.set_xlabel(t("chart.year"))
    ax.set_ylabel(t("chart.expected_claims_m"))
    ax.set_xticks(frame["year"])
    ratio = ax.twinx()
    ratio.plot(frame["year"], 100 * frame["claims_ratio"], "k.-", label=t("chart.claims_ratio"))
    if checked is not None:
        ratio.axhline(
            100 * checked,
            color=WRAPPED,
            linestyle=":",
            linewidth=1.2,
            label=t("chart.deal_claims_ratio", value=f"{100 * checked:.2f}"),
        )
    if limit is not None:
        ratio.axhline(100 * limit, color="black", linestyle="--", linewidth=0.8)
        ratio.annotate(
            t("chart.limit", value=f"{100 * limit:g}"),
            (frame["year"].iloc[0], 100 * limit),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=7,
        )
    ratio.set_ylabel(t("chart.claims_ratio_pct"))
    ratio.legend(fontsize=7, frameon=False, loc="upper left")
    ax.set_title(t("chart.claims_title", name=name), fontsize=10)
    ax.spines[["top"]].set_visible(False)
    ratio.spines[["top"]].set_visible(False)
    return _data_uri(figure)


def memo_charts(
    results: Results, t: Words, font: str | None, shown: Names | None = None
) -> dict[str, str]:
    """Every chart the memo shows, keyed by name; ``font`` is the CJK font for Chinese words,
    ``shown`` the display names of tranches, enhancers and stresses (None: as named)."""
    named = shown or _as_is

    def shown(name: str) -> str:
        # A name is at most NAME_LENGTH (80) characters; a chart gives it CHART_NAME at most,
        # so a long one cannot squeeze the plot away.
        text = named(name)
        return text if len(text) <= CHART_NAME else text[: CHART_NAME - 1] + "…"

    with _style(font):
        figures = {
            "pool_loss": pool_loss_chart(results.pool_loss, results.loss_distribution, t),
            "loss_probability": loss_probability_chart(results, t, shown),
            "cash_flows": cash_flow_chart(results, t, shown),
            "coverage": coverage_chart(results, t, shown),
        }
        if results.stresses:
            figures["stress"] = stress_chart(results, t, shown)
        if not results.loss_tranches.empty:
            figures["loss_tranches"] = loss_tranche_chart(
                results.loss_tranches, results.validation.get("loss_tranche_curves"), t, shown
            )
        for key in ("industry", "region", "band"):
            if key in results.stratification:
                title = t("chart.strat_title", by=t(f"chart.by_{key}"))
                figures[f"strat_{key}"] = stratification_chart(
                    results.stratification[key], key, title, t
                )
        for e in results.enhancers:
            distribution = getattr(e, "claim_distribution", None)
            by_year = getattr(e, "claims_by_year", None)
            if isinstance(distribution, pd.DataFrame) and not distribution.empty:
                figures[f"claims_{e.name}"] = claim_distribution_chart(
                    distribution, shown(e.name), t
                )
            elif by_year and {"year", "expected_claims", "claims_ratio"} <= set(by_year[0]):
                limits = getattr(e, "limits", None) or {}
                figures[f"claims_{e.name}"] = claims_by_year_chart(
                    by_year,
                    limits.get("annual_claims_ratio_limit"),
                    shown(e.name),
                    t,
                    limits.get("claims_ratio"),
                )
    return figures
