"""Importance sampling agrees with plain Monte Carlo where plain Monte Carlo is accurate."""

from __future__ import annotations

import math

import numpy as np

from securitize import run_scenario
from securitize.credit import CreditModel, RecoveryModel, one_factor
from securitize.credit.losses import simulate_pool_losses
from securitize.credit.term_structure import flat_after_maturity, from_annual_pd
from securitize.stats import effective_sample_size, probability_estimate, quantile_estimate
from tests.conftest import INTERBANK

LOANS, MONTHS = 40, 36


def model(shift: float | None) -> tuple[CreditModel, np.ndarray]:
    annual_pd = np.linspace(0.01, 0.05, LOANS)
    tenor = np.full(LOANS, MONTHS)
    cumulative = flat_after_maturity(from_annual_pd(annual_pd, MONTHS), tenor)
    credit = CreditModel(
        one_factor(0.2, LOANS),
        cumulative,
        tenor,
        RecoveryModel(np.full(LOANS, 0.3)),
        shift=None if shift is None else np.array([shift]),
    )
    return credit, np.full((LOANS, MONTHS), 1.0 / LOANS)


def test_shifted_and_plain_estimates_of_a_one_percent_tail_agree() -> None:
    plain_model, lgd = model(None)
    shifted_model, _ = model(-1.5)
    plain = simulate_pool_losses(plain_model, lgd, 200_000, seed=1, chunk_size=50_000)
    shifted = simulate_pool_losses(shifted_model, lgd, 200_000, seed=2, chunk_size=50_000)
    cut = float(np.quantile(plain.final, 0.99))
    a = probability_estimate(plain.final > cut)
    b = probability_estimate(shifted.final > cut, shifted.weight)
    assert a.value > 0.005  # plain Monte Carlo sees this event thousands of times
    assert abs(a.value - b.value) <= 4 * math.hypot(a.se, b.se)
    assert b.se < a.se  # the shift towards the tail pays for itself


def test_weighted_mean_loss_agrees_with_plain_mean_loss() -> None:
    plain_model, lgd = model(None)
    shifted_model, _ = model(-1.0)
    plain = simulate_pool_losses(plain_model, lgd, 100_000, seed=3, chunk_size=50_000)
    shifted = simulate_pool_losses(shifted_model, lgd, 100_000, seed=4, chunk_size=50_000)
    a = probability_estimate(plain.final, None)
    b = probability_estimate(shifted.final, shifted.weight)
    assert abs(a.value - b.value) <= 4 * math.hypot(a.se, b.se)


def test_weighted_quantile_agrees_with_plain_quantile() -> None:
    plain_model, lgd = model(None)
    shifted_model, _ = model(-1.5)
    plain = simulate_pool_losses(plain_model, lgd, 200_000, seed=5, chunk_size=50_000)
    shifted = simulate_pool_losses(shifted_model, lgd, 200_000, seed=6, chunk_size=50_000)
    a = quantile_estimate(plain.final, 0.99)
    b = quantile_estimate(shifted.final, 0.99, shifted.weight)
    # Losses come in steps of 0.7/40; allow one step beyond four combined standard errors.
    assert abs(a.value - b.value) <= 4 * math.hypot(a.se, b.se) + 0.7 / LOANS
    assert b.se <= a.se


def test_effective_sample_size_is_the_path_count_without_a_shift_and_less_with_one() -> None:
    plain_model, lgd = model(None)
    shifted_model, _ = model(-2.0)
    plain = simulate_pool_losses(plain_model, lgd, 20_000, seed=7, chunk_size=10_000)
    shifted = simulate_pool_losses(shifted_model, lgd, 20_000, seed=7, chunk_size=10_000)
    assert effective_sample_size(plain.weight, plain.paths) == 20_000
    assert effective_sample_size(shifted.weight, shifted.paths) < 20_000 / 2


def test_automatic_shift_keeps_the_pilot_deal_estimates_unbiased(tmp_path) -> None:
    text = INTERBANK.read_text().replace(
        "chunk_size = 25000", 'chunk_size = 25000\nimportance_shift = "auto"'
    )
    text = text.replace('tape = "data/', f'tape = "{INTERBANK.parent}/data/')
    scenario = tmp_path / "pilot_is.toml"
    scenario.write_text(text)
    shifted = run_scenario(scenario, paths=40_000)
    plain = run_scenario(INTERBANK, paths=40_000)
    assert shifted.results.simulation["importance_shift"][0] < 0
    for name in ("expected_loss", "probability_of_loss"):
        a = plain.results.tranches[0].standalone[name]
        b = shifted.results.tranches[0].standalone[name]
        assert abs(a.value - b.value) <= 4 * math.hypot(a.se, b.se)
    assert shifted.results.validation["all_agree"]
