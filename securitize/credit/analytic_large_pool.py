"""Large homogeneous pool (Vasicek) loss distribution and tranche expected loss, closed form.

The limit of the finite-pool engine as the number of loans grows with every loan the same size:
given the factor the loss fraction is its conditional expectation, L(z) = λ Φ((c − √ρ z)/√(1−ρ))
with c = Φ⁻¹(p). Formulas (derived in ``securitize.credit.analytic``):

    P(L ≤ x) = Φ((√(1−ρ) Φ⁻¹(x/λ) − c) / √ρ),
    q-quantile = λ Φ((√ρ Φ⁻¹(q) + c) / √(1−ρ)),
    E[(L − K)⁺] = λ Φ₂(c, z*; √ρ) − K Φ(z*),  z* = (c − √(1−ρ) Φ⁻¹(K/λ)) / √ρ.

The tranche formula is exact (Φ₂ by Owen's T), so it has no trouble with the kink of (L − K)⁺
that defeats a fixed-node integration over z. For the Student-t copula, c = t_ν⁻¹(p) s with
s = sqrt(V/ν); each formula holds given s and is integrated over s (1-D, composite
Gauss–Legendre in the normal score of V; ~1e-12 at the defaults). ``x``, attachment and
detachment are fractions of pool notional, in the same units as ``lgd``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr, ndtri, stdtrit

from securitize.credit.analytic_quadrature import (
    DEFAULT_ORDER,
    DEFAULT_X_MAX,
    bivariate_normal_cdf,
    chi_scale_quadrature,
)

# 1-D integrals are cheap, so the large-pool t formulas use a finer rule than the finite pool.
LARGE_POOL_MIXING_PANELS = 24


def _check(pd: float, rho: float, lgd: float) -> None:
    if not 0.0 < pd < 1.0:
        raise ValueError(f"large-pool PD must lie in (0, 1), got {pd}")
    if not 0.0 < rho < 1.0:
        raise ValueError(f"large-pool asset correlation must lie in (0, 1), got {rho}")
    if not (math.isfinite(lgd) and lgd > 0.0):
        raise ValueError(f"large-pool loss given default must be positive, got {lgd}")


def _mixture(
    pd: float, nu: float | None, panels: int, order: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Scale nodes s = sqrt(V/ν), weights w and threshold c: every formula here is the Gaussian
    one with threshold c s, averaged over s with weights w (the single node s = 1 and
    c = Φ⁻¹(p) for the Gaussian copula)."""
    if nu is None:
        return np.ones(1), np.ones(1), float(ndtri(pd))
    if not (math.isfinite(nu) and nu > 2):
        raise ValueError(f"t copula degrees of freedom nu must exceed 2, got {nu}")
    s, w = chi_scale_quadrature(nu, panels, order, DEFAULT_X_MAX)
    return s, w, float(stdtrit(nu, pd))


def _as_output(value: np.ndarray) -> float | np.ndarray:
    return float(value) if value.ndim == 0 else value


def large_pool_loss_cdf(
    x: float | np.ndarray,
    pd: float,
    rho: float,
    lgd: float = 1.0,
    *,
    nu: float | None = None,
    mixing_panels: int = LARGE_POOL_MIXING_PANELS,
    mixing_order: int = DEFAULT_ORDER,
) -> float | np.ndarray:
    """P(L ≤ x) for the large-pool loss fraction L ∈ (0, lgd)."""
    _check(pd, rho, lgd)
    x = np.asarray(x, dtype=float)
    s, w, c = _mixture(pd, nu, mixing_panels, mixing_order)
    with np.errstate(divide="ignore"):
        g = ndtri(np.clip(x / lgd, 0.0, 1.0))
    conditional = ndtr((math.sqrt(1.0 - rho) * g[..., None] - c * s) / math.sqrt(rho))
    return _as_output(conditional @ w)


def large_pool_loss_quantile(
    level: float | np.ndarray,
    pd: float,
    rho: float,
    lgd: float = 1.0,
    *,
    nu: float | None = None,
    mixing_panels: int = LARGE_POOL_MIXING_PANELS,
    mixing_order: int = DEFAULT_ORDER,
) -> float | np.ndarray:
    """The ``level`` quantile of the large-pool loss fraction (root of the CDF for the t)."""
    _check(pd, rho, lgd)
    level = np.asarray(level, dtype=float)
    if np.any((level <= 0.0) | (level >= 1.0)):
        raise ValueError("large-pool quantile levels must lie in (0, 1)")
    if nu is None:
        score = (math.sqrt(rho) * ndtri(level) + ndtri(pd)) / math.sqrt(1.0 - rho)
        return _as_output(lgd * ndtr(score))
    s, w, c = _mixture(pd, nu, mixing_panels, mixing_order)
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)

    def excess(g: float, q: float) -> float:
        # The CDF in the score g = Φ⁻¹(x/λ): smooth and monotone, so brentq converges fast.
        return float(ndtr((b * g - c * s) / a) @ w) - q

    scores = []
    for q in level.ravel():
        low, high = -10.0, 10.0
        while excess(low, q) > 0.0:
            low *= 2.0
        while excess(high, q) < 0.0:
            high *= 2.0
        scores.append(brentq(excess, low, high, args=(q,), xtol=1e-14, rtol=1e-14))
    return _as_output(lgd * ndtr(np.reshape(scores, level.shape)))


def _expected_excess(
    strike: float, c: float, rho: float, lgd: float, pd: float, s: np.ndarray, w: np.ndarray
) -> float:
    """E[(L − K)⁺] = E_s[λ Φ₂(c s, z*; √ρ) − K Φ(z*)] with L(z) > K iff z < z*."""
    if strike <= 0.0:
        return lgd * pd - strike  # E[L] = λ p exactly, whatever the copula
    if strike >= lgd:
        return 0.0
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
    kink = (c * s - b * float(ndtri(strike / lgd))) / a
    value = lgd * bivariate_normal_cdf(c * s, kink, a) - strike * ndtr(kink)
    return float(value @ w)


def large_pool_tranche_expected_loss(
    attach: float,
    detach: float,
    pd: float,
    rho: float,
    lgd: float = 1.0,
    *,
    nu: float | None = None,
    mixing_panels: int = LARGE_POOL_MIXING_PANELS,
    mixing_order: int = DEFAULT_ORDER,
) -> float:
    """E[min((L − A)⁺, D − A)] / (D − A): tranche expected loss as a fraction of its size."""
    _check(pd, rho, lgd)
    if not (math.isfinite(attach) and math.isfinite(detach) and 0.0 <= attach < detach):
        raise ValueError(f"tranche needs 0 <= attach < detach, got [{attach}, {detach})")
    s, w, c = _mixture(pd, nu, mixing_panels, mixing_order)
    low = _expected_excess(attach, c, rho, lgd, pd, s, w)
    high = _expected_excess(detach, c, rho, lgd, pd, s, w)
    return (low - high) / (detach - attach)
