"""Months on book and the actuarial life table behind static-pool curves and band PDs.

Time is counted on the project's monthly grid, from each loan's origination: month m runs from
origination + (m − 1) months to origination + m months (calendar months, the day of month
clipped to the month's length), and an event on a date falls in the month whose end is the first
on or after it. Fractional months (for exposure) add the elapsed share of the current month.

The life table is the actuarial (Kaplan–Meier style, grouped by month) estimator: in month j,
``at_risk`` is the weight of loans that entered the month, a loan whose observation stops inside
the month (the history's cut-off falls in it) counts as half a loan at risk there, and each cause's
hazard is its events over that adjusted risk set. Prepayment and maturity are exits, not defaults:

- the *net* (cause-specific) cumulative default rate 1 − Π (1 − h_default) is the default
  probability with prepayment treated as censoring — the quantity the credit model's PD means,
  since it simulates prepayment separately;
- the *cumulative incidence* Σ S(j − 1) · h(j) (Aalen–Johansen, S the probability of still being on
  book) is the share of the originated loans (or balance) that defaulted, or prepaid, by month j —
  what a static-pool table discloses; without censoring it equals the plain ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EXIT_DEFAULT = "default"
EXIT_PREPAID = "prepaid"
EXIT_MATURED = "matured"
EXIT_CENSORED = "censored"


def _parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months since 1970-01 and day of month (1-based) of ``datetime64[D]`` dates."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    month = dates.astype("datetime64[M]")
    day = (dates - month.astype("datetime64[D]")).astype(int) + 1
    return month.astype(int), day


def add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``dates`` plus whole ``months`` (calendar months, day clipped to the month's length)."""
    month, day = _parts(dates)
    target = (month + np.asarray(months, dtype=int)).astype("datetime64[M]")
    start = target.astype("datetime64[D]")
    length = ((target + 1).astype("datetime64[D]") - start).astype(int)
    return start + (np.minimum(day, length) - 1).astype("timedelta64[D]")


def months_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Fractional months on the grid from ``start`` to ``end`` (end ≥ start)."""
    start = np.asarray(start, dtype="datetime64[D]")
    end = np.asarray(end, dtype="datetime64[D]")
    whole = _parts(end)[0] - _parts(start)[0]
    whole = np.where(add_months(start, whole) > end, whole - 1, whole)
    anchor = add_months(start, whole)
    following = add_months(start, whole + 1)
    share = (end - anchor).astype(int) / (following - anchor).astype(int)
    return whole + share


def date_after_months(start: np.ndarray, months: np.ndarray) -> np.ndarray:
    """The date ``months`` (fractional) after ``start`` on the grid: months_between's inverse
    to the day."""
    months = np.asarray(months, dtype=float)
    whole = np.floor(months).astype(int)
    anchor = add_months(start, whole)
    length = (add_months(start, whole + 1) - anchor).astype(int)
    return anchor + np.round((months - whole) * length).astype("timedelta64[D]")


def event_month(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The 1-based month on book an event dated ``end`` falls in (``end`` after ``start``)."""
    return np.ceil(months_between(start, end)).astype(int)


def life_table(
    exit_month: np.ndarray,
    exit_kind: np.ndarray,
    partial: np.ndarray,
    weights: np.ndarray | None = None,
    horizon: int | None = None,
    maturity_month: np.ndarray | None = None,
) -> pd.DataFrame:
    """Actuarial life table by month on book.

    ``exit_month``: for a default or prepayment the month it fell in; for a matured loan its
    tenor; for a censored loan its last complete month observed. ``partial``: for a censored
    loan, whether it was observed for part of the next month (it then counts half there).
    ``weights``: per-loan weights (balance for balance-weighted curves), all ones by default.

    Columns, indexed by ``month_on_book`` 1..horizon: ``at_risk`` (entering the month),
    ``withdrawn`` (observation stopped inside the month), ``defaults``, ``prepayments``,
    ``matured``, ``default_hazard``, ``prepayment_hazard``, ``net_default_rate``,
    ``cumulative_default_rate``, ``cumulative_prepayment_rate``, ``greenwood_se`` (of the net
    default rate; meaningful for unit weights). A month in which no loan is at risk is NaN when a
    censored loan could still have been on book then (before its ``maturity_month``, all months
    when that is not given): the history says nothing about it. When every loan has left by
    default, prepayment or maturity the curves stay flat instead.
    """
    exit_month = np.asarray(exit_month, dtype=int)
    exit_kind = np.asarray(exit_kind)
    partial = np.asarray(partial, dtype=bool)
    weights = np.ones(exit_month.size) if weights is None else np.asarray(weights, float)
    if horizon is None:
        horizon = int(max(exit_month.max(initial=0) + 1, 1))
    size = horizon + 2

    def by_month(mask: np.ndarray, months: np.ndarray) -> np.ndarray:
        counts = np.bincount(
            np.clip(months[mask], 0, size - 1), weights=weights[mask], minlength=size
        )
        return counts[1 : horizon + 1]

    censored = exit_kind == EXIT_CENSORED
    # A loan is at risk in months 1..exit_month, and a censored one also in the partial month.
    last = np.where(censored & partial, exit_month + 1, exit_month)
    leaving = np.bincount(np.clip(last, 0, size - 1), weights=weights, minlength=size)
    entering = leaving[::-1].cumsum()[::-1][1 : horizon + 1]
    withdrawn = by_month(censored & partial, exit_month + 1)
    defaults = by_month(exit_kind == EXIT_DEFAULT, exit_month)
    prepayments = by_month(exit_kind == EXIT_PREPAID, exit_month)
    matured = by_month(exit_kind == EXIT_MATURED, exit_month)
    adjusted = entering - withdrawn / 2.0
    # Months a censored loan could still have been on book after its last month observed.
    until = np.full(exit_month.size, size - 1) if maturity_month is None else maturity_month
    open_from = np.bincount(np.clip(last[censored] + 1, 0, size), minlength=size + 1)
    open_to = np.bincount(np.clip(np.asarray(until)[censored] + 1, 0, size), minlength=size + 1)
    unknown = (np.cumsum(open_from - open_to) > 0)[1 : horizon + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = adjusted > 0
        empty = np.where(unknown, np.nan, 0.0)
        h_default = np.where(observed, defaults / np.where(observed, adjusted, 1.0), empty)
        h_prepay = np.where(observed, prepayments / np.where(observed, adjusted, 1.0), empty)
        on_book = np.cumprod(1.0 - h_default - h_prepay)
        before = np.r_[1.0, on_book[:-1]]
        net_survival = np.cumprod(1.0 - h_default)
        terms = np.where(
            observed & (adjusted > defaults),
            defaults / np.where(observed, adjusted * (adjusted - defaults), 1.0),
            np.where(observed, np.inf, empty),
        )
        terms = np.where(observed & (defaults == 0), 0.0, terms)
        greenwood = net_survival * np.sqrt(np.cumsum(terms))
    return pd.DataFrame(
        {
            "at_risk": entering,
            "withdrawn": withdrawn,
            "defaults": defaults,
            "prepayments": prepayments,
            "matured": matured,
            "default_hazard": h_default,
            "prepayment_hazard": h_prepay,
            "net_default_rate": 1.0 - net_survival,
            "cumulative_default_rate": np.cumsum(before * h_default),
            "cumulative_prepayment_rate": np.cumsum(before * h_prepay),
            "greenwood_se": greenwood,
        },
        index=pd.RangeIndex(1, horizon + 1, name="month_on_book"),
    )
