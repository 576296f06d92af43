"""Entry points: cut a pool from a scenario's candidate tape, and describe the cut.

``select_for_scenario(loaded)`` reads the scenario's ``[pool] tape`` as the candidate pipeline,
states it as at the cut-off, applies the eligibility criteria, solves for the optimal pool under
the limits, and explains every candidate's fate. ``Selection.tape`` is the selected pool as a
validated ``Tape`` for ``securitize.pool.build_pool``; ``selection_summary`` is the JSON-ready
document for ``results.json`` and the memo; ``selection_files`` the three files that
``securitize pool select`` writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy

from securitize.errors import ScenarioError
from securitize.jsonsafe import json_safe
from securitize.rules import pool_checks, pool_facts, rule_block
from securitize.scenario import LoadedScenario, Scenario
from securitize.scoring import ScoreBands, load_score_bands
from securitize.selection.candidates import Candidates, prepare_candidates
from securitize.selection.eligibility import Eligibility, evaluate_eligibility
from securitize.selection.errors import SelectionError
from securitize.selection.limits import build_limits
from securitize.selection.report import Explanations, build_report, report_csv
from securitize.selection.solve import (
    Greedy,
    Problem,
    Solution,
    conflicting_limits,
    greedy,
    solve,
)
from securitize.selection.spec import SelectionSpec
from securitize.tape import Tape, load_tape, validate_tape

SCHEMA = "securitize.selection"
SCHEMA_VERSION = 1
OBJECTIVE_UNITS = {"balance": "CNY", "excess_spread": "CNY a year", "loans": "loans"}


@dataclass(frozen=True)
class Selection:
    """A cut pool with everything needed to explain it."""

    spec: SelectionSpec
    source: Path
    candidates: Candidates
    eligibility: Eligibility
    problem: Problem
    eligible_rows: np.ndarray
    solution: Solution
    first: Solution
    tie_break: Solution | None
    floor: float | None
    greedy: Greedy
    report: pd.DataFrame
    explanations: Explanations
    funding_cost: float | None
    seconds: float

    @property
    def selected(self) -> np.ndarray:
        """Mask over the candidates: True for the loans in the pool."""
        mask = np.zeros(self.candidates.size, dtype=bool)
        mask[self.eligible_rows[self.solution.selected]] = True
        return mask

    @property
    def loans(self) -> pd.DataFrame:
        """The selected candidates with every derived column."""
        return self.candidates.loans[self.selected].reset_index(drop=True)

    @property
    def tape(self) -> Tape:
        return selected_tape(self)


# --- building the problem -----------------------------------------------------------------


def scenario_funding_cost(scenario: Scenario, source: Path) -> float:
    """The pool's annual cost of funds implied by the structure (fraction of pool balance).

    Σ tranche share × coupon + Σ senior fees + Σ guarantee fee (net of the policy discount) ×
    covered tranche's share. Needs tranches sized by share.
    """
    spec = scenario.selection
    if spec is not None and spec.funding_cost is not None:
        return spec.funding_cost
    if any(t.share is None for t in scenario.tranches):
        raise ScenarioError(
            f"{source}: field 'selection.funding_cost': objective 'excess_spread' with tranches "
            "sized by balance needs 'funding_cost' (the notes' annual cost, fraction of the pool)"
        )
    shares = {t.name: t.share for t in scenario.tranches}
    cost = sum(t.share * t.coupon for t in scenario.tranches)
    cost += sum(f.rate_bp / 1e4 for f in scenario.fees)
    cost += sum(e.net_fee_bp / 1e4 * shares[e.covers] for e in scenario.enhancers)
    return float(cost)


def _problem(
    candidates: Candidates, rows: np.ndarray, spec: SelectionSpec, funding_cost: float | None
) -> Problem:
    loans = candidates.loans.iloc[rows].reset_index(drop=True)
    layout, limits = build_limits(loans, spec, candidates.label_source)
    balance = loans["balance"].to_numpy(dtype=float)
    if spec.objective == "excess_spread":
        loss = loans["annual_pd"].to_numpy() * (1.0 - loans["recovery_rate"].to_numpy())
        objective = balance * (loans["coupon"].to_numpy() - loss - funding_cost)
        order = np.argsort(-objective, kind="stable")
        order = order[objective[order] > 0]
    elif spec.objective == "loans":
        objective = np.ones(len(loans))
        order = np.argsort(balance, kind="stable")
    else:
        objective = balance
        order = np.argsort(-balance, kind="stable")
    secondary = None
    if spec.tie_break == "expected_loss":
        # Expected annual loss: balance × annual PD × (1 − recovery rate), CNY a year.
        secondary = (
            balance * loans["annual_pd"].to_numpy() * (1.0 - loans["recovery_rate"].to_numpy())
        )
    return Problem(
        layout,
        balance,
        objective,
        spec.objective,
        OBJECTIVE_UNITS[spec.objective],
        tuple(limits),
        order,
        secondary,
        spec.tie_break,
    )


def _no_pool(
    source: Path, candidates: Candidates, problem: Problem, spec: SelectionSpec
) -> SelectionError:
    conflict = conflicting_limits(problem, time_limit=spec.time_limit_seconds)
    named = {lim.name: lim for lim in problem.limits}
    listed = ", ".join(f"{name} ({named[name].label})" for name in conflict.limits)
    tail = (
        "dropping or relaxing any one of them makes a pool possible"
        if conflict.complete
        else "the search for a minimal conflict was cut short by the time limit"
    )
    return SelectionError(
        f"{source}: selection at cut-off {candidates.cut_off.isoformat()}: no pool of the "
        f"{problem.loans} eligible candidates (of {candidates.size}) meets these limits "
        f"together: {listed}; {tail} (see docs/selection.md)"
    )


def select(
    candidates: Candidates,
    spec: SelectionSpec,
    source: Path,
    *,
    funding_cost: float | None = None,
    explain: bool = True,
) -> Selection:
    """Cut the optimal pool from ``candidates``; raise ``SelectionError`` when none exists."""
    started = time.perf_counter()
    if funding_cost is None:
        funding_cost = spec.funding_cost
    eligibility = evaluate_eligibility(candidates, spec, source)
    rows = np.flatnonzero(eligibility.eligible)
    if rows.size == 0:
        failures = sorted(eligibility.failures().items(), key=lambda item: -item[1])
        worst = ", ".join(f"{name} excludes {count}" for name, count in failures[:4] if count)
        raise SelectionError(
            f"{source}: selection at cut-off {candidates.cut_off.isoformat()}: none of the "
            f"{candidates.size} candidates in {candidates.tape.path} meets the eligibility "
            f"criteria ({worst}); nothing to select from"
        )
    if spec.objective == "excess_spread" and funding_cost is None:
        raise ScenarioError(
            f"{source}: field 'selection.funding_cost': required for 'excess_spread'"
        )
    problem = _problem(candidates, rows, spec, funding_cost)
    target = spec.deal_size_max
    baseline = greedy(problem, target)
    settings = {"time_limit": spec.time_limit_seconds, "mip_rel_gap": spec.mip_rel_gap}
    first = solve(problem, **settings, cutoff=baseline.objective)
    if baseline.feasible and first.status == "infeasible":
        # The greedy pool meets every limit, so this can only be the solver's tolerances.
        first = solve(problem, **settings)
    if first.status == "infeasible":
        raise _no_pool(source, candidates, problem, spec)
    if not first.feasible:
        raise SelectionError(
            f"{source}: field 'selection.time_limit_seconds': value {spec.time_limit_seconds!r}: "
            f"the solver found no pool in time ({first.message}); raise the time limit"
        )
    solution = first
    tie_break = None
    floor = None
    if problem.secondary is not None:
        # Among the pools within tie_break_tolerance of the optimum, the lowest expected loss.
        floor = problem.floor(first.objective, max(spec.mip_rel_gap, spec.tie_break_tolerance))
        tie_break = solve(
            problem,
            time_limit=spec.time_limit_seconds,
            mip_rel_gap=spec.mip_rel_gap,
            floor=floor,
        )
        if tie_break.feasible and tie_break.secondary <= first.secondary:
            solution = replace(
                first,
                selected=tie_break.selected,
                objective=tie_break.objective,
                secondary=tie_break.secondary,
                seconds=first.seconds + tie_break.seconds,
            )
    if not solution.selected.any():
        raise SelectionError(f"{source}: selection: the solver returned an empty pool")
    breaches = problem.breaches(solution.selected)
    if breaches:  # the solver's answer is checked against the exact measures
        raise SelectionError(
            f"{source}: selection: the solver's pool breaks "
            + "; ".join(lim.describe(solution.selected) for lim in breaches)
            + " (numerical trouble; please report it)"
        )
    report, explanations = build_report(
        candidates,
        eligibility,
        problem,
        rows,
        solution,
        spec if explain else spec.model_copy(update={"explain_solves_max": 0}),
        floor,
    )
    seconds = time.perf_counter() - started
    return Selection(
        spec,
        source,
        candidates,
        eligibility,
        problem,
        rows,
        solution,
        first,
        tie_break,
        floor,
        baseline,
        report,
        explanations,
        funding_cost,
        seconds,
    )


def load_candidates(loaded: LoadedScenario, cut_off: dt.date | None = None) -> Candidates:
    """The scenario's ``[pool] tape`` as candidates at ``cut_off`` (default: the scenario's)."""
    scenario = loaded.scenario
    spec = scenario.selection
    if spec is None:
        raise ScenarioError(
            f"{loaded.path}: field 'selection': the scenario has no [selection] section"
        )
    if scenario.pool.tape is None:
        raise ScenarioError(
            f"{loaded.path}: field 'selection': selection needs a candidate loan tape "
            "([pool] tape); an inline pool has no candidates to select from"
        )
    tape = load_tape(loaded.resolve(scenario.pool.tape))
    label_column = spec.limits.label_column
    if label_column is not None and label_column not in tape.loans:
        raise ScenarioError(
            f"{loaded.path}: field 'selection.limits.label_column': value {label_column!r}: not "
            f"a column of the candidate tape {tape.path}"
        )
    return prepare_candidates(
        tape,
        cut_off or spec.cut_off_date or scenario.deal.closing_date,
        _bands(loaded),
        scenario.pool.ip_haircut,
        label_column or "ip_label",
    )


def _bands(loaded: LoadedScenario) -> ScoreBands:
    spec = loaded.scenario.pool
    return load_score_bands(loaded.resolve(spec.score_bands) if spec.score_bands else None)


def select_for_scenario(loaded: LoadedScenario, *, explain: bool = True) -> Selection:
    """The optimal pool for a scenario with a ``[selection]`` section."""
    candidates = load_candidates(loaded)
    spec = loaded.scenario.selection
    funding = (
        scenario_funding_cost(loaded.scenario, loaded.path)
        if spec.objective == "excess_spread"
        else None
    )
    return select(candidates, spec, loaded.path, funding_cost=funding, explain=explain)


# --- outputs ------------------------------------------------------------------------------


def _iso(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if pd.isna(v) else pd.Timestamp(v).date().isoformat())


def tape_frame(candidates: Candidates, mask: np.ndarray) -> pd.DataFrame:
    """Selected loans in the candidate tape's own columns, stated as at the cut-off.

    ``balance`` and ``tenor_months`` are the seasoned figures; when the tape has an origination
    date, ``balance_date`` is set to the cut-off so that the tape can be read again without
    being seasoned twice.
    """
    columns = list(candidates.tape.loans.columns)
    loans = candidates.loans[mask]
    frame = loans[columns].copy()
    for column in ("origination_date", "balance_date", "ip_protection_end"):
        if column in frame:
            frame[column] = _iso(loans[column])
    if "origination_date" in frame or "balance_date" in frame:
        frame["balance_date"] = candidates.cut_off.isoformat()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_float_dtype(values):
            present = values.dropna()
            if (present == np.round(present)).all():
                frame[column] = values.round().astype("Int64")  # 36, not 36.0
    return frame.reset_index(drop=True)


def _notes(selection: Selection) -> tuple[str, ...]:
    candidates = selection.candidates
    count = int(selection.selected.sum())
    return (
        *candidates.tape.notes,
        f"Pool selected by securitize from {candidates.tape.path.name}: {count} of "
        f"{candidates.size} candidates at cut-off {candidates.cut_off.isoformat()}, objective "
        f"'{selection.spec.objective}' ({selection.solution.status}).",
    )


def selected_tape(selection: Selection) -> Tape:
    """The selected loans as a validated tape (the input of ``build_pool``)."""
    frame = tape_frame(selection.candidates, selection.selected)
    return validate_tape(frame, selection.candidates.tape.path, _notes(selection))


def tape_csv(selection: Selection) -> bytes:
    frame = tape_frame(selection.candidates, selection.selected)
    header = "".join(f"# {note}\n" for note in _notes(selection))
    return (header + frame.to_csv(index=False, lineterminator="\n")).encode("utf-8")


def pool_figures(loans: pd.DataFrame) -> dict[str, Any]:
    """Totals and concentrations of a selected pool."""
    balance = loans["balance"].to_numpy(dtype=float)
    total = float(balance.sum())
    weights = balance / total if total > 0 else balance
    obligors = loans.groupby("enterprise")["balance"].sum()
    return {
        "loans": len(loans),
        "enterprises": int(loans["enterprise"].nunique()),
        "balance": total,
        "weighted_average_annual_pd": float((weights * loans["annual_pd"]).sum()),
        "weighted_average_score": float((weights * loans["score"]).sum()),
        "weighted_average_coupon": float((weights * loans["coupon"]).sum()),
        "weighted_average_tenor_months": float((weights * loans["tenor_months"]).sum()),
        "label_share": float((weights * loans["label"]).sum()),
        "largest_obligor_share": float(obligors.max() / total) if total > 0 else None,
    }


def selection_rules(selection: Selection) -> dict[str, Any]:
    """The exchange rules the selected pool can be judged on alone (``securitize/rules.py``;
    risk retention needs the structure and is judged when the deal is run)."""
    label_column = selection.spec.limits.label_column or "ip_label"
    facts = pool_facts(selection.loans, selection.candidates.tape.path, label_column)
    return rule_block(pool_checks(facts))


def selection_summary(selection: Selection) -> dict[str, Any]:
    """The selection as a JSON-ready document (``docs/selection.md`` describes its shape)."""
    candidates = selection.candidates
    solution = selection.solution
    first = selection.first
    tie_break = selection.tie_break
    baseline = selection.greedy
    spec = selection.spec
    path = candidates.tape.path
    optimum = float(first.objective)  # the greedy pool is compared with the best pool found
    gap = None
    if baseline.feasible:
        gap = {
            "value": optimum - baseline.objective,
            "relative": (optimum - baseline.objective) / abs(optimum) if optimum else None,
        }
    status = selection.report["status"]
    mask = solution.selected
    return json_safe(
        {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "candidates": {
                "path": str(path),
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()
                if path and path.is_file()
                else None,
                "count": candidates.size,
                "notes": list(candidates.tape.notes),
                "label_source": candidates.label_source,
            },
            "cut_off_date": candidates.cut_off,
            "objective": {
                "name": spec.objective,
                "unit": OBJECTIVE_UNITS[spec.objective],
                "value": float(solution.objective),
                "funding_cost": selection.funding_cost,
            },
            "solver": {
                "name": f"HiGHS via scipy.optimize.milp (scipy {scipy.__version__})",
                "status": first.status,
                "proven_optimal": first.proven_optimal,
                "best_found": first.objective,
                "bound": first.bound,
                "mip_gap": first.mip_gap,
                "mip_rel_gap": spec.mip_rel_gap,
                "time_limit_seconds": spec.time_limit_seconds,
                "seconds": solution.seconds,
                "binary_variables": selection.problem.loans,
                "variables": selection.problem.layout.variables,
                "message": first.message,
            },
            "tie_break": {
                "name": spec.tie_break,
                "tolerance": spec.tie_break_tolerance,
                "objective_floor": selection.floor,
                "status": None if tie_break is None else tie_break.status,
                "expected_annual_loss": solution.secondary,
                "expected_annual_loss_before": first.secondary,
                "seconds": None if tie_break is None else tie_break.seconds,
            },
            "greedy": {
                "feasible": baseline.feasible,
                "objective": baseline.objective,
                "gap_to_optimum": gap,
                "loans": int(baseline.selected.sum()) if baseline.feasible else None,
                "broken_limits": list(baseline.broken),
                "seconds": baseline.seconds,
            },
            "counts": {
                "candidates": candidates.size,
                "eligible": int(selection.eligible_rows.size),
                "ineligible": int((status == "ineligible").sum()),
                "selected": int((status == "included").sum()),
                "not_selected": int((status == "not selected").sum()),
            },
            "pool": pool_figures(selection.loans),
            "criteria": [
                {"name": c.name, "label": c.label, "failed": int((~c.passed).sum())}
                for c in selection.eligibility.criteria
            ],
            "limits": [lim.figure(mask) for lim in selection.problem.limits],
            "explanations": {
                "solves": selection.explanations.solves,
                "budget": selection.explanations.budget,
                "complete": selection.explanations.complete,
            },
            "warnings": list(selection.eligibility.warnings),
            "exchange_rules": selection_rules(selection),
            "seconds": selection.seconds,
            "loans": selection.report.to_dict(orient="records"),
        }
    )


def selection_files(selection: Selection, json_bytes) -> dict[str, bytes]:
    """``selected_tape.csv``, ``selection_report.csv`` and ``selection.json``."""
    return {
        "selected_tape.csv": tape_csv(selection),
        "selection_report.csv": report_csv(selection.report),
        "selection.json": json_bytes(selection_summary(selection)),
    }
