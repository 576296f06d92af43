"""Programme cuts: successive deals cut from one pipeline over time (多期发行).

On each cut date of ``[selection.programme]`` the candidates are the pipeline's loans
originated on or before that date and not used by an earlier deal, stated as at the cut date
(seasoned along their schedules); the same criteria, limits and objective cut the deal. A loan
left out of one deal stays in the pipeline for the next (until it breaks a criterion, e.g.
seasoning or remaining tenor). A cut where no pool meets the limits issues no deal: it is
reported with the conflicting limits, never passed on as an empty pool.

Enterprises served per calendar year counts the distinct enterprises in the deals cut that
year, against ``target_enterprises_per_year`` (the Wenzhou programme aims at 80+).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from securitize.errors import ScenarioError
from securitize.jsonsafe import json_safe
from securitize.scenario import LoadedScenario
from securitize.selection.api import (
    Selection,
    load_candidates,
    pool_figures,
    scenario_funding_cost,
    select,
)
from securitize.selection.candidates import Candidates
from securitize.selection.errors import SelectionError


@dataclass(frozen=True)
class Cut:
    """One cut date: the deal it produced, or why there was none."""

    number: int
    cut_off: Any
    candidates: int
    selection: Selection | None
    reason: str


@dataclass(frozen=True)
class Programme:
    """Every cut of a programme and the enterprises it served."""

    cuts: tuple[Cut, ...]
    target: int | None
    pipeline: pd.DataFrame

    def deals(self) -> pd.DataFrame:
        rows = []
        for cut in self.cuts:
            chosen = cut.selection
            figures = pool_figures(chosen.loans) if chosen else {}
            rows.append(
                {
                    "deal": cut.number,
                    "cut_off_date": cut.cut_off.isoformat(),
                    "issued": chosen is not None,
                    "candidates": cut.candidates,
                    "eligible": int(chosen.eligible_rows.size) if chosen else None,
                    "loans": figures.get("loans"),
                    "enterprises": figures.get("enterprises"),
                    "balance": figures.get("balance"),
                    "weighted_average_annual_pd": figures.get("weighted_average_annual_pd"),
                    "objective": chosen.solution.objective if chosen else None,
                    "proven_optimal": chosen.solution.proven_optimal if chosen else None,
                    "reason": cut.reason,
                }
            )
        frame = pd.DataFrame(rows)
        for column in ("eligible", "loans", "enterprises"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def loans(self) -> pd.DataFrame:
        """Every pipeline loan with the deal it went into (blank when none)."""
        frame = self.pipeline[["loan_id", "enterprise"]].copy()
        frame["origination_date"] = self.pipeline.get("origination_date")
        frame["deal"] = pd.Series([None] * len(frame), dtype=object)
        frame["cut_off_date"] = ""
        frame["balance_at_cut_off"] = np.nan
        where = {loan: i for i, loan in enumerate(frame["loan_id"])}
        for cut in self.cuts:
            if cut.selection is None:
                continue
            for row in cut.selection.loans.itertuples(index=False):
                i = where[row.loan_id]
                frame.loc[i, "deal"] = cut.number
                frame.loc[i, "cut_off_date"] = cut.cut_off.isoformat()
                frame.loc[i, "balance_at_cut_off"] = row.balance
        frame["origination_date"] = frame["origination_date"].map(
            lambda v: "" if pd.isna(v) else pd.Timestamp(v).date().isoformat()
        )
        return frame

    def years(self) -> pd.DataFrame:
        first = self.cuts[0].cut_off.year
        last = self.cuts[-1].cut_off.year
        rows = []
        for year in range(first, last + 1):
            issued = [c for c in self.cuts if c.cut_off.year == year and c.selection is not None]
            enterprises = set()
            loans = 0
            balance = 0.0
            for cut in issued:
                enterprises |= set(cut.selection.loans["enterprise"])
                loans += len(cut.selection.loans)
                balance += float(cut.selection.loans["balance"].sum())
            served = len(enterprises)
            rows.append(
                {
                    "year": year,
                    "deals": len(issued),
                    "loans": loans,
                    "balance": balance,
                    "enterprises_served": served,
                    "target": self.target,
                    "shortfall": None if self.target is None else max(0, self.target - served),
                    "target_met": None if self.target is None else served >= self.target,
                }
            )
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        deals = self.deals()
        used = deals["loans"].fillna(0).sum()
        return json_safe(
            {
                "schema": "securitize.programme",
                "version": 1,
                "pipeline_loans": len(self.pipeline),
                "loans_used": int(used),
                "target_enterprises_per_year": self.target,
                "deals": deals.to_dict(orient="records"),
                "years": self.years().to_dict(orient="records"),
            }
        )


def _subset(candidates: Candidates, rows: np.ndarray) -> Candidates:
    loans = candidates.loans.iloc[rows].reset_index(drop=True)
    return Candidates(loans, candidates.tape, candidates.cut_off, candidates.label_source)


def run_programme(loaded: LoadedScenario) -> Programme:
    """Cut one deal per date of ``[selection.programme] cut_dates``."""
    scenario = loaded.scenario
    spec = scenario.selection
    if spec is None or spec.programme is None:
        raise ScenarioError(
            f"{loaded.path}: field 'selection.programme': the scenario has no "
            "[selection.programme] section (cut_dates)"
        )
    funding = (
        scenario_funding_cost(scenario, loaded.path) if spec.objective == "excess_spread" else None
    )
    used: set[str] = set()
    cuts = []
    pipeline = None
    for number, cut_off in enumerate(spec.programme.cut_dates, start=1):
        candidates = load_candidates(loaded, cut_off)
        if "origination_date" not in candidates.loans:
            raise ScenarioError(
                f"{loaded.path}: field 'selection.programme': programme cuts need the candidate "
                f"tape column 'origination_date' ({candidates.tape.path} has none)"
            )
        if pipeline is None:
            pipeline = candidates.loans
        originated = candidates.loans["origination_date"] <= pd.Timestamp(cut_off)
        fresh = ~candidates.loans["loan_id"].isin(used)
        rows = np.flatnonzero((originated & fresh).to_numpy())
        if rows.size == 0:
            cuts.append(Cut(number, cut_off, 0, None, "no unused loan originated by this date"))
            continue
        try:
            chosen = select(
                _subset(candidates, rows), spec, loaded.path, funding_cost=funding, explain=False
            )
        except SelectionError as exc:
            # The message opens with the scenario's path; the table needs only the reason.
            reason = str(exc).removeprefix(f"{loaded.path}: ")
            cuts.append(Cut(number, cut_off, int(rows.size), None, reason))
            continue
        used |= set(chosen.loans["loan_id"])
        cuts.append(Cut(number, cut_off, int(rows.size), chosen, "issued"))
    return Programme(tuple(cuts), spec.programme.target_enterprises_per_year, pipeline)
