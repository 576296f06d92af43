"""Default months of the credit enhancers, correlated with the pool through the same factor.

An enhancer (guarantor) is one more obligor of the one-factor model with its own annual PD and
asset correlation. Its idiosyncratic draws come from the chunk's counterparty sub-stream, keyed
by the enhancer's name: the pool's paths, and each enhancer's own draws, stay the same whatever
other enhancers a design adds or removes.
"""

from __future__ import annotations

import zlib

import numpy as np

from securitize.credit.gaussian import GaussianOneFactor, cumulative_pd
from securitize.credit.paths import COUNTERPARTY_STREAM, DefaultChunk, chunk_stream


def enhancer_default_months(
    chunk: DefaultChunk,
    names: list[str],
    annual_pd: np.ndarray,
    asset_correlation: np.ndarray,
    horizon: int,
) -> np.ndarray:
    """Paths × enhancers: the month each enhancer defaults, or ``horizon + 1`` if it does not."""
    count = len(annual_pd)
    months = np.full((chunk.paths, count), horizon + 1, dtype=np.int64)
    if count == 0:
        return months
    idiosyncratic = np.column_stack(
        [
            chunk_stream(
                chunk.seed, chunk.index, COUNTERPARTY_STREAM, zlib.crc32(name.encode())
            ).standard_normal(chunk.paths)
            for name in names
        ]
    )
    cumulative = cumulative_pd(np.asarray(annual_pd, dtype=float), np.arange(1, horizon + 1))
    for k in range(count):
        model = GaussianOneFactor(float(asset_correlation[k]))
        latent = model.latent(chunk.factor, idiosyncratic[:, [k]])
        path, _, month = model.default_months(latent, cumulative[[k]], np.array([horizon]))
        months[path, k] = month
    return months
