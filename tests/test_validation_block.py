"""The run's validation block can disagree: a wrong engine is caught, a coarse lattice refused.

The block compares Monte Carlo with the exact engine under a statistical tolerance (4 SE) plus
the exact engine's proven lattice bound. Before, its slack was the largest rounding times the
number of loans, as large as the figures themselves.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from securitize import run_scenario
from securitize.credit.build import build_credit_model
from securitize.validation import compare_with_exact
from tests.conftest import INTERBANK, TAPE_HEADER, tape_scenario

PATHS = 20_000


@pytest.fixture(scope="module")
def pilot():
    run = run_scenario(INTERBANK, paths=PATHS)
    model = build_credit_model(run.loaded, run.pool, run.structure.senior_attachment)
    return run, model


def test_the_pilot_agrees_with_a_tolerance_set_by_its_standard_errors(pilot):
    run, model = pilot
    block = compare_with_exact(run.pool, run.structure, model, run.outcomes)
    assert block["applicable"] and block["all_agree"], block["figures"]
    mean = block["figures"][0]
    assert mean["figure"] == "expected pool loss"
    # The allowance is 4 SE plus a bound far below the SE, not a slack as large as the figure.
    assert mean["allowed"] <= 4 * mean["monte_carlo_se"] + 0.25 * mean["monte_carlo_se"]
    assert block["mean_rounding_bound"] <= 1e-3 * mean["exact"]


@pytest.mark.parametrize("scale", [1.25, 0.8])
def test_an_exact_engine_fed_a_wrong_pd_is_reported_as_disagreeing(pilot, scale):
    run, model = pilot
    wrong = replace(model, cumulative_pd=np.minimum(model.cumulative_pd * scale, 0.999))
    block = compare_with_exact(run.pool, run.structure, wrong, run.outcomes)
    assert block["applicable"]
    assert not block["all_agree"]
    by_name = {row["figure"]: row for row in block["figures"]}
    assert not by_name["expected pool loss"]["agrees"]
    assert abs(by_name["expected pool loss"]["z"]) > 4


def test_a_wrong_correlation_moves_the_tail_quantiles_out_of_agreement(pilot):
    run, model = pilot
    loadings = np.sqrt(np.full_like(model.copula.loadings, 0.6))
    wrong = replace(model, copula=replace(model.copula, loadings=loadings))
    block = compare_with_exact(run.pool, run.structure, wrong, run.outcomes)
    by_name = {row["figure"]: row for row in block["figures"]}
    assert not by_name["pool loss 99.9% quantile"]["agrees"]
    assert by_name["pool loss 99.9% quantile"]["probability_gap"] > 0


def ten_thousand_loans(write_scenario, balances: np.ndarray):
    rows = [
        f"L{i},Firm {i},Electrical equipment,Lucheng,{b:.0f},0.05,12,bullet,80,{2 * b:.0f}"
        for i, b in enumerate(balances)
    ]
    tape = "\n".join([TAPE_HEADER, *rows]) + "\n"
    return write_scenario(tape_scenario(), tape)


def test_ten_thousand_equal_loans_are_validated_on_an_exact_lattice(write_scenario):
    """Before, every exact figure of a 10,000-loan run was 0 and the block said it agreed."""
    run = run_scenario(ten_thousand_loans(write_scenario, np.full(10_000, 1e6)), paths=4000)
    block = run.results.validation
    assert block["applicable"], block.get("reason")
    assert block["max_rounding_error"] < 1e-12
    mean = block["figures"][0]
    assert mean["exact"] > 0
    assert block["all_agree"], block["figures"]


def test_ten_thousand_unequal_loans_are_declared_out_of_reach(write_scenario):
    balances = np.random.default_rng(5).uniform(1e6, 9e6, 10_000).round(-2) + 0.37
    run = run_scenario(ten_thousand_loans(write_scenario, balances), paths=2000)
    block = run.results.validation
    assert not block["applicable"]
    assert "moves the expected loss" in block["reason"]
