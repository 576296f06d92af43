"""Choosing the importance-sampling shift of the global factor (Glasserman and Li, 2005).

For a tail event {pool loss > x}, the best mean shift of the factor is close to the mode of
P(L > x | z) φ(z). With the conditional loss bounded by its Chernoff exponent,

    μ = argmax_z [ −J(z) − z² / 2 ],   J(z) = sup_{θ ≥ 0} ( θ x − ψ(θ, z) ),
    ψ(θ, z) = Σ_i log(1 + p_i(z) (e^{θ l_i} − 1)),

with p_i(z) loan i's probability of defaulting by maturity given the global factor z and l_i its
loss given default as a share of the pool. Paths drawn with Z ~ N(μ, 1) carry the likelihood
ratio exp(−μ Z + μ²/2), so every estimate stays unbiased; only its variance changes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

_Z_GRID = np.linspace(-8.0, 0.0, 161)


def _chernoff_exponent(p: np.ndarray, loss: np.ndarray, x: float) -> float:
    """J = sup_θ≥0 (θx − ψ(θ)): zero when the conditional mean loss already exceeds x."""
    if float(p @ loss) >= x:
        return 0.0
    if loss.sum() <= x:
        return np.inf

    def slope(theta: float) -> float:
        tilt = p * np.exp(theta * loss)
        return float((loss * tilt / (1 - p + tilt)).sum()) - x

    upper = 1.0
    while slope(upper) < 0:
        upper *= 2.0
    theta = brentq(slope, 0.0, upper, xtol=1e-10)
    psi = float(np.log1p(p * np.expm1(theta * loss)).sum())
    return theta * x - psi


def glasserman_li_shift(
    threshold: np.ndarray, loading: np.ndarray, loss_share: np.ndarray, target: float
) -> float:
    """The factor shift μ for the event {pool loss share > target}.

    ``threshold`` are latent default thresholds at maturity, ``loading`` each loan's loading on
    the global factor, ``loss_share`` each loan's loss given default as a share of the pool.
    """
    scale = np.sqrt(1.0 - loading**2)

    def objective(z: float) -> float:
        p = ndtr((threshold - loading * z) / scale)
        return -_chernoff_exponent(p, loss_share, target) - 0.5 * z * z

    values = np.array([objective(z) for z in _Z_GRID])
    best = int(np.argmax(values))
    low, high = _Z_GRID[max(best - 1, 0)], _Z_GRID[min(best + 1, _Z_GRID.size - 1)]
    fine = np.linspace(low, high, 41)
    return float(fine[int(np.argmax([objective(z) for z in fine]))])
