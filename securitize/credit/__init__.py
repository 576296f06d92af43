"""Credit simulation: dependence models, default and prepayment times, recoveries, enhancers."""

from securitize.credit.models import FactorCopula, one_factor
from securitize.credit.paths import (
    CreditModel,
    DefaultChunk,
    DefaultPaths,
    simulate_chunk,
    simulate_defaults,
)
from securitize.credit.recovery import RecoveryModel

__all__ = [
    "CreditModel",
    "DefaultChunk",
    "DefaultPaths",
    "FactorCopula",
    "RecoveryModel",
    "one_factor",
    "simulate_chunk",
    "simulate_defaults",
]
