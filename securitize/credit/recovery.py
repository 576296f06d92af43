"""Recovery rates per default: fixed, or Beta-distributed and optionally tied to the factor.

Beta recoveries have mean μ_i (the loan's recovery rate) and standard deviation σ, so the
concentration is κ_i = μ_i (1 − μ_i) / σ² − 1 (σ² must be below μ_i (1 − μ_i)). With a factor
loading b > 0 the mean moves with the global factor Z:

    μ_i(Z) = Φ(Φ⁻¹(μ_i) · sqrt(1 + b²) + b Z),

which keeps E[μ_i(Z)] = μ_i over Z while recoveries fall in the bad states where defaults cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri


@dataclass(frozen=True)
class RecoveryModel:
    """Mean recovery per loan; ``dispersion`` (σ) None for fixed recoveries."""

    mean: np.ndarray
    dispersion: float | None = None
    factor_loading: float = 0.0

    def __post_init__(self) -> None:
        if self.dispersion is not None:
            mean = np.asarray(self.mean, dtype=float)
            room = mean * (1 - mean)
            if np.any(self.dispersion**2 >= room):
                worst = int(np.argmin(room))
                raise ValueError(
                    f"recovery dispersion {self.dispersion}: must be below "
                    f"sqrt(mean × (1 − mean)) = {np.sqrt(room[worst]):.4f} for loan {worst + 1}"
                )

    @property
    def is_fixed(self) -> bool:
        return self.dispersion is None

    def draw(
        self, loan: np.ndarray, global_factor: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Recovery rate for each default event (``global_factor`` is Z on the event's path)."""
        mean = np.asarray(self.mean, dtype=float)[loan]
        if self.dispersion is None:
            return mean
        b = self.factor_loading
        if b:
            mean = ndtr(ndtri(mean) * np.sqrt(1 + b * b) + b * global_factor)
        mean = np.clip(mean, 1e-9, 1 - 1e-9)
        base = np.asarray(self.mean, dtype=float)[loan]
        concentration = base * (1 - base) / self.dispersion**2 - 1
        return rng.beta(mean * concentration, (1 - mean) * concentration)
