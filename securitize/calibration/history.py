"""A lender's loan history: one row per historical loan, validated where it enters.

The history is what static-pool curves and band PDs are calibrated from (``docs/calibration.md``
lists the columns). It is read with the project's table reader (separators, encodings, comment
lines, repeated headers: ``securitize/tabular.py``) and checked with the tape's column rules; a
history is rejected as a whole when any row breaks a rule — a default dated before the loan was
made, a recovery on a loan that never defaulted, a band the score-band table does not have —
and the error names the file, the row, the loan, the column, the value and the rule.

Every loan is observed from its origination to the first of default, prepayment, maturity and
the history's as-of date (the date the lender extracted it); a loan still on book at the as-of
date is *censored* there, which is what the life table (``survival.py``) is built to handle.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from securitize.calibration.survival import (
    EXIT_CENSORED,
    EXIT_DEFAULT,
    EXIT_MATURED,
    EXIT_PREPAID,
    add_months,
    event_month,
    months_between,
)
from securitize.errors import TapeError
from securitize.money import LARGEST_AMOUNT
from securitize.names import quoted
from securitize.scoring import ScoreBands, load_score_bands
from securitize.tabular import read_table
from securitize.tape import Column, _fail, _is_iso_date, typed_columns

DATE_RULE = "must be a date written YYYY-MM-DD"

COLUMNS: tuple[Column, ...] = (
    Column("loan_id", str, "must be non-empty and unique"),
    Column("origination_date", str, DATE_RULE, _is_iso_date),
    Column("band", str, "", None, False),
    Column(
        "score", float, "must be from 0 to 100 (科创指数)", lambda v: (v >= 0) & (v <= 100), False
    ),
    Column(
        "balance",
        float,
        f"must be above 0 and at most {LARGEST_AMOUNT:.0e} CNY (balance at origination)",
        lambda v: (v > 0) & (v <= LARGEST_AMOUNT),
    ),
    Column(
        "tenor_months",
        int,
        "must be a whole number of months from 1 to 360",
        lambda v: (v >= 1) & (v <= 360),
        False,
    ),
    Column("maturity_date", str, DATE_RULE, _is_iso_date, False),
    Column("default_date", str, DATE_RULE, _is_iso_date, False),
    Column(
        "default_balance",
        float,
        f"must be above 0 and at most {LARGEST_AMOUNT:.0e} CNY (balance outstanding at default)",
        lambda v: (v > 0) & (v <= LARGEST_AMOUNT),
        False,
    ),
    Column("prepayment_date", str, DATE_RULE, _is_iso_date, False),
    Column(
        "recovery_amount",
        float,
        f"must be at least 0 and at most {LARGEST_AMOUNT:.0e} CNY",
        lambda v: (v >= 0) & (v <= LARGEST_AMOUNT),
        False,
    ),
    Column("recovery_date", str, DATE_RULE, _is_iso_date, False),
)
KNOWN = tuple(c.name for c in COLUMNS)
DATE_COLUMNS = {c.name for c in COLUMNS if c.rule == DATE_RULE}


@dataclass(frozen=True)
class LoanHistory:
    """A validated loan history: one row per loan with its band, dates and how it left the book.

    ``loans`` columns: the typed input columns (dates as ``datetime64``), ``band``,
    ``maturity_date``, ``default_balance`` (the balance at default; ``balance`` where the
    column is blank), ``exit_kind`` (default, prepaid, matured or censored), ``exit_month``
    (month on book of the default or prepayment, the tenor for a matured loan, the last complete
    month observed for a censored one), ``partial`` (a censored loan observed for part of the next
    month) and ``exposure_months`` (fractional months at risk of default: origination to exit).
    """

    loans: pd.DataFrame
    path: Path | None
    notes: tuple[str, ...]
    as_of: date
    bands: ScoreBands


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.where(values != ""), format="%Y-%m-%d")


def _columns_checked(path: Path, frame: pd.DataFrame) -> None:
    for name in frame.columns:
        if name in KNOWN:
            continue
        close = difflib.get_close_matches(name.lower(), KNOWN, n=1, cutoff=0.8)
        if close:
            raise TapeError(
                f"{path}: column '{name}' looks like '{close[0]}'; history column names are "
                "spelt exactly (see docs/calibration.md), other columns are kept as description"
            )
    missing = [c.name for c in COLUMNS if c.required and c.name not in frame.columns]
    if missing:
        raise TapeError(
            f"{path}: missing required column(s) {', '.join(repr(m) for m in missing)} "
            "(see docs/calibration.md)"
        )
    for either in (("band", "score"), ("tenor_months", "maturity_date")):
        if not any(name in frame.columns for name in either):
            raise TapeError(
                f"{path}: needs a '{either[0]}' or a '{either[1]}' column (see docs/calibration.md)"
            )
    if frame.empty:
        raise TapeError(f"{path}: the history has no loan rows")


class _Rows:
    """Row checks that compare columns; the first broken row of each rule is reported."""

    def __init__(self, path: Path, frame: pd.DataFrame) -> None:
        self.path = path
        self.frame = frame

    def refuse(self, broken: pd.Series | np.ndarray, column: str, rule: str) -> None:
        broken = np.asarray(broken, dtype=bool)
        if broken.any():
            raise _fail(self.path, self.frame, int(np.flatnonzero(broken)[0]), column, rule)

    def refuse_each(self, broken: np.ndarray, column: str, rule) -> None:
        """Like ``refuse`` with a rule that quotes the other value of the broken row."""
        broken = np.asarray(broken, dtype=bool)
        if broken.any():
            row = int(np.flatnonzero(broken)[0])
            raise _fail(self.path, self.frame, row, column, rule(row))


def _bands(rows: _Rows, loans: pd.DataFrame, bands: ScoreBands) -> pd.Series:
    """Each loan's band: the ``band`` cell, else the band its ``score`` falls in."""
    labels = [str(b) for b in bands.table["band"]]
    given = loans["band"] if "band" in loans else pd.Series("", index=loans.index)
    score = loans["score"] if "score" in loans else pd.Series(np.nan, index=loans.index)
    rows.refuse(
        (given == "") & score.isna(),
        "band" if "band" in loans else "score",
        "the row gives neither a 'band' nor a 'score'; give one",
    )
    rows.refuse(
        (given != "") & ~given.isin(labels),
        "band",
        f"is not a band of {bands.source} ({', '.join(labels)})",
    )
    index = bands.lookup(score.fillna(-1.0).to_numpy())
    rows.refuse(
        score.notna().to_numpy() & (index < 0),
        "score",
        f"falls in no band of {bands.source}",
    )
    from_score = np.array([*labels, ""], dtype=object)[np.where(index < 0, len(labels), index)]
    disagree = (given != "").to_numpy() & score.notna().to_numpy() & (given != from_score)
    rows.refuse_each(
        disagree,
        "band",
        lambda r: f"disagrees with the row's score {score.iloc[r]:g} (band {from_score[r]})",
    )
    return pd.Series(np.where(given != "", given, from_score), index=loans.index)


def validate_history(
    frame: pd.DataFrame,
    path: Path,
    as_of: date,
    bands: ScoreBands | None = None,
    notes: tuple[str, ...] = (),
) -> LoanHistory:
    """Check columns and every row; return the typed history or raise naming the first broken
    rule. ``as_of`` is the date the history was extracted: every event must be on or before it,
    and loans still on book then are censored there."""
    bands = bands or load_score_bands()
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    _columns_checked(path, frame)
    for name in DATE_COLUMNS & set(frame.columns):
        # Excel and Parquet hold dates as dates: written back as the text a CSV would have.
        frame[name] = frame[name].map(
            lambda v: (
                v.strftime("%Y-%m-%d") if isinstance(v, datetime | date) and pd.notna(v) else v
            )
        )
    loans = typed_columns(path, frame, COLUMNS)
    rows = _Rows(path, frame)
    rows.refuse(loans["loan_id"].duplicated(), "loan_id", "is used twice")
    for name in KNOWN:  # absent optional columns: blank in every row
        if name not in loans:
            kind = next(c.kind for c in COLUMNS if c.name == name)
            loans[name] = "" if kind is str else np.nan
    loans["band"] = _bands(rows, loans, bands)

    stamp = np.datetime64(as_of, "D")
    origination = _dates(loans["origination_date"]).to_numpy("datetime64[D]")
    rows.refuse(
        origination > stamp,
        "origination_date",
        f"is after the history's as-of date {as_of}; a loan made later cannot be in it",
    )
    tenor = loans["tenor_months"]
    from_tenor = add_months(origination, tenor.fillna(0).to_numpy(int))
    given_maturity = _dates(loans["maturity_date"]).to_numpy("datetime64[D]")
    has_maturity = ~np.isnat(given_maturity)
    rows.refuse(
        tenor.isna().to_numpy() & ~has_maturity,
        "tenor_months",
        "the row gives neither 'tenor_months' nor 'maturity_date'; give one",
    )
    rows.refuse(
        has_maturity & (given_maturity <= origination),
        "maturity_date",
        "must be after origination_date",
    )
    rows.refuse_each(
        has_maturity & tenor.notna().to_numpy() & (given_maturity != from_tenor),
        "maturity_date",
        lambda r: (
            f"disagrees with tenor_months {int(tenor.iloc[r])} from origination_date "
            f"{loans['origination_date'].iloc[r]} (maturity {from_tenor[r]})"
        ),
    )
    maturity = np.where(has_maturity, given_maturity, from_tenor)

    def dated(name: str) -> np.ndarray:
        return _dates(loans[name]).to_numpy("datetime64[D]")

    default, prepaid, recovered = (
        dated("default_date"),
        dated("prepayment_date"),
        dated("recovery_date"),
    )
    has_default, has_prepaid = ~np.isnat(default), ~np.isnat(prepaid)
    for name, when in (("default_date", default), ("prepayment_date", prepaid)):
        rows.refuse_each(
            ~np.isnat(when) & (when <= origination),
            name,
            lambda r: f"is not after origination_date {loans['origination_date'].iloc[r]}",
        )
        rows.refuse(
            ~np.isnat(when) & (when > stamp),
            name,
            f"is after the history's as-of date {as_of}",
        )
    rows.refuse_each(
        has_default & (default > maturity),
        "default_date",
        lambda r: (
            f"is after the loan's maturity {maturity[r]}; a missed final repayment is a default "
            "dated on the maturity date"
        ),
    )
    rows.refuse_each(
        has_prepaid & (prepaid >= maturity),
        "prepayment_date",
        lambda r: (
            f"is not before the loan's maturity {maturity[r]}; "
            "repayment at maturity is not a prepayment"
        ),
    )
    rows.refuse(
        has_default & has_prepaid,
        "prepayment_date",
        "the loan also has a default_date; a loan leaves the book once: give one",
    )
    rows.refuse(
        ~has_default & loans["default_balance"].notna().to_numpy(),
        "default_balance",
        "is a balance at default on a loan that has no default_date",
    )
    default_balance = loans["default_balance"].fillna(loans["balance"]).to_numpy(float)
    rows.refuse_each(
        has_default & (default_balance > loans["balance"].to_numpy(float)),
        "default_balance",
        lambda r: f"is above the balance at origination {loans['balance'].iloc[r]:g}",
    )
    amount = loans["recovery_amount"]
    has_amount = amount.notna().to_numpy()
    has_recovery_date = ~np.isnat(recovered)
    for name, given in (("recovery_amount", has_amount), ("recovery_date", has_recovery_date)):
        rows.refuse(
            given & ~has_default,
            name,
            "is a recovery on a loan that has no default_date; only a defaulted loan recovers",
        )
    rows.refuse(
        has_amount & ~has_recovery_date,
        "recovery_date",
        "is blank where the row gives a recovery_amount; give both or neither (a pending recovery)",
    )
    rows.refuse(
        ~has_amount & has_recovery_date,
        "recovery_amount",
        "is blank where the row gives a recovery_date; give both or neither (a pending recovery)",
    )
    rows.refuse_each(
        has_recovery_date & (recovered < default),
        "recovery_date",
        lambda r: f"is before the default_date {loans['default_date'].iloc[r]}",
    )
    rows.refuse(
        has_recovery_date & (recovered > stamp),
        "recovery_date",
        f"is after the history's as-of date {as_of}",
    )
    rows.refuse_each(
        has_amount & (amount.fillna(0).to_numpy(float) > default_balance),
        "recovery_amount",
        lambda r: f"is above the balance at default {default_balance[r]:g}",
    )

    exit_date = np.where(has_default, default, np.where(has_prepaid, prepaid, maturity))
    matured = ~has_default & ~has_prepaid & (maturity <= stamp)
    censored = ~has_default & ~has_prepaid & ~matured
    kind = np.where(
        has_default,
        EXIT_DEFAULT,
        np.where(has_prepaid, EXIT_PREPAID, np.where(matured, EXIT_MATURED, EXIT_CENSORED)),
    )
    exit_date = np.where(censored, stamp, exit_date)
    observed = months_between(origination, exit_date)
    month = np.where(censored, np.floor(observed).astype(int), event_month(origination, exit_date))
    typed = pd.DataFrame(
        {
            "loan_id": loans["loan_id"],
            "band": loans["band"],
            "origination_date": origination,
            "maturity_date": maturity,
            "balance": loans["balance"].to_numpy(float),
            "default_date": default,
            "default_balance": np.where(has_default, default_balance, np.nan),
            "prepayment_date": prepaid,
            "recovery_amount": amount.to_numpy(float),
            "recovery_date": recovered,
            "exit_kind": kind,
            "exit_month": month,
            "partial": censored & (observed > month),
            "exposure_months": observed,
        }
    )
    extra = [c for c in frame.columns if c not in KNOWN]
    typed = pd.concat([typed, frame[extra].reset_index(drop=True)], axis=1)
    return LoanHistory(typed, path, tuple(notes), as_of, bands)


def load_history(path: Path, as_of: date, score_bands: Path | None = None) -> LoanHistory:
    """Read a CSV, Excel or Parquet loan history and validate it (scores mapped to bands with
    ``score_bands``, the packaged table by default)."""
    path = Path(path)
    frame, notes = read_table(path)
    return validate_history(frame, path, as_of, load_score_bands(score_bands), tuple(notes))


def parse_as_of(value: str) -> date:
    """The ``--as-of`` date, YYYY-MM-DD."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else _bad_date(value)
    except ValueError:
        return _bad_date(value)


def _bad_date(value: str) -> date:
    raise TapeError(f"--as-of: value {quoted(value)}: must be a date written YYYY-MM-DD")
