"""Static-pool calibration: vintage curves, band PDs with confidence intervals, recoveries.

From a validated loan history (``history.py``):

- **vintage curves** — by origination year (or quarter), month on book by month on book, the
  balance-weighted actuarial life table (``survival.py``): the cumulative default and prepayment
  rates (cumulative incidence, censoring at the as-of date handled by the life table, not by a
  plain ratio) and the net default rate;
- **the static-pool table** an exchange filing shows (静态池): per vintage the loans and balance
  originated, the cumulative default rate at 12, 24 and 36 months, the cumulative prepayment rate,
  and the recovery rate and lag of the defaulted loans;
- **band PDs** — per 科创指数 band a constant default hazard λ = D / E (D defaults over E
  exposure-years at risk: each loan from origination to default, prepayment, maturity or the
  as-of date; the maximum-likelihood estimate under censoring), the annual PD 1 − exp(−λ) and an
  exact (Garwood) Poisson confidence interval for it, the life table's 12-month PD with its
  Greenwood standard error beside it as a check, and the band's recovery rate (mean, standard
  error), recovery lag and pending recoveries;
- **the band table** — the score-band table the history was read with, with ``annual_pd``
  replaced by the fitted PD and the fit's figures as extra columns, in the format a scenario's
  ``[pool] score_bands`` reads.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from securitize.calibration.history import LoanHistory
from securitize.calibration.survival import (
    EXIT_CENSORED,
    EXIT_DEFAULT,
    EXIT_PREPAID,
    event_month,
    life_table,
    months_between,
)
from securitize.errors import SecuritizeError
from securitize.scoring import default_bands_path

HORIZONS = (12, 24, 36)
VINTAGES = ("year", "quarter")
# The vintage curves weight each loan by its balance: their amounts are balances.
BALANCE_NAMES = {
    "at_risk": "balance_at_risk",
    "withdrawn": "balance_withdrawn",
    "defaults": "defaulted_balance",
    "prepayments": "prepaid_balance",
    "matured": "matured_balance",
}


def poisson_interval(
    defaults: int, exposure_years: float, confidence: float
) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson rate: D events over E exposure-years.

    Lower χ²(α/2; 2D) / 2E (0 when D = 0), upper χ²(1 − α/2; 2D + 2) / 2E; it covers the true
    rate with probability at least ``confidence`` (it is conservative, never short)."""
    alpha = 1.0 - confidence
    lower = 0.0 if defaults == 0 else stats.chi2.ppf(alpha / 2, 2 * defaults) / 2
    upper = stats.chi2.ppf(1 - alpha / 2, 2 * defaults + 2) / 2
    return float(lower / exposure_years), float(upper / exposure_years)


def product_limit_median(durations: np.ndarray, observed: np.ndarray) -> float:
    """Kaplan–Meier median of durations, some of them censored (``observed`` False): the first
    duration at which the estimated survival falls to one half; NaN when it never does."""
    durations = np.asarray(durations, float)
    observed = np.asarray(observed, bool)
    order = np.lexsort((~observed, durations))  # at a tie, events before censorings
    durations, observed = durations[order], observed[order]
    survival = 1.0
    at_risk = durations.size
    for duration, event in zip(durations, observed, strict=True):
        if event:
            survival *= 1.0 - 1.0 / at_risk
            if survival <= 0.5:
                return float(duration)
        at_risk -= 1
    return math.nan


def vintage_labels(origination: np.ndarray, vintage: str) -> np.ndarray:
    """Each loan's origination vintage: '2018', or '2018Q3' by quarter."""
    if vintage not in VINTAGES:
        raise SecuritizeError(f"--vintage: value {vintage!r}: must be one of {', '.join(VINTAGES)}")
    dates = pd.DatetimeIndex(origination)
    if vintage == "year":
        return dates.year.astype(str).to_numpy()
    return (dates.year.astype(str) + "Q" + dates.quarter.astype(str)).to_numpy()


def _table(loans: pd.DataFrame, horizon: int, weights: np.ndarray | None) -> pd.DataFrame:
    maturity = event_month(
        loans["origination_date"].to_numpy("datetime64[D]"),
        loans["maturity_date"].to_numpy("datetime64[D]"),
    )
    return life_table(
        loans["exit_month"].to_numpy(),
        loans["exit_kind"].to_numpy(),
        loans["partial"].to_numpy(),
        weights=weights,
        horizon=horizon,
        maturity_month=maturity,
    )


def _recoveries(loans: pd.DataFrame, as_of: np.datetime64) -> dict[str, float]:
    """Recovery rate (count-weighted mean and standard error, and balance-weighted) and lag of the
    defaulted loans; a recovery still pending at the as-of date is counted, not guessed."""
    defaulted = loans[loans["exit_kind"] == EXIT_DEFAULT]
    resolved = defaulted[defaulted["recovery_amount"].notna()]
    rates = (resolved["recovery_amount"] / resolved["default_balance"]).to_numpy(float)
    default_dates = defaulted["default_date"].to_numpy("datetime64[D]")
    ends = np.where(
        defaulted["recovery_amount"].notna(),
        defaulted["recovery_date"].to_numpy("datetime64[D]"),
        as_of,
    )
    lags = months_between(default_dates, ends)
    done = defaulted["recovery_amount"].notna().to_numpy()
    n = rates.size
    return {
        "recoveries": n,
        "recoveries_pending": int(len(defaulted) - n),
        "recovery_rate": float(rates.mean()) if n else math.nan,
        "recovery_rate_se": float(rates.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        "recovery_rate_by_balance": (
            float(resolved["recovery_amount"].sum() / resolved["default_balance"].sum())
            if n
            else math.nan
        ),
        "recovery_lag_months": float(lags[done].mean()) if n else math.nan,
        "recovery_lag_median_months": product_limit_median(lags, done) if len(lags) else math.nan,
    }


@dataclass(frozen=True)
class Calibration:
    """Everything calibrated from one loan history, as labelled tables.

    ``band_pds``: one row per band with loans (the band table's columns first);
    ``vintage_curves``: vintage × month on book life tables (balance-weighted, with the number of
    loans at risk beside the balance);
    ``static_pool``: the per-vintage history table; ``recovery``: recovery figures by band and
    for all defaulted loans. ``missing_bands``: bands of the score-band table with no loan in the
    history (left out of the band table: no PD can be fitted to them)."""

    history: LoanHistory
    confidence: float
    vintage: str
    band_pds: pd.DataFrame
    vintage_curves: pd.DataFrame
    static_pool: pd.DataFrame
    recovery: pd.DataFrame
    missing_bands: tuple[str, ...]

    def band_table(self) -> pd.DataFrame:
        """The band table a scenario's ``[pool] score_bands`` reads, fit figures alongside."""
        return self.band_pds.reset_index(drop=True)

    def band_table_csv(self) -> bytes:
        """The band table as CSV, opening with ``#`` lines that say where it came from."""
        from securitize.run import file_sha256, portable

        history = self.history
        level = f"{self.confidence:.0%}"
        source = history.bands.source
        bands = (
            "the packaged securitize/data/score_bands.csv"
            if Path(source) == default_bands_path()
            else portable(source)
        )
        digest = f", SHA-256 {file_sha256(history.path)}" if history.path else ""
        notes = [
            "Band PDs calibrated by 'securitize calibrate' from the loan history "
            f"{portable(history.path) if history.path else '(in memory)'}{digest}, "
            f"as of {history.as_of} ({len(history.loans)} loans).",
            "annual_pd = 1 - exp(-defaults / exposure_years): constant default hazard, each loan "
            "at risk from origination to default, prepayment, maturity or the as-of date.",
            f"pd_lower / pd_upper: exact (Garwood) Poisson {level} interval on the defaults over "
            "the exposure, assuming independent defaults (correlated defaults widen it).",
            "km_pd_12m: 12-month net default rate of the actuarial life table, with its Greenwood "
            "standard error; recovery_rate: mean recovery / balance at default of resolved "
            "defaults, recovery_lag_months their mean lag (docs/calibration.md).",
            f"Score intervals and shadow ratings from {bands}.",
        ]
        notes += [f"History note: {note}" for note in history.notes]
        if self.missing_bands:
            notes.append(
                f"No loans in band(s) {', '.join(self.missing_bands)}: left out; a tape score in "
                "them needs a 'pd' column."
            )
        buffer = io.StringIO()
        for note in notes:
            buffer.write(f"# {note}\n")
        self.band_table().to_csv(buffer, index=False, lineterminator="\n", float_format="%.6g")
        return buffer.getvalue().encode("utf-8")

    def summary(self) -> dict[str, object]:
        """The figures the command prints: loans, defaults, band PDs and recoveries."""
        loans = self.history.loans
        pooled = self.recovery.loc["all"]
        return {
            "history": str(self.history.path),
            "as_of": str(self.history.as_of),
            "loans": len(loans),
            "balance": float(loans["balance"].sum()),
            "defaults": int((loans["exit_kind"] == EXIT_DEFAULT).sum()),
            "prepayments": int((loans["exit_kind"] == EXIT_PREPAID).sum()),
            "censored": int((loans["exit_kind"] == EXIT_CENSORED).sum()),
            "confidence": self.confidence,
            "bands": self.band_pds[
                ["band", "loans", "defaults", "exposure_years", "annual_pd", "pd_lower", "pd_upper"]
            ].to_dict(orient="records"),
            "recovery_rate": float(pooled["recovery_rate"]),
            "recovery_rate_se": float(pooled["recovery_rate_se"]),
            "recovery_lag_months": float(pooled["recovery_lag_months"]),
            "recoveries_pending": int(pooled["recoveries_pending"]),
            "missing_bands": list(self.missing_bands),
        }


def _band_rows(history: LoanHistory, confidence: float) -> tuple[pd.DataFrame, tuple[str, ...]]:
    loans = history.loans
    rows, missing = [], []
    for band in history.bands.table.itertuples(index=False):
        members = loans[loans["band"] == str(band.band)]
        if members.empty:  # no loan in the band: no PD can be fitted to it
            missing.append(str(band.band))
            continue
        defaults = int((members["exit_kind"] == EXIT_DEFAULT).sum())
        exposure = float(members["exposure_months"].sum() / 12.0)
        if exposure <= 0:  # every loan made on the as-of date: nothing observed yet
            missing.append(str(band.band))
            continue
        hazard = defaults / exposure
        low, high = poisson_interval(defaults, exposure, confidence)
        table = _table(members, 12, None)
        rows.append(
            {
                "band": band.band,
                "score_min": band.score_min,
                "score_max": band.score_max,
                "annual_pd": -math.expm1(-hazard),
                "shadow_rating": band.shadow_rating,
                "pd_lower": -math.expm1(-low),
                "pd_upper": -math.expm1(-high),
                "confidence": confidence,
                "loans": len(members),
                "defaults": defaults,
                "exposure_years": exposure,
                "hazard_rate": hazard,
                "km_pd_12m": float(table["net_default_rate"].iloc[-1]),
                "km_pd_12m_se": float(table["greenwood_se"].iloc[-1]),
            }
        )
    return pd.DataFrame(rows), tuple(missing)


def calibrate(
    history: LoanHistory,
    *,
    confidence: float = 0.95,
    vintage: str = "year",
    horizons: tuple[int, ...] = HORIZONS,
) -> Calibration:
    """Vintage curves, the static-pool table, band PDs and recoveries of a loan history."""
    if not 0.5 <= confidence < 1.0:
        raise SecuritizeError(f"--confidence: value {confidence}: must be from 0.5 to below 1")
    loans = history.loans.assign(
        vintage=vintage_labels(history.loans["origination_date"].to_numpy(), vintage)
    )
    as_of = np.datetime64(history.as_of, "D")
    horizon = max(max(horizons), int(loans["exit_month"].max()) + 1)
    curves, pool_rows = [], []
    for label, members in loans.groupby("vintage", sort=True):
        table = _table(members, horizon, members["balance"].to_numpy(float))
        counts = _table(members, horizon, None)
        # Greenwood's formula is for counts, not balances: the balance curves carry none.
        table = table.drop(columns="greenwood_se").rename(columns=BALANCE_NAMES)
        table.insert(0, "loans_at_risk", counts["at_risk"])
        observed = int(np.flatnonzero(counts["at_risk"].to_numpy() > 0).max(initial=-1) + 1)
        curve = table.reset_index()
        curve.insert(0, "vintage", label)
        curves.append(curve)
        defaulted = members["exit_kind"] == EXIT_DEFAULT
        row: dict[str, object] = {
            "vintage": label,
            "loans": len(members),
            "balance": float(members["balance"].sum()),
            "defaults": int(defaulted.sum()),
            "defaulted_balance": float(members.loc[defaulted, "default_balance"].sum()),
            "prepayments": int((members["exit_kind"] == EXIT_PREPAID).sum()),
            "still_on_book": int((members["exit_kind"] == EXIT_CENSORED).sum()),
            "months_observed": observed,
        }
        for h in horizons:
            row[f"cdr_{h}m"] = float(table["cumulative_default_rate"].loc[h])
        for h in horizons:
            row[f"cpr_{h}m"] = float(table["cumulative_prepayment_rate"].loc[h])
        recovery = _recoveries(members, as_of)
        row["recovery_rate"] = recovery["recovery_rate_by_balance"]
        row["recoveries_pending"] = recovery["recoveries_pending"]
        row["recovery_lag_months"] = recovery["recovery_lag_months"]
        pool_rows.append(row)
    band_pds, missing = _band_rows(history, confidence)
    recovery_rows = {
        str(band): _recoveries(loans[loans["band"] == str(band)], as_of)
        for band in band_pds["band"]
    }
    recovery_rows["all"] = _recoveries(loans, as_of)
    recovery = pd.DataFrame.from_dict(recovery_rows, orient="index")
    recovery.index.name = "band"
    band_pds = band_pds.join(
        recovery[
            [
                "recovery_rate",
                "recovery_rate_se",
                "recoveries",
                "recoveries_pending",
                "recovery_lag_months",
            ]
        ],
        on="band",
    )
    return Calibration(
        history=history,
        confidence=confidence,
        vintage=vintage,
        band_pds=band_pds,
        vintage_curves=pd.concat(curves, ignore_index=True),
        static_pool=pd.DataFrame(pool_rows),
        recovery=recovery,
        missing_bands=missing,
    )
