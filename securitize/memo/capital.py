"""Bank capital risk weight of each tranche under SEC-ERBA (资产证券化外部评级法), for the
regulator annex: what a bank holding the notes would set aside, from the tranche's rating.

The table (``securitize/data/sec_erba_risk_weights.csv``) cites its source; this module only
applies its rules: maturity interpolation, the thickness adjustment of non-senior tranches and
the 15% floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from securitize.tabular import read_table

TABLE = Path(__file__).resolve().parents[1] / "data" / "sec_erba_risk_weights.csv"
UNRATED_WEIGHT = 12.5
FLOOR = 0.15


@dataclass(frozen=True)
class RiskWeights:
    """The SEC-ERBA table (fractions) indexed by rating, best first, and its notes."""

    table: pd.DataFrame
    notes: tuple[str, ...]

    @property
    def scale(self) -> list[str]:
        """Ratings from best to worst."""
        return list(self.table.index)


@cache
def risk_weights() -> RiskWeights:
    """The packaged SEC-ERBA table."""
    frame, notes = read_table(TABLE)
    frame = frame.set_index("rating")
    return RiskWeights(frame.astype(float) / 100.0, tuple(notes))


def normalise_rating(rating: str) -> str:
    """A rating as the table writes it: ``AAAsf`` and ``AAA(sf)`` are ``AAA``."""
    text = rating.strip().replace("(sf)", "").removesuffix("sf").strip()
    return text.upper() if text.lower() != "below ccc-" else "below CCC-"


def tranche_risk_weight(
    rating: str | None, *, senior: bool, maturity_years: float, thickness: float
) -> float:
    """Risk weight (fraction) of a tranche with this rating, maturity and thickness."""
    table = risk_weights().table
    key = normalise_rating(rating) if rating else ""
    if key not in table.index:
        return UNRATED_WEIGHT
    row = table.loc[key]
    short, long = (
        (row["senior_1y"], row["senior_5y"])
        if senior
        else (row["non_senior_1y"], row["non_senior_5y"])
    )
    maturity = min(5.0, max(1.0, maturity_years))
    weight = short + (long - short) * (maturity - 1.0) / 4.0
    if not senior:
        weight *= 1.0 - min(thickness, 0.5)
    return max(FLOOR, weight)


def weighted_rating(ratings: pd.Series, weights: pd.Series) -> str | None:
    """Balance-weighted average notch of ``ratings`` on the table's scale, rounded to a rating
    (the pool's weighted shadow rating); None if no rating is on the scale."""
    scale = risk_weights().scale
    notch = ratings.map(lambda r: scale.index(normalise_rating(r)) if r else None)
    known = notch.notna()
    if not known.any():
        return None
    average = float((notch[known] * weights[known]).sum() / weights[known].sum())
    return scale[round(average)]
