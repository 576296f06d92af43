"""The Monte Carlo credit engine against independent references, with tolerances from the SE.

Every statistical comparison allows 4 standard errors (of the Monte Carlo estimate, computed
from the reference probability); seeds are fixed so runs are reproducible, but the tolerances
come from the sampling error, not from trial runs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from securitize.credit import CreditModel, RecoveryModel, one_factor, simulate_defaults
from securitize.credit.counterparty import enhancer_default_months
from securitize.credit.term_structure import flat_after_maturity, from_annual_pd
from securitize.stats import quantile_estimate


def simulate_gaussian(annual_pd, tenor, rho, paths, seed, chunk_size, workers=1):
    """One-factor Gaussian paths with fixed 40% recovery (the engine under test)."""
    annual_pd = np.asarray(annual_pd, dtype=float)
    tenor = np.asarray(tenor, dtype=int)
    cumulative = flat_after_maturity(from_annual_pd(annual_pd, int(tenor.max())), tenor)
    model = CreditModel(
        one_factor(rho, annual_pd.size), cumulative, tenor, RecoveryModel(np.full(tenor.size, 0.4))
    )
    return simulate_defaults(model, paths, seed, chunk_size, workers)


Z = 4.0


def cumulative(annual_pd: float, months: float) -> float:
    """1 - (1 - p)^(T/12), written out here rather than taken from the package."""
    return 1.0 - (1.0 - annual_pd) ** (months / 12.0)


def defaults_per_path(result) -> np.ndarray:
    return np.concatenate([np.bincount(c.path, minlength=c.paths) for c in result.chunks])


# (a) reproducibility ---------------------------------------------------------------------------

PD = np.array([0.02, 0.05, 0.03, 0.08, 0.01])
TENOR = np.array([36, 24, 36, 12, 60])


def events(result) -> list[tuple[np.ndarray, ...]]:
    return [(c.factor, c.path, c.loan, c.month) for c in result.chunks]


def assert_same_events(a, b) -> None:
    assert a.paths == b.paths
    assert len(a.chunks) == len(b.chunks)
    for x, y in zip(events(a), events(b), strict=True):
        for u, v in zip(x, y, strict=True):
            np.testing.assert_array_equal(u, v)


def test_same_seed_gives_identical_default_events() -> None:
    model = 0.2
    first = simulate_gaussian(PD, TENOR, model, 5_000, seed=7, chunk_size=1_000)
    second = simulate_gaussian(PD, TENOR, model, 5_000, seed=7, chunk_size=1_000)
    assert sum(c.path.size for c in first.chunks) > 0
    assert_same_events(first, second)


def test_worker_count_does_not_change_default_events() -> None:
    model = 0.2
    one = simulate_gaussian(PD, TENOR, model, 5_000, seed=7, chunk_size=1_000, workers=1)
    two = simulate_gaussian(PD, TENOR, model, 5_000, seed=7, chunk_size=1_000, workers=2)
    assert_same_events(one, two)


def test_different_seed_gives_different_default_events() -> None:
    model = 0.2
    first = simulate_gaussian(PD, TENOR, model, 5_000, seed=7, chunk_size=1_000)
    other = simulate_gaussian(PD, TENOR, model, 5_000, seed=8, chunk_size=1_000)
    assert not np.array_equal(first.chunks[0].factor, other.chunks[0].factor)
    counts = [np.bincount(r.chunks[0].loan, minlength=PD.size) for r in (first, other)]
    assert not np.array_equal(counts[0], counts[1])


def test_chunks_draw_independent_factors() -> None:
    result = simulate_gaussian(PD, TENOR, 0.2, 4_000, 7, chunk_size=1_000)
    factors = [c.factor for c in result.chunks]
    for k in range(1, len(factors)):
        assert not np.array_equal(factors[0], factors[k])


# (b) marginal default probabilities ------------------------------------------------------------


def test_each_loans_default_frequency_matches_its_cumulative_pd() -> None:
    pd_ = np.array([0.005, 0.02, 0.04, 0.06, 0.10, 0.03])
    tenor = np.array([36, 12, 24, 36, 60, 18])
    paths = 100_000
    result = simulate_gaussian(pd_, tenor, 0.25, paths, 11, chunk_size=25_000)
    counts = sum(np.bincount(c.loan, minlength=pd_.size) for c in result.chunks)
    for i in range(pd_.size):
        exact = cumulative(pd_[i], tenor[i])
        se = math.sqrt(exact * (1.0 - exact) / paths)
        assert abs(counts[i] / paths - exact) <= Z * se, (i, counts[i] / paths, exact)


def test_default_months_follow_the_constant_hazard_curve_within_the_loans_life() -> None:
    annual, tenor, paths = 0.06, 24, 100_000
    result = simulate_gaussian([annual], [tenor], 0.2, paths, 3, 50_000)
    months = np.concatenate([c.month for c in result.chunks])
    assert months.min() >= 1 and months.max() <= tenor
    observed = np.bincount(months, minlength=tenor + 1)[1:]
    edges = np.array([cumulative(annual, m) for m in range(tenor + 1)])
    expected = np.diff(edges)
    se = np.sqrt(expected * (1.0 - expected) / paths)
    assert np.all(np.abs(observed / paths - expected) <= Z * se)


# (c) the number of defaults in a homogeneous pool ----------------------------------------------


def exact_default_count_distribution(n: int, pd_t: float, rho: float) -> np.ndarray:
    """P(K = k) = ∫ C(n,k) p(z)^k (1-p(z))^(n-k) φ(z) dz, p(z) = Φ((Φ⁻¹(PD_T) - √ρ z)/√(1-ρ))."""
    threshold = stats.norm.ppf(pd_t)

    def conditional(z: float) -> float:
        return stats.norm.cdf((threshold - math.sqrt(rho) * z) / math.sqrt(1.0 - rho))

    probabilities = []
    for k in range(n + 1):
        value, _ = integrate.quad(
            lambda z, k=k: stats.binom.pmf(k, n, conditional(z)) * stats.norm.pdf(z),
            -12.0,
            12.0,
            limit=200,
            epsabs=1e-13,
        )
        probabilities.append(value)
    return np.array(probabilities)


@pytest.fixture(scope="module")
def homogeneous_counts():
    n, annual, tenor, rho, paths = 10, 0.03, 36, 0.2, 200_000
    result = simulate_gaussian(np.full(n, annual), np.full(n, tenor), rho, paths, 2021, 50_000)
    observed = np.bincount(defaults_per_path(result), minlength=n + 1)
    exact = exact_default_count_distribution(n, cumulative(annual, tenor), rho)
    return observed, exact, paths


def test_reference_default_count_distribution_is_a_distribution(homogeneous_counts) -> None:
    _, exact, _ = homogeneous_counts
    assert exact.sum() == pytest.approx(1.0, abs=1e-8)
    # Its mean is n × PD_T whatever the correlation.
    assert exact @ np.arange(exact.size) == pytest.approx(10 * cumulative(0.03, 36), rel=1e-8)


def test_default_count_frequencies_match_the_finite_pool_one_factor_law(homogeneous_counts) -> None:
    observed, exact, paths = homogeneous_counts
    # Compare each k the normal approximation suits (expected count at least 5); the rest of
    # the tail is covered by the goodness-of-fit test.
    checked = exact * paths >= 5
    assert checked.sum() >= 5
    frequency = observed / paths
    se = np.sqrt(exact * (1.0 - exact) / paths)
    assert np.all(np.abs(frequency - exact)[checked] <= Z * se[checked])


def test_default_count_distribution_passes_chi_square_goodness_of_fit(homogeneous_counts) -> None:
    observed, exact, paths = homogeneous_counts
    last = int(np.flatnonzero(exact * paths >= 5)[-1])
    # Merge the sparse tail into one bin "last or more defaults".
    obs = np.r_[observed[:last], observed[last:].sum()]
    exp = np.r_[exact[:last], 1.0 - exact[:last].sum()] * paths
    assert stats.chisquare(obs, exp).pvalue > 1e-4


# (d) the guarantor as one more correlated obligor ----------------------------------------------


def guarantor_and_pool(guarantor_correlation: float, paths: int = 100_000):
    n, annual, tenor, rho, horizon = 20, 0.08, 36, 0.2, 36
    result = simulate_gaussian(np.full(n, annual), np.full(n, tenor), rho, paths, 99, 25_000)
    guarantor = np.concatenate(
        [
            enhancer_default_months(
                c, ["guarantor"], np.array([0.05]), np.array([guarantor_correlation]), horizon
            )
            for c in result.chunks
        ]
    )[:, 0]
    return defaults_per_path(result), guarantor, horizon


def conditional_gap(pool_defaults: np.ndarray, guarantor_defaulted: np.ndarray):
    median = np.median(pool_defaults)
    high, low = pool_defaults > median, pool_defaults < median
    p_high = guarantor_defaulted[high].mean()
    p_low = guarantor_defaulted[low].mean()
    se = math.sqrt(p_high * (1 - p_high) / high.sum() + p_low * (1 - p_low) / low.sum())
    return p_high - p_low, se


def test_guarantor_default_frequency_matches_its_cumulative_pd_to_the_horizon() -> None:
    _, months, horizon = guarantor_and_pool(0.5)
    assert months.min() >= 1 and months.max() <= horizon + 1
    exact = cumulative(0.05, horizon)
    se = math.sqrt(exact * (1.0 - exact) / months.size)
    assert abs(np.mean(months <= horizon) - exact) <= Z * se


def test_correlated_guarantor_defaults_more_often_when_the_pool_does_badly() -> None:
    pool_defaults, months, horizon = guarantor_and_pool(0.5)
    gap, se = conditional_gap(pool_defaults, months <= horizon)
    assert gap > Z * se


def test_uncorrelated_guarantor_is_independent_of_pool_defaults() -> None:
    pool_defaults, months, horizon = guarantor_and_pool(0.0)
    gap, se = conditional_gap(pool_defaults, months <= horizon)
    assert abs(gap) <= Z * se


def test_guarantor_draws_leave_the_pools_paths_unchanged() -> None:
    # The guarantor's idiosyncratic draws come from their own sub-stream, so adding an
    # enhancer to a design cannot move the loans' default events.
    first = simulate_gaussian(PD, TENOR, 0.2, 2_000, 5, 1_000)
    enhancer_default_months(first.chunks[0], ["guarantor"], np.array([0.05]), np.array([0.5]), 36)
    second = simulate_gaussian(PD, TENOR, 0.2, 2_000, 5, 1_000)
    assert_same_events(first, second)


# (e) the standard error of a quantile ----------------------------------------------------------


def test_quantile_standard_error_matches_the_spread_of_repeated_estimates() -> None:
    # 400 independent samples of n = 2000 standard normals. The standard deviation of 400
    # estimates has a relative sampling error of about 1/sqrt(2 × 399) ≈ 3.5% (4 SE ≈ 14%);
    # the order-statistic SE rounds its ranks outwards (ranks 1890 and 1910 around 1900, 20
    # ranks for 2 × 9.75), about +3%, and is itself a noisy per-sample figure whose mean over
    # 400 samples is close to its expectation. ±25% covers these with room to spare while
    # still catching an SE off by a factor (e.g. a missing 1/2 or sqrt(n)).
    rng = np.random.default_rng(20240101)
    values, errors = [], []
    for _ in range(400):
        estimate = quantile_estimate(rng.standard_normal(2_000), 0.95)
        values.append(estimate.value)
        errors.append(estimate.se)
    spread = np.std(values, ddof=1)
    reported = np.mean(errors)
    assert abs(reported / spread - 1.0) <= 0.25
    # The asymptotic reference sqrt(q(1-q)/n)/φ(Φ⁻¹(q)) ≈ 0.047 agrees as well.
    asymptotic = math.sqrt(0.95 * 0.05 / 2_000) / stats.norm.pdf(stats.norm.ppf(0.95))
    assert abs(reported / asymptotic - 1.0) <= 0.10


def test_quantile_estimate_is_the_lower_empirical_quantile() -> None:
    samples = np.arange(1.0, 101.0)[::-1]
    assert quantile_estimate(samples, 0.95).value == 95.0
    assert quantile_estimate(samples, 0.951).value == 96.0
    assert quantile_estimate(samples, 1.0).value == 100.0


def test_an_enhancers_draws_do_not_depend_on_the_other_enhancers() -> None:
    paths = simulate_gaussian(np.array([0.03, 0.05]), np.array([36, 36]), 0.2, 5000, 11, 2500)
    chunk = paths.chunks[1]
    alone = enhancer_default_months(chunk, ["provincial"], np.array([0.2]), np.array([0.3]), 48)
    beside = enhancer_default_months(
        chunk, ["cbic", "provincial"], np.array([0.1, 0.2]), np.array([0.1, 0.3]), 48
    )
    np.testing.assert_array_equal(alone[:, 0], beside[:, 1])
    assert not np.array_equal(beside[:, 0], beside[:, 1])
