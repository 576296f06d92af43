"""Default months of the credit enhancers, correlated with the pool through the global factor.

An enhancer (guarantor) is one more obligor of a one-factor Gaussian model on the pool's global
factor Z: X_G = sqrt(ρ_G) Z + sqrt(1 − ρ_G) ε_G, defaulting in the first month m with
F_G(m) ≥ Φ(X_G), F_G(m) = 1 − (1 − p_G)^(m/12). Its idiosyncratic draws come from the chunk's
counterparty sub-stream, keyed by the enhancer's name: the pool's paths, and each enhancer's own
draws, stay the same whatever other enhancers a design adds or removes. Under importance
sampling Z carries the shift, and the path weights account for it.
"""

from __future__ import annotations

import zlib

import numpy as np
from scipy.special import ndtr

from securitize.credit.paths import COUNTERPARTY_STREAM, DefaultChunk, chunk_stream


def enhancer_default_months(
    chunk: DefaultChunk,
    names: list[str],
    annual_pd: np.ndarray,
    asset_correlation: np.ndarray,
    horizon: int,
) -> np.ndarray:
    """Paths × enhancers: the month each enhancer defaults, or ``horizon + 1`` if it does not."""
    months = np.full((chunk.paths, len(names)), horizon + 1, dtype=np.int64)
    for k, name in enumerate(names):
        rng = chunk_stream(
            chunk.counterparty_seed, chunk.index, COUNTERPARTY_STREAM, zlib.crc32(name.encode())
        )
        rho = float(asset_correlation[k])
        latent = np.sqrt(rho) * chunk.factor + np.sqrt(1 - rho) * rng.standard_normal(chunk.paths)
        u = ndtr(latent)
        p = float(annual_pd[k])
        if p <= 0:
            continue
        # Constant hazard: F(m) >= u  <=>  m >= 12 log(1 − u) / log(1 − p), in months of the
        # programme's calendar; a deal closing later reads it in its own months (an enhancer
        # that failed before the deal closed is in default from its first month).
        calendar = np.ceil(12.0 * np.log1p(-u) / np.log1p(-p))
        month = np.minimum(calendar - chunk.calendar_offset, horizon + 1).astype(np.int64)
        months[:, k] = np.maximum(month, 1)
    return months
