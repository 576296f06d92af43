"""Implied ratings: a tranche's expected loss (or default probability) and weighted average life
read against idealised rating tables, on the idealised scale (Aaa … Caa) or the Chinese
structured-finance scale (AAAsf … CCCsf).

The tables are data (``securitize/data/rating_*.csv``) that cite their sources; ``docs/ratings.md``
describes them. A ceiling at a non-integer WAL is interpolated log-linearly between the whole
years around it, and the WAL is clamped to the tables' 1–10 year range: a tranche shorter than a
year is held to the one-year ceiling, one longer than ten years to the ten-year ceiling. A figure
equal to a ceiling meets it. Every function that takes a WAL also takes an array of them, so a
solver can test many designs at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from securitize.errors import SecuritizeError
from securitize.stats import Estimate
from securitize.tabular import read_table

Scale = Literal["sf", "idealised"]
Measure = Literal["expected_loss", "default_probability"]
SCALES: tuple[str, ...] = ("sf", "idealised")
MEASURES: tuple[str, ...] = ("expected_loss", "default_probability")
MIN_HORIZON, MAX_HORIZON = 1.0, 10.0
_TABLE_FILES = {
    "expected_loss": "rating_expected_loss.csv",
    "default_probability": "rating_default_probability.csv",
}
_SCALE_FILE = "rating_scale_sf.csv"


class RatingError(SecuritizeError):
    """A rating, scale, measure or figure that the rating tables cannot be read with."""


@dataclass(frozen=True)
class RatingTable:
    """Idealised cumulative rates (fractions) by rating row (best first) and horizon in years."""

    measure: str
    rows: tuple[str, ...]
    horizons: np.ndarray
    values: np.ndarray
    source: str
    notes: tuple[str, ...]

    def at(self, wal_years: float | np.ndarray) -> np.ndarray:
        """Every row's ceiling at ``wal_years``: shape (rows,) for a number, (rows, n) for n WALs.

        Log-linear in horizon between whole years, the WAL clamped to [1, 10].
        """
        t = np.clip(np.asarray(wal_years, dtype=float), MIN_HORIZON, MAX_HORIZON)
        lower = np.minimum(np.floor(t), MAX_HORIZON - 1).astype(int)
        weight = t - lower
        logs = np.log(self.values)
        below = logs[:, lower - 1]
        above = logs[:, lower]
        return np.exp(below + (above - below) * weight)


def _data_path(name: str) -> Path:
    return Path(str(resources.files("securitize.data").joinpath(name)))


def _numbers(frame: pd.DataFrame, columns: list[str], path: Path) -> np.ndarray:
    out = np.empty((len(frame), len(columns)))
    for j, column in enumerate(columns):
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(numbers) | (numbers <= 0.0) | (numbers >= 100.0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise RatingError(
                f"{path}: row {row + 1} ({frame['rating'].iloc[row]}), column '{column}': value "
                f"{frame[column].iloc[row]!r}: must be a number above 0 and below 100 (percent)"
            )
        out[:, j] = numbers
    return out


def load_rating_table(path: Path, measure: str) -> RatingTable:
    """Read and check a rating table: ratings unique, rates in (0, 100) percent, not falling
    with horizon and not falling from one rating to the next worse one."""
    frame, notes = read_table(path)
    horizons = [f"y{k}" for k in range(1, int(MAX_HORIZON) + 1)]
    missing = [c for c in ["rating", *horizons] if c not in frame.columns]
    if missing:
        raise RatingError(f"{path}: missing column(s) {', '.join(missing)} in the rating table")
    if frame.empty:
        raise RatingError(f"{path}: the rating table has no rows")
    rows = tuple(str(r).strip() for r in frame["rating"])
    for i, rating in enumerate(rows):
        if not rating or rows.count(rating) > 1:
            raise RatingError(
                f"{path}: row {i + 1}, column 'rating': value {rating!r}: must be non-empty "
                "and unique"
            )
    values = _numbers(frame, horizons, path) / 100.0
    falls = np.diff(values, axis=1) < 0
    if falls.any():
        i, j = (int(x) for x in np.argwhere(falls)[0])
        raise RatingError(
            f"{path}: row {i + 1} ({rows[i]}), column 'y{j + 2}': a cumulative rate must not "
            f"fall with the horizon (y{j + 1} is higher)"
        )
    inverted = np.diff(values, axis=0) < 0
    if inverted.any():
        i, j = (int(x) for x in np.argwhere(inverted)[0])
        raise RatingError(
            f"{path}: row {i + 2} ({rows[i + 1]}), column 'y{j + 1}': a worse rating must not "
            f"have a lower rate than the row above ({rows[i]})"
        )
    return RatingTable(measure, rows, np.arange(1, len(horizons) + 1), values, str(path), notes)


@cache
def rating_table(measure: str = "expected_loss") -> RatingTable:
    """The bundled table for ``measure`` (read once)."""
    _check_measure(measure)
    return load_rating_table(_data_path(_TABLE_FILES[measure]), measure)


@cache
def _sf_rows() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The sf symbols (best first) and the idealised row each is read against."""
    path = _data_path(_SCALE_FILE)
    frame, _ = read_table(path)
    symbols = tuple(str(s).strip() for s in frame["rating"])
    rows = tuple(str(s).strip() for s in frame["idealised_row"])
    table_rows = rating_table("expected_loss").rows
    for i, row in enumerate(rows):
        if row not in table_rows:
            raise RatingError(
                f"{path}: row {i + 1} ({symbols[i]}), column 'idealised_row': value {row!r}: "
                f"is not a row of the idealised tables ({', '.join(table_rows)})"
            )
    if [table_rows.index(r) for r in rows] != sorted(table_rows.index(r) for r in rows):
        raise RatingError(f"{path}: the sf symbols must map onto the idealised rows in order")
    return symbols, rows


def _check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise RatingError(f"scale {scale!r}: must be one of {', '.join(SCALES)}")


def _check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise RatingError(f"measure {measure!r}: must be one of {', '.join(MEASURES)}")


def scale_ratings(scale: Scale = "sf") -> tuple[str, ...]:
    """The ratings of ``scale``, best first."""
    _check_scale(scale)
    return _sf_rows()[0] if scale == "sf" else rating_table("expected_loss").rows


def below_scale(scale: Scale = "sf") -> str:
    """The label for a figure beyond the worst rating's ceiling (``below CCCsf``)."""
    return f"below {scale_ratings(scale)[-1]}"


def rating_rank(rating: str, scale: Scale = "sf") -> int:
    """Position of ``rating`` on ``scale``: 0 for the best; the below-scale label ranks last."""
    ratings = scale_ratings(scale)
    if rating in ratings:
        return ratings.index(rating)
    if rating == below_scale(scale):
        return len(ratings)
    raise RatingError(f"rating {rating!r}: is not on the {scale} scale ({', '.join(ratings)})")


def _table_rows(scale: str, measure: str) -> np.ndarray:
    """The table's values restricted to the rows the scale's ratings read (in scale order)."""
    table = rating_table(measure)
    rows = _sf_rows()[1] if scale == "sf" else table.rows
    return np.array([table.rows.index(r) for r in rows])


def _check_wal(wal_years: float | np.ndarray) -> np.ndarray:
    wal = np.asarray(wal_years, dtype=float)
    bad = ~np.isfinite(wal) | (wal <= 0.0)
    if bad.any():
        value = float(wal.flat[int(np.flatnonzero(bad.ravel())[0])])
        raise RatingError(f"wal_years: value {value!r}: must be a finite number of years above 0")
    return wal


def ceiling(
    rating: str,
    wal_years: float | np.ndarray,
    scale: Scale = "sf",
    measure: Measure = "expected_loss",
) -> float | np.ndarray:
    """The highest ``measure`` (fraction) that still earns ``rating`` at ``wal_years``."""
    _check_scale(scale)
    _check_measure(measure)
    rank = rating_rank(rating, scale)
    if rank == len(scale_ratings(scale)):
        raise RatingError(f"rating {rating!r}: has no ceiling (it is beyond the table)")
    wal = _check_wal(wal_years)
    row = _table_rows(scale, measure)[rank]
    table = rating_table(measure)
    values = table.at(wal)[row]
    return float(values) if np.ndim(values) == 0 else values


def expected_loss_ceiling(
    rating: str, wal_years: float | np.ndarray, scale: Scale = "sf"
) -> float | np.ndarray:
    """The highest expected loss (fraction of the tranche) for ``rating`` at ``wal_years``."""
    return ceiling(rating, wal_years, scale, "expected_loss")


def default_probability_ceiling(
    rating: str, wal_years: float | np.ndarray, scale: Scale = "sf"
) -> float | np.ndarray:
    """The highest cumulative default probability for ``rating`` at ``wal_years``."""
    return ceiling(rating, wal_years, scale, "default_probability")


def implied_rank(
    value: float | np.ndarray,
    wal_years: float | np.ndarray,
    scale: Scale = "sf",
    measure: Measure = "expected_loss",
) -> np.ndarray:
    """Rank of the best rating whose ceiling the figure meets (len(scale) when none does);
    ``value`` and ``wal_years`` broadcast together."""
    _check_scale(scale)
    _check_measure(measure)
    values = np.asarray(value, dtype=float)
    bad = ~np.isfinite(values) | (values < 0.0) | (values > 1.0)
    if bad.any():
        shown = float(values.flat[int(np.flatnonzero(bad.ravel())[0])])
        raise RatingError(
            f"{measure}: value {shown!r}: must be a fraction from 0 to 1 (write 0.001 for 0.1 %)"
        )
    wal = _check_wal(wal_years)
    values, wal = np.broadcast_arrays(values, wal)
    ceilings = rating_table(measure).at(wal.ravel())[_table_rows(scale, measure)]
    # Ceilings rise from the best rating to the worst at every horizon, so the rank is the
    # number of ratings whose ceiling the figure exceeds.
    return (values.ravel()[None, :] > ceilings).sum(axis=0).reshape(values.shape)


def implied_rating(
    value: float,
    wal_years: float,
    scale: Scale = "sf",
    measure: Measure = "expected_loss",
) -> str:
    """The best rating whose ceiling at ``wal_years`` is at least ``value`` (a fraction)."""
    return str(np.asarray(implied_ratings(value, wal_years, scale, measure)).item())


def implied_ratings(
    values: float | np.ndarray,
    wal_years: float | np.ndarray,
    scale: Scale = "sf",
    measure: Measure = "expected_loss",
) -> np.ndarray:
    """:func:`implied_rating` for arrays (broadcast together); an array of labels."""
    labels = np.array([*scale_ratings(scale), below_scale(scale)], dtype=object)
    return labels[implied_rank(values, wal_years, scale, measure)]


def notches(rating: str, other: str, scale: Scale = "sf") -> int:
    """How many notches ``other`` sits below ``rating`` (negative when above)."""
    return rating_rank(other, scale) - rating_rank(rating, scale)


def compare_ratings(rating: str, other: str, scale: Scale = "sf") -> int:
    """1 when ``rating`` is better than ``other``, 0 when equal, -1 when worse."""
    return int(np.sign(notches(rating, other, scale)))


def meets(rating: str, target: str, scale: Scale = "sf") -> bool:
    """Whether ``rating`` is at least as good as ``target``."""
    return rating_rank(rating, scale) <= rating_rank(target, scale)


def shift_rating(rating: str, by: int, scale: Scale = "sf") -> str:
    """The rating ``by`` notches worse (negative: better), stopping at the ends of the scale."""
    ratings = scale_ratings(scale)
    rank = min(max(rating_rank(rating, scale) + by, 0), len(ratings))
    return ratings[rank] if rank < len(ratings) else below_scale(scale)


@dataclass(frozen=True)
class RatingRange:
    """The implied rating at a Monte Carlo estimate and at ± ``sigmas`` standard errors."""

    rating: str
    best: str
    worst: str
    sigmas: float

    @property
    def text(self) -> str:
        """``AAAsf (AAAsf–AA+sf at ±2 SE)``."""
        return f"{self.rating} ({self.best}–{self.worst} at ±{self.sigmas:g} SE)"

    def to_dict(self) -> dict[str, object]:
        return {
            "rating": self.rating,
            "best": self.best,
            "worst": self.worst,
            "sigmas": self.sigmas,
        }


def implied_rating_range(
    estimate: Estimate,
    wal_years: float,
    scale: Scale = "sf",
    measure: Measure = "expected_loss",
    sigmas: float = 2.0,
) -> RatingRange:
    """The rating at ``estimate.value`` and at value ∓ ``sigmas``·se (clipped to [0, 1]): the
    spread a reader should allow for Monte Carlo error."""
    if not math.isfinite(sigmas) or sigmas < 0:
        raise RatingError(f"sigmas: value {sigmas!r}: must be a finite number at least 0")
    se = estimate.se
    if not math.isfinite(se) or se < 0:
        raise RatingError(
            f"standard error: value {se!r}: must be finite and at least 0 (more paths needed)"
        )
    centre = estimate.value
    low = min(max(centre - sigmas * se, 0.0), 1.0)
    high = min(max(centre + sigmas * se, 0.0), 1.0)
    labels = implied_ratings(np.array([centre, low, high]), wal_years, scale, measure)
    return RatingRange(str(labels[0]), str(labels[1]), str(labels[2]), float(sigmas))


def rating_table_frame(scale: Scale = "sf", measure: Measure = "expected_loss") -> pd.DataFrame:
    """The table in percent, indexed by the ratings of ``scale`` (for docs and memos)."""
    table = rating_table(measure)
    rows = _table_rows(scale, measure)
    return pd.DataFrame(
        table.values[rows] * 100.0,
        index=pd.Index(scale_ratings(scale), name="rating"),
        columns=[f"{int(h)}y" for h in table.horizons],
    )
