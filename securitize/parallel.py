"""Running chunk jobs on worker processes, with results in chunk order.

Results are gathered in submission order, so any aggregation over chunks adds the same numbers
in the same order whether one process or many produced them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def map_in_order(
    function: Callable[[Job], Result], jobs: Sequence[Job], workers: int = 1
) -> list[Result]:
    """``[function(job) for job in jobs]``, spread over ``workers`` processes when above one."""
    if workers <= 1 or len(jobs) <= 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return list(pool.map(function, jobs))
