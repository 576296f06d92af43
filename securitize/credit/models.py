"""Dependence models: Gaussian factor copulas (one or many factors) and the Student-t copula.

Every model here is one family. Loan i's latent variable is

    X_i = (a_i · Z + s_i ε_i) · M,    s_i = sqrt(1 − a_iᵀ C a_i),

with Z ~ N(0, C) the systematic factors (C their correlation matrix, the identity unless given),
ε_i ~ N(0, 1) idiosyncratic, and the mixing variable M = 1 for the Gaussian copula or
M = sqrt(ν / V), V ~ χ²_ν, for the Student-t copula (then X_i is standard t with ν degrees of
freedom, and all loans share M: the t copula's tail dependence). Loan i has defaulted by the end
of month m iff X_i ≤ G⁻¹(F_i(m)), with G the standard normal or t_ν distribution function and
F_i its cumulative PD curve. ``a_i`` are factor loadings: a one-factor model with asset
correlation ρ has a_i = sqrt(ρ). Given (Z, M), defaults are independent — the fact both engines
(Monte Carlo and semi-analytic) rest on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri, stdtrit

# Loadings must leave some idiosyncratic risk: a_iᵀ C a_i < 1 − this.
_MIN_IDIOSYNCRATIC_VARIANCE = 1e-12
_PSD_TOLERANCE = 1e-10


class ModelError(ValueError):
    """A dependence model whose parameters break a rule (loadings, correlation, ν)."""


@dataclass(frozen=True)
class Systematic:
    """Systematic draws for a batch of paths: factors Z (paths × factors), the inverse mixing
    variable 1/M (paths; ones for the Gaussian copula) and the log likelihood ratio of each
    path under importance sampling (zeros without it)."""

    factors: np.ndarray
    inverse_mixing: np.ndarray
    log_weight: np.ndarray


@dataclass(frozen=True)
class FactorCopula:
    """Loadings (loans × factors), factor correlation, and ν for the t copula (None: Gaussian)."""

    loadings: np.ndarray
    factor_names: tuple[str, ...]
    factor_correlation: np.ndarray | None = None
    nu: float | None = None

    def __post_init__(self) -> None:
        loadings = np.atleast_2d(np.asarray(self.loadings, dtype=float))
        object.__setattr__(self, "loadings", loadings)
        if loadings.shape[1] != len(self.factor_names):
            raise ModelError("one loading column per factor is needed")
        if np.any(loadings < 0):
            raise ModelError("factor loadings must be at least 0")
        if self.nu is not None and not self.nu > 2:
            raise ModelError(f"degrees_of_freedom: value {self.nu}: must be above 2")
        if self.factor_correlation is not None:
            check_correlation_matrix(self.factor_correlation, len(self.factor_names))
        systematic_variance = np.einsum(
            "if,fg,ig->i", loadings, self.correlation, loadings, optimize=True
        )
        worst = int(np.argmax(systematic_variance))
        if systematic_variance[worst] >= 1 - _MIN_IDIOSYNCRATIC_VARIANCE:
            raise ModelError(
                f"loan {worst + 1}: systematic variance of its loadings is "
                f"{systematic_variance[worst]:.4g}; loadings must give a value below 1"
            )

    @property
    def factors(self) -> int:
        return len(self.factor_names)

    @property
    def correlation(self) -> np.ndarray:
        if self.factor_correlation is None:
            return np.eye(self.factors)
        return np.asarray(self.factor_correlation, dtype=float)

    @property
    def idiosyncratic_scale(self) -> np.ndarray:
        """s_i = sqrt(1 − a_iᵀ C a_i)."""
        variance = np.einsum(
            "if,fg,ig->i", self.loadings, self.correlation, self.loadings, optimize=True
        )
        return np.sqrt(1.0 - variance)

    @property
    def is_one_factor_gaussian(self) -> bool:
        return self.factors == 1 and self.nu is None

    def threshold(self, cumulative_pd: np.ndarray) -> np.ndarray:
        """Latent default thresholds G⁻¹(F): −inf where F = 0."""
        cumulative_pd = np.asarray(cumulative_pd, dtype=float)
        if self.nu is None:
            return ndtri(cumulative_pd)
        return stdtrit(self.nu, cumulative_pd)

    def draw_systematic(
        self,
        rng: np.random.Generator,
        paths: int,
        shift: np.ndarray | None = None,
        mixing_scale: float | None = None,
        defensive_share: float | None = None,
    ) -> Systematic:
        """Factors (shifted by ``shift`` for importance sampling) and the mixing variable.

        The shift moves the mean of the independent normals ξ behind Z; each path's likelihood
        ratio is exp(−μ·ξ + |μ|²/2) (Glasserman and Li's change of measure). For the t copula,
        ``mixing_scale`` λ (0 < λ < 1 draws bad states more often) draws V = λ · χ²_ν, the
        exponential tilt of χ²_ν = Gamma(ν/2, 2) to Gamma(ν/2, 2λ), likelihood ratio
        λ^(ν/2) exp((1 − λ) V / (2λ)); the path's ratio is the product of the two. With a
        ``defensive_share`` α > 0 each path is drawn untilted with probability α (one uniform
        per path, drawn last) and its weight is 1 / (α + (1 − α) r), r the reciprocal of that
        product at the path's draws: never above 1/α.
        """
        independent = rng.standard_normal((paths, self.factors))
        mu = None if shift is None or not np.any(shift) else np.asarray(shift, dtype=float)
        if self.nu is None and mixing_scale is not None and mixing_scale != 1.0:
            raise ModelError("a mixing_scale needs the t copula (degrees_of_freedom)")
        scale = None if mixing_scale is None or mixing_scale == 1.0 else float(mixing_scale)
        if scale is not None and not (np.isfinite(scale) and scale > 0):
            raise ModelError(f"mixing_scale: value {scale}: must be above 0")
        alpha = float(defensive_share or 0.0)
        if not 0.0 <= alpha < 1.0:
            raise ModelError(f"defensive_share: value {alpha}: must be at least 0 and below 1")
        mixing = None if self.nu is None else rng.chisquare(self.nu, paths)
        tilted = None
        if alpha > 0 and (mu is not None or scale is not None):
            tilted = rng.random(paths) >= alpha
        # log r: the log density ratio (tilted law / model) at each path's draws.
        log_ratio = np.zeros(paths)
        if mu is not None:
            independent += mu if tilted is None else np.where(tilted[:, None], mu, 0.0)
            log_ratio = independent @ mu - 0.5 * float(mu @ mu)
        if scale is not None:
            mixing = mixing * scale if tilted is None else np.where(tilted, mixing * scale, mixing)
            log_ratio = log_ratio - (
                0.5 * self.nu * np.log(scale) + mixing * (1.0 - scale) / (2.0 * scale)
            )
        if tilted is None:
            log_weight = -log_ratio
        else:
            log_weight = -np.logaddexp(np.log(alpha), np.log1p(-alpha) + log_ratio)
        factors = independent
        if self.factor_correlation is not None:
            factors = independent @ _factor_root(self.correlation).T
        inverse_mixing = np.ones(paths) if mixing is None else np.sqrt(mixing / self.nu)
        return Systematic(factors, inverse_mixing, log_weight)


def _factor_root(correlation: np.ndarray) -> np.ndarray:
    """The lower-triangular R with R Rᵀ = C (Cholesky), so the first factor — the global one —
    is the first independent normal and an importance shift on it moves the global factor.
    A ridge of 1e-12 admits singular C; a matrix the check accepts with a slightly negative
    smallest eigenvalue (≥ −_PSD_TOLERANCE, rounding in its entries) gets a ridge that lifts
    that eigenvalue to 1e-12, so every accepted matrix has a root."""
    size = correlation.shape[0]
    smallest = float(np.linalg.eigvalsh(correlation).min())
    ridge = 1e-12 + max(0.0, -smallest)
    return np.linalg.cholesky(correlation + ridge * np.eye(size))


def check_correlation_matrix(matrix: np.ndarray, size: int) -> None:
    """Square, symmetric, unit diagonal, entries in [−1, 1], positive semi-definite."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (size, size):
        raise ModelError(f"correlation matrix must be {size} × {size}, got {matrix.shape}")
    if not np.allclose(matrix, matrix.T, atol=1e-12):
        raise ModelError("correlation matrix must be symmetric")
    if not np.allclose(np.diag(matrix), 1.0, atol=1e-12):
        raise ModelError("correlation matrix must have ones on its diagonal")
    if np.any(np.abs(matrix) > 1):
        raise ModelError("correlation matrix entries must lie in [−1, 1]")
    smallest = float(np.linalg.eigvalsh(matrix).min())
    if smallest < -_PSD_TOLERANCE:
        raise ModelError(
            f"correlation matrix is not positive semi-definite (smallest eigenvalue {smallest:.3g})"
        )


def one_factor(asset_correlation: np.ndarray | float, loans: int, nu: float | None = None):
    """One systematic factor with loading sqrt(ρ) for every loan (ρ may differ by loan)."""
    rho = np.broadcast_to(np.asarray(asset_correlation, dtype=float), (loans,))
    if np.any((rho < 0) | (rho >= 1)):
        raise ModelError("asset_correlation must be at least 0 and below 1")
    return FactorCopula(np.sqrt(rho)[:, None], ("global",), None, nu)
