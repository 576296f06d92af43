"""Credit simulation: correlated default times of the loans and of the enhancers."""

from securitize.credit.gaussian import GaussianOneFactor
from securitize.credit.paths import DefaultChunk, DefaultPaths, simulate_defaults

__all__ = ["DefaultChunk", "DefaultPaths", "GaussianOneFactor", "simulate_defaults"]
