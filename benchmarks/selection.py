"""Pool selection benchmark: prints its figures as JSON.

For 100 and 1,000 synthetic candidate loans (seeded; CNY 3-20m, 8 industries, 12 regions, 科创指数
55-95, some related parties and unlabelled loans), with every limit of the bundled programme
scenario active (deal size, loan count, single obligor, related group, top 5, industry, region,
weighted PD and score, the 70 % label test, one loan per enterprise), it times in the same run:

- the MILP (HiGHS via scipy.optimize.milp) and its expected-loss tie-break stage,
- the greedy largest-first baseline, and the gap between the two,
- the exclusion report's forced-in re-solves (for 100 candidates; for 1,000 they are skipped,
  see ``explain_solves_max`` in docs/selection.md).

Two deal shapes: the pilot-sized deal (CNY 150-200m, 12-20 loans) and a large deal that takes
about a fifth of the candidates (deal size up to 20 % of the candidates' balance, no loan cap).

    python benchmarks/selection.py
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from securitize.scoring import load_score_bands
from securitize.selection.api import select
from securitize.selection.candidates import prepare_candidates
from securitize.selection.spec import SelectionSpec
from securitize.tape import validate_tape

INDUSTRIES = [
    "Smart equipment",
    "Electrical equipment",
    "Auto parts",
    "Laser and photonics",
    "New materials",
    "Biomedicine",
    "Digital economy",
    "New energy",
]
REGIONS = [f"District {i}" for i in range(12)]
LIMITS = {
    "obligor_max": 0.10,
    "related_group_max": 0.15,
    "top_n": 5,
    "top_n_max": 0.40,
    "industry_max": 0.30,
    "region_max": 0.35,
    "wa_pd_max": 0.03,
    "wa_score_min": 70,
    "label_min": 0.70,
    "loans_per_enterprise_max": 1,
}


def synthetic(count: int, seed: int = 2021):
    rng = np.random.default_rng(seed)
    related = np.where(
        rng.random(count) < 0.1, [f"G{g}" for g in rng.integers(0, count // 10 + 1, count)], ""
    )
    frame = pd.DataFrame(
        {
            "loan_id": [f"S{i:05d}" for i in range(count)],
            "enterprise": [f"Enterprise {i}" for i in range(count)],
            "industry": rng.choice(INDUSTRIES, count),
            "region": rng.choice(REGIONS, count),
            "balance": (rng.integers(30, 201, count) * 1e5).astype(str),
            "coupon": rng.uniform(0.045, 0.055, count).round(4).astype(str),
            "tenor_months": rng.choice([24, 36, 36, 36, 48], count).astype(str),
            "amortisation": rng.choice(["bullet", "equal_principal", "level_payment"], count),
            "score": rng.integers(55, 96, count).astype(str),
            "ip_appraised_value": (rng.integers(30, 201, count) * 2.2e5).astype(str),
            "related_group": related,
            "ip_label": np.where(rng.random(count) < 0.8, "true", "false"),
        }
    )
    tape = validate_tape(frame, Path(f"synthetic_{count}.csv"))
    return prepare_candidates(tape, dt.date(2024, 6, 30), load_score_bands(), 0.85)


def case(count: int, shape: str, explain: bool) -> dict:
    candidates = synthetic(count)
    total = float(candidates.loans["balance"].sum())
    if shape == "pilot":
        sizing = {"deal_size_min": 150e6, "deal_size_max": 200e6, "loans_min": 12, "loans_max": 20}
    else:
        sizing = {"deal_size_max": round(0.2 * total, -6)}
    spec = SelectionSpec.model_validate(
        {**sizing, "limits": LIMITS, "explain_solves_max": 500 if explain else 0}
    )
    started = time.perf_counter()
    selection = select(candidates, spec, Path("benchmark.toml"), explain=explain)
    wall = time.perf_counter() - started
    first, final, greedy = selection.first, selection.solution, selection.greedy
    return {
        "candidates": count,
        "deal": shape,
        "deal_size_max": spec.deal_size_max,
        "selected_loans": int(final.selected.sum()),
        "selected_balance": final.objective,
        "solver_status": first.status,
        "proven_optimal": first.proven_optimal,
        "mip_gap": first.mip_gap,
        "milp_seconds": first.seconds,
        "tie_break_seconds": selection.tie_break.seconds if selection.tie_break else None,
        "greedy_seconds": greedy.seconds,
        "greedy_feasible": greedy.feasible,
        "greedy_gap_relative": None
        if not greedy.feasible
        else (first.objective - greedy.objective) / first.objective,
        "explanation_solves": selection.explanations.solves,
        "select_seconds_total": wall,
    }


def main() -> None:
    cases = [
        case(100, "pilot", explain=True),
        case(100, "pilot", explain=False),
        case(1000, "pilot", explain=False),
        case(100, "large", explain=False),
        case(1000, "large", explain=False),
    ]
    print(
        json.dumps(
            {
                "benchmark": "selection",
                "python": platform.python_version(),
                "scipy": scipy.__version__,
                "machine": platform.machine(),
                "cases": cases,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
