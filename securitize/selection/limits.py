"""Concentration limits and deal-size bounds as linear constraints on a 0/1 selection.

Variables of the mixed-integer programme (balances in CNY millions, for conditioning):

- ``x_i`` ∈ {0, 1}, one per eligible loan: 1 when the loan is in the pool;
- ``X`` ≥ 0, the pool balance, tied by ``Σ s_i x_i − X = 0`` (``s_i`` = balance of loan i);
- with a top-N limit, ``t`` ≥ 0 and ``u_i`` ≥ 0 (see ``top_n_max`` below).

Each limit is a ``Limit``: its rows for the solver, and an exact measure of a selection (used to
check the solver's answer, by the greedy baseline, and to say which limit a left-out loan would
break). A share limit "group g ≤ L of the pool" is the row ``Σ_{i∈g} s_i x_i − L·X ≤ 0``; sharing
``X`` keeps every row sparse. Weighted averages are linear after multiplying by the balance:
``Σ (pd_i − pd_max) s_i x_i ≤ 0``. The sum of the N largest selected balances uses the exact
linearisation of Ogryczak & Tamir (2003): for any ``t``, sum of the N largest ``v_i`` ≤
``N·t + Σ max(0, v_i − t)``, with equality at ``t`` = the N-th largest; hence
``N·t + Σ u_i − L·X ≤ 0`` with ``u_i ≥ s_i x_i − t``, ``u_i ≥ 0`` holds exactly when the N
largest selected loans are at most ``L`` of the pool. ``docs/selection.md`` lists every limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from securitize.selection.spec import SelectionSpec

UNIT = 1e6  # balances enter the solver in CNY millions
TOLERANCE = 1e-7


@dataclass(frozen=True)
class Layout:
    """Column positions of the solver's variables."""

    loans: int
    top_n: bool

    @property
    def total(self) -> int:
        return self.loans

    @property
    def t(self) -> int:
        return self.loans + 1

    @property
    def u(self) -> slice:
        return slice(self.loans + 2, 2 * self.loans + 2)

    @property
    def variables(self) -> int:
        return self.loans + 1 + (self.loans + 1 if self.top_n else 0)


def _pct(value: float) -> str:
    return f"{value * 100:g} %"


def _fmt(unit: str, value: float) -> str:
    if unit == "share":
        return f"{value * 100:.2f} %"
    if unit == "pd":
        return f"{value * 100:.3f} %"
    if unit == "money":
        return f"CNY {value / 1e6:,.2f}m" if abs(value) >= 1e6 else f"CNY {value:,.0f}"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:g}"


@dataclass(frozen=True)
class Limit:
    """One named limit: solver rows ``lower ≤ A·v ≤ upper`` and an exact measure.

    ``measure(mask, base)`` returns the selection's worst value and where it occurs (the
    industry, the obligor, …). ``base`` replaces the pool balance as the denominator of shares
    (the greedy baseline caps shares against a target size). ``ceiling`` limits are checked as
    loans are added; the others (minimum size, minimum count) only on a finished pool.
    """

    name: str
    label: str
    threshold: float
    sense: str  # "max" or "min"
    unit: str  # "share", "pd", "money", "score", "count"
    matrix: sparse.csr_array
    lower: np.ndarray
    upper: np.ndarray
    measure: Callable[[np.ndarray, float | None], tuple[float, str]]
    ceiling: bool = True

    def broken(self, mask: np.ndarray, base: float | None = None) -> bool:
        value, _ = self.measure(mask, base)
        if np.isnan(value):
            return False
        scale = max(abs(self.threshold), 1.0) * TOLERANCE
        return (
            value > self.threshold + scale
            if self.sense == "max"
            else value < self.threshold - scale
        )

    def describe(self, mask: np.ndarray, base: float | None = None) -> str:
        value, where = self.measure(mask, base)
        sign = ">" if self.sense == "max" else "<"
        if not self.broken(mask, base):
            sign = "≤" if self.sense == "max" else "≥"
        place = f"{where} " if where else ""
        return (
            f"{self.name}: {place}{_fmt(self.unit, value)} {sign} {_fmt(self.unit, self.threshold)}"
        )

    def figure(self, mask: np.ndarray) -> dict[str, object]:
        """The selected pool's value of this limit, for the summary."""
        value, where = self.measure(mask, None)
        return {
            "name": self.name,
            "label": self.label,
            "sense": self.sense,
            "unit": self.unit,
            "threshold": self.threshold,
            "value": None if np.isnan(value) else float(value),
            "where": where,
            "met": not self.broken(mask),
            "headroom": None
            if np.isnan(value)
            else float(self.threshold - value if self.sense == "max" else value - self.threshold),
        }


def _matrix(rows: list[int], cols: list[int], vals: list[float], shape: tuple[int, int]):
    return sparse.csr_array((vals, (rows, cols)), shape=shape)


def _total_row(layout: Layout, coefficient: np.ndarray, shape_rows: int = 1):
    """One row ``Σ coefficient_i x_i``."""
    m = layout.loans
    return _matrix([0] * m, list(range(m)), list(coefficient), (shape_rows, layout.variables))


class _Pool:
    """Balances and labels of the eligible loans, shared by every limit builder."""

    def __init__(self, loans: pd.DataFrame):
        self.loans = loans
        self.balance = loans["balance"].to_numpy(dtype=float)
        self.s = self.balance / UNIT
        self.m = len(loans)

    def total(self, mask: np.ndarray) -> float:
        return float(self.balance[mask].sum())


def _share_cap(
    pool: _Pool, layout: Layout, field: str, groups: str, column: str, limit: float, what: str
) -> Limit:
    """``groups`` (each group ``g`` by ``column``, one ``what`` each) at most ``limit`` of the
    pool: Σ_g s x − L·X ≤ 0. ``field`` is the spec's name for the limit under ``limits``."""
    name, label = f"limits.{field}", f"{groups} at most {_pct(limit)} of the pool"
    keys = pool.loans[column].to_numpy(dtype=object)
    codes, names = pd.factorize(pd.Series(keys, dtype=object), sort=True)
    k = len(names)
    rows = list(codes) + list(range(k))
    cols = list(range(pool.m)) + [layout.total] * k
    vals = list(pool.s) + [-limit] * k
    matrix = _matrix(rows, cols, vals, (k, layout.variables))

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        denominator = base if base is not None else pool.total(mask)
        if denominator <= 0:
            return float("nan"), ""
        sums = np.bincount(codes, weights=pool.balance * mask, minlength=k)
        worst = int(np.argmax(sums))
        return float(sums[worst] / denominator), f"{what} '{names[worst]}'"

    return Limit(
        name, label, limit, "max", "share", matrix, np.full(k, -np.inf), np.zeros(k), measure
    )


def _count_cap(pool: _Pool, layout: Layout, keys: np.ndarray, limit: int) -> Limit:
    codes, names = pd.factorize(pd.Series(keys, dtype=object), sort=True)
    counts = np.bincount(codes)
    crowded = np.flatnonzero(counts > limit)
    row_of = {int(c): r for r, c in enumerate(crowded)}
    rows, cols = [], []
    for i, code in enumerate(codes):
        if int(code) in row_of:
            rows.append(row_of[int(code)])
            cols.append(i)
    k = len(crowded)
    matrix = _matrix(rows, cols, [1.0] * len(rows), (k, layout.variables))

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        per = np.bincount(codes, weights=mask.astype(float), minlength=len(names))
        worst = int(np.argmax(per))
        return float(per[worst]), f"enterprise '{names[worst]}'"

    return Limit(
        "limits.loans_per_enterprise_max",
        f"at most {limit} loan(s) per enterprise",
        float(limit),
        "max",
        "count",
        matrix,
        np.full(k, -np.inf),
        np.full(k, float(limit)),
        measure,
    )


def _top_n(pool: _Pool, layout: Layout, n: int, limit: float) -> Limit:
    m = layout.loans
    u = list(range(layout.u.start, layout.u.stop))
    # Row 0: N·t + Σ u − L·X ≤ 0; rows 1..m: s_i x_i − t − u_i ≤ 0.
    rows = [0, 0, *([0] * m)]
    cols = [layout.t, layout.total, *u]
    vals = [float(n), -limit, *([1.0] * m)]
    for i in range(m):
        rows += [i + 1, i + 1, i + 1]
        cols += [i, layout.t, u[i]]
        vals += [pool.s[i], -1.0, -1.0]
    matrix = _matrix(rows, cols, vals, (m + 1, layout.variables))

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        if base is not None:
            # While a pool is being built (greedy baseline): no loan above L/N of the target,
            # which keeps the N largest within L of it whatever comes later.
            largest = float(pool.balance[mask].max()) if mask.any() else 0.0
            return n * largest / base, f"{n} × largest loan"
        total = pool.total(mask)
        if total <= 0:
            return float("nan"), ""
        chosen = np.sort(pool.balance[mask])[::-1][:n]
        return float(chosen.sum() / total), f"largest {n} loans"

    return Limit(
        "limits.top_n_max",
        f"the {n} largest loans at most {_pct(limit)} of the pool",
        limit,
        "max",
        "share",
        matrix,
        np.full(m + 1, -np.inf),
        np.zeros(m + 1),
        measure,
    )


def _weighted(
    pool: _Pool,
    layout: Layout,
    field: str,
    label: str,
    column: str,
    threshold: float,
    sense: str,
    unit: str,
) -> Limit:
    """Balance-weighted average of ``column`` against ``threshold``: Σ (v − thr) s x ≷ 0.
    ``field`` is the spec's name for the limit under ``limits``."""
    name, values = f"limits.{field}", pool.loans[column].to_numpy(dtype=float)
    matrix = _total_row(layout, (values - threshold) * pool.s)

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        total = pool.total(mask)
        if total <= 0:
            return float("nan"), ""
        return float((values * pool.balance * mask).sum() / total), ""

    lower, upper = (
        (np.array([-np.inf]), np.zeros(1)) if sense == "max" else (np.zeros(1), np.array([np.inf]))
    )
    return Limit(name, label, threshold, sense, unit, matrix, lower, upper, measure)


def _label_min(
    pool: _Pool, layout: Layout, labelled: np.ndarray, limit: float, source: str
) -> Limit:
    matrix = _total_row(layout, (labelled.astype(float) - limit) * pool.s)

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        if base is not None:
            # While a pool is being built: the unlabelled balance may use at most (1 − L) of
            # the target size.
            return 1.0 - float(pool.balance[mask & ~labelled].sum()) / base, "labelled loans"
        total = pool.total(mask)
        if total <= 0:
            return float("nan"), ""
        return float(pool.balance[mask & labelled].sum() / total), "labelled loans"

    return Limit(
        "limits.label_min",
        f"sci-tech / IP-labelled loans ({source}) at least {_pct(limit)} of the pool",
        limit,
        "min",
        "share",
        matrix,
        np.zeros(1),
        np.array([np.inf]),
        measure,
    )


def _size(pool: _Pool, layout: Layout, name: str, threshold: float, sense: str) -> Limit:
    matrix = _matrix([0], [layout.total], [1.0], (1, layout.variables))
    value = threshold / UNIT
    lower, upper = (
        (np.array([-np.inf]), np.array([value]))
        if sense == "max"
        else (np.array([value]), np.array([np.inf]))
    )
    word = "at most" if sense == "max" else "at least"

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        return pool.total(mask), "pool balance"

    return Limit(
        name,
        f"pool balance {word} {_fmt('money', threshold)}",
        threshold,
        sense,
        "money",
        matrix,
        lower,
        upper,
        measure,
        ceiling=sense == "max",
    )


def _count(pool: _Pool, layout: Layout, name: str, label: str, threshold: int, sense: str) -> Limit:
    matrix = _total_row(layout, np.ones(pool.m))
    lower, upper = (
        (np.array([-np.inf]), np.array([float(threshold)]))
        if sense == "max"
        else (np.array([float(threshold)]), np.array([np.inf]))
    )

    def measure(mask: np.ndarray, base: float | None) -> tuple[float, str]:
        return float(mask.sum()), "loans"

    return Limit(
        name,
        label,
        float(threshold),
        sense,
        "count",
        matrix,
        lower,
        upper,
        measure,
        ceiling=sense == "max",
    )


def build_limits(
    loans: pd.DataFrame, spec: SelectionSpec, label_source: str
) -> tuple[Layout, list[Limit]]:
    """The solver layout and every limit ``spec`` states, for the eligible ``loans``."""
    pool = _Pool(loans.reset_index(drop=True))
    limits_spec = spec.limits
    layout = Layout(pool.m, limits_spec.top_n is not None)
    out: list[Limit] = [
        _count(pool, layout, "non-empty pool", "the pool holds at least one loan", 1, "min")
    ]
    if spec.loans_min is not None:
        out.append(
            _count(
                pool, layout, "loans_min", f"at least {spec.loans_min} loans", spec.loans_min, "min"
            )
        )
    if spec.loans_max is not None:
        out.append(
            _count(
                pool, layout, "loans_max", f"at most {spec.loans_max} loans", spec.loans_max, "max"
            )
        )
    if spec.deal_size_min is not None:
        out.append(_size(pool, layout, "deal_size_min", spec.deal_size_min, "min"))
    if spec.deal_size_max is not None:
        out.append(_size(pool, layout, "deal_size_max", spec.deal_size_max, "max"))

    def share_cap(field: str, groups: str, column: str, what: str) -> None:
        """Cap each group's share of the pool (groups by ``column``) if the spec sets one."""
        limit = getattr(limits_spec, field)
        if limit is not None:
            out.append(_share_cap(pool, layout, field, groups, column, limit, what))

    if limits_spec.loans_per_enterprise_max is not None:
        enterprise = loans["enterprise"].to_numpy(dtype=object)
        out.append(_count_cap(pool, layout, enterprise, limits_spec.loans_per_enterprise_max))
    share_cap("obligor_max", "each obligor", "enterprise", "obligor")
    share_cap("related_group_max", "each obligor with its related parties", "related_key", "group")
    if limits_spec.top_n is not None:
        out.append(_top_n(pool, layout, limits_spec.top_n, limits_spec.top_n_max))
    share_cap("industry_max", "each industry", "industry", "industry")
    share_cap("region_max", "each region", "region", "region")
    if limits_spec.wa_pd_max is not None:
        limit = limits_spec.wa_pd_max
        label = f"balance-weighted average annual PD at most {_pct(limit)}"
        out.append(_weighted(pool, layout, "wa_pd_max", label, "annual_pd", limit, "max", "pd"))
    if limits_spec.wa_score_min is not None:
        limit = limits_spec.wa_score_min
        label = f"balance-weighted average 科创指数 score at least {limit:g}"
        out.append(_weighted(pool, layout, "wa_score_min", label, "score", limit, "min", "score"))
    if limits_spec.label_min is not None:
        out.append(
            _label_min(
                pool,
                layout,
                loans["label"].to_numpy(dtype=bool),
                limits_spec.label_min,
                label_source,
            )
        )
    return layout, out
