"""The dependence models, term structures, recoveries, prepayment and importance sampling of the
credit engine against independent references.

References are closed forms or numerical integrations written out here (scipy), never another
Monte Carlo run. A frequency is compared with its reference within 4 standard errors computed
from the reference probability; distributions are compared with a chi-square test (p > 1e-4).
Seeds are fixed for reproducibility; no tolerance was tuned by trial.

Simulations that could run away (the thinning sampler loops until every block is covered) run
under a time limit, so a hang is a failure and not a stuck test run.
"""

from __future__ import annotations

import dataclasses
import math
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from scipy import integrate, special, stats
from scipy.optimize import minimize_scalar

from securitize.credit import CreditModel, FactorCopula, RecoveryModel, one_factor
from securitize.credit import simulate_defaults as _simulate_defaults
from securitize.credit.build import build_credit_model, cumulative_pd_matrix
from securitize.credit.paths import LOAN_STREAM, chunk_stream
from securitize.credit.sampler import bernoulli_positions
from securitize.credit.term_structure import flat_after_maturity, from_annual_pd, from_hazard_rate
from securitize.period_cash import collect
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.schedules import pool_schedule
from securitize.structure import build_structure
from tests.conftest import TAPE_HEADER, tape_scenario

Z = 4.0
P_VALUE = 1e-4
TIME_LIMIT = 60.0


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the test if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def simulate_defaults(*args, **kwargs):
    with time_limit(TIME_LIMIT):
        return _simulate_defaults(*args, **kwargs)


def cumulative(annual_pd, months):
    """1 − (1 − p)^(T/12), written out here rather than taken from the package."""
    return 1.0 - (1.0 - np.asarray(annual_pd, dtype=float)) ** (np.asarray(months) / 12.0)


def credit_model(copula, annual_pd, tenor, recovery=None, **kwargs) -> CreditModel:
    annual_pd = np.asarray(annual_pd, dtype=float)
    tenor = np.asarray(tenor, dtype=int)
    curve = flat_after_maturity(from_annual_pd(annual_pd, int(tenor.max())), tenor)
    recovery = recovery or RecoveryModel(np.full(tenor.size, 0.4))
    return CreditModel(copula, curve, tenor, recovery, **kwargs)


def default_matrix(result) -> np.ndarray:
    """Paths × loans: did the loan default (within its life) on the path?"""
    loans = result.model.loans
    rows = []
    for chunk in result.chunks:
        matrix = np.zeros((chunk.paths, loans), dtype=bool)
        matrix[chunk.path, chunk.loan] = True
        rows.append(matrix)
    return np.concatenate(rows)


def within(mc: float, exact: float, paths: int) -> bool:
    """|frequency − p| ≤ 4 SE, SE = sqrt(p(1 − p)/n) from the reference p."""
    return abs(mc - exact) <= Z * math.sqrt(exact * (1.0 - exact) / paths)


def chi_square_pvalue(observed: np.ndarray, probabilities: np.ndarray) -> float:
    """Goodness of fit; cells expected below 5 are merged into their right neighbour."""
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(probabilities, dtype=float) * observed.sum()
    obs, exp, o, e = [], [], 0.0, 0.0
    for a, b in zip(observed, expected, strict=True):
        o, e = o + a, e + b
        if e >= 5:
            obs.append(o)
            exp.append(e)
            o = e = 0.0
    if e > 0:
        obs[-1] += o
        exp[-1] += e
    exp = np.array(exp) * (sum(obs) / sum(exp))
    return float(stats.chisquare(obs, exp).pvalue)


def count_distribution(p: np.ndarray) -> np.ndarray:
    """Poisson-binomial law of the number of successes, row by row (nodes × (loans + 1))."""
    nodes, loans = p.shape
    dist = np.zeros((nodes, loans + 1))
    dist[:, 0] = 1.0
    for i in range(loans):
        q = p[:, i : i + 1]
        dist[:, 1:] = dist[:, 1:] * (1 - q) + dist[:, :-1] * q
        dist[:, :1] *= 1 - q
    return dist


def binomial_pmf(n: int, p: np.ndarray) -> np.ndarray:
    """C(n,k) p^k (1−p)^(n−k) for k = 0..n (p scalar), written out."""
    k = np.arange(n + 1)
    return special.comb(n, k) * p**k * (1.0 - p) ** (n - k)


# 1. Multi-factor Gaussian copula --------------------------------------------------------------
#
# Factors in the order global, industry A, industry B, region X, region Y; a non-identity (PSD)
# factor correlation. Two loans per (industry, region) cell. Loans 2, 4 and 6 share PD and
# tenor, so comparing pairs (0, 2) and (0, 6) isolates the effect of sharing an industry.

MF_INDUSTRY = np.array([0, 0, 0, 0, 1, 1, 1, 1])
MF_REGION = np.array([0, 0, 1, 1, 0, 0, 1, 1])
MF_PD = np.array([0.06, 0.04, 0.05, 0.08, 0.05, 0.03, 0.05, 0.07])
MF_TENOR = np.array([36, 36, 36, 24, 36, 36, 36, 24])
MF_CORRELATION = np.array(
    [
        [1.0, 0.2, 0.2, 0.1, 0.1],
        [0.2, 1.0, 0.2, 0.1, 0.1],
        [0.2, 0.2, 1.0, 0.1, 0.1],
        [0.1, 0.1, 0.1, 1.0, 0.3],
        [0.1, 0.1, 0.1, 0.3, 1.0],
    ]
)
MF_PATHS = 400_000


def mf_loadings() -> np.ndarray:
    loadings = np.zeros((MF_PD.size, 5))
    loadings[:, 0] = 0.4
    loadings[np.arange(MF_PD.size), 1 + MF_INDUSTRY] = 0.3
    loadings[np.arange(MF_PD.size), 3 + MF_REGION] = 0.2
    return loadings


def mf_thresholds() -> np.ndarray:
    return stats.norm.ppf(cumulative(MF_PD, MF_TENOR))


def mf_quadrature(nodes: int, statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """E[statistic(p(Z))] over the five factors by a Gauss–Hermite product rule.

    Z = L ξ with L the Cholesky factor of the factor correlation and ξ independent standard
    normals; p_i(Z) = Φ((c_i − a_i·Z)/s_i) are the conditional default probabilities. The rule
    is evaluated one node of ξ₁ at a time to bound memory.
    """
    x, w = special.roots_hermitenorm(nodes)
    w = w / w.sum()
    loadings = mf_loadings()
    scale = np.sqrt(1.0 - np.einsum("if,fg,ig->i", loadings, MF_CORRELATION, loadings))
    root = np.linalg.cholesky(MF_CORRELATION)
    rest = np.stack(np.meshgrid(*([x] * 4), indexing="ij"), -1).reshape(-1, 4)
    rest_w = np.prod(np.stack(np.meshgrid(*([w] * 4), indexing="ij"), -1).reshape(-1, 4), axis=1)
    total = 0.0
    for first, first_w in zip(x, w, strict=True):
        xi = np.column_stack([np.full(rest.shape[0], first), rest])
        p = special.ndtr((mf_thresholds()[None, :] - xi @ root.T @ loadings.T) / scale[None, :])
        total = total + first_w * (rest_w @ statistic(p))
    return np.asarray(total)


def mf_pair_correlation(i: int, j: int) -> float:
    a = mf_loadings()
    return float(a[i] @ MF_CORRELATION @ a[j])


def bivariate_normal(x: float, y: float, rho: float) -> float:
    return float(
        stats.multivariate_normal.cdf(
            [x, y], mean=[0.0, 0.0], cov=[[1.0, rho], [rho, 1.0]], abseps=1e-12, releps=1e-12
        )
    )


@pytest.fixture(scope="module")
def mf_count_reference() -> np.ndarray:
    return mf_quadrature(16, count_distribution)


@pytest.fixture(scope="module")
def multi_factor():
    assert np.linalg.eigvalsh(MF_CORRELATION).min() > 0
    names = ("global", "industry:A", "industry:B", "region:X", "region:Y")
    copula = FactorCopula(mf_loadings(), names, MF_CORRELATION)
    model = credit_model(copula, MF_PD, MF_TENOR)
    result = simulate_defaults(model, MF_PATHS, 2024, 100_000)
    return result, default_matrix(result)


def test_multi_factor_each_loans_default_frequency_is_its_cumulative_pd(multi_factor) -> None:
    _, defaulted = multi_factor
    exact = cumulative(MF_PD, MF_TENOR)
    for i in range(MF_PD.size):
        assert within(defaulted[:, i].mean(), exact[i], MF_PATHS), i


@pytest.mark.parametrize(
    ("i", "j"),
    [(0, 1), (0, 2), (0, 4), (0, 6), (3, 7)],
    ids=["same-cell", "same-industry", "same-region", "unrelated", "short-tenors"],
)
def test_multi_factor_joint_default_is_the_bivariate_normal_cdf(multi_factor, i, j) -> None:
    _, defaulted = multi_factor
    c = mf_thresholds()
    exact = bivariate_normal(c[i], c[j], mf_pair_correlation(i, j))
    assert within((defaulted[:, i] & defaulted[:, j]).mean(), exact, MF_PATHS)


def test_same_industry_loans_default_together_more_often_than_cross_industry(multi_factor) -> None:
    _, defaulted = multi_factor
    # Loans 2 and 6 have the same PD and tenor; 2 shares loan 0's industry, 6 does not (neither
    # shares its region): the difference is the industry factor alone.
    assert mf_pair_correlation(0, 2) > mf_pair_correlation(0, 6)
    same = (defaulted[:, 0] & defaulted[:, 2]).astype(float)
    cross = (defaulted[:, 0] & defaulted[:, 6]).astype(float)
    difference = same - cross
    se = difference.std(ddof=1) / math.sqrt(MF_PATHS)
    assert difference.mean() > Z * se


def test_factor_quadrature_reference_is_accurate(mf_count_reference) -> None:
    # The quadrature is trusted below only because it reproduces exact figures: a pair's joint
    # default probability (bivariate normal CDF), the mean number of defaults (Σ F_i), and its
    # own value with more nodes — each to far below the Monte Carlo standard errors (~1e-4).
    c = mf_thresholds()
    pair = mf_quadrature(12, lambda p: p[:, [0]] * p[:, [1]])[0]
    assert pair == pytest.approx(bivariate_normal(c[0], c[1], mf_pair_correlation(0, 1)), abs=1e-7)
    coarse = mf_quadrature(12, count_distribution)
    fine = mf_count_reference
    assert np.max(np.abs(coarse - fine)) < 1e-6
    assert fine.sum() == pytest.approx(1.0, abs=1e-10)
    assert fine @ np.arange(fine.size) == pytest.approx(cumulative(MF_PD, MF_TENOR).sum(), abs=1e-8)


def test_multi_factor_number_of_defaults_matches_the_factor_integral(
    multi_factor, mf_count_reference
) -> None:
    _, defaulted = multi_factor
    exact = mf_count_reference
    observed = np.bincount(defaulted.sum(axis=1), minlength=exact.size)
    assert chi_square_pvalue(observed, exact) > P_VALUE
    # The tail: P(at least 5 of the 8 loans default) ≈ 3%, against the integral.
    assert within(observed[5:].sum() / MF_PATHS, exact[5:].sum(), MF_PATHS)


def conditional_default_check(result, thresholds, loadings, scale):
    """Given each path's systematic draws, defaults are independent Bernoulli(p_i(path)).

    The chunk's systematic state is redrawn from its documented stream (sub-stream 0 of child
    k of the seed; the factors are drawn first) and checked against the chunk's global factor.
    Returns per-loan (observed − Σ p)/sqrt(Σ p(1 − p)): standard normal if the sampler is exact.
    """
    model = result.model
    observed = np.zeros(model.loans)
    expected = np.zeros(model.loans)
    variance = np.zeros(model.loans)
    for chunk in result.chunks:
        rng = chunk_stream(result.seed, chunk.index, LOAN_STREAM)
        systematic = model.copula.draw_systematic(rng, chunk.paths, model.shift)
        np.testing.assert_array_equal(systematic.factors[:, 0], chunk.factor)
        state = systematic.factors @ loadings.T
        w = systematic.inverse_mixing[:, None]
        p = special.ndtr((thresholds[None, :] * w - state) / scale[None, :])
        observed += np.bincount(chunk.loan, minlength=model.loans)
        expected += p.sum(axis=0)
        variance += (p * (1 - p)).sum(axis=0)
    return (observed - expected) / np.sqrt(variance), observed.sum(), expected.sum(), variance.sum()


def test_multi_factor_sampler_is_exact_given_the_factors(multi_factor) -> None:
    result, _ = multi_factor
    loadings = mf_loadings()
    scale = np.sqrt(1.0 - np.einsum("if,fg,ig->i", loadings, MF_CORRELATION, loadings))
    z, observed, expected, variance = conditional_default_check(
        result, mf_thresholds(), loadings, scale
    )
    assert np.all(np.abs(z) <= Z), z
    assert abs(observed - expected) <= Z * math.sqrt(variance)


# 2. Student-t copula ---------------------------------------------------------------------------

NU = 4.0
RHO = 0.2
T_PD = np.array([0.02, 0.03, 0.05, 0.06, 0.04, 0.08])
T_TENOR = np.array([36, 24, 36, 36, 12, 36])
T_PATHS = 200_000


def t_thresholds(annual_pd, tenor) -> np.ndarray:
    return stats.t.ppf(cumulative(annual_pd, tenor), NU)


@pytest.fixture(scope="module")
def student_t_pool():
    model = credit_model(one_factor(RHO, T_PD.size, NU), T_PD, T_TENOR)
    return default_matrix(simulate_defaults(model, T_PATHS, 77, 50_000))


def test_student_t_each_loans_default_frequency_is_its_cumulative_pd(student_t_pool) -> None:
    exact = cumulative(T_PD, T_TENOR)
    for i in range(T_PD.size):
        assert within(student_t_pool[:, i].mean(), exact[i], T_PATHS), i


@pytest.mark.parametrize(("i", "j"), [(2, 3), (0, 5), (1, 4)])
def test_student_t_joint_default_is_the_bivariate_t_cdf(student_t_pool, i, j) -> None:
    c = t_thresholds(T_PD, T_TENOR)
    reference = stats.multivariate_t(shape=[[1.0, RHO], [RHO, 1.0]], df=NU)
    exact = float(reference.cdf([c[i], c[j]], maxpts=1_000_000, random_state=1))
    joint = (student_t_pool[:, i] & student_t_pool[:, j]).mean()
    assert within(joint, exact, T_PATHS)


HOMOGENEOUS_N = 10
HOMOGENEOUS_PD = 0.03
HOMOGENEOUS_TENOR = 36


def t_count_distribution(n: int, pd_t: float, rho: float, nu: float) -> np.ndarray:
    """P(K = k) = ∫∫ C(n,k) p^k (1−p)^(n−k) φ(z) f_χ²ν(v) dz dv,
    p(z, v) = Φ((t_ν⁻¹(PD) sqrt(v/ν) − sqrt(ρ) z)/sqrt(1 − ρ)), by nested adaptive quadrature."""
    c = stats.t.ppf(pd_t, nu)

    def given_v(v: float) -> np.ndarray:
        threshold = c * math.sqrt(v / nu)

        def integrand(z: float) -> np.ndarray:
            p = special.ndtr((threshold - math.sqrt(rho) * z) / math.sqrt(1 - rho))
            return binomial_pmf(n, p) * stats.norm.pdf(z)

        return integrate.quad_vec(integrand, -np.inf, np.inf, epsabs=1e-12)[0]

    return integrate.quad_vec(
        lambda v: given_v(v) * stats.chi2.pdf(v, nu), 0.0, np.inf, epsabs=1e-11
    )[0]


def gaussian_count_distribution(n: int, pd_t: float, rho: float) -> np.ndarray:
    c = stats.norm.ppf(pd_t)

    def integrand(z: float) -> np.ndarray:
        p = special.ndtr((c - math.sqrt(rho) * z) / math.sqrt(1 - rho))
        return binomial_pmf(n, p) * stats.norm.pdf(z)

    return integrate.quad_vec(integrand, -np.inf, np.inf, epsabs=1e-13)[0]


@pytest.fixture(scope="module")
def homogeneous_t():
    n = HOMOGENEOUS_N
    pd_t = float(cumulative(HOMOGENEOUS_PD, HOMOGENEOUS_TENOR))
    annual, tenor = np.full(n, HOMOGENEOUS_PD), np.full(n, HOMOGENEOUS_TENOR)
    counts = {}
    for name, nu, seed in (("t", NU, 5), ("gaussian", None, 6)):
        model = credit_model(one_factor(RHO, n, nu), annual, tenor)
        counts[name] = default_matrix(simulate_defaults(model, T_PATHS, seed, 50_000)).sum(axis=1)
    exact = {
        "t": t_count_distribution(n, pd_t, RHO, NU),
        "gaussian": gaussian_count_distribution(n, pd_t, RHO),
    }
    return counts, exact, pd_t


def test_t_count_reference_is_a_distribution_with_the_right_moments(homogeneous_t) -> None:
    _, exact, pd_t = homogeneous_t
    k = np.arange(HOMOGENEOUS_N + 1)
    reference = exact["t"]
    assert reference.sum() == pytest.approx(1.0, abs=1e-9)
    assert reference @ k == pytest.approx(HOMOGENEOUS_N * pd_t, rel=1e-8)
    # E[K(K − 1)] / (n(n − 1)) is a pair's joint default probability: the bivariate t CDF.
    c = stats.t.ppf(pd_t, NU)
    pair = stats.multivariate_t(shape=[[1.0, RHO], [RHO, 1.0]], df=NU).cdf(
        [c, c], maxpts=1_000_000, random_state=1
    )
    assert reference @ (k * (k - 1)) / (HOMOGENEOUS_N * (HOMOGENEOUS_N - 1)) == pytest.approx(
        pair, abs=1e-5
    )


def test_t_number_of_defaults_matches_the_z_v_integral(homogeneous_t) -> None:
    counts, exact, _ = homogeneous_t
    observed = np.bincount(counts["t"], minlength=HOMOGENEOUS_N + 1)
    assert chi_square_pvalue(observed, exact["t"]) > P_VALUE
    for k in np.flatnonzero(exact["t"] * T_PATHS >= 50):
        assert within(observed[k] / T_PATHS, exact["t"][k], T_PATHS), k


def test_gaussian_number_of_defaults_matches_the_z_integral(homogeneous_t) -> None:
    counts, exact, _ = homogeneous_t
    observed = np.bincount(counts["gaussian"], minlength=HOMOGENEOUS_N + 1)
    assert chi_square_pvalue(observed, exact["gaussian"]) > P_VALUE


def test_t_copula_has_more_joint_tail_defaults_than_the_gaussian(homogeneous_t) -> None:
    counts, exact, _ = homogeneous_t
    k = 7
    # Same marginals and ρ; the shared mixing variable fattens the joint tail (about 4.5× here).
    assert exact["t"][k:].sum() > 3 * exact["gaussian"][k:].sum()
    p_t = np.mean(counts["t"] >= k)
    p_g = np.mean(counts["gaussian"] >= k)
    se = math.sqrt(p_t * (1 - p_t) / T_PATHS + p_g * (1 - p_g) / T_PATHS)
    assert p_t - p_g > Z * se


def test_student_t_sampler_is_exact_given_the_systematic_draws() -> None:
    # Given (Z, V) the defaults are independent Bernoulli(p_i) with
    # p_i = Φ((c_i sqrt(V/ν) − sqrt(ρ) Z)/sqrt(1 − ρ)): the pooled count of 20 loans × 300k paths
    # must be within 4 SD of Σ p_i. A 1% annual PD (band A of the score table) over 36 months.
    n, annual, tenor = 20, 0.01, 36
    model = credit_model(one_factor(RHO, n, NU), np.full(n, annual), np.full(n, tenor))
    result = simulate_defaults(model, 300_000, 3, 50_000)
    thresholds = np.full(n, stats.t.ppf(cumulative(annual, tenor), NU))
    loadings = np.full((n, 1), math.sqrt(RHO))
    scale = np.full(n, math.sqrt(1 - RHO))
    _, observed, expected, variance = conditional_default_check(result, thresholds, loadings, scale)
    assert abs(observed - expected) <= Z * math.sqrt(variance), (
        f"{observed:.0f} defaults, {expected:.1f} expected given the systematic draws "
        f"({(observed - expected) / math.sqrt(variance):.1f} SD)"
    )


def test_bernoulli_positions_with_a_negligible_probability_give_no_successes() -> None:
    # P(any success) = 1 − (1 − 1e-20)^5120 ≈ 5e-17; every position must lie in [0, length).
    rng = np.random.default_rng(1)
    with time_limit(3):
        sequence, position = bernoulli_positions(np.full(10, 1e-20), np.full(10, 512), rng)
    assert sequence.size == 0 and position.size == 0


def test_bernoulli_positions_with_a_vanishing_probability_returns() -> None:
    rng = np.random.default_rng(1)
    with time_limit(3):
        sequence, _ = bernoulli_positions(np.array([1e-30, 0.1]), np.array([512, 512]), rng)
    assert np.all(sequence == 1)


def test_very_safe_loans_in_a_highly_correlated_pool_are_sampled() -> None:
    # Annual PD 1e-5 with ρ = 0.6: bounds in the best blocks fall below 1e-19.
    n, paths, rho, pd_t = 5, 100_000, 0.6, 1e-5
    model = credit_model(one_factor(rho, n), np.full(n, pd_t), np.full(n, 12))
    defaulted = default_matrix(simulate_defaults(model, paths, 1, 50_000))
    # Var(defaults on a path) = n F(1 − F) + n(n − 1)(Φ₂(c, c; ρ) − F²).
    c = stats.norm.ppf(pd_t)
    joint = bivariate_normal(c, c, rho)
    variance = n * pd_t * (1 - pd_t) + n * (n - 1) * (joint - pd_t**2)
    assert abs(defaulted.sum() - n * paths * pd_t) <= Z * math.sqrt(paths * variance)


# 3. PD term structures -------------------------------------------------------------------------


def month_frequencies_fit(result, loan: int, curve: np.ndarray, tenor: int) -> float:
    """Chi-square p-value of the loan's default months (and survival) against F(m) − F(m−1)."""
    months = np.concatenate([c.month[c.loan == loan] for c in result.chunks])
    assert months.size and months.min() >= 1 and months.max() <= tenor
    observed = np.bincount(months, minlength=tenor + 1)[1:]
    observed = np.r_[observed, result.paths - observed.sum()]
    edges = np.r_[0.0, curve[:tenor]]
    probabilities = np.r_[np.diff(edges), 1.0 - edges[-1]]
    return chi_square_pvalue(observed, probabilities)


def test_hazard_rate_default_months_follow_one_minus_exp() -> None:
    hazard, tenor, paths = np.array([0.08, 0.15]), np.array([24, 36]), 200_000
    curve = flat_after_maturity(from_hazard_rate(hazard, 36), tenor)
    model = CreditModel(one_factor(0.2, 2), curve, tenor, RecoveryModel(np.full(2, 0.4)))
    result = simulate_defaults(model, paths, 8, 50_000)
    for i in range(2):
        exact = 1.0 - np.exp(-hazard[i] * np.arange(1, tenor[i] + 1) / 12.0)
        assert month_frequencies_fit(result, i, exact, int(tenor[i])) > P_VALUE


CURVE_MONTHS = [6, 12, 24]
CURVE_PD = [0.01, 0.025, 0.06]


def curve_by_hand(months: np.ndarray) -> np.ndarray:
    """Piecewise-constant hazard through (0, 0) and the curve points, last hazard beyond."""
    knots = np.r_[0.0, CURVE_MONTHS]
    log_s = np.log(1.0 - np.r_[0.0, CURVE_PD])
    out = []
    for m in months:
        k = min(int(np.searchsorted(knots, m, side="right")) - 1, knots.size - 2)
        slope = (log_s[k + 1] - log_s[k]) / (knots[k + 1] - knots[k])
        out.append(1.0 - math.exp(log_s[k] + slope * (m - knots[k])))
    return np.array(out)


ROW_A = "A1,Alpha Tech,Software,Lucheng,5000000,0.05,36,bullet,90,10000000"  # band A
ROW_C = "A2,Beta Tech,Software,Ruian,4000000,0.05,36,equal_principal,70,9000000"  # band C
ROW_C_SHORT = "A3,Gamma Tech,Materials,Ruian,3000000,0.05,18,bullet,70,9000000"  # band C


def curve_pool(write_scenario, extra: str, tape: str | None = None):
    tape = tape or "\n".join([TAPE_HEADER, ROW_A, ROW_C, ROW_C_SHORT]) + "\n"
    loaded = load_scenario(write_scenario(tape_scenario(extra), tape))
    return loaded, build_pool(loaded)


CURVE_C = (
    f'\n[[credit.pd_curves]]\nband = "C"\nmonths = {CURVE_MONTHS}\ncumulative_pd = {CURVE_PD}\n'
)


def test_pd_curve_reproduces_its_points_and_interpolates_log_survival(write_scenario) -> None:
    loaded, pool = curve_pool(write_scenario, CURVE_C)
    matrix = cumulative_pd_matrix(pool, loaded.scenario.credit)
    months = np.arange(1, 37)
    np.testing.assert_allclose(matrix[1, np.array(CURVE_MONTHS) - 1], CURVE_PD, rtol=1e-12)
    np.testing.assert_allclose(matrix[1], curve_by_hand(months), rtol=1e-12)
    # The 18-month loan of band C follows the same curve and is flat after its maturity.
    np.testing.assert_allclose(matrix[2, :18], curve_by_hand(months[:18]), rtol=1e-12)
    np.testing.assert_allclose(matrix[2, 18:], curve_by_hand([18])[0], rtol=1e-12)
    # The band-A loan has no curve: its band's constant annual PD (1%).
    np.testing.assert_allclose(matrix[0], cumulative(0.01, months), rtol=1e-12)


def test_a_loan_with_a_tape_pd_ignores_the_curves(write_scenario) -> None:
    tape = f"{TAPE_HEADER},pd\n{ROW_A},\n{ROW_C},0.04\n{ROW_C_SHORT},\n"
    extra = CURVE_C.replace('band = "C"', 'band = "all"')
    loaded, pool = curve_pool(write_scenario, extra, tape)
    matrix = cumulative_pd_matrix(pool, loaded.scenario.credit)
    months = np.arange(1, 37)
    np.testing.assert_allclose(matrix[1], cumulative(0.04, months), rtol=1e-12)
    np.testing.assert_allclose(matrix[0], curve_by_hand(months), rtol=1e-12)


def test_tape_hazard_rate_gives_one_minus_exp_curve(write_scenario) -> None:
    tape = f"{TAPE_HEADER},hazard_rate\n{ROW_A},0.05\n{ROW_C},\n{ROW_C_SHORT},0.1\n"
    loaded, pool = curve_pool(write_scenario, "", tape)
    matrix = cumulative_pd_matrix(pool, loaded.scenario.credit)
    months = np.arange(1, 37)
    np.testing.assert_allclose(matrix[0], 1.0 - np.exp(-0.05 * months / 12.0), rtol=1e-12)
    np.testing.assert_allclose(matrix[1], cumulative(0.028, months), rtol=1e-12)  # band C


def test_default_months_follow_the_pd_curve(write_scenario) -> None:
    loaded, pool = curve_pool(write_scenario, CURVE_C)
    matrix = cumulative_pd_matrix(pool, loaded.scenario.credit)
    model = CreditModel(
        one_factor(0.2, pool.size), matrix, pool.tenor_months, RecoveryModel(pool.recovery_rate)
    )
    result = simulate_defaults(model, 200_000, 12, 50_000)
    assert month_frequencies_fit(result, 1, curve_by_hand(np.arange(1, 37)), 36) > P_VALUE
    assert month_frequencies_fit(result, 2, curve_by_hand(np.arange(1, 19)), 18) > P_VALUE


# 4. Recoveries ---------------------------------------------------------------------------------

REC_MEAN = np.array([0.25, 0.35, 0.5])
REC_SD = 0.12
REC_DRAWS = 200_000


def test_beta_recoveries_without_factor_have_the_loans_mean_and_sd() -> None:
    model = RecoveryModel(REC_MEAN, REC_SD, 0.0)
    rng = np.random.default_rng(41)
    for i, mu in enumerate(REC_MEAN):
        draws = model.draw(np.full(REC_DRAWS, i), rng.standard_normal(REC_DRAWS), rng)
        assert abs(draws.mean() - mu) <= Z * REC_SD / math.sqrt(REC_DRAWS)
        # SE of the sample sd ≈ σ sqrt((excess kurtosis + 2) / (4n)).
        kappa = mu * (1 - mu) / REC_SD**2 - 1
        excess = float(stats.beta(mu * kappa, (1 - mu) * kappa).stats(moments="k"))
        se_sd = REC_SD * math.sqrt((excess + 2) / (4 * REC_DRAWS))
        assert abs(draws.std(ddof=1) - REC_SD) <= Z * se_sd


def test_beta_recoveries_follow_the_beta_law() -> None:
    mu = 0.35
    kappa = mu * (1 - mu) / REC_SD**2 - 1
    draws = RecoveryModel(np.array([mu]), REC_SD).draw(
        np.zeros(50_000, dtype=int), np.zeros(50_000), np.random.default_rng(2)
    )
    assert stats.kstest(draws, stats.beta(mu * kappa, (1 - mu) * kappa).cdf).pvalue > P_VALUE


def test_factor_tied_recoveries_keep_the_mean_and_rise_with_the_factor() -> None:
    b = 0.6
    model = RecoveryModel(REC_MEAN, REC_SD, b)
    rng = np.random.default_rng(43)
    for i, mu in enumerate(REC_MEAN):
        factor = rng.standard_normal(REC_DRAWS)
        draws = model.draw(np.full(REC_DRAWS, i), factor, rng)
        assert abs(draws.mean() - mu) <= Z * draws.std(ddof=1) / math.sqrt(REC_DRAWS)
        # Cov(R, Z) = E[μ(Z) Z] = E[μ'(Z)] = b φ(Φ⁻¹(μ)) / sqrt(1 + b²) (Stein's lemma).
        product = draws * factor
        se = product.std(ddof=1) / math.sqrt(REC_DRAWS)
        assert product.mean() > Z * se
        exact = b * stats.norm.pdf(stats.norm.ppf(mu)) / math.sqrt(1 + b * b)
        assert abs(product.mean() - exact) <= Z * se


def test_recoveries_of_defaulted_loans_are_lower_on_average() -> None:
    n, annual, tenor, mu, b, paths = 10, 0.05, 36, 0.35, 0.6, 200_000
    model = credit_model(
        one_factor(RHO, n),
        np.full(n, annual),
        np.full(n, tenor),
        RecoveryModel(np.full(n, mu), REC_SD, b),
    )
    result = simulate_defaults(model, paths, 44, 50_000)
    total = np.concatenate(
        [np.bincount(c.path, weights=c.recovery, minlength=c.paths) for c in result.chunks]
    )
    count = np.concatenate([np.bincount(c.path, minlength=c.paths) for c in result.chunks])
    ratio = total.sum() / count.sum()
    # Delta-method SE of a ratio of path sums (paths are independent, defaults on one path not).
    se = (total - ratio * count).std(ddof=1) / math.sqrt(paths) / count.mean()
    assert mu - ratio > Z * se
    # Exact: E[R 1{D}] / P(D) = E[μ(Z) p(Z)] / F with p(Z) the conditional default probability.
    pd_t = float(cumulative(annual, tenor))
    c = stats.norm.ppf(pd_t)

    def integrand(z: float) -> float:
        mean_z = special.ndtr(special.ndtri(mu) * math.sqrt(1 + b * b) + b * z)
        p = special.ndtr((c - math.sqrt(RHO) * z) / math.sqrt(1 - RHO))
        return mean_z * p * stats.norm.pdf(z)

    exact = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-13)[0] / pd_t
    assert abs(ratio - exact) <= Z * se


# 5. Prepayment ---------------------------------------------------------------------------------

CPR = 0.15
SMM = 1.0 - (1.0 - CPR) ** (1.0 / 12.0)


def test_prepayment_without_defaults_follows_the_truncated_geometric_law() -> None:
    tenor, paths = np.array([36, 24, 12, 1]), 100_000
    model = CreditModel(
        one_factor(0.2, tenor.size),
        np.zeros((tenor.size, 36)),
        tenor,
        RecoveryModel(np.full(tenor.size, 0.4)),
        prepayment_rate=CPR,
    )
    result = simulate_defaults(model, paths, 51, 25_000)
    assert all(c.path.size == 0 for c in result.chunks)
    loans = np.concatenate([c.prepay_loan for c in result.chunks])
    months = np.concatenate([c.prepay_month for c in result.chunks])
    for i, n in enumerate(tenor):
        share = 1.0 - (1.0 - SMM) ** (n - 1)
        mine = months[loans == i]
        assert within(mine.size / paths, share, paths)
        if n == 1:
            assert mine.size == 0
            continue
        assert mine.min() >= 1 and mine.max() <= n - 1
        law = SMM * (1.0 - SMM) ** np.arange(n - 1)
        observed = np.r_[np.bincount(mine, minlength=n)[1:], paths - mine.size]
        assert chi_square_pvalue(observed, np.r_[law, 1.0 - law.sum()]) > P_VALUE


@pytest.fixture(scope="module")
def competing():
    annual = np.array([0.08, 0.04, 0.06, 0.05])
    tenor = np.array([36, 24, 36, 12])
    amortisation = np.array(["bullet", "equal_principal", "level_payment", "bullet"])
    balance = np.array([5e6, 4e6, 3e6, 2e6])
    model = credit_model(one_factor(0.2, 4), annual, tenor, prepayment_rate=CPR)
    return simulate_defaults(model, 100_000, 52, 25_000), annual, tenor, amortisation, balance


def test_no_loan_both_defaults_and_prepays_on_a_path(competing) -> None:
    result, *_ = competing
    for chunk in result.chunks:
        defaults = set(zip(chunk.path.tolist(), chunk.loan.tolist(), strict=True))
        prepaid = set(zip(chunk.prepay_path.tolist(), chunk.prepay_loan.tolist(), strict=True))
        assert defaults and prepaid
        assert not defaults & prepaid


def test_first_event_wins_between_default_and_prepayment(competing) -> None:
    # Per loan and path: default kept, prepayment kept, or neither. With independent default
    # month D (law F) and prepayment month P (truncated geometric), and a tie going to the
    # default: P(default) = Σ_m f(m) (1 − SMM)^(m−1), P(prepay) = Σ_{m<n} SMM (1 − SMM)^(m−1)
    # (1 − F(m)).
    result, annual, tenor, *_ = competing
    for i in range(annual.size):
        n = int(tenor[i])
        curve = cumulative(annual[i], np.arange(0, n + 1))
        no_prepay_before = (1.0 - SMM) ** np.arange(n)
        p_default = float(np.diff(curve) @ no_prepay_before)
        m = np.arange(1, n)
        p_prepay = float((SMM * (1.0 - SMM) ** (m - 1) * (1.0 - curve[m])).sum())
        defaults = sum(int((c.loan == i).sum()) for c in result.chunks)
        prepaid = sum(int((c.prepay_loan == i).sum()) for c in result.chunks)
        observed = [defaults, prepaid, result.paths - defaults - prepaid]
        law = [p_default, p_prepay, 1.0 - p_default - p_prepay]
        assert chi_square_pvalue(observed, law) > P_VALUE, i


def test_collections_with_prepayment_conserve_principal(competing) -> None:
    # On every path, principal collected (scheduled and prepaid) plus the balance outstanding
    # at default is the pool's original balance, and interest stops after each event.
    result, _, tenor, amortisation, balance = competing
    coupon = np.full(4, 0.05)
    schedule = pool_schedule(balance, coupon, tenor, amortisation, 36)
    chunk = result.chunks[0]
    recovery = np.full(4, 0.4)
    cash = collect(
        schedule,
        recovery,
        0,
        36,
        chunk.paths,
        chunk.path,
        chunk.loan,
        chunk.month,
        prepayments=(chunk.prepay_path, chunk.prepay_loan, chunk.prepay_month),
    )
    total = cash.principal.sum(axis=1) + cash.defaulted.sum(axis=1)
    np.testing.assert_allclose(total, balance.sum(), rtol=1e-12)
    # Interest, loan by loan: through the month before a default, through the prepayment month.
    last_month = np.tile(tenor, (chunk.paths, 1))
    last_month[chunk.path, chunk.loan] = chunk.month - 1
    last_month[chunk.prepay_path, chunk.prepay_loan] = chunk.prepay_month
    paid = np.arange(1, 37)[None, None, :] <= last_month[:, :, None]
    expected = (paid * schedule.interest[None, :, :]).sum(axis=(1, 2))
    np.testing.assert_allclose(cash.interest.sum(axis=1), expected, rtol=1e-12)


# 6. Importance sampling ------------------------------------------------------------------------

IS_N, IS_PD, IS_TENOR, IS_PATHS = 20, 0.02, 36, 200_000
IS_LOSS = 0.35  # 12 or more of 20 defaults at 3% of the pool each (LGD 60%)


def is_exact_tail(k: int) -> float:
    pd_t = float(cumulative(IS_PD, IS_TENOR))
    c = stats.norm.ppf(pd_t)

    def integrand(z: float) -> float:
        p = special.ndtr((c - math.sqrt(RHO) * z) / math.sqrt(1 - RHO))
        return float(binomial_pmf(IS_N, p)[k:].sum()) * stats.norm.pdf(z)

    return integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-15, limit=200)[0]


def is_mode(k: int) -> float:
    """The mode of P(K ≥ k | z) φ(z): a good factor shift for the event {K ≥ k}."""
    pd_t = float(cumulative(IS_PD, IS_TENOR))
    c = stats.norm.ppf(pd_t)

    def minus_log(z: float) -> float:
        p = special.ndtr((c - math.sqrt(RHO) * z) / math.sqrt(1 - RHO))
        return -math.log(stats.binom.sf(k - 1, IS_N, p)) + 0.5 * z * z

    return float(minimize_scalar(minus_log, bounds=(-8.0, 0.0), method="bounded").x)


def pool_loss(result, balance: np.ndarray) -> np.ndarray:
    out = []
    for chunk in result.chunks:
        loss = balance[chunk.loan] * (1.0 - chunk.recovery)
        out.append(np.bincount(chunk.path, weights=loss, minlength=chunk.paths))
    return np.concatenate(out) / balance.sum()


def is_model(shift: float | None) -> CreditModel:
    annual, tenor = np.full(IS_N, IS_PD), np.full(IS_N, IS_TENOR)
    return credit_model(
        one_factor(RHO, IS_N), annual, tenor, shift=None if shift is None else np.array([shift])
    )


def test_shifted_tail_estimate_is_exact_and_much_tighter_than_plain() -> None:
    k = 12
    mu = is_mode(k)
    assert -4.0 < mu < -2.0
    result = simulate_defaults(is_model(mu), IS_PATHS, 61, 50_000)
    weights = np.concatenate([c.weight for c in result.chunks])
    samples = weights * (pool_loss(result, np.ones(IS_N)) > IS_LOSS)
    estimate = samples.mean()
    se = samples.std(ddof=1) / math.sqrt(IS_PATHS)
    exact = is_exact_tail(k)
    assert 1e-4 < exact < 1e-3
    assert abs(estimate - exact) <= Z * se
    plain_se = math.sqrt(exact * (1 - exact) / IS_PATHS)
    assert plain_se >= 5 * se


def test_likelihood_ratios_are_exact_and_average_one() -> None:
    mu, paths = -1.0, 200_000
    result = simulate_defaults(is_model(mu), paths, 62, 50_000)
    factor = np.concatenate([c.factor for c in result.chunks])
    log_weight = np.concatenate([c.log_weight for c in result.chunks])
    # Under the shifted measure the factor is N(μ, 1); the ratio φ(z)/φ(z − μ).
    assert stats.kstest(factor, stats.norm(loc=mu).cdf).pvalue > P_VALUE
    np.testing.assert_allclose(log_weight, -mu * factor + 0.5 * mu * mu, rtol=1e-12, atol=1e-12)
    weights = np.concatenate([c.weight for c in result.chunks])
    assert abs(weights.mean() - 1.0) <= Z * math.sqrt(math.expm1(mu * mu) / paths)


def test_plain_monte_carlo_has_unit_weights() -> None:
    result = simulate_defaults(is_model(None), 10_000, 63, 5_000)
    for chunk in result.chunks:
        np.testing.assert_array_equal(chunk.weight, 1.0)


INLINE = """
[deal]
name = "is"
closing_date = 2024-01-01

[pool.inline]
count = 20
balance = 1000000.0
annual_pd = 0.02
recovery_rate = 0.4
tenor_months = 36

[credit]
asset_correlation = 0.2

[simulation]
paths = 1000
chunk_size = 500
importance_shift = {shift}

[[tranches]]
name = "senior"
share = 0.65

[[tranches]]
name = "subordinated"
share = 0.35
"""


def scenario_model(write_scenario, shift: str) -> CreditModel:
    loaded = load_scenario(write_scenario(INLINE.format(shift=shift)))
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    assert structure.senior_attachment == pytest.approx(0.35)
    return build_credit_model(loaded, pool, structure.senior_attachment)


MULTI_FACTOR_TAPE = "\n".join(
    [
        TAPE_HEADER,
        "A1,Alpha,Software,Lucheng,5000000,0.05,36,bullet,80,10000000",
        "A2,Beta,Software,Ruian,4000000,0.05,36,bullet,70,9000000",
        "A3,Gamma,Materials,Lucheng,5000000,0.05,36,bullet,60,10000000",
        "A4,Delta,Materials,Ruian,4000000,0.05,36,bullet,90,9000000",
    ]
)
MULTI_FACTOR_SHIFTED = """
[credit]
model = "gaussian_multi_factor"

[credit.factors]
global_loading = 0.4
industry_loading = 0.3
region_loading = 0.2
correlation = [[1.0, 0.3, 0.3, 0.2, 0.2], [0.3, 1.0, 0.2, 0.1, 0.1], [0.3, 0.2, 1.0, 0.1, 0.1],
               [0.2, 0.1, 0.1, 1.0, 0.3], [0.2, 0.1, 0.1, 0.3, 1.0]]
"""


def test_shift_moves_the_global_factor_also_with_a_factor_correlation(write_scenario) -> None:
    # importance_shift is the mean shift of the global factor: with a factor correlation the
    # global factor must still be N(μ, 1) under the sampling measure.
    mu, paths = -1.5, 100_000
    text = tape_scenario(MULTI_FACTOR_SHIFTED).replace(
        "[simulation]\n", f"[simulation]\nimportance_shift = {mu}\n"
    )
    loaded = load_scenario(write_scenario(text, MULTI_FACTOR_TAPE + "\n"))
    pool = build_pool(loaded)
    model = build_credit_model(loaded, pool, build_structure(loaded, pool).senior_attachment)
    factor = np.concatenate([c.factor for c in simulate_defaults(model, paths, 65, 50_000).chunks])
    assert abs(factor.mean() - mu) <= Z / math.sqrt(paths)
    assert stats.kstest(factor, stats.norm(loc=mu).cdf).pvalue > P_VALUE


def test_automatic_shift_is_negative_for_the_senior_tail(write_scenario) -> None:
    model = scenario_model(write_scenario, '"auto"')
    assert model.shift is not None and model.shift.shape == (1,)
    assert model.shift[0] < 0
    assert scenario_model(write_scenario, "0.0").shift is None
    np.testing.assert_array_equal(scenario_model(write_scenario, "-1.5").shift, [-1.5])


def test_automatic_shift_tightens_the_senior_tail_estimate(write_scenario) -> None:
    model = scenario_model(write_scenario, '"auto"')
    result = simulate_defaults(model, IS_PATHS, 64, 50_000)
    weights = np.concatenate([c.weight for c in result.chunks])
    samples = weights * (pool_loss(result, np.ones(IS_N)) > IS_LOSS)
    se = samples.std(ddof=1) / math.sqrt(IS_PATHS)
    exact = is_exact_tail(12)
    assert abs(samples.mean() - exact) <= Z * se
    assert math.sqrt(exact * (1 - exact) / IS_PATHS) >= 5 * se


# 7. Reproducibility with the t copula, a factor correlation, a shift, Beta recoveries, CPR ----


def full_model() -> CreditModel:
    names = ("global", "industry:A", "industry:B", "region:X", "region:Y")
    copula = FactorCopula(mf_loadings(), names, MF_CORRELATION, nu=5.0)
    return credit_model(
        copula,
        MF_PD,
        MF_TENOR,
        RecoveryModel(np.linspace(0.2, 0.5, MF_PD.size), 0.1, 0.5),
        prepayment_rate=0.1,
        shift=np.array([-1.0, 0.0, 0.0, 0.0, 0.0]),
    )


def assert_same_chunks(a, b) -> None:
    assert a.sizes == b.sizes
    for x, y in zip(a.chunks, b.chunks, strict=True):
        for field in dataclasses.fields(x):
            np.testing.assert_array_equal(getattr(x, field.name), getattr(y, field.name))


def test_same_seed_gives_identical_chunks_with_every_feature() -> None:
    first = simulate_defaults(full_model(), 20_000, 71, 5_000)
    second = simulate_defaults(full_model(), 20_000, 71, 5_000)
    assert sum(c.path.size for c in first.chunks) > 0
    assert sum(c.prepay_path.size for c in first.chunks) > 0
    assert np.any(np.concatenate([c.log_weight for c in first.chunks]) != 0)
    assert_same_chunks(first, second)


def test_worker_count_does_not_change_chunks_with_every_feature() -> None:
    one = simulate_defaults(full_model(), 20_000, 71, 5_000, workers=1)
    two = simulate_defaults(full_model(), 20_000, 71, 5_000, workers=2)
    assert_same_chunks(one, two)


def test_regenerated_chunks_equal_stored_ones() -> None:
    stored = simulate_defaults(full_model(), 10_000, 72, 5_000)
    regenerated = simulate_defaults(full_model(), 10_000, 72, 5_000, keep=False)
    assert_same_chunks(stored, regenerated)


def test_different_seeds_give_different_chunks() -> None:
    first = simulate_defaults(full_model(), 5_000, 71, 5_000).chunks[0]
    other = simulate_defaults(full_model(), 5_000, 72, 5_000).chunks[0]
    assert not np.array_equal(first.factor, other.factor)
    assert not np.array_equal(first.recovery[:10], other.recovery[:10])


def test_every_correlation_matrix_the_check_accepts_has_a_factor_root() -> None:
    # Z3 = (Z1 + Z2)/√2 written with rounding: the smallest eigenvalue is −4e-11, inside the
    # tolerance, so the check accepts it; the Cholesky root must then exist too.
    from securitize.credit.models import _factor_root, check_correlation_matrix

    a = 1 / np.sqrt(2) + 3e-11
    correlation = np.array([[1.0, 0.0, a], [0.0, 1.0, a], [a, a, 1.0]])
    check_correlation_matrix(correlation, 3)
    root = _factor_root(correlation)
    assert np.allclose(root @ root.T, correlation, atol=1e-9)
    assert np.allclose(np.triu(root, 1), 0.0)  # lower-triangular: Z1 is the first normal
