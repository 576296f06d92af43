"""The candidate tape: a pipeline of loans, validated and stated as at a pool cut-off date.

A candidate tape is an ordinary loan tape (``docs/tape.md``) that may carry extra columns the
selection uses:

- ``origination_date`` — when the loan was made (ISO date). With it, ``balance`` and
  ``tenor_months`` are the loan's figures *at origination* (or at ``balance_date`` when that
  column is given) and are rolled forward to the cut-off along the loan's own schedule
  (seasoning); loans originated after the cut-off, or matured by it, are not available.
- ``balance_date`` — the date at which ``balance`` and ``tenor_months`` are stated, when it is
  not the origination date (a selected tape written by ``securitize pool select`` states them
  at its cut-off, so selecting from it again does not season twice).
- ``ip_protection_end`` — the date the pledged IP's protection ends (the earliest expiry among
  the pledged patents), for the "protection beyond maturity" criterion.
- the label column (``ip_label`` by default) — ``true``/``false``: the loan counts towards the
  sci-tech / IP label test. Without the column a loan counts when it pledges a patent.

The PD and recovery of each candidate come from ``securitize.pool`` exactly as for a pool, on the
seasoned balance, so the limits see the same figures the credit model will.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from securitize.errors import TapeError
from securitize.pool import _credit_columns
from securitize.schedules import pool_schedule
from securitize.scoring import ScoreBands
from securitize.tape import Tape, ip_labels

DATE_COLUMNS = ("origination_date", "balance_date", "ip_protection_end")


@dataclass(frozen=True)
class Candidates:
    """Candidate loans as at ``cut_off``: tape columns (seasoned) plus derived columns.

    Derived columns: ``annual_pd``, ``band``, ``shadow_rating``, ``recovery_rate`` (and their
    sources), ``original_balance``, ``original_tenor_months``, ``seasoning_months``,
    ``available`` (originated by the cut-off and not matured), ``maturity_date``,
    ``ip_protection_months`` (whole months of protection beyond maturity), ``ltv`` (balance /
    appraised IP value), ``label`` (counts towards the label test) and ``related_key`` (the
    obligor-plus-related-parties group).
    """

    loans: pd.DataFrame
    tape: Tape
    cut_off: dt.date
    label_source: str

    @property
    def size(self) -> int:
        return len(self.loans)


def _dates(tape: Tape, column: str) -> pd.Series:
    """An ISO-date column as Timestamps (NaT where blank); a bad cell is a tape error."""
    raw = tape.loans[column]
    text = raw.astype(str).str.strip().where(raw.notna(), "")
    parsed = pd.to_datetime(text.where(text != "", None), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & (text != "")
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise TapeError(
            f"{tape.path}: row {row + 1} (loan {tape.loans['loan_id'].iloc[row]}), column "
            f"'{column}': value {text.iloc[row]!r}: must be a date written YYYY-MM-DD"
        )
    return parsed


def months_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Whole calendar months from ``start`` to ``end`` (floored; negative when end < start)."""
    months = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    months = months - (end.dt.day < start.dt.day).astype(float)
    return months.to_numpy(dtype=float)


def add_months(dates: pd.Series, months: np.ndarray) -> pd.Series:
    """Each date plus a whole number of months (the day is clamped to the month's end)."""
    missing = dates.isna().to_numpy() | np.isnan(months)
    safe = dates.where(~missing, pd.Timestamp("2000-01-01"))
    total = safe.dt.year * 12 + safe.dt.month - 1 + np.where(missing, 0, months).astype(int)
    first = pd.to_datetime(pd.DataFrame({"year": total // 12, "month": total % 12 + 1, "day": 1}))
    day = np.minimum(safe.dt.day, first.dt.days_in_month)
    out = first + pd.to_timedelta(day - 1, unit="D")
    return out.where(~missing, pd.NaT)


def related_keys(enterprise: pd.Series, related_group: pd.Series) -> np.ndarray:
    """The obligor-plus-related-parties group of each loan (union of enterprise and label).

    Loans to the same enterprise, or whose ``related_group`` labels match, are one group; the
    relation is transitive (A and B share label G1, B also borrows under G2 → A, B and G2's
    members are one group). The key names the group's labels and enterprises.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for name, label in zip(enterprise, related_group, strict=True):
        a = find("e:" + name)
        if label:
            b = find("g:" + label)
            if a != b:
                parent[max(a, b)] = min(a, b)
    roots = [find("e:" + name) for name in enterprise]
    members: dict[str, list[str]] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    keys = {}
    for root, nodes in members.items():
        groups = sorted(n[2:] for n in nodes if n.startswith("g:"))
        firms = sorted(n[2:] for n in nodes if n.startswith("e:"))
        keys[root] = (
            f"related group {'+'.join(groups)} ({', '.join(firms)})" if groups else firms[0]
        )
    return np.array([keys[r] for r in roots], dtype=object)


def _season(loans: pd.DataFrame, elapsed: np.ndarray) -> pd.DataFrame:
    """Balance and remaining tenor after ``elapsed`` whole months of the loan's own schedule."""
    tenor = loans["tenor_months"].to_numpy(dtype=int)
    rolled = np.nan_to_num(elapsed, nan=0.0).astype(int)
    rolled = np.clip(rolled, 0, tenor)
    seasoned = loans.copy()
    live = (rolled > 0) & (rolled < tenor)
    # Balances are rounded to the fen (0.01 CNY), as a servicer states them.
    if live.any():
        schedule = pool_schedule(
            loans["balance"].to_numpy(dtype=float)[live],
            loans["coupon"].to_numpy(dtype=float)[live],
            tenor[live],
            loans["amortisation"].to_numpy()[live],
            int(tenor[live].max()),
        )
        closing = np.round(schedule.closing_balance[np.arange(live.sum()), rolled[live] - 1], 2)
        balance = seasoned["balance"].to_numpy(dtype=float).copy()
        balance[live] = closing
        seasoned["balance"] = balance
        remaining = tenor.copy()
        remaining[live] = tenor[live] - rolled[live]
        seasoned["tenor_months"] = remaining
    return seasoned


def prepare_candidates(
    tape: Tape,
    cut_off: dt.date,
    bands: ScoreBands,
    haircut: float,
    label_column: str = "ip_label",
) -> Candidates:
    """The candidates as at ``cut_off``, with every column the criteria and limits use."""
    loans = tape.loans.copy()
    index = loans.index
    dates = {c: _dates(tape, c) for c in DATE_COLUMNS if c in loans}
    never = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    origination = dates.get("origination_date", never)
    stated = dates.get("balance_date", never).fillna(origination)
    cutoff = pd.Series(pd.Timestamp(cut_off), index=index)
    tenor = loans["tenor_months"].to_numpy(dtype=int)
    elapsed = np.where(stated.isna().to_numpy(), 0.0, months_between(stated, cutoff))
    loans["original_balance"] = loans["balance"]
    loans["original_tenor_months"] = tenor
    loans = _season(loans, np.maximum(elapsed, 0.0))
    not_yet = ((origination > cutoff) | (stated > cutoff)).to_numpy()
    loans["available"] = ~(not_yet | (elapsed >= tenor))
    loans["seasoning_months"] = np.where(
        origination.isna().to_numpy(), np.nan, months_between(origination, cutoff)
    )
    loans["maturity_date"] = add_months(stated.fillna(cutoff), tenor.astype(float))
    for column, values in dates.items():
        loans[column] = values
    if "ip_protection_end" in dates:
        loans["ip_protection_months"] = months_between(
            loans["maturity_date"], dates["ip_protection_end"]
        )
    else:
        loans["ip_protection_months"] = np.nan
    ip_value = loans["ip_appraised_value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        loans["ltv"] = np.where(ip_value > 0, loans["balance"].to_numpy() / ip_value, np.inf)
    labels, label_source = ip_labels(tape.loans, tape.path, label_column)
    loans["label"] = np.zeros(len(loans), dtype=bool) if labels is None else labels
    related = loans.get("related_group", pd.Series("", index=index)).fillna("").astype(str)
    loans["related_key"] = related_keys(loans["enterprise"], related)
    # Loans that are not available keep their stated figures, so every row still gets a PD
    # and a recovery rate for the report.
    credit = _credit_columns(Tape(loans, tape.path, tape.notes), bands, haircut)
    return Candidates(credit.reset_index(drop=True), tape, cut_off, label_source)
