"""The memo's charts, each returned as a ``data:image/png;base64,`` URI to embed in the HTML.

Figures are built with matplotlib's object-oriented ``Figure`` rather than pyplot: rendering is
headless (Agg) without switching the process-wide backend, so rendering a memo from a notebook
does not break the notebook's own plots, and no figure is left in pyplot's global registry.
"""

from __future__ import annotations

import base64
import io

import pandas as pd
from matplotlib.figure import Figure

from securitize.results import POOL_LOSS_QUANTILES
from securitize.stats import Estimate

DPI = 120
INTEREST, PRINCIPAL, RESIDUAL, BARS = "#3b6ea5", "#9cc3e6", "#8c8c8c", "#3b6ea5"
# Error bars span a 95% confidence interval: 1.96 standard errors either side.
Z_95 = 1.96


def _data_uri(figure: Figure) -> str:
    """PNG bytes as a data URI; no software/date metadata so equal inputs give equal bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pool_loss_chart(pool_loss: dict[str, Estimate], distribution: pd.DataFrame) -> str:
    """Pool loss distribution (% of pool balance) with the mean and tail quantiles marked."""
    figure = Figure(figsize=(6.5, 3.0), layout="constrained")
    ax = figure.subplots()
    lossy = distribution.iloc[1:]
    width = 100 * (lossy["upper"] - lossy["lower"])
    ax.bar(
        100 * lossy["lower"],
        100 * lossy["probability"],
        width=width,
        align="edge",
        color=BARS,
        yerr=Z_95 * 100 * lossy["se"],
        error_kw={"elinewidth": 0.6},
        label="loss > 0",
    )
    zero = distribution.iloc[0]
    ax.set_title(
        f"Pool loss distribution; P(loss = 0) = {100 * zero['probability']:.2f}%"
        " (error bars ±1.96 SE)",
        fontsize=10,
    )
    keys = ["expected_loss", *(f"quantile_{q:g}" for q in POOL_LOSS_QUANTILES)]
    labels = ["mean", *(f"{100 * q:g}%" for q in POOL_LOSS_QUANTILES)]
    for key, label, style in zip(keys, labels, ["-", "--", "-.", ":"], strict=True):
        value = 100 * pool_loss[key].value
        ax.axvline(value, color="#b03a2e", linestyle=style, linewidth=1)
        ax.annotate(
            f"{label} {value:.1f}%",
            (value, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="#b03a2e",
        )
    ax.set_xlabel("pool loss, % of pool balance")
    ax.set_ylabel("probability, %")
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)


def cash_flow_chart(cash_flows: pd.DataFrame, tranches: list[str], months: list[int]) -> str:
    """Expected interest and principal (wrapped) on each payment month, a panel per tranche,
    and the residual released to the subordinated holder."""
    frame = cash_flows.set_index("month").loc[months]
    width = 0.7 * (months[1] - months[0]) if len(months) > 1 else 0.7
    figure = Figure(figsize=(7.0, 1.9 * (len(tranches) + 1)), layout="constrained")
    axes = figure.subplots(len(tranches) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, tranches, strict=False):
        interest = frame[f"tranche.{name}.wrapped.interest"] / 1e6
        principal = frame[f"tranche.{name}.wrapped.principal"] / 1e6
        ax.bar(months, interest, width, color=INTEREST, label="interest")
        ax.bar(months, principal, width, bottom=interest, color=PRINCIPAL, label="principal")
        ax.set_title(f"{name} (wrapped)", fontsize=9, loc="left")
    axes[0].legend(fontsize=8, frameon=False)
    axes[-1].bar(months, frame["residual"] / 1e6, width, color=RESIDUAL)
    axes[-1].set_title("residual to the subordinated holder", fontsize=9, loc="left")
    axes[-1].set_xlabel("month after closing")
    for ax in axes:
        ax.set_ylabel("CNY m")
        ax.spines[["top", "right"]].set_visible(False)
    figure.suptitle("Expected payments by month", fontsize=10)
    return _data_uri(figure)


def stratification_chart(table: pd.DataFrame, key: str) -> str:
    """Share of pool balance by ``key`` (largest at the top)."""
    figure = Figure(figsize=(6.5, 0.35 * len(table) + 1.0), layout="constrained")
    ax = figure.subplots()
    shares = 100 * table["share"]
    ax.barh(table[key].astype(str), shares, color=BARS)
    ax.invert_yaxis()
    for y, share in enumerate(shares):
        ax.annotate(
            f"{share:.1f}%", (share, y), xytext=(3, 0), textcoords="offset points", va="center"
        )
    ax.set_xlabel("% of pool balance")
    ax.set_title(f"Pool balance by {key}", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)


def loss_tranche_chart(table: pd.DataFrame, exact: list[dict] | None = None) -> str:
    """Expected loss of each loss tranche by month (the expected-loss curve), % of its size;
    the exact engine's values as markers where the validation computed them."""
    figure = Figure(figsize=(6.5, 2.8), layout="constrained")
    ax = figure.subplots()
    for name, rows in table.groupby("tranche", sort=False):
        ax.plot(rows["month"], 100 * rows["expected_loss"], label=str(name))
        ax.fill_between(
            rows["month"],
            100 * (rows["expected_loss"] - Z_95 * rows["se"]),
            100 * (rows["expected_loss"] + Z_95 * rows["se"]),
            alpha=0.25,
        )
    if exact:
        points = pd.DataFrame(exact)
        ax.plot(
            points["month"],
            100 * points["exact"],
            "k.",
            markersize=4,
            label="exact (semi-analytic)",
        )
    ax.set_xlabel("month after closing")
    ax.set_ylabel("% of tranche size")
    ax.set_title("Expected loss of each loss tranche by month (bands ±1.96 SE)", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _data_uri(figure)
