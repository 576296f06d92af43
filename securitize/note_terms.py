"""Each class of notes' coupon terms as the results state them (票面利率、计息基准、票面利率调整、
回售、赎回): the coupon of every payment period, the margin over the index, the day count, each
reset, the investor put and the issuer call, with their payment months and dates.

The memo's terms table is rendered from results.json alone, so these are spelt out there; the
structure keeps only what the waterfall needs (the coupon path, whether the put is exercised).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from securitize.repayment import payment_dates
from securitize.scenario import Scenario
from securitize.structure import Structure


def _on(month: int, months: Sequence[int], dates: np.ndarray) -> dict[str, Any]:
    """A payment month and its date (ISO text)."""
    day = dates[months.index(month)].astype(dt.date)
    return {"month": month, "payment_date": day.isoformat()}


def note_terms(scenario: Scenario, structure: Structure) -> list[dict[str, Any]]:
    """One record per tranche, most senior first (keys documented in docs/results.md)."""
    months = [int(m) for m in structure.payment_months]
    dates, _ = payment_dates(structure, scenario.deal.closing_date)
    calendar = scenario.deal.calendar
    out = []
    for t, terms in zip(scenario.tranches, structure.tranches, strict=True):
        # The index path, the margin and the resets folded in, each fixed at its period's start.
        path = terms.coupons(len(months))

        def after(month: int, path: list[float] = path) -> float:
            # The period after the payment date in ``month`` is the first one fixed on it.
            return path[months.index(month) + 1]

        resets = [
            {
                **_on(r.month, months, dates),
                "coupon": r.coupon,
                "margin": r.margin,
                "coupon_after": after(r.month),
            }
            for r in t.reset
        ]
        put = None
        if t.put is not None:
            put = {
                **_on(t.put.month, months, dates),
                "rule": t.put.rule,
                "market_rate": t.put.market_rate,
                "coupon_after": after(t.put.month),
                "exercised": terms.put_exercised,
            }
        call = None if t.call is None else _on(t.call.month, months, dates)
        out.append(
            {
                "coupon_path": path,
                "margin": t.margin,
                "day_count": None if calendar is None else t.day_count or calendar.day_count,
                "resets": resets,
                "put": put,
                "call": call,
            }
        )
    return out
