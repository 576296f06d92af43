"""Why each candidate is in the pool or out of it (入池 / 剔除 说明).

Every candidate gets a status and its reasons:

- ``included`` — it is in the selected pool; the criteria it meets are listed with its values.
- ``ineligible`` — it breaks at least one eligibility criterion or rule; each broken one is
  listed with the loan's value (``eligibility.score_min (score ≥ 60): score 52``).
- ``not selected`` — it meets every criterion but the selected pool leaves it out. Three checks
  say why, from cheap to thorough, without guessing:

  1. *adding it* — which limits the selected pool plus this loan would break, with the figures
     (``deal_size_max: pool balance CNY 205.00m > CNY 200.00m``): what stands in its way;
  2. *swapping it in* — the best exchange of one selected loan for it that keeps every limit:
     if that pool is as good on the objective (within ``tie_break_tolerance``), the loan lost
     only on the tie-break (expected loss), and the swap shows by how much;
  3. *forcing it in* — when no swap is as good, the programme is solved again with the loan
     fixed in. If no pool can contain it, a deletion filter names a minimal set of limits it
     conflicts with; otherwise it lost out on the objective by ``objective_cost``.

  Check 3 costs one solve per loan (a few more for a conflict) and stops after
  ``explain_solves_max`` solves; with ``explain_solves_max = 0`` only check 1 is made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from securitize.selection.candidates import Candidates
from securitize.selection.eligibility import Eligibility
from securitize.selection.limits import _fmt
from securitize.selection.solve import Problem, Solution, conflicting_limits, solve
from securitize.selection.spec import SelectionSpec

SEPARATOR = " | "
REPORT_COLUMNS = [
    "loan_id",
    "enterprise",
    "industry",
    "region",
    "balance",
    "score",
    "annual_pd",
    "status",
    "included",
    "rules_broken",
    "criteria_met",
    "limits_if_added",
    "best_swap",
    "forced_in",
    "objective_if_forced_in",
    "objective_cost",
    "expected_loss_cost",
    "conflicting_limits",
    "reason",
]


@dataclass(frozen=True)
class Explanations:
    """How far the explanations went: solves made, the budget, whether every loan got one."""

    solves: int
    budget: int
    complete: bool


def _objective_text(problem: Problem, value: float) -> str:
    if problem.objective_name == "loans":
        return f"{value:g} loans"
    if problem.objective_name == "excess_spread":
        return f"{_fmt('money', value)} a year of excess spread"
    return _fmt("money", value)


def _best_swap(problem: Problem, chosen: np.ndarray, k: int) -> tuple[int, float, float] | None:
    """The exchange of one selected loan for loan ``k`` that keeps every limit and scores best.

    Returns (the loan taken out, the pool's objective, its secondary value) or None.
    """
    best = None
    for out in np.flatnonzero(chosen):
        trial = chosen.copy()
        trial[out] = False
        trial[k] = True
        if problem.breaches(trial):
            continue
        value = problem.value(trial)
        loss = problem.secondary_value(trial) or 0.0
        if best is None or (value, -loss) > (best[1], -best[2]):
            best = (int(out), value, loss)
    return best


class _Explainer:
    """Explains left-out loans, spending at most ``explain_solves_max`` solves."""

    def __init__(self, problem: Problem, solution: Solution, spec: SelectionSpec, floor, ids):
        self.problem = problem
        self.solution = solution
        self.spec = spec
        self.floor = floor
        self.ids = ids
        self.solves = 0
        self.complete = True
        self.settings = {
            "time_limit": spec.explain_time_limit_seconds,
            "mip_rel_gap": spec.explain_mip_rel_gap,
        }

    @property
    def budget_left(self) -> int:
        return max(0, self.spec.explain_solves_max - self.solves)

    def explain(self, k: int, record: dict) -> list[str]:
        problem, solution = self.problem, self.solution
        optimum = solution.objective
        chosen = solution.selected
        trial = chosen.copy()
        trial[k] = True
        added = [lim.describe(trial) for lim in problem.breaches(trial)]
        record["limits_if_added"] = added
        parts: list[str] = []
        if self.spec.explain_solves_max == 0:
            self.complete = False
            record["forced_in"] = "not checked"
            return self._with_added(parts, added)
        if not added:
            # It fits as it is, so adding it would only lower the objective (or tie-break).
            value = problem.value(trial)
            record["objective_if_forced_in"] = value
            record["objective_cost"] = optimum - value
            parts.append(
                "lost out on the objective: adding it keeps every limit but lowers the "
                f"objective by {_objective_text(problem, optimum - value)}"
            )
            return parts
        floor = (
            self.floor
            if self.floor is not None
            else optimum - abs(optimum) * max(self.spec.mip_rel_gap, 1e-12)
        )
        swap = _best_swap(problem, chosen, k)
        if swap is not None:
            out, value, loss = swap
            record["best_swap"] = (
                f"for {self.ids[out]}: objective {_objective_text(problem, value)}"
                + ("" if problem.secondary is None else f", expected loss {_fmt('money', loss)}")
            )
        if swap is not None and swap[1] >= floor:
            out, value, loss = swap
            record["objective_if_forced_in"] = value
            record["objective_cost"] = optimum - value
            if problem.secondary is not None:
                extra = loss - solution.secondary
                record["expected_loss_cost"] = extra
                if extra > abs(solution.secondary) * 1e-9:
                    parts.append(
                        f"lost out on the tie-break: swapping it for {self.ids[out]} keeps every "
                        "limit and the objective, but raises the expected loss by "
                        f"{_fmt('money', extra)} a year"
                    )
                    return self._with_added(parts, added)
            parts.append(
                f"a pool as good contains it (swap it for {self.ids[out]}): a tie the solver "
                "broke the other way"
            )
            return self._with_added(parts, added)
        if self.budget_left == 0:
            self.complete = False
            record["forced_in"] = "not checked"
            return self._with_added(parts, added)
        forced = solve(problem, forced_in=k, **self.settings)
        self.solves += 1
        if forced.status == "infeasible":
            record["forced_in"] = "infeasible"
            conflict = conflicting_limits(
                problem,
                time_limit=self.settings["time_limit"],
                forced_in=k,
                budget=self.budget_left,
            )
            self.solves += conflict.solves
            self.complete &= conflict.complete
            record["conflicting_limits"] = list(conflict.limits)
            parts.append(
                "no pool that meets the limits can contain it; with it, these limits conflict: "
                + ", ".join(conflict.limits)
                + ("" if conflict.complete else " (search cut short)")
            )
        elif forced.feasible:
            record["forced_in"] = "feasible" if forced.proven_optimal else "feasible (time limit)"
            cost = float(optimum - forced.objective)
            record["objective_if_forced_in"] = forced.objective
            record["objective_cost"] = cost
            if forced.objective >= floor and problem.secondary is None:
                parts.append(
                    "a pool as good contains it "
                    f"({_objective_text(problem, forced.objective)}): a tie the solver broke "
                    "the other way"
                )
            elif forced.objective >= floor:
                parts.append(
                    "a pool as good on the objective contains it "
                    f"({_objective_text(problem, forced.objective)}); among such pools the "
                    "selected one has the lowest expected loss: it lost out on the tie-break"
                )
            else:
                parts.append(
                    "lost out on the objective: the best pool containing it is "
                    f"{_objective_text(problem, forced.objective)}, "
                    f"{_objective_text(problem, cost)} less than the selected pool"
                    + ("" if forced.proven_optimal else " (solver stopped at its time limit)")
                )
        else:
            record["forced_in"] = "not solved (time limit)"
            self.complete = False
            parts.append(
                "the check with it forced in found no pool within explain_time_limit_seconds"
            )
        return self._with_added(parts, added)

    @staticmethod
    def _with_added(parts: list[str], added: list[str]) -> list[str]:
        if added:
            parts.append("adding it to the selected pool would break " + "; ".join(added))
        return parts


def build_report(
    candidates: Candidates,
    eligibility: Eligibility,
    problem: Problem,
    eligible_rows: np.ndarray,
    solution: Solution,
    spec: SelectionSpec,
    floor: float | None = None,
) -> tuple[pd.DataFrame, Explanations]:
    """One row per candidate: status, criteria met or broken, and why a left-out loan is out.

    ``floor`` is the objective a pool needs to count as optimal when a tie-break is used.
    """
    loans = candidates.loans
    n = len(loans)
    selected_rows = np.zeros(n, dtype=bool)
    selected_rows[eligible_rows[solution.selected]] = True
    position = {int(row): k for k, row in enumerate(eligible_rows)}
    ids = loans["loan_id"].to_numpy()[eligible_rows]
    explainer = _Explainer(problem, solution, spec, floor, ids)
    records = []
    for row in range(n):
        broken = eligibility.broken(row)
        met = eligibility.met(row)
        record = {
            "rules_broken": broken,
            "criteria_met": met,
            "limits_if_added": [],
            "best_swap": "",
            "forced_in": "",
            "objective_if_forced_in": None,
            "objective_cost": None,
            "expected_loss_cost": None,
            "conflicting_limits": [],
        }
        if selected_rows[row]:
            record["status"] = "included"
            record["reason"] = (
                f"included: meets every criterion ({len(met)}) and is in the optimal pool"
                if met
                else "included: no criteria stated; in the optimal pool"
            )
        elif broken:
            record["status"] = "ineligible"
            record["reason"] = "not eligible: breaks " + "; ".join(broken)
        else:
            record["status"] = "not selected"
            parts = explainer.explain(position[row], record)
            record["reason"] = "not selected: " + ("; ".join(parts) or "not explained")
        records.append(record)
    frame = pd.DataFrame(records)
    for column in ("loan_id", "enterprise", "industry", "region", "balance", "score", "annual_pd"):
        frame[column] = loans[column].to_numpy()
    frame["included"] = selected_rows
    frame = frame[REPORT_COLUMNS]
    return frame, Explanations(explainer.solves, spec.explain_solves_max, explainer.complete)


def report_csv(report: pd.DataFrame) -> bytes:
    """The report as CSV; list cells are joined with `` | ``."""
    flat = report.copy()
    for column in ("rules_broken", "criteria_met", "limits_if_added", "conflicting_limits"):
        flat[column] = flat[column].map(SEPARATOR.join)
    return flat.to_csv(index=False, lineterminator="\n").encode("utf-8")
