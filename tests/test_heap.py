"""The heap settings: a chunk's freed arrays are reused by the next, not faulted in afresh."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Ten arrays of 48 MB made and freed in turn, after one untimed; prints the page faults.
_PROBE = """
import resource
import numpy as np
{setup}
a = np.ones(6_000_000); del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    a = np.ones(6_000_000); del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""

_KEEP = "from securitize.heap import keep_freed_memory; assert keep_freed_memory()"
# The command line sets the heap for its own process before it reads its arguments.
_CLI = """
from securitize.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
"""

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's allocator settings are Linux's"
)


def _faults(setup: str) -> int:
    # glibc's own defaults: none of its settings from the environment (a Dask cluster started
    # by an earlier test leaves the heap's in this process's).
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(setup=setup)],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    return int(done.stdout.split()[-1])


@linux_only
@pytest.mark.parametrize("setup", [_KEEP, _CLI], ids=["keep_freed_memory", "command line"])
def test_freed_arrays_are_reused_without_page_faults(setup: str) -> None:
    # Each cycle reuses the memory the last one freed: not one fault in ten cycles (a fresh
    # 48 MB array is at least 24 faults even on 2 MB pages).
    assert _faults(setup) < 10


@linux_only
def test_without_the_settings_each_array_is_faulted_in_afresh() -> None:
    # The comparison the settings are for: glibc's defaults map each 48 MB array afresh.
    assert _faults("") >= 10 * 24
