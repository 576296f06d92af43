"""The exact engine's loss lattice: exact where the losses allow it, bounded where they do not.

References are computed here: the expected loss Σ_i Σ_k p_ik l_ik straight from the inputs, and
small pools' distributions by enumerating every combination of defaults with the true losses
(no lattice) under Gauss–Hermite integration over the factor.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import special

from securitize.credit.analytic import finite_pool_loss_distribution


def flat_curve(loans: int, months: int, annual_pd: float) -> np.ndarray:
    m = np.arange(1, months + 1)
    return np.tile(1.0 - (1.0 - annual_pd) ** (m / 12.0), (loans, 1))


def true_expected_loss(lgd: np.ndarray, curve: np.ndarray) -> float:
    return float(np.sum(np.diff(curve, axis=1, prepend=0.0) * lgd))


@pytest.mark.parametrize("loans", [100, 1000, 5000])
def test_equal_loans_sit_on_their_common_measure_and_lose_nothing_to_rounding(loans):
    """Equal losses used to land on a rounding tie (−1.2% on E[L] at 100 loans, −2.3% at 1000)
    and above 4095 loans to round to nothing at all (a point mass at zero)."""
    lgd = np.full((loans, 12), 0.006)
    curve = flat_curve(loans, 12, 0.03)
    result = finite_pool_loss_distribution(lgd, curve, 0.4, [12])
    assert result.unit == pytest.approx(0.006, rel=1e-9)
    assert result.max_rounding_error < 1e-15
    assert result.loss.size == loans + 1
    assert result.expected_loss(12) == pytest.approx(true_expected_loss(lgd, curve), rel=1e-10)


def test_commensurate_unequal_losses_are_exact_too():
    """Balances in whole CNY 0.5m at one recovery: the unit is the 0.5m step's loss."""
    balances = np.array([5.0, 3.5, 12.0, 7.5, 20.0, 0.5] * 10) * 1e6
    lgd = np.repeat(0.55 * balances[:, None], 12, axis=1)
    curve = flat_curve(balances.size, 12, 0.04)
    result = finite_pool_loss_distribution(lgd, curve, 0.45, [12])
    assert result.unit == pytest.approx(0.55 * 0.5e6, rel=1e-9)
    assert result.rounding_bound < 1e-6
    assert result.expected_loss(12) == pytest.approx(true_expected_loss(lgd, curve), rel=1e-10)


def enumerated_distribution(losses: np.ndarray, pd: float, loading: float):
    """Every default combination of a one-month pool with its true (unrounded) loss, mixed over
    the factor by 120-point Gauss–Hermite: (loss values, probabilities)."""
    combos = np.array(list(itertools.product([0, 1], repeat=losses.size)), dtype=float)
    values = combos @ losses
    x, w = np.polynomial.hermite_e.hermegauss(120)
    w = w / w.sum()
    p = special.ndtr((special.ndtri(pd) - loading * x) / np.sqrt(1 - loading**2))
    k = combos.sum(axis=1)
    n = losses.size
    probability = (w[:, None] * p[:, None] ** k * (1 - p[:, None]) ** (n - k)).sum(axis=0)
    order = np.argsort(values)
    return values[order], probability[order]


def test_rounded_losses_stay_within_the_bounds_the_engine_reports():
    """Incommensurate repeated losses (√2 and √3 multiples), a case bisection alone puts on a
    tie: every figure moves by no more than the proven bound it reports."""
    losses = np.array([np.sqrt(2.0)] * 5 + [np.sqrt(3.0)] * 4 + [0.7] * 3) * 1e6
    pd, loading = 0.05, 0.5
    lgd = losses[:, None]
    curve = np.full((losses.size, 1), pd)
    result = finite_pool_loss_distribution(lgd, curve, loading, [1], max_points=1000)
    assert result.loss.size <= 1000
    assert result.max_rounding_error > 0
    values, probability = enumerated_distribution(losses, pd, loading)
    true_mean = float(values @ probability)
    assert abs(result.expected_loss(1) - true_mean) <= result.mean_rounding_bound + 1e-9 * true_mean
    for level in (0.9, 0.99, 0.999):
        true_q = values[np.searchsorted(np.cumsum(probability), level - 1e-12)]
        assert abs(result.quantile(1, level) - true_q) <= result.rounding_bound + 1e-6
    attach, detach = 0.1 * losses.sum(), 0.3 * losses.sum()
    width = detach - attach
    true_tranche = float(np.clip(values - attach, 0, width) @ probability) / width
    lattice_tranche = float(result.tranche_expected_loss(attach, detach)[0])
    assert abs(lattice_tranche - true_tranche) <= result.mean_rounding_bound / width + 1e-12


def test_the_default_lattice_holds_the_mean_bound_within_a_tenth_of_a_percent():
    rng = np.random.default_rng(8)
    balances = rng.uniform(3e6, 20e6, 40)
    lgd = np.repeat(0.6 * balances[:, None], 6, axis=1)
    curve = flat_curve(40, 6, 0.03)
    result = finite_pool_loss_distribution(lgd, curve, 0.4, [6])
    true_mean = true_expected_loss(lgd, curve)
    assert result.mean_rounding_bound <= 1e-3 * true_mean
    assert abs(result.expected_loss(6) - true_mean) <= result.mean_rounding_bound + 1e-9 * true_mean


def test_a_lattice_too_coarse_for_its_pool_is_refused_not_returned():
    """10,000 unequal loans cannot be put on a workable lattice within 1% of the expected loss:
    the engine says so instead of returning a distribution that is mostly rounding."""
    rng = np.random.default_rng(9)
    balances = rng.uniform(3e6, 20e6, 10_000)
    lgd = 0.6 * balances[:, None]
    curve = flat_curve(10_000, 1, 0.03)
    with pytest.raises(ValueError, match=r"moves the expected loss by up to .* \(at most 1%\)"):
        finite_pool_loss_distribution(lgd, curve, 0.4, [1])


def binomial_mixture_tail(n: int, pd: float, loading: float, k: np.ndarray) -> np.ndarray:
    """P(defaults > k) for n identical loans: binomial tails (scipy, accurate to tiny values)
    mixed over the factor by 200-point Gauss–Hermite."""
    from scipy import stats

    x, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    p = special.ndtr((special.ndtri(pd) - loading * x) / np.sqrt(1 - loading**2))
    return (w[:, None] * stats.binom.sf(k[None, :], n, p[:, None])).sum(axis=0)


@pytest.mark.parametrize("loading", [0.0, 0.4])
def test_tail_probabilities_are_resolved_or_withheld_never_round_off(loading):
    """Deep tails used to come back as FFT round-off (1e-20 as ~1e-16) with no warning: every
    value returned now keeps three digits against the reference, and the rest are NaN."""
    n = 40
    result = finite_pool_loss_distribution(np.ones((n, 1)), np.full((n, 1), 0.01), loading, [1])
    k = np.arange(n)
    reference = binomial_mixture_tail(n, 0.01, loading, k)
    returned = result.probability_of_exceeding(1, k.astype(float))
    resolved = ~np.isnan(returned)
    assert resolved[:4].all()  # the body of the distribution is there
    assert not resolved[-1]  # losing 40 of 40 loans is far below round-off
    np.testing.assert_allclose(returned[resolved], reference[resolved], rtol=1e-3)
    assert np.all(resolved[: np.argmin(resolved)])  # resolved up to a point, then withheld
    with pytest.raises(ValueError, match="beyond the exact engine's accuracy"):
        result.quantile(1, 1 - 1e-16)
