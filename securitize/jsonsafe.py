"""Values ready for ``json.dumps(..., allow_nan=False)``: one conversion for every JSON file.

``results.json``, ``selection.json`` and ``programme.json`` are built from numpy and pandas
values; JSON has no NaN or infinity and no date type, so these become null and ISO text.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """``value`` with containers walked, numpy values as Python ones, non-finite floats as
    None and dates (and pandas timestamps) as ISO text; anything else unchanged."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
