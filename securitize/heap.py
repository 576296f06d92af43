"""The process's heap settings for chunked evaluation (glibc's allocator, on Linux).

Every chunk of paths makes and frees a few hundred megabytes of arrays of some 14 MB each
(the collections, their block layout, the pool's figures). glibc's defaults hand freed memory
at the top of the heap back to the operating system and serve large requests from fresh
mappings, so the next chunk takes the same pages again, one page fault at a time. On a
virtual machine those faults are dear: with four designs on shared paths, the chunks' shared
work spent about 0.5 s of system time per million paths doing it, and one more design cost
0.69 s end to end against 0.49–0.53 s with freed memory kept (``benchmarks/waterfall.py``,
``--default-heap`` for the comparison).

``keep_freed_memory`` keeps freed memory in the heap for the next chunk instead. The price is
that the process does not shrink after its peak until it exits; the command line sets it for
its own process and its workers. A notebook can call it too. Nothing else changes: the same
arithmetic on the same numbers.
"""

from __future__ import annotations

import ctypes
import sys

# mallopt's parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Requests below this many bytes come from the heap (glibc's largest; above it, fresh
# mappings); a per-path table of a million paths is about 0.25 GB.
MMAP_THRESHOLD = 1 << 30
# Free memory at the heap's top kept for reuse before any is handed back (mallopt takes an int).
TRIM_THRESHOLD = (1 << 31) - 1

# The same settings as environment variables, for worker processes started afresh.
ENVIRONMENT = {
    "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
}


def keep_freed_memory() -> bool:
    """Set this process's allocator to keep freed memory for reuse; whether it could (glibc
    on Linux only: elsewhere nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
