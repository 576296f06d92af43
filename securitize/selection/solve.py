"""Choosing the pool: a mixed-integer programme, a greedy baseline, and infeasibility diagnosis.

The programme is solved by HiGHS through ``scipy.optimize.milp``: binary ``x_i`` per eligible
loan, the limits of ``securitize.selection.limits`` as rows, and the objective of the scenario.
HiGHS reports whether the optimum is proven (the gap between the best pool found and the best
bound is within ``mip_rel_gap``); a run stopped by ``time_limit_seconds`` keeps its best pool and
says so.

The greedy baseline is what a structurer would do by hand: take loans best-first and keep each
one that leaves every ceiling intact (shares capped against the target deal size), then check
the finished pool. The summary reports how far it falls short of the optimum.

When no pool meets the limits, ``conflicting_limits`` runs a deletion filter over the named
limits (Chinneck & Dravnieks, 1991): drop each limit in turn and keep it dropped if the rest is
still infeasible. What remains is a minimal set of limits that cannot hold together — dropping
any one of them makes a pool possible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from securitize.selection.limits import UNIT, Layout, Limit

STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


@dataclass(frozen=True)
class Problem:
    """Eligible loans, the objective and tie-break (per loan, natural units) and the limits."""

    layout: Layout
    balance: np.ndarray
    objective: np.ndarray
    objective_name: str
    objective_unit: str
    limits: tuple[Limit, ...]
    greedy_order: np.ndarray
    secondary: np.ndarray | None = None
    secondary_name: str = "none"

    @property
    def loans(self) -> int:
        return self.layout.loans

    def value(self, mask: np.ndarray) -> float:
        """The objective of a selection, in its natural unit."""
        return float(self.objective[mask].sum())

    def secondary_value(self, mask: np.ndarray) -> float | None:
        return None if self.secondary is None else float(self.secondary[mask].sum())

    def floor(self, optimum: float, mip_rel_gap: float) -> float:
        """The objective a pool must reach to count as optimal (within the solver's gap)."""
        if self.objective_name == "loans":
            return float(np.ceil(optimum * (1.0 - mip_rel_gap) - 1e-9))
        return optimum - abs(optimum) * mip_rel_gap - 1e-9 * max(abs(optimum), 1.0)

    def breaches(
        self, mask: np.ndarray, base: float | None = None, ceilings_only: bool = False
    ) -> list[Limit]:
        return [
            limit
            for limit in self.limits
            if (limit.ceiling or not ceilings_only) and limit.broken(mask, base)
        ]


@dataclass(frozen=True)
class Solution:
    """What the solver returned: the pool, its objective and tie-break values, the proof."""

    status: str
    selected: np.ndarray | None
    objective: float | None
    secondary: float | None
    bound: float | None
    mip_gap: float | None
    seconds: float
    message: str

    @property
    def feasible(self) -> bool:
        return self.selected is not None

    @property
    def proven_optimal(self) -> bool:
        return self.status == "optimal"


def _scale(problem: Problem) -> float:
    return 1.0 if problem.objective_name == "loans" else UNIT


def solve(
    problem: Problem,
    *,
    time_limit: float,
    mip_rel_gap: float,
    forced_in: int | None = None,
    keep: frozenset[str] | None = None,
    feasibility_only: bool = False,
    floor: float | None = None,
    cutoff: float | None = None,
) -> Solution:
    """Solve the programme.

    ``keep`` restricts the limits used; ``forced_in`` fixes one loan in. With ``floor`` the
    tie-break stage is solved instead: minimise the secondary value (expected loss) among pools
    whose objective is at least ``floor``. ``cutoff`` (a known pool's objective, e.g. the greedy
    baseline's) is a valid lower bound on the optimum; stating it lets HiGHS prune early.
    """
    layout = problem.layout
    m = problem.loans
    n = layout.variables
    scale = _scale(problem)
    limits = [lim for lim in problem.limits if keep is None or lim.name in keep]
    rows = [
        sparse.csr_array(
            (
                np.r_[problem.balance / UNIT, -1.0],
                (np.zeros(m + 1, dtype=int), np.r_[np.arange(m), m]),
            ),
            shape=(1, n),
        ),
        *[lim.matrix for lim in limits],
    ]
    lower = [np.zeros(1), *[lim.lower for lim in limits]]
    upper = [np.zeros(1), *[lim.upper for lim in limits]]
    cost = np.zeros(n)
    if floor is not None:
        rows.append(
            sparse.csr_array(
                (problem.objective / scale, (np.zeros(m, dtype=int), np.arange(m))), shape=(1, n)
            )
        )
        lower.append(np.array([floor / scale]))
        upper.append(np.array([np.inf]))
        cost[:m] = problem.secondary / UNIT
    elif not feasibility_only:
        cost[:m] = -problem.objective / scale
    if cutoff is not None and floor is None:
        rows.append(
            sparse.csr_array(
                (problem.objective / scale, (np.zeros(m, dtype=int), np.arange(m))), shape=(1, n)
            )
        )
        lower.append(np.array([cutoff / scale - 1e-9 * max(abs(cutoff / scale), 1.0)]))
        upper.append(np.array([np.inf]))
    low = np.zeros(n)
    high = np.full(n, np.inf)
    high[:m] = 1.0
    if forced_in is not None:
        low[forced_in] = 1.0
    integrality = np.zeros(n)
    integrality[:m] = 1
    started = time.perf_counter()
    result = milp(
        cost,
        integrality=integrality,
        bounds=Bounds(low, high),
        constraints=LinearConstraint(
            sparse.vstack(rows, format="csr"), np.concatenate(lower), np.concatenate(upper)
        ),
        options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "disp": False},
    )
    seconds = time.perf_counter() - started
    status = STATUS.get(result.status, "error")
    if result.x is None:
        return Solution(status, None, None, None, None, None, seconds, str(result.message))
    selected = np.asarray(result.x[:m]) > 0.5
    bound = getattr(result, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound) or floor is not None or feasibility_only:
        bound = None
    else:
        bound = -float(bound) * scale
    gap = getattr(result, "mip_gap", None)
    return Solution(
        status,
        selected,
        problem.value(selected),
        problem.secondary_value(selected),
        bound,
        None if gap is None or not np.isfinite(gap) else float(gap),
        seconds,
        str(result.message),
    )


@dataclass(frozen=True)
class Greedy:
    """The greedy baseline's pool (None when it finds no pool meeting every limit)."""

    selected: np.ndarray | None
    objective: float | None
    seconds: float
    broken: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return self.selected is not None


def greedy(problem: Problem, target: float | None) -> Greedy:
    """Best-first: keep a loan when every ceiling still holds against the target size.

    Shares are capped against ``target`` (the maximum deal size, or all eligible balance) while
    the pool is built, the top-N limit as "no loan above L/N of the target", and averages are
    kept within their limit at every step; minimums (size, count) are checked at the end. If the
    finished pool is smaller than the target and so breaks a share limit, the pass is repeated
    with its size as the new target, until the pool is consistent or stops changing.
    """
    started = time.perf_counter()
    base = target if target is not None else float(problem.balance.sum())
    broken: list[str] = []
    seen: set[float] = set()
    for _ in range(50):
        mask = np.zeros(problem.loans, dtype=bool)
        for i in problem.greedy_order:
            mask[i] = True
            if problem.breaches(mask, base, ceilings_only=True):
                mask[i] = False
        broken = [lim.describe(mask) for lim in problem.breaches(mask)]
        if not broken:
            return Greedy(mask, problem.value(mask), time.perf_counter() - started, ())
        total = float(problem.balance[mask].sum())
        if total <= 0 or total >= base or total in seen:
            break
        seen.add(total)
        base = total
    return Greedy(None, None, time.perf_counter() - started, tuple(broken))


@dataclass(frozen=True)
class Conflict:
    """A minimal set of limits that no pool can meet together."""

    limits: tuple[str, ...]
    complete: bool
    solves: int


def conflicting_limits(
    problem: Problem, *, time_limit: float, forced_in: int | None = None, budget: int | None = None
) -> Conflict:
    """Deletion filter over the named limits; ``complete`` is False when a check timed out."""
    kept = [lim.name for lim in problem.limits]
    complete = True
    solves = 0
    for name in list(kept):
        if budget is not None and solves >= budget:
            complete = False
            break
        trial = frozenset(n for n in kept if n != name)
        answer = solve(
            problem,
            time_limit=time_limit,
            mip_rel_gap=1.0,
            forced_in=forced_in,
            keep=trial,
            feasibility_only=True,
        )
        solves += 1
        if answer.status == "infeasible":
            kept = [n for n in kept if n != name]
        elif not answer.feasible:
            complete = False
    return Conflict(tuple(kept), complete, solves)
