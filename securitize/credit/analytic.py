"""Semi-analytic pool loss distributions: the second engine beside the Monte Carlo one.

The model is the Monte Carlo engine's (``securitize.credit.models``), stated per loan i with
factor loading a_i = sqrt(ρ_i) and cumulative PD curve F_i(m), m = 1..T:

* Gaussian copula: X_i = a_i Z + sqrt(1 − a_i²) ε_i; default by the end of month m iff
  X_i ≤ Φ⁻¹(F_i(m)). Given Z = z, loans are independent with
  F_i(m | z) = Φ((Φ⁻¹(F_i(m)) − a_i z) / sqrt(1 − a_i²)).
* Student-t copula (ν > 2): X_i = (a_i Z + sqrt(1 − a_i²) ε_i) / sqrt(V/ν), V ~ χ²_ν; given
  (Z, V) = (z, v), F_i(m | z, v) = Φ((t_ν⁻¹(F_i(m)) sqrt(v/ν) − a_i z) / sqrt(1 − a_i²)).
* Loan i defaults in month k with conditional probability p_ik = F_i(k | ·) − F_i(k − 1 | ·),
  F_i(0) = 0, and then loses l_ik CNY (``loss_given_default[i, k-1]``). Cumulative pool loss by
  month m is L_m = Σ_i Σ_{k ≤ m} l_ik 1{loan i defaults in month k}.

Finite pool (exact up to the loss lattice and the quadrature). Losses are put on a lattice of
``unit`` CNY, j_ik = round(l_ik / unit). Given the factor(s), loan i's lattice loss by month m has
characteristic function φ_i(ω | ·) = 1 − F_i(m | ·) + Σ_{k ≤ m} p_ik e^{−iω j_ik}, and by
conditional independence the pool's is the product over loans. Mixing over the factor is linear,
so the unconditional discrete Fourier transform is

    P̂_m(ω) = Σ_q w_q Π_i φ_i(ω | z_q, s_q),   ω = 2π n / N_fft,  n = 0 .. N_fft/2,

and one inverse real FFT per month gives P(L_m = j · unit). N_fft ≥ 1 + Σ_i max_k j_ik, the
largest possible lattice loss, so there is no aliasing: the distribution is exact on its lattice.
Identical loans (same loading, PD curve and lattice losses) are grouped and their factor raised
to the group size, so a homogeneous pool of any size costs as much as one loan. The quadrature
(z_q, s_q, w_q) is composite Gauss–Legendre in z (and in the normal score of V for the t copula,
nested outside z), see ``securitize.credit.analytic_quadrature``.

Large homogeneous pool (Vasicek; ``analytic_large_pool``). With PD p, correlation ρ and loss
given default λ, the pool loss fraction given Z = z is L(z) = λ Φ((Φ⁻¹(p) − √ρ z)/√(1−ρ)), so

    P(L ≤ x) = Φ((√(1−ρ) Φ⁻¹(x/λ) − Φ⁻¹(p)) / √ρ),
    E[(L − K)⁺] = λ Φ₂(Φ⁻¹(p), z*; √ρ) − K Φ(z*),   z* = (Φ⁻¹(p) − √(1−ρ) Φ⁻¹(K/λ)) / √ρ,

the second because L(z) > K iff z < z* and E[L(Z) 1{Z < z*}] = λ P(X ≤ Φ⁻¹(p), Z < z*) with
corr(X, Z) = √ρ. For the t copula the same formulas hold given s = sqrt(V/ν) with Φ⁻¹(p) replaced
by t_ν⁻¹(p) s, and are integrated over s.

Accuracy and cost (measured on a shared 2-core machine; checks in tests/test_analytic.py).

* The lattice is the one approximation a user must budget for, and its effect is bounded, not
  guessed. When every loss is a whole multiple of a common measure (equal loans, round
  balances at a fixed recovery) that measure is the unit and nothing is rounded. Otherwise each
  loss moves by δ_ik ≤ unit/2, and since the lattice loss and the true loss count the same
  defaults, |L' − L| ≤ Σ_i max_k δ_ik on every path (``rounding_bound``: bounds each quantile's
  move) and E|L' − L| ≤ Σ_i Σ_k p_ik δ_ik (``mean_rounding_bound``: bounds the move of the
  expected loss and of every expected tranche loss). The default lattice starts at 4096 points
  and grows to 32768 until the mean bound is within 0.1% of the expected loss; a lattice whose
  mean bound exceeds 1% is refused (too many unequal loans: pass ``unit`` or ``max_points``).
* The quadrature is not a budget item at the defaults: total probability is 1 to ~1e-15, the
  mean equals Σ_i Σ_k l_ik (F_i(k) − F_i(k−1)) (lattice losses) to ~1e-12 relative, tiny pools
  agree with brute-force enumeration under adaptive quadrature to ~3e-13 (the reference's own
  tolerance), and probabilities move by ≤ 3e-11 (CDF ≤ 2e-10) against rules with 3–6 times the
  z panels for pools of 15 to 5000 loans, and by ~2e-14 against twice the s panels (t, ν = 3).
  The z panels grow as 10 + 1.2 sqrt(N_eff) (N_eff = (Σ e_i)² / Σ e_i² of the exposures),
  because given z the pool loss narrows like 1/sqrt(N_eff) and its lattice probabilities become
  bumps in z that fixed nodes would miss (this is why plain Gauss–Hermite is not used), times
  (κ/κ₀)^1.2 when the loading's slope κ = a/sqrt(1 − a²) exceeds its value at ρ = 0.18: the
  bumps narrow as the loading grows. The CDF then stays within 3e-11 of a much finer rule up to
  ρ = 0.95.
* Cost is (z nodes) × (s nodes, t only) × (distinct loans) × (months asked) × (lattice / 2)
  complex operations, linear in each: ask only for the months needed. Single-threaded BLAS
  on a busy machine: 100 loans at month 36 ≈ 0.2 s, all 36 months ≈ 4.5 s, 1000 loans at month
  36 ≈ 2.5 s; the t copula multiplies the cost by its 96 s nodes (100 loans at month 36 ≈ 25 s,
  15 loans ≈ 3 s). Multi-threaded BLAS on an oversubscribed machine can be several times
  slower (OPENBLAS_NUM_THREADS=1 avoids it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import fft
from scipy.special import ndtri, stdtrit

from securitize.credit.analytic_large_pool import (
    large_pool_loss_cdf,
    large_pool_loss_quantile,
    large_pool_tranche_expected_loss,
)
from securitize.credit.analytic_lattice import (
    MAX_LATTICE_POINTS,
    identical_loans,
    lattice_unit,
    mixed_spectrum,
    rounding_moves,
)
from securitize.credit.analytic_quadrature import (
    DEFAULT_MIXING_PANELS,
    DEFAULT_ORDER,
    DEFAULT_X_MAX,
    default_factor_panels,
    factor_nodes,
)

__all__ = [
    "LossDistribution",
    "finite_pool_loss_distribution",
    "large_pool_loss_cdf",
    "large_pool_loss_quantile",
    "large_pool_tranche_expected_loss",
]

DEFAULT_MAX_POINTS = 4096
# The default lattice may grow to this many points to hold the rounding of the expected loss
# within ROUNDING_TARGET of it; a lattice that moves it by more than ROUNDING_LIMIT is refused.
DEFAULT_POINTS_CAP = 2**15
ROUNDING_TARGET = 1e-3
ROUNDING_LIMIT = 1e-2
# A tail or CDF value is printed only when its FFT round-off is at most this fraction of it.
RESOLVED_RELATIVE = 1e-3


@dataclass(frozen=True, eq=False)
class LossDistribution:
    """Distribution of cumulative pool loss (CNY) on a lattice, one row per requested month.

    Each loss l_ik is moved to the lattice by δ_ik = |l_ik − j_ik · unit|, and the lattice loss
    L' and the true loss L are the same defaults counted two ways, so the result carries proven
    bounds on what the lattice changes: ``max_rounding_error`` = max δ_ik; ``rounding_bound`` =
    Σ_i max_k δ_ik ≥ |L' − L| on every path, hence bounds the move of every quantile;
    ``mean_rounding_bound`` = Σ_i Σ_k p_ik δ_ik ≥ E|L' − L|, hence bounds the move of the
    expected loss and of any expected tranche loss in CNY (the payoff is 1-Lipschitz in L).

    ``accuracy_floor`` is the FFT's round-off on a single lattice probability (a probability of
    1e-20 comes back as ~1e-16 noise). A tail or CDF value is resolved when its round-off, the
    floor times the square root of the lattice points summed, is at most ``RESOLVED_RELATIVE``
    of it; ``cdf`` and ``probability_of_exceeding`` return NaN for values that are not, rather than
    digits that are noise, and ``quantile`` refuses levels in the unresolved tail.
    """

    months: np.ndarray
    unit: float
    loss: np.ndarray
    probability: np.ndarray
    max_rounding_error: float
    rounding_bound: float
    mean_rounding_bound: float
    accuracy_floor: float

    def _row(self, month: int) -> np.ndarray:
        where = np.flatnonzero(self.months == month)
        if where.size == 0:
            raise ValueError(f"month {month} was not computed; months are {self.months.tolist()}")
        return self.probability[where[0]]

    def _resolved(self, value: np.ndarray, summed: np.ndarray) -> np.ndarray:
        """``value`` where its round-off is small beside it, else NaN; the round-off of a sum of
        lattice probabilities grows like the square root of the points summed."""
        noise = self.accuracy_floor * np.sqrt(summed)
        return np.where(noise <= RESOLVED_RELATIVE * value, value, np.nan)

    def cdf(self, month: int, x: float | np.ndarray) -> float | np.ndarray:
        """P(L_month ≤ x) for loss x in CNY; NaN where that is below the accuracy floor."""
        cumulative = np.cumsum(self._row(month))
        index = np.searchsorted(self.loss, np.asarray(x, dtype=float), side="right") - 1
        value = np.where(index >= 0, cumulative[np.maximum(index, 0)], 0.0)
        value = np.where(index >= 0, self._resolved(value, index + 1.0), 0.0)
        return float(value) if value.ndim == 0 else value

    def probability_of_exceeding(self, month: int, x: float | np.ndarray) -> float | np.ndarray:
        """P(L_month > x), summed over the tail itself so small tail probabilities keep digits;
        NaN where the tail is below the accuracy floor (0 beyond the largest possible loss)."""
        tail = np.cumsum(self._row(month)[::-1])[::-1]  # tail[j] = P(L ≥ loss[j])
        index = np.searchsorted(self.loss, np.asarray(x, dtype=float), side="right")
        inside = index < tail.size
        value = np.where(inside, tail[np.minimum(index, tail.size - 1)], 0.0)
        value = np.where(inside, self._resolved(value, tail.size - index), 0.0)
        return float(value) if value.ndim == 0 else value

    def quantile(self, month: int, level: float) -> float:
        """The lower quantile: the smallest lattice loss whose CDF reaches ``level``."""
        if not 0.0 < level <= 1.0:
            raise ValueError(f"quantile level must lie in (0, 1], got {level}")
        unresolved = self.accuracy_floor * math.sqrt(self.loss.size) / RESOLVED_RELATIVE
        if 1.0 - level < unresolved:
            raise ValueError(
                f"quantile level {level!r} lies in the tail beyond the exact engine's accuracy "
                f"(tail probabilities below {unresolved:.1e} are FFT round-off here)"
            )
        cumulative = np.cumsum(self._row(month))
        index = min(int(np.searchsorted(cumulative, level, side="left")), self.loss.size - 1)
        return float(self.loss[index])

    def expected_loss(self, month: int) -> float:
        """E[L_month] in CNY."""
        return float(self._row(month) @ self.loss)

    def tranche_expected_loss(self, attach: float, detach: float) -> np.ndarray:
        """E[min((L − A)⁺, D − A)] / (D − A) per requested month, A and D in CNY.

        The expected loss of the tranche [attach, detach) as a fraction of its size; multiply by
        (detach − attach) for CNY.
        """
        if not (math.isfinite(attach) and math.isfinite(detach) and 0.0 <= attach < detach):
            raise ValueError(f"tranche needs 0 <= attach < detach, got [{attach}, {detach})")
        size = detach - attach
        return self.probability @ np.clip(self.loss - attach, 0.0, size) / size

    def to_frame(self) -> pd.DataFrame:
        """Probabilities as a table: one row per lattice loss (CNY), one column per month."""
        return pd.DataFrame(
            self.probability.T,
            index=pd.Index(self.loss, name="loss"),
            columns=pd.Index(self.months, name="month"),
        )


def finite_pool_loss_distribution(
    loss_given_default: np.ndarray,
    cumulative_pd: np.ndarray,
    loading: float | np.ndarray,
    months: Sequence[int] | np.ndarray,
    *,
    nu: float | None = None,
    unit: float | None = None,
    max_points: int | None = None,
    factor_panels: int | None = None,
    factor_order: int = DEFAULT_ORDER,
    mixing_panels: int = DEFAULT_MIXING_PANELS,
    mixing_order: int = DEFAULT_ORDER,
    x_max: float = DEFAULT_X_MAX,
) -> LossDistribution:
    """Exact distribution of cumulative pool loss at each of ``months`` (1-based, increasing).

    ``loss_given_default`` (CNY) and ``cumulative_pd`` are loans × months; ``loading`` is
    a_i = sqrt(asset correlation), scalar or per loan; ``nu`` selects the Student-t copula.
    ``unit`` is the lattice spacing in CNY; by default the losses' common measure if they have a
    workable one, else the finest spacing whose lattice has at most ``max_points`` points (a
    hard cap when given; without it the lattice grows as the module notes say). A lattice that
    moves the expected loss by more than 1% is refused with ValueError. ``factor_panels``
    defaults to a count that grows with the pool's effective number of loans and its loadings
    (see the module notes); each panel has ``factor_order`` nodes.
    """
    lgd, curve, a, wanted = _validated(loss_given_default, cumulative_pd, loading, months, nu)
    horizon = int(wanted[-1])
    lgd, curve = lgd[:, :horizon], curve[:, :horizon]
    in_month = np.diff(curve, axis=1, prepend=0.0)  # unconditional p_ik
    expected = float(np.sum(in_month * lgd))
    if unit is None:
        unit = _default_unit(lgd, in_month, expected, max_points)
    elif not (math.isfinite(unit) and unit > 0):
        raise ValueError(f"lattice unit must be a positive number of CNY, got {unit}")
    moves = rounding_moves(lgd, unit)
    mean_bound = float(np.sum(in_month * moves))
    if mean_bound > ROUNDING_LIMIT * expected:
        raise ValueError(
            f"a lattice unit of {unit:.6g} CNY moves the expected loss by up to {mean_bound:.3g} "
            f"CNY, {mean_bound / expected:.2%} of it (at most {ROUNDING_LIMIT:.0%}): the losses "
            "are too many or too unequal for this lattice; pass a finer unit or more max_points"
        )
    lattice = np.rint(lgd / unit).astype(np.int64)
    points = int(lattice.max(axis=1, initial=0).sum()) + 1
    if points > MAX_LATTICE_POINTS:
        raise ValueError(
            f"a unit of {unit} CNY needs a lattice of {points} points (at most "
            f"{MAX_LATTICE_POINTS}); choose a larger unit or leave it to max_points"
        )
    exposure = lattice.max(axis=1, initial=0) * unit
    if factor_panels is None:
        factor_panels = default_factor_panels(exposure, a)
    z, s, w = factor_nodes(nu, factor_panels, factor_order, x_max, mixing_panels, mixing_order)
    threshold = ndtri(curve) if nu is None else stdtrit(nu, curve)
    groups = identical_loans(a, threshold, lattice)
    n_fft = fft.next_fast_len(points, real=True)
    spectrum = mixed_spectrum(groups, wanted - 1, n_fft, z, s, w)
    probability = fft.irfft(spectrum, n=n_fft, axis=1)[:, :points]
    # The quadrature sum is a mixture of distributions, so negatives are FFT round-off; their
    # size, and the rounding of one product per group of loans, measure the accuracy floor.
    negative = float(-probability.min(initial=0.0))
    floor = max(4.0 * negative, np.finfo(float).eps * (4 + len(groups)))
    probability[probability < 0.0] = 0.0
    return LossDistribution(
        months=wanted,
        unit=float(unit),
        loss=np.arange(points) * float(unit),
        probability=probability,
        max_rounding_error=float(moves.max(initial=0.0)),
        rounding_bound=float(moves.max(axis=1, initial=0.0).sum()),
        mean_rounding_bound=mean_bound,
        accuracy_floor=floor,
    )


def _default_unit(
    lgd: np.ndarray, in_month: np.ndarray, expected: float, max_points: int | None
) -> float:
    """The lattice unit when none is given: exact if the losses allow, else fine enough.

    A given ``max_points`` is a hard cap. Without one the lattice starts at
    ``DEFAULT_MAX_POINTS`` and grows fourfold, to at most ``DEFAULT_POINTS_CAP``, until the proven
    bound on the expected loss's rounding is within ``ROUNDING_TARGET`` of it.
    """
    if max_points is not None:
        return lattice_unit(lgd, max_points)
    budget = DEFAULT_MAX_POINTS
    while True:
        unit = lattice_unit(lgd, budget)
        bound = float(np.sum(in_month * rounding_moves(lgd, unit)))
        if bound <= ROUNDING_TARGET * expected or budget >= DEFAULT_POINTS_CAP:
            return unit
        budget = min(4 * budget, DEFAULT_POINTS_CAP)


def _validated(
    loss_given_default: np.ndarray,
    cumulative_pd: np.ndarray,
    loading: float | np.ndarray,
    months: Sequence[int] | np.ndarray,
    nu: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Check the inputs once, where they enter, and name the rule a bad value breaks."""
    lgd = np.asarray(loss_given_default, dtype=float)
    curve = np.asarray(cumulative_pd, dtype=float)
    if lgd.ndim != 2 or lgd.shape != curve.shape:
        raise ValueError(
            "loss_given_default and cumulative_pd must both be loans × months arrays, got shapes "
            f"{lgd.shape} and {curve.shape}"
        )
    loans, horizon = curve.shape
    if not np.all(np.isfinite(lgd)) or np.any(lgd < 0):
        raise ValueError("loss_given_default must be finite and non-negative (CNY)")
    if not np.all((curve >= 0) & (curve < 1)):
        raise ValueError("cumulative_pd must lie in [0, 1)")
    falls = np.argwhere(np.diff(curve, axis=1) < 0)
    if falls.size:
        i, k = falls[0]
        raise ValueError(f"cumulative_pd of loan {i} falls from month {k + 1} to month {k + 2}")
    a = np.broadcast_to(np.asarray(loading, dtype=float), (loans,)).copy()
    if not np.all((a >= 0) & (a < 1)):
        raise ValueError("loading sqrt(asset correlation) must lie in [0, 1) for every loan")
    wanted = np.asarray(months)
    if wanted.ndim != 1 or wanted.size == 0 or not np.issubdtype(wanted.dtype, np.integer):
        raise ValueError(f"months must be a non-empty list of integers, got {months!r}")
    if np.any(np.diff(wanted) <= 0) or wanted[0] < 1 or wanted[-1] > horizon:
        raise ValueError(
            f"months must increase strictly within 1..{horizon}, got {wanted.tolist()}"
        )
    if nu is not None and not (math.isfinite(nu) and nu > 2):
        raise ValueError(f"t copula degrees of freedom nu must exceed 2, got {nu}")
    return lgd, curve, a, wanted.astype(np.int64)
