"""CNY amounts as scenarios and tapes state them, and the largest one the tool accepts.

Amounts are float64: below 2^53 cents (≈ 9e13 CNY) every cent is exact, and a pool of
thousands of loans at the bound still sums to the cent (and its figures' sums of squares stay
finite). No enterprise loan, cap or fee comes near it; a value beyond it is a typing or export
error, refused rather than carried into the figures.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

LARGEST_AMOUNT = 1e12

# An amount of at least 0 (a cap, a floor, a fee in CNY); one above 0 (a balance, net assets).
Amount = Annotated[float, Field(ge=0.0, le=LARGEST_AMOUNT)]
PositiveAmount = Annotated[float, Field(gt=0.0, le=LARGEST_AMOUNT)]
