"""Simulated loan histories from known band PDs: the bundled illustrative history and the tests.

Each loan is originated on a uniformly drawn day of the origination window, in a band drawn from
``band_mix``, with a lognormal balance and a tenor drawn from ``tenors``. Its default time is
exponential with the band's constant hazard λ = −ln(1 − annual PD) (the credit model's constant
annual PD), its prepayment time exponential with the hazard of ``prepayment_rate`` (a CPR); a
loan defaults or prepays when that time comes first and before its maturity (a prepayment strictly
before it). A defaulted loan recovers a Beta-distributed share of its balance (bullet loans: the
balance at default is the balance at origination) after a lag uniform on ``recovery_lag_months``;
a recovery dated after the as-of date is left blank (pending), and so is everything that would
happen after it. Defaults are independent: the history has no systematic factor.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from securitize.calibration.survival import add_months, date_after_months
from securitize.scoring import ScoreBands


def simulate_history(
    bands: ScoreBands,
    band_pds: dict[str, float],
    *,
    loans: int,
    start: date,
    end: date,
    as_of: date,
    seed: int | np.random.SeedSequence,
    band_mix: dict[str, float] | None = None,
    tenors: tuple[int, ...] = (36,),
    prepayment_rate: float = 0.0,
    recovery_mean: float = 0.30,
    recovery_sd: float = 0.12,
    recovery_lag_months: tuple[float, float] = (12.0, 24.0),
    median_balance: float = 8e6,
) -> pd.DataFrame:
    """A loan history (the columns ``load_history`` reads; scores drawn inside each band's
    interval) with ``loans`` rows originated from ``start`` to ``end`` and observed to ``as_of``."""
    rng = np.random.default_rng(seed)
    labels = list(band_pds)
    mix = band_mix or dict.fromkeys(labels, 1.0 / len(labels))
    weights = np.array([mix[b] for b in labels], float)
    band = rng.choice(len(labels), size=loans, p=weights / weights.sum())
    table = bands.table.set_index(bands.table["band"].astype(str))
    low = table.loc[labels, "score_min"].to_numpy(float)[band]
    high = np.minimum(table.loc[labels, "score_max"].to_numpy(float)[band], 100.0)
    score = np.floor(low + rng.random(loans) * (high - low))
    days = (np.datetime64(end, "D") - np.datetime64(start, "D")).astype(int) + 1
    origination = np.datetime64(start, "D") + rng.integers(0, days, loans).astype("timedelta64[D]")
    tenor = rng.choice(np.array(tenors), size=loans)
    balance = np.round(median_balance * np.exp(0.5 * rng.standard_normal(loans)), -4)
    hazard = -np.log1p(-np.array([band_pds[b] for b in labels]))[band] / 12.0  # per month
    default_time = rng.exponential(1.0, loans) / np.maximum(hazard, 1e-300)
    prepay_hazard = -np.log1p(-prepayment_rate) / 12.0
    prepay_time = (
        rng.exponential(1.0, loans) / prepay_hazard if prepay_hazard > 0 else np.full(loans, np.inf)
    )
    # At least a day on book: an event on the origination day is not one a history can hold.
    next_day = origination + np.timedelta64(1, "D")
    default_date = np.maximum(
        date_after_months(origination, np.minimum(default_time, tenor)), next_day
    )
    prepay_date = np.maximum(
        date_after_months(origination, np.minimum(prepay_time, tenor)), next_day
    )
    maturity = add_months(origination, tenor)
    stamp = np.datetime64(as_of, "D")
    defaults = (default_time <= prepay_time) & (default_time <= tenor)
    defaults &= default_date <= stamp
    prepays = ~defaults & (prepay_time < default_time) & (prepay_time < tenor)
    prepays &= (prepay_date < maturity) & (prepay_date <= stamp)
    share = recovery_mean * (1 - recovery_mean) / recovery_sd**2 - 1
    recovery = np.round(
        balance * rng.beta(recovery_mean * share, (1 - recovery_mean) * share, loans), -2
    )
    lag = rng.uniform(*recovery_lag_months, loans)
    recovery_date = date_after_months(default_date, lag)
    recovered = defaults & (recovery_date <= stamp)

    def text(dates: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return np.where(keep, np.datetime_as_string(dates, unit="D"), "")

    order = np.argsort(origination, kind="stable")
    frame = pd.DataFrame(
        {
            "loan_id": [f"H{i + 1:05d}" for i in range(loans)],
            "origination_date": np.datetime_as_string(origination[order], unit="D"),
            "score": score[order].astype(int),
            "balance": balance[order].astype(int),
            "tenor_months": tenor[order],
            "default_date": text(default_date, defaults)[order],
            "prepayment_date": text(prepay_date, prepays)[order],
            "recovery_amount": np.where(recovered, recovery.astype(int).astype(str), "")[order],
            "recovery_date": text(recovery_date, recovered)[order],
        }
    )
    return frame
