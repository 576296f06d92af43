"""Aiming importance sampling at a tail event {pool loss share > x}.

**Gaussian copulas (Glasserman and Li, 2005).** The best mean shift of the global factor is close
to the mode of P(L > x | z) φ(z). With the conditional loss bounded by its Chernoff exponent,

    μ = argmax_z [ −J(z) − z² / 2 ],   J(z) = sup_{θ ≥ 0} ( θ x − ψ(θ, z) ),
    ψ(θ, z) = Σ_i log(1 + p_i(z) (e^{θ l_i} − 1)),

with p_i(z) loan i's probability of defaulting by maturity given the global factor z and l_i its
loss given default as a share of the pool. Paths drawn with Z ~ N(μ, 1) carry the likelihood
ratio exp(−μ Z + μ²/2), so every estimate stays unbiased; only its variance changes.

**Several factors.** The normals ξ behind the factors (Z = R ξ) are shifted along one direction
d, the loss-weighted mean of the loans' loadings on ξ (``factor_direction``), with the search
above run on each loan's loading gᵢ = bᵢ · d on d and the rest counted as idiosyncratic noise:
exact when all loans load alike (then it is the one-factor search at ρ = aᵀ C a). Shifting the
global factor alone overshoots, no better than plain Monte Carlo in the tail.

**Student-t copula.** X_i = (a_i Z + s_i ε_i) / sqrt(V/ν) with V ~ χ²_ν = Gamma(ν/2, 2): the tail
is driven by small V at least as much as by low Z (given V = v the thresholds are
c_i sqrt(v/ν), which tend to 0 — a default probability of one half — as v → 0). A shift of Z
alone samples the wrong region and its weights are heavy-tailed: estimates come out orders of
magnitude low with small standard errors. So V is drawn from the exponential tilt of its law,
Gamma(ν/2, 2λ) = λ · χ²_ν (likelihood ratio λ^{ν/2} exp((1 − λ) V / (2λ))), jointly with
Z ~ N(μ, 1). (μ, λ) are the cross-entropy choice (Rubinstein): the member of this family
closest (Kullback–Leibler) to the zero-variance law h(z, v) ∝ P(L > x | z, v) φ(z) f_ν(v),
which for a normal mean and a Gamma scale is moment matching,

    μ = E_h[Z],   λ = min(1, E_h[V] / ν),
    P(L > x | z, v) ≈ exp(−J(z, v)),   p_i(z, v) = Φ((c_i sqrt(v/ν) − a_i z) / s_i),

the expectations taken on a grid of z and of V's normal score q (v = F_ν⁻¹(Φ(q)), so that
φ(z) φ(q) dz dq is the prior mass), both from −8 to 3 in steps of 0.25. (The mode of h,
Glasserman–Li's choice for the normal shift, puts V's tilt far too close to the model: the
tail's V-marginal is wide because a lower Z can stand in for a larger V.)

The tilt of V alone has a weight unbounded in V (with infinite variance once λ ≤ 1/2), which
would ruin every estimate not confined to the tail (expected loss, probability of any default).
So the sampling law is the **defensive mixture** (Hesterberg, 1995) g = α f + (1 − α) f_{μ,λ}:
with probability α a path's (Z, V) come from the model itself, otherwise from the shifted and
tilted law, and its weight is

    w = f / g = 1 / (α + (1 − α) r),   r = exp(μ ξ − μ²/2) · λ^{−ν/2} exp(−(1 − λ) V / (2λ)),

r = f_{μ,λ} / f at the path's own draws. Every weight is at most 1/α, so no estimate loses its
finite variance, and the tail's sampling rate drops by at most the factor 1 − α.
α = ``DEFENSIVE_SHARE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import brentq
from scipy.special import chdtri, ndtr

from securitize.credit.models import FactorCopula, _factor_root
from securitize.credit.paths import CreditModel

_Z_GRID = np.linspace(-8.0, 0.0, 161)
# The t copula's cross-entropy grid: z and the normal score q of V (V = F_ν⁻¹(Φ(q))).
_CE_Z = np.linspace(-8.0, 3.0, 45)
_CE_Q = np.linspace(-8.0, 3.0, 45)
# Share α of paths drawn from the model itself under the t copula's tilted law.
DEFENSIVE_SHARE = 0.1
# The mixing scale λ is kept at least this (V's law is never squeezed to a point).
MIN_MIXING_SCALE = 1e-3


@dataclass(frozen=True)
class Tilt:
    """An importance-sampling law: ``shift`` μ of the global factor's normal, ``mixing_scale`` λ
    of the t copula's χ²_ν (None for a Gaussian copula) and the ``defensive_share`` α of paths
    drawn untilted (0: none)."""

    shift: float
    mixing_scale: float | None = None
    defensive_share: float = 0.0


def _chernoff_exponent(
    p: np.ndarray, loss: np.ndarray, x: float, count: np.ndarray | None = None
) -> float:
    """J = sup_θ≥0 (θx − ψ(θ)): zero when the conditional mean loss already exceeds x.
    ``count`` repeats each loan (identical loans grouped)."""
    n = np.ones_like(loss) if count is None else count
    if float(p @ (n * loss)) >= x:
        return 0.0
    if float(n @ loss) <= x:
        return np.inf

    def slope(theta: float) -> float:
        tilt = p * np.exp(theta * loss)
        return float((n * loss * tilt / (1 - p + tilt)).sum()) - x

    upper = 1.0
    while slope(upper) < 0:
        upper *= 2.0
    theta = brentq(slope, 0.0, upper, xtol=1e-10)
    psi = float((n * np.log1p(p * np.expm1(theta * loss))).sum())
    return theta * x - psi


def glasserman_li_shift(
    threshold: np.ndarray, loading: np.ndarray, loss_share: np.ndarray, target: float
) -> float:
    """The factor shift μ for the event {pool loss share > target}.

    ``threshold`` are latent default thresholds at maturity (Φ⁻¹ of the cumulative PD),
    ``loading`` each loan's loading on the global factor, ``loss_share`` each loan's loss given
    default as a share of the pool. An event that cannot happen (``loss_share`` sums to at
    most ``target``) gets no shift. For the t copula use ``importance_tilt``.
    """
    if float(np.sum(loss_share)) <= target:
        return 0.0
    scale = np.sqrt(1.0 - loading**2)

    def objective(z: float) -> float:
        p = ndtr((threshold - loading * z) / scale)
        return -_chernoff_exponent(p, loss_share, target) - 0.5 * z * z

    values = np.array([objective(z) for z in _Z_GRID])
    best = int(np.argmax(values))
    low, high = _Z_GRID[max(best - 1, 0)], _Z_GRID[min(best + 1, _Z_GRID.size - 1)]
    fine = np.linspace(low, high, 41)
    return float(fine[int(np.argmax([objective(z) for z in fine]))])


def _grouped(
    threshold: np.ndarray, loading: np.ndarray, loss_share: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Identical loans (threshold, loading, loss) once each, with their counts; loans that
    cannot default dropped."""
    rows = np.column_stack([threshold, loading, loss_share])
    rows = rows[np.isfinite(rows[:, 0])]
    unique, count = np.unique(rows, axis=0, return_counts=True)
    return unique[:, 0], unique[:, 1], unique[:, 2], count.astype(float)


def importance_tilt(
    threshold: np.ndarray,
    loading: np.ndarray,
    loss_share: np.ndarray,
    target: float,
    nu: float | None = None,
    shift: float | None = None,
) -> Tilt:
    """The importance-sampling law for the event {pool loss share > target}.

    Arguments as for ``glasserman_li_shift``, with ``threshold`` = G⁻¹(cumulative PD at
    maturity) for the copula's G (``FactorCopula.threshold``); ``nu`` selects the t copula.
    Gaussian: the Glasserman–Li shift, no mixing. t copula: the cross-entropy (μ, λ) and the
    defensive share ``DEFENSIVE_SHARE`` (module notes). ``shift`` fixes μ (for the t copula
    only λ is then chosen: the cross-entropy λ does not depend on μ). An impossible event, or a
    tilt that comes out nil, gives ``Tilt(0.0)``: plain Monte Carlo.
    """
    loss_share = np.asarray(loss_share, dtype=float)
    threshold = np.broadcast_to(np.asarray(threshold, dtype=float), loss_share.shape)
    loading = np.broadcast_to(np.asarray(loading, dtype=float), loss_share.shape)
    if nu is None:
        if shift is None:
            shift = glasserman_li_shift(threshold, loading, loss_share, target)
        return Tilt(float(shift))
    c, a, loss, count = _grouped(threshold, loading, loss_share)
    if float(count @ loss) <= target:
        return Tilt(0.0 if shift is None else float(shift))
    scale = np.sqrt(1.0 - a**2)
    mixing = chdtri(nu, ndtr(-_CE_Q))
    log_h = np.empty((_CE_Z.size, _CE_Q.size))
    for j, v in enumerate(mixing):
        shrink = c * math.sqrt(v / nu)
        for i, z in enumerate(_CE_Z):
            p = ndtr((shrink - a * z) / scale)
            log_h[i, j] = -_chernoff_exponent(p, loss, target, count)
    log_h -= 0.5 * _CE_Z[:, None] ** 2 + 0.5 * _CE_Q[None, :] ** 2
    h = np.exp(log_h - log_h.max())
    h /= h.sum()
    mu = float(h.sum(axis=1) @ _CE_Z) if shift is None else float(shift)
    scale_v = float(h.sum(axis=0) @ mixing) / nu
    scale_v = min(1.0, max(MIN_MIXING_SCALE, scale_v))
    if abs(mu) < 1e-12:
        mu = 0.0
    if scale_v == 1.0:
        return Tilt(mu, None, DEFENSIVE_SHARE if mu else 0.0)
    return Tilt(mu, scale_v, DEFENSIVE_SHARE)


def factor_direction(copula: FactorCopula, loss_share: np.ndarray) -> np.ndarray:
    """The unit direction d of the independent normals ξ behind the factors (Z = R ξ) that
    importance sampling shifts along: the loss-weighted mean of the loans' loadings on ξ,
    bᵢ = Rᵀ aᵢ. One factor: d = (1). With equal loadings d is the direction of the loans' whole
    systematic part, so the search is exactly the one-factor one at ρ = aᵀ C a."""
    if copula.factors == 1:
        return np.ones(1)
    root = (
        np.eye(copula.factors)
        if copula.factor_correlation is None
        else _factor_root(copula.correlation)
    )
    mean = np.asarray(loss_share, dtype=float) @ (copula.loadings @ root)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:
        direction = np.zeros(copula.factors)
        direction[0] = 1.0
        return direction
    return mean / norm


def aim_importance_sampling(
    model: CreditModel,
    loss_share: np.ndarray,
    target: float,
    shift: float | None = None,
) -> CreditModel:
    """``model`` with importance sampling aimed at {pool loss share > target}.

    ``loss_share`` is each loan's loss given default as a share of the pool (for example
    balance × (1 − recovery rate) / pool balance). The normals behind the factors are shifted by
    μ d, d = ``factor_direction`` (the global factor alone for a one-factor model), with μ from
    ``importance_tilt`` on the loans' loadings gᵢ = bᵢ · d on that direction (what is
    orthogonal to it counts as idiosyncratic noise of variance 1 − gᵢ²); for the t copula V is
    tilted too. ``shift`` fixes μ, as a shift of the first normal ξ₁ alone (the scenario's
    numeric ``importance_shift``); then only a t copula's V is aimed. A tilt that comes out nil
    gives plain Monte Carlo.
    """
    copula = model.copula
    loss_share = np.asarray(loss_share, dtype=float)
    tenor = np.asarray(model.tenor, dtype=np.int64)
    at_maturity = model.cumulative_pd[np.arange(tenor.size), tenor - 1]
    if shift is None:
        direction = factor_direction(copula, loss_share)
    else:
        direction = np.zeros(copula.factors)
        direction[0] = 1.0
    if copula.factors == 1:
        loading = copula.loadings[:, 0]
    else:
        root = (
            np.eye(copula.factors)
            if copula.factor_correlation is None
            else _factor_root(copula.correlation)
        )
        loading = (copula.loadings @ root) @ direction
    tilt = importance_tilt(
        copula.threshold(at_maturity), loading, loss_share, target, copula.nu, shift
    )
    vector = None if tilt.shift == 0.0 else tilt.shift * direction
    return replace(
        model,
        shift=vector,
        mixing_scale=tilt.mixing_scale,
        defensive_share=tilt.defensive_share or None,
    )
