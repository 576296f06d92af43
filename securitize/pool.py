"""The pool: validated loans with their credit assumptions and payment schedules.

Each loan gets an annual PD (from its 科创指数 score band, unless the tape gives a ``pd``), a
recovery rate (from the pledged IP's appraised value after a haircut, unless the tape gives a
``recovery_rate``), and a monthly schedule. Where each figure came from is kept in the table so
the memo can state it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from securitize.errors import TapeError
from securitize.scenario import InlinePool, LoadedScenario
from securitize.schedules import PoolSchedule, pool_schedule
from securitize.scoring import ScoreBands, load_score_bands
from securitize.tape import Tape, load_tape


@dataclass(frozen=True)
class Pool:
    """Loans (one row each, with derived ``annual_pd`` and ``recovery_rate``) and schedules."""

    loans: pd.DataFrame
    schedule: PoolSchedule
    source: str
    tape_sha256: str | None
    notes: tuple[str, ...]
    bands: ScoreBands | None

    @property
    def size(self) -> int:
        return len(self.loans)

    @property
    def balance(self) -> np.ndarray:
        return self.loans["balance"].to_numpy(dtype=float)

    @property
    def total_balance(self) -> float:
        return float(self.balance.sum())

    @property
    def annual_pd(self) -> np.ndarray:
        return self.loans["annual_pd"].to_numpy(dtype=float)

    @property
    def recovery_rate(self) -> np.ndarray:
        return self.loans["recovery_rate"].to_numpy(dtype=float)

    @property
    def tenor_months(self) -> np.ndarray:
        return self.loans["tenor_months"].to_numpy(dtype=int)


def _inline_loans(spec: InlinePool) -> pd.DataFrame:
    ids = [f"L{i + 1:04d}" for i in range(spec.count)]
    return pd.DataFrame(
        {
            "loan_id": ids,
            "enterprise": [f"Obligor {i + 1}" for i in range(spec.count)],
            "industry": spec.industry,
            "region": spec.region,
            "balance": spec.balance,
            "coupon": spec.coupon,
            "tenor_months": spec.tenor_months,
            "amortisation": spec.amortisation,
            "annual_pd": spec.annual_pd,
            "pd_source": "scenario (inline pool)",
            "recovery_rate": spec.recovery_rate,
            "recovery_source": "scenario (inline pool)",
        }
    )


def _credit_columns(tape: Tape, bands: ScoreBands, haircut: float) -> pd.DataFrame:
    """Add annual PD, score band, shadow rating and recovery rate to a validated tape."""
    loans = tape.loans.copy()
    scores = loans["score"].to_numpy(dtype=float)
    band_row = bands.lookup(scores)
    tape_pd = loans.get("pd", pd.Series(np.nan, index=loans.index))
    hazard = loans.get("hazard_rate", pd.Series(np.nan, index=loans.index))
    both = tape_pd.notna().to_numpy() & hazard.notna().to_numpy()
    if both.any():
        row = int(np.flatnonzero(both)[0])
        raise TapeError(
            f"{tape.path}: row {row + 1} (loan {loans['loan_id'].iloc[row]}): gives both 'pd' "
            "and 'hazard_rate'; give one"
        )
    has_hazard = hazard.notna().to_numpy()
    # A hazard rate states the one-year PD too: 1 − exp(−λ).
    tape_pd = tape_pd.where(~has_hazard, -np.expm1(-hazard))
    has_pd = tape_pd.notna().to_numpy()
    unbanded = (band_row < 0) & ~has_pd
    if unbanded.any():
        row = int(np.flatnonzero(unbanded)[0])
        raise TapeError(
            f"{tape.path}: row {row + 1} (loan {loans['loan_id'].iloc[row]}), column 'score': "
            f"value {scores[row]:g}: falls in no band of {bands.source} and the row has no 'pd'"
        )
    table = bands.table
    safe_row = np.where(band_row < 0, 0, band_row)
    loans["band"] = np.where(band_row < 0, "", table["band"].to_numpy()[safe_row])
    loans["shadow_rating"] = np.where(band_row < 0, "", table["shadow_rating"].to_numpy()[safe_row])
    band_pd = table["annual_pd"].to_numpy()[safe_row]
    loans["annual_pd"] = np.where(has_pd, tape_pd, band_pd).astype(float)
    loans["pd_source"] = np.select(
        [has_hazard, has_pd], ["tape column 'hazard_rate'", "tape column 'pd'"], "score band table"
    )
    implied = loans["ip_appraised_value"] * (1.0 - haircut) / loans["balance"]
    tape_recovery = loans.get("recovery_rate", pd.Series(np.nan, index=loans.index))
    has_rr = tape_recovery.notna().to_numpy()
    loans["recovery_rate"] = np.where(has_rr, tape_recovery, np.minimum(1.0, implied)).astype(float)
    loans["recovery_source"] = np.where(
        has_rr, "tape column 'recovery_rate'", "IP appraised value after haircut (capped at 1)"
    )
    return loans


def build_pool(loaded: LoadedScenario, tape: Tape | None = None) -> Pool:
    """The pool a scenario describes, with schedules over the longest loan's life.

    ``tape`` replaces the loans of the scenario's tape file (the loans a ``[selection]`` cut
    from it as candidates); provenance still names the file.
    """
    spec = loaded.scenario.pool
    if spec.inline is not None:
        loans = _inline_loans(spec.inline)
        source, digest, notes, bands = "inline pool in scenario", None, (), None
    else:
        tape_path = loaded.resolve(spec.tape)
        tape = tape if tape is not None else load_tape(tape_path)
        bands_path = loaded.resolve(spec.score_bands) if spec.score_bands else None
        bands = load_score_bands(bands_path)
        loans = _credit_columns(tape, bands, spec.ip_haircut)
        source = str(tape_path)
        digest = hashlib.sha256(tape_path.read_bytes()).hexdigest()
        notes = tape.notes
    schedule = pool_schedule(
        loans["balance"].to_numpy(dtype=float),
        loans["coupon"].to_numpy(dtype=float),
        loans["tenor_months"].to_numpy(dtype=int),
        loans["amortisation"].to_numpy(),
        int(loans["tenor_months"].max()),
    )
    return Pool(loans.reset_index(drop=True), schedule, source, digest, notes, bands)
