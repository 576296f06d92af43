"""科创指数 (sci-tech innovation index) score bands → annual PD and shadow rating.

The band table is data (``securitize/data/score_bands.csv`` by default, or a file named in the
scenario) that cites where its numbers come from; no PD is a constant in code.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from securitize.errors import TapeError
from securitize.tabular import read_table


@dataclass(frozen=True)
class ScoreBands:
    """Contiguous score intervals [score_min, score_max) with a PD and shadow rating each."""

    table: pd.DataFrame
    source: str
    notes: tuple[str, ...]

    def lookup(self, scores: np.ndarray) -> np.ndarray:
        """Row index of the band each score falls in, or -1 when it is in none."""
        lower = self.table["score_min"].to_numpy()
        upper = self.table["score_max"].to_numpy()
        inside = (scores[:, None] >= lower[None, :]) & (scores[:, None] < upper[None, :])
        return np.where(inside.any(axis=1), inside.argmax(axis=1), -1)


def default_bands_path() -> Path:
    return Path(str(resources.files("securitize.data").joinpath("score_bands.csv")))


def load_score_bands(path: Path | None = None) -> ScoreBands:
    """Read and check a band table: numeric bounds, PDs in [0, 1), no overlapping bands."""
    path = path or default_bands_path()
    frame, notes = read_table(path)
    required = ["band", "score_min", "score_max", "annual_pd", "shadow_rating"]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise TapeError(f"{path}: missing column(s) {', '.join(missing)} in the score band table")
    table = frame[required].copy()
    for column in ["score_min", "score_max", "annual_pd"]:
        numbers = pd.to_numeric(table[column], errors="coerce")
        bad = numbers.isna()
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 1
            raise TapeError(
                f"{path}: row {row} column '{column}': value {table[column].iloc[row - 1]!r} "
                "is not a number"
            )
        table[column] = numbers.astype(float)
    for row, band in enumerate(table.itertuples(index=False), start=1):
        if not 0.0 <= band.annual_pd < 1.0:
            raise TapeError(
                f"{path}: row {row} column 'annual_pd': value {band.annual_pd}: "
                "must be at least 0 and below 1"
            )
        if band.score_max <= band.score_min:
            raise TapeError(f"{path}: row {row}: score_max must exceed score_min")
    ordered = table.sort_values("score_min")
    if (ordered["score_min"].to_numpy()[1:] < ordered["score_max"].to_numpy()[:-1]).any():
        raise TapeError(f"{path}: score bands overlap")
    return ScoreBands(table.reset_index(drop=True), str(path), tuple(notes))
