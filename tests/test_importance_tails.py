"""Tail probabilities P(pool loss > x) against the exact engine, as x deepens.

Plain Monte Carlo must agree with ``finite_pool_loss_distribution`` within 4 standard errors;
importance sampling aimed at x must too, with a relative standard error that stays bounded (it
does not grow like plain Monte Carlo's 1/sqrt(n p)) for the one-factor Gaussian copula, several
factors and the Student-t copula. The pools are homogeneous (the exact engine groups identical
loans, so a t copula costs as much as one loan) and every threshold sits half a loan's loss
between two points of the loss lattice, so no figure hangs on floating-point ties.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from securitize import run_scenario
from securitize.credit import CreditModel, FactorCopula, RecoveryModel, one_factor
from securitize.credit.analytic import finite_pool_loss_distribution
from securitize.credit.build import build_credit_model
from securitize.credit.importance import (
    DEFENSIVE_SHARE,
    aim_importance_sampling,
    glasserman_li_shift,
    importance_tilt,
)
from securitize.credit.losses import LossPaths, simulate_pool_losses
from securitize.credit.term_structure import flat_after_maturity, from_annual_pd
from securitize.pool import build_pool
from securitize.results import weight_diagnostics
from securitize.scenario import load_scenario
from securitize.stats import Estimate, mean_estimate, probability_estimate
from securitize.structure import build_structure
from securitize.summary import format_summary

MONTHS, RECOVERY, PATHS, Z = 36, 0.4, 20_000, 4.0


def homogeneous(loans: int, annual_pd: float, copula: FactorCopula) -> CreditModel:
    tenor = np.full(loans, MONTHS)
    cumulative = flat_after_maturity(from_annual_pd(np.full(loans, annual_pd), MONTHS), tenor)
    return CreditModel(copula, cumulative, tenor, RecoveryModel(np.full(loans, RECOVERY)))


def exact_for(model: CreditModel, rho: float, nu: float | None = None):
    loans = model.loans
    lgd = np.full((loans, MONTHS), (1 - RECOVERY) / loans)
    return finite_pool_loss_distribution(lgd, model.cumulative_pd, math.sqrt(rho), [MONTHS], nu=nu)


def simulate(model: CreditModel, seed: int, paths: int = PATHS) -> LossPaths:
    exposure = np.full((model.loans, MONTHS), 1.0 / model.loans)
    return simulate_pool_losses(model, exposure, paths, seed=seed, chunk_size=paths)


def threshold(defaults: int, loans: int) -> float:
    """Half a loan's loss above ``defaults`` loans' losses: the event is "more than that many"."""
    return (defaults + 0.5) * (1 - RECOVERY) / loans


def loss_share(loans: int) -> np.ndarray:
    return np.full(loans, (1 - RECOVERY) / loans)


def tail(losses: LossPaths, x: float) -> Estimate:
    return probability_estimate(losses.final > x, losses.weight)


def aimed_tails(base: CreditModel, defaults: list[int], seed: int) -> list[tuple[float, Estimate]]:
    """For each threshold: a run aimed at it, and its estimate of the tail there."""
    out = []
    for k, count in enumerate(defaults):
        x = threshold(count, base.loans)
        aimed = aim_importance_sampling(base, loss_share(base.loans), x)
        out.append((x, tail(simulate(aimed, seed + k), x)))
    return out


def assert_bounded_relative_error(
    estimates: list[tuple[float, Estimate]], exact, largest: float, growth: float
) -> list[float]:
    """Every estimate within Z standard errors of the exact tail; the relative standard error
    at most ``largest`` everywhere and at most ``growth`` times its value at the shallowest
    threshold."""
    relative = []
    for x, estimate in estimates:
        p = float(exact.probability_of_exceeding(MONTHS, x))
        assert abs(estimate.value - p) <= Z * estimate.se, (x, p, estimate)
        relative.append(estimate.se / p)
    assert max(relative) <= largest, relative
    assert max(relative) <= growth * relative[0], relative
    return relative


# ---------------------------------------------------------------------------------- plain MC


@pytest.mark.parametrize("nu", [None, 4.0], ids=["gaussian", "student_t"])
def test_plain_monte_carlo_tails_agree_with_the_exact_engine(nu) -> None:
    loans, rho = 40, 0.2
    model = homogeneous(loans, 0.03, one_factor(rho, loans, nu))
    exact = exact_for(model, rho, nu)
    losses = simulate(model, seed=1)
    np.testing.assert_array_equal(losses.weight, 1.0)
    for count in (2, 5, 8, 12):
        x = threshold(count, loans)
        p = float(exact.probability_of_exceeding(MONTHS, x))
        estimate = tail(losses, x)
        assert p > 5e-3  # deep enough to matter, shallow enough for 20 000 plain paths
        assert abs(estimate.value - p) <= Z * estimate.se, (x, p, estimate)


# ----------------------------------------------------------------------- Gaussian, one factor


def test_gaussian_one_factor_importance_sampling_keeps_its_relative_error_bounded() -> None:
    loans, rho = 200, 0.2
    base = homogeneous(loans, 0.01, one_factor(rho, loans))
    exact = exact_for(base, rho)
    defaults = [25, 50, 75, 100, 125]  # P(L > x) from 2.6e-2 down to 7e-7
    estimates = aimed_tails(base, defaults, seed=10)
    deepest = float(exact.probability_of_exceeding(MONTHS, estimates[-1][0]))
    assert deepest < 1e-6
    relative = assert_bounded_relative_error(estimates, exact, largest=0.05, growth=4.0)
    # Plain Monte Carlo's relative error there would be sqrt((1 − p) / (n p)) > 8.
    assert relative[-1] < math.sqrt((1 - deepest) / (PATHS * deepest)) / 100


def test_an_impossible_tail_gets_no_shift() -> None:
    # Every loan lost at 60 % of its balance cannot take the pool past 70 %: nothing to aim at
    # (the search used to run to its edge, μ = −8, and every weight collapsed).
    share = loss_share(20)
    threshold_ = np.full(20, -2.0)
    assert glasserman_li_shift(threshold_, np.full(20, 0.4), share, 0.7) == 0.0
    assert importance_tilt(threshold_, 0.4, share, 0.7, nu=4.0).shift == 0.0


# ------------------------------------------------------------------------------ several factors

LOADINGS = np.array([0.35, 0.3, 0.25])
CORRELATION = np.array([[1.0, 0.3, 0.2], [0.3, 1.0, 0.1], [0.2, 0.1, 1.0]])
NAMES = ("global", "industry:a", "region:x")


def test_multi_factor_importance_sampling_keeps_its_relative_error_bounded() -> None:
    # Equal loadings on three correlated factors: the systematic part a·Z is one normal of
    # variance ρ = aᵀ C a, so the exact one-factor engine at that ρ is the closed form.
    loans = 100
    rho = float(LOADINGS @ CORRELATION @ LOADINGS)
    copula = FactorCopula(np.tile(LOADINGS, (loans, 1)), NAMES, CORRELATION)
    base = homogeneous(loans, 0.02, copula)
    exact = exact_for(base, rho)
    defaults = [10, 25, 40, 55, 70]  # P(L > x) from 0.18 down to 3e-4
    estimates = aimed_tails(base, defaults, seed=20)
    assert float(exact.probability_of_exceeding(MONTHS, estimates[-1][0])) < 1e-3
    assert_bounded_relative_error(estimates, exact, largest=0.03, growth=3.0)
    # The shift is along the loans' whole systematic direction, not the global factor alone.
    shift = aim_importance_sampling(base, loss_share(loans), threshold(40, loans)).shift
    assert shift is not None and np.all(shift < 0)


def test_multi_factor_importance_sampling_agrees_with_plain_monte_carlo() -> None:
    # Two industries and two regions, unequal PDs: no closed form, so 400 000 plain paths.
    loans = 60
    industry, region = np.arange(loans) % 2, (np.arange(loans) // 2) % 2
    loadings = np.zeros((loans, 5))
    loadings[:, 0] = 0.4
    loadings[np.arange(loans), 1 + industry] = 0.35
    loadings[np.arange(loans), 3 + region] = 0.25
    names = ("global", "industry:a", "industry:b", "region:x", "region:y")
    tenor = np.full(loans, MONTHS)
    annual = np.where(industry == 0, 0.02, 0.03)
    base = CreditModel(
        FactorCopula(loadings, names),
        flat_after_maturity(from_annual_pd(annual, MONTHS), tenor),
        tenor,
        RecoveryModel(np.full(loans, RECOVERY)),
    )
    plain = simulate_pool_losses(
        base, np.full((loans, MONTHS), 1.0 / loans), 400_000, seed=30, chunk_size=100_000
    )
    relative = []
    for k, (x, estimate) in enumerate(aimed_tails(base, [8, 14, 20, 26], seed=31)):
        reference = tail(plain, x)
        assert abs(estimate.value - reference.value) <= Z * math.hypot(estimate.se, reference.se)
        relative.append(estimate.se / estimate.value)
        if k == 3:  # P ≈ 5e-3: 20 000 aimed paths beat 400 000 plain ones
            assert estimate.se < reference.se
    assert max(relative) <= 0.025 and max(relative) <= 2.5 * relative[0], relative


# ------------------------------------------------------------------------------ Student-t


T_LOANS, T_PD, T_RHO, T_NU = 200, 0.01, 0.2, 3.0


def t_base() -> CreditModel:
    return homogeneous(T_LOANS, T_PD, one_factor(T_RHO, T_LOANS, T_NU))


def test_t_copula_importance_sampling_keeps_its_relative_error_bounded() -> None:
    base = t_base()
    exact = exact_for(base, T_RHO, T_NU)
    defaults = [50, 75, 100, 125, 150, 175]  # P(L > x) from 2.6e-2 down to 1e-5
    estimates = aimed_tails(base, defaults, seed=40)
    deepest = float(exact.probability_of_exceeding(MONTHS, estimates[-1][0]))
    assert deepest < 2e-5
    # Typically 1 % at the top and 2 % at the bottom (a seed in ten shows 4–5 %, one path
    # of large weight); plain Monte Carlo's goes from 4 % to 210 %.
    relative = assert_bounded_relative_error(estimates, exact, largest=0.08, growth=8.0)
    assert relative[-1] < math.sqrt((1 - deepest) / (PATHS * deepest)) / 20


def test_t_copula_tilt_keeps_every_other_figure_honest() -> None:
    # Aimed deep (P ≈ 1.7e-4), the same paths still estimate the expected loss and the
    # probability of any default within 4 SE: the defensive mixture bounds every weight.
    base = t_base()
    exact = exact_for(base, T_RHO, T_NU)
    x = threshold(150, T_LOANS)
    aimed = aim_importance_sampling(base, loss_share(T_LOANS), x)
    assert aimed.mixing_scale is not None and aimed.mixing_scale < 0.1
    assert aimed.defensive_share == DEFENSIVE_SHARE
    losses = simulate(aimed, seed=50)
    assert losses.weight.max() <= 1 / DEFENSIVE_SHARE
    mean = mean_estimate(losses.final, losses.weight)
    assert abs(mean.value - exact.expected_loss(MONTHS)) <= Z * mean.se
    any_default = tail(losses, 0.5 * (1 - RECOVERY) / T_LOANS)
    p = float(exact.probability_of_exceeding(MONTHS, 0.5 * (1 - RECOVERY) / T_LOANS))
    assert abs(any_default.value - p) <= Z * any_default.se
    weights = mean_estimate(losses.weight)
    assert abs(weights.value - 1.0) <= Z * weights.se  # E[w] = 1 under the sampling law


def test_the_factor_shift_alone_underestimates_the_t_tail() -> None:
    # What "auto" did before: the Glasserman–Li shift of Z alone, V drawn as in the model.
    # It is unbiased in theory, but its weights are so heavy-tailed that 20 000 paths put a
    # 3e-3 tail an order of magnitude low, with a standard error that hides it.
    base = t_base()
    exact = exact_for(base, T_RHO, T_NU)
    x = threshold(100, T_LOANS)
    copula = base.copula
    mu = glasserman_li_shift(
        copula.threshold(base.cumulative_pd[:, -1]), copula.loadings[:, 0], loss_share(T_LOANS), x
    )
    losses = simulate(replace(base, shift=np.array([mu])), seed=60)
    estimate = tail(losses, x)
    p = float(exact.probability_of_exceeding(MONTHS, x))
    assert estimate.value < p / 10 and (p - estimate.value) > 20 * estimate.se
    assert weight_diagnostics(losses.weight, PATHS)["warnings"]  # and a run says so


T_SCENARIO = """
[deal]
name = "t_tail"
closing_date = 2024-01-01

[pool.inline]
count = 200
balance = 1000000.0
annual_pd = 0.01
recovery_rate = 0.4
tenor_months = 36

[credit]
model = "student_t"
degrees_of_freedom = 3.0
asset_correlation = 0.2

[simulation]
paths = 20000
chunk_size = 20000
importance_shift = {shift}

[[tranches]]
name = "senior"
share = 0.6985

[[tranches]]
name = "subordinated"
share = 0.3015
"""


@pytest.mark.parametrize("shift", ['"auto"', "-1.5"])
def test_a_t_copula_scenario_aims_its_tilt_at_the_senior_note(write_scenario, shift) -> None:
    loaded = load_scenario(write_scenario(T_SCENARIO.format(shift=shift)))
    pool = build_pool(loaded)
    attachment = build_structure(loaded, pool).senior_attachment
    assert attachment == pytest.approx(threshold(100, T_LOANS))
    model = build_credit_model(loaded, pool, attachment)
    assert model.mixing_scale is not None and model.mixing_scale < 1
    assert model.defensive_share == DEFENSIVE_SHARE
    if shift == "-1.5":
        np.testing.assert_array_equal(model.shift, [-1.5])
    estimate = tail(simulate(model, seed=70), attachment)
    p = float(exact_for(model, T_RHO, T_NU).probability_of_exceeding(MONTHS, attachment))
    assert abs(estimate.value - p) <= Z * estimate.se and estimate.se < 0.03 * p


# --------------------------------------------------------------------- degenerate weights


def test_weight_diagnostics_warn_only_on_degenerate_weights() -> None:
    plain = weight_diagnostics(np.ones(1000), 1000)
    assert plain == {"effective_sample_size": 1000.0, "largest_weight_share": 0.001, "warnings": []}
    rng = np.random.default_rng(80)
    mu = -4.0  # effective sample size ≈ n e^{−μ²}: about 0.01 % of the paths
    xi = rng.standard_normal(20_000) + mu
    heavy = weight_diagnostics(np.exp(-mu * xi + mu * mu / 2), 20_000)
    assert heavy["effective_sample_size"] < 200 and heavy["warnings"]
    text = heavy["warnings"][0]
    assert "effective sample size" in text and "importance_shift" in text and "\n" not in text


GAUSSIAN_SCENARIO = """
[deal]
name = "shifted"
closing_date = 2024-01-01

[pool.inline]
count = 20
balance = 1000000.0
annual_pd = 0.02
recovery_rate = 0.4
tenor_months = 12

[simulation]
paths = 4000
chunk_size = 4000
importance_shift = {shift}

[[tranches]]
name = "senior"
share = 0.8

[[tranches]]
name = "subordinated"
share = 0.2
"""


@pytest.mark.parametrize("shift", ["-4.0", "0.0"])
def test_a_run_reports_its_weights_and_warns_when_they_degenerate(write_scenario, shift) -> None:
    run = run_scenario(write_scenario(GAUSSIAN_SCENARIO.format(shift=shift)))
    simulation = run.results.to_dict()["simulation"]
    assert simulation["importance_mixing_scale"] is None
    assert simulation["importance_defensive_share"] is None
    if shift == "0.0":
        assert simulation["effective_sample_size"] == 4000
        assert simulation["largest_weight_share"] == pytest.approx(1 / 4000)
        assert simulation["warnings"] == []
        assert "warning:" not in format_summary(run.results)
    else:
        assert simulation["effective_sample_size"] < 40
        assert len(simulation["warnings"]) == 1
        assert "warning: importance weights are degenerate" in format_summary(run.results)
