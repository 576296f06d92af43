"""Optimal selection: the MILP against brute force, the greedy baseline, infeasibility, reasons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from securitize.selection.api import selection_summary
from securitize.selection.errors import SelectionError
from tests.selection_support import choose, chosen_ids, loan

INDUSTRIES = ["Smart equipment", "Electrical", "Materials"]
REGIONS = ["Lucheng", "Ruian", "Ouhai"]
ALL_LIMITS = {
    "deal_size_max": 60e6,
    "deal_size_min": 15e6,
    "loans_min": 3,
    "loans_max": 8,
    "limits": {
        "obligor_max": 0.3,
        "related_group_max": 0.5,
        "top_n": 2,
        "top_n_max": 0.6,
        "industry_max": 0.6,
        "region_max": 0.7,
        "wa_pd_max": 0.025,
        "wa_score_min": 72,
        "label_min": 0.7,
        "loans_per_enterprise_max": 1,
    },
}


def random_candidates(seed: int, count: int = 12) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        rows.append(
            loan(
                f"L{i:02d}",
                enterprise=f"E{rng.integers(0, count - 2)}",  # a few enterprises twice
                industry=INDUSTRIES[rng.integers(0, 3)],
                region=REGIONS[rng.integers(0, 3)],
                balance=float(rng.integers(30, 160)) * 1e5,
                coupon=float(rng.uniform(0.045, 0.055)),
                score=float(rng.integers(58, 95)),
                ip_label=str(bool(rng.random() < 0.75)).lower(),
                related_group=["", "", "", "", "", "G1", "G2"][rng.integers(0, 7)],
            )
        )
    return rows


def brute_force(selection) -> tuple[float, list[float], int]:
    """Over all subsets: best objective, expected losses of the best pools, feasible pools."""
    problem = selection.problem
    m = problem.loans
    best = -np.inf
    losses: list[float] = []
    feasible = 0
    for size in range(1, m + 1):
        for subset in itertools.combinations(range(m), size):
            mask = np.zeros(m, dtype=bool)
            mask[list(subset)] = True
            if problem.breaches(mask):
                continue
            feasible += 1
            value = problem.value(mask)
            loss = problem.secondary_value(mask) if problem.secondary is not None else 0.0
            if value > best + 1e-6:
                best, losses = value, [loss]
            elif value > best - 1e-6:
                losses.append(loss)
    return best, losses, feasible


# Seeds whose optimum is held back by several limits at once (checked when the test was written:
# 7 by size, loans per enterprise, related group and region; 9 by the label test; 10 by
# industry, weighted PD and label).
@pytest.mark.parametrize("seed", [7, 9, 10])
def test_the_milp_finds_the_brute_force_optimum_with_every_limit_active(seed: int) -> None:
    selection = choose(
        random_candidates(seed), **ALL_LIMITS, tie_break="none", explain_solves_max=0
    )
    best, _, feasible = brute_force(selection)
    assert feasible > 0
    assert selection.solution.proven_optimal
    assert selection.solution.objective == pytest.approx(best, rel=1e-9)
    assert not selection.problem.breaches(selection.solution.selected)


@pytest.mark.parametrize("seed", [4, 5])
def test_the_tie_break_picks_the_lowest_expected_loss_among_optimal_pools(seed: int) -> None:
    rows = random_candidates(seed)
    for row in rows:
        row["balance"] = 5e6  # many pools of equal balance, with different expected losses
    selection = choose(rows, **ALL_LIMITS, tie_break_tolerance=0.0, explain_solves_max=0)
    best, losses, _ = brute_force(selection)
    assert len(losses) > 1 and max(losses) > min(losses)
    assert selection.solution.objective == pytest.approx(best, rel=1e-9)
    assert selection.solution.secondary == pytest.approx(min(losses), rel=1e-9)


@pytest.mark.parametrize("objective", ["excess_spread", "loans"])
def test_other_objectives_against_brute_force(objective: str) -> None:
    extra = {"funding_cost": 0.042} if objective == "excess_spread" else {}
    selection = choose(
        random_candidates(7),
        **ALL_LIMITS,
        objective=objective,
        tie_break="none",
        explain_solves_max=0,
        **extra,
    )
    best, _, _ = brute_force(selection)
    assert selection.solution.objective == pytest.approx(best, rel=1e-9)


def test_excess_spread_leaves_out_loans_that_cost_more_than_they_earn() -> None:
    # Spread = coupon − PD × (1 − recovery) − funding cost; band D at 4.5 % loses money.
    rows = [loan("A", score=90, coupon=0.05), loan("D", score=60, coupon=0.045)]
    selection = choose(rows, objective="excess_spread", funding_cost=0.03)
    assert chosen_ids(selection) == {"A"}
    reason = selection.report.set_index("loan_id").loc["D", "reason"]
    assert reason.startswith("not selected: lost out on the objective")


def test_greedy_baseline_and_its_gap_are_reported() -> None:
    # Largest-first takes 6m and then nothing fits under 10m; the optimum is 5m + 5m.
    rows = [loan("L6", balance=6e6), loan("L5a", balance=5e6), loan("L5b", balance=5e6)]
    summary = selection_summary(choose(rows, deal_size_max=10e6))
    assert summary["objective"]["value"] == pytest.approx(10e6)
    assert summary["greedy"]["feasible"] and summary["greedy"]["objective"] == pytest.approx(6e6)
    assert summary["greedy"]["gap_to_optimum"]["relative"] == pytest.approx(0.4)
    assert summary["solver"]["proven_optimal"] is True


@pytest.mark.parametrize(
    ("rows", "fields", "conflict"),
    [
        (
            [loan(f"L{i}") for i in range(3)],
            {"limits": {"obligor_max": 0.2}},
            ["non-empty pool", "limits.obligor_max"],
        ),
        (
            [loan(f"L{i}") for i in range(6)],
            {"loans_max": 2, "deal_size_min": 50e6, "limits": {"obligor_max": 0.9}},
            ["loans_max", "deal_size_min"],
        ),
        (
            [loan(f"L{i}", score=70) for i in range(4)],
            {"limits": {"wa_pd_max": 0.02, "region_max": 0.5}},
            ["non-empty pool", "limits.wa_pd_max"],
        ),
    ],
)
def test_contradictory_limits_name_the_conflicting_constraints(rows, fields, conflict) -> None:
    with pytest.raises(SelectionError) as error:
        choose(rows, **fields)
    message = str(error.value)
    assert "no pool" in message and "meets these limits together" in message
    named = message.split("together: ")[1].split(";")[0]
    assert [part.split(" (")[0] for part in named.split("), ")] == conflict
    assert "\n" not in message


def test_nothing_eligible_is_an_error_not_an_empty_pool() -> None:
    with pytest.raises(SelectionError, match=r"eligibility\.score_min excludes 2"):
        choose([loan("A", score=50), loan("B", score=55)], eligibility={"score_min": 60})


def test_a_loan_that_no_feasible_pool_can_hold_names_its_conflict() -> None:
    rows = [loan("BIG", balance=30e6)] + [loan(f"S{i}", balance=10e6) for i in range(6)]
    selection = choose(rows, limits={"obligor_max": 0.25})
    row = selection.report.set_index("loan_id").loc["BIG"]
    assert row["status"] == "not selected" and row["forced_in"] == "infeasible"
    assert row["conflicting_limits"] == ["limits.obligor_max"]
    assert "no pool that meets the limits can contain it" in row["reason"]


def test_a_loan_that_lost_on_size_names_the_binding_limit_and_the_cost() -> None:
    rows = [loan("A", balance=6e6), loan("B", balance=5e6), loan("C", balance=5e6)]
    selection = choose(rows, deal_size_max=10e6, tie_break="none")
    row = selection.report.set_index("loan_id").loc["A"]
    assert row["objective_cost"] == pytest.approx(4e6)
    assert "lost out on the objective" in row["reason"]
    assert "deal_size_max: pool balance CNY 16.00m > CNY 10.00m" in row["reason"]


def test_a_loan_that_lost_on_the_tie_break_says_so() -> None:
    rows = [loan("GOOD", score=90), loan("POOR", score=60)]
    selection = choose(rows, loans_max=1)
    assert chosen_ids(selection) == {"GOOD"}
    row = selection.report.set_index("loan_id").loc["POOR"]
    assert row["reason"].startswith("not selected: lost out on the tie-break")
    assert row["expected_loss_cost"] > 0
    assert "loans_max: loans 2 > 1" in row["reason"]


def test_summary_is_json_ready_and_counts_every_candidate() -> None:
    import json

    rows = [loan("A"), loan("B", score=40), loan("C", balance=30e6)]
    summary = selection_summary(choose(rows, eligibility={"score_min": 50}, deal_size_max=20e6))
    json.dumps(summary, allow_nan=False)
    assert summary["counts"] == {
        "candidates": 3,
        "eligible": 2,
        "ineligible": 1,
        "selected": 1,
        "not_selected": 1,
    }
    assert [row["loan_id"] for row in summary["loans"]] == ["A", "B", "C"]
    assert {row["status"] for row in summary["loans"]} == {"included", "ineligible", "not selected"}
