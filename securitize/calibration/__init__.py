"""Static-pool calibration: band PDs, vintage curves and history tables from a loan history.

``load_history`` reads and validates a lender's loan history, ``calibrate`` fits it; see
``docs/calibration.md``.
"""

from securitize.calibration.fit import Calibration, calibrate, poisson_interval
from securitize.calibration.history import LoanHistory, load_history, validate_history
from securitize.calibration.survival import life_table

__all__ = [
    "Calibration",
    "LoanHistory",
    "calibrate",
    "life_table",
    "load_history",
    "poisson_interval",
    "validate_history",
]
