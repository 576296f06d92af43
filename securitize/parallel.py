"""Running chunk jobs on worker processes, with results in chunk order.

Results are gathered in submission order, so any aggregation over chunks adds the same numbers
in the same order whether one process or many produced them. A progress bar (tqdm, on standard
error, only when it is a terminal) shows long runs moving.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tqdm import tqdm

Job = TypeVar("Job")
Result = TypeVar("Result")


def map_in_order(
    function: Callable[[Job], Result],
    jobs: Sequence[Job],
    workers: int = 1,
    progress: str | None = None,
) -> list[Result]:
    """``[function(job) for job in jobs]``, spread over ``workers`` processes when above one;
    ``progress`` labels a progress bar (None: no bar)."""

    def tracked(results: Iterator[Result]) -> list[Result]:
        # disable=None: tqdm draws only on a terminal, so logs and tests stay clean.
        bar = tqdm(results, total=len(jobs), desc=progress, unit="chunk", disable=None, leave=False)
        return list(bar) if progress else list(results)

    if workers <= 1 or len(jobs) <= 1:
        return tracked(function(job) for job in jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        return tracked(pool.map(function, jobs))
