"""One-factor Gaussian copula for default times on a monthly grid.

Obligor i's latent variable is X_i = sqrt(rho) Z + sqrt(1 - rho) e_i with Z (the systematic
factor, shared by all obligors of a path) and e_i independent standard normals; rho is the
asset correlation (the factor loading is sqrt(rho)). With a constant annual PD p the
cumulative default probability to the end of month m is F(m) = 1 - (1 - p)^(m/12). The obligor
defaults in month m when F(m-1) < Phi(X_i) <= F(m), i.e. the first month whose cumulative PD
reaches Phi(X_i); a default after the last month considered is no default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri


def cumulative_pd(annual_pd: np.ndarray, months: np.ndarray) -> np.ndarray:
    """F(m) = 1 - (1 - p)^(m/12): constant hazard, obligors × months."""
    annual_pd = np.asarray(annual_pd, dtype=float)[:, None]
    return -np.expm1(np.log1p(-annual_pd) * (np.asarray(months)[None, :] / 12.0))


@dataclass(frozen=True)
class GaussianOneFactor:
    """The dependence model: one systematic factor, loading sqrt(asset_correlation)."""

    asset_correlation: float

    def latent(self, factor: np.ndarray, idiosyncratic: np.ndarray) -> np.ndarray:
        """X = sqrt(rho) Z + sqrt(1 - rho) e, broadcasting Z over obligors (paths × obligors)."""
        rho = self.asset_correlation
        return np.sqrt(rho) * factor[:, None] + np.sqrt(1.0 - rho) * idiosyncratic

    @staticmethod
    def default_months(
        latent: np.ndarray, cumulative: np.ndarray, last_month: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Defaults within each obligor's life: (path index, obligor index, month) triples.

        ``cumulative`` is obligors × months (F(1) .. F(M)); ``last_month`` the month after which
        an obligor can no longer default (loan maturity). Triples come sorted by path.
        """
        months = cumulative.shape[1]
        last = np.asarray(last_month, dtype=int)
        threshold = ndtri(cumulative[np.arange(len(last)), last - 1])
        path, obligor = np.nonzero(latent <= threshold[None, :])
        uniform = ndtr(latent[path, obligor])
        # Months beyond an obligor's life can never be its default month.
        alive = np.arange(1, months + 1)[None, :] <= last[:, None]
        curve = np.where(alive, cumulative, np.inf)
        month = 1 + np.sum(curve[obligor] < uniform[:, None], axis=1)
        month = np.minimum(month, last[obligor])
        return path.astype(np.int64), obligor.astype(np.int64), month.astype(np.int64)
