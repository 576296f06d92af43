"""Running chunk jobs on local worker processes or a Dask cluster, results in chunk order.

Results are gathered in submission order, so any aggregation over chunks adds the same numbers
in the same order whether one process, several, or a cluster produced them: the same seed gives
the same figures everywhere. A progress bar (tqdm, on standard error, only when it is a
terminal) shows long runs moving.

Schedulers: ``None`` (local: ``workers`` processes), ``"local"`` or ``"local:N"`` (a Dask
``LocalCluster`` of N single-threaded worker processes on this machine), or a scheduler address
such as ``"tcp://10.0.0.5:8786"`` (a running Dask cluster; every worker needs securitize
installed). Dask is an optional extra: ``pip install 'securitize[dask]'``.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from tqdm import tqdm

from securitize import heap
from securitize.errors import SecuritizeError

Job = TypeVar("Job")
Result = TypeVar("Result")

# Seconds to wait for a remote scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = 10
_clients: dict[str, Any] = {}


def _tracked(results: Iterator[Result], total: int, progress: str | None) -> list[Result]:
    if not progress:
        return list(results)
    # disable=None: tqdm draws only on a terminal, so logs and tests stay clean.
    bar = tqdm(results, total=total, desc=progress, unit="chunk", disable=None, leave=False)
    return list(bar)


def check_scheduler(scheduler: str) -> int | None:
    """Refuse a scheduler that cannot work before anything runs; the local worker count
    (``local``, ``local:N``) or None for a cluster's address."""
    if scheduler == "local":
        return os.cpu_count() or 1
    if scheduler.startswith("local:"):
        count = scheduler.partition(":")[2]
        if not (count.isdigit() and int(count) >= 1):
            raise SecuritizeError(
                f"--scheduler {scheduler}: write local or local:N with N a whole number of "
                "workers, at least 1"
            )
        return int(count)
    if scheduler.startswith(("tcp://", "tls://", "ucx://")) and scheduler.partition("://")[2]:
        return None
    raise SecuritizeError(
        f"--scheduler {scheduler}: must be local, local:N or a scheduler address (tcp://host:port)"
    )


def dask_client(scheduler: str) -> Any:
    """A Dask client for ``scheduler`` (kept for the life of the process)."""
    if scheduler in _clients:
        return _clients[scheduler]
    workers = check_scheduler(scheduler)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SecuritizeError(
            f"--scheduler {scheduler}: Dask is not installed; "
            "install it with: pip install 'securitize[dask]'"
        ) from None
    if workers is not None:
        import dask

        # Dask trims the workers' heap aggressively (MALLOC_TRIM_THRESHOLD_=64 KiB), which
        # makes numpy's large temporary arrays about twice as slow; its workers keep freed
        # memory as this process does (``heap``).
        dask.config.set(
            {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in heap.ENVIRONMENT.items()}
        )
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise SecuritizeError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})"
            ) from None
    _clients[scheduler] = client
    return client


@atexit.register
def close_clients() -> None:
    """Close every Dask client (and the local clusters this process started)."""
    for client in _clients.values():
        try:
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()
        except Exception:
            pass
    _clients.clear()


def in_process(jobs: int, workers: int = 1, scheduler: str | None = None) -> bool:
    """Whether ``map_in_order`` runs its jobs in this process (so they can write into arrays
    the caller holds)."""
    return scheduler is None and (workers <= 1 or jobs <= 1)


def map_in_order(
    function: Callable[[Job], Result],
    jobs: Sequence[Job],
    workers: int = 1,
    progress: str | None = None,
    scheduler: str | None = None,
) -> list[Result]:
    """``[function(job) for job in jobs]``, on ``workers`` local processes or on the Dask
    ``scheduler``; ``progress`` labels a progress bar (None: no bar)."""
    if scheduler is not None:
        client = dask_client(scheduler)
        futures = client.map(function, list(jobs), pure=False)
        return _tracked((future.result() for future in futures), len(jobs), progress)
    if in_process(len(jobs), workers):
        return _tracked((function(job) for job in jobs), len(jobs), progress)
    workers = min(workers, len(jobs))
    with ProcessPoolExecutor(max_workers=workers, initializer=heap.keep_freed_memory) as pool:
        return _tracked(pool.map(function, jobs), len(jobs), progress)
