"""Progress on standard error for phases longer than a second, only on a terminal.

tqdm with ``disable=None`` draws only when standard error is a terminal, so logs, pipes and
tests stay clean; ``--quiet`` turns it off everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

Item = TypeVar("Item")


def steps(items: Iterable[Item], label: str, enabled: bool, unit: str = "step") -> Iterator[Item]:
    """``items``, with a bar labelled ``label`` moving one step per item when ``enabled``."""
    if not enabled:
        yield from items
        return
    yield from tqdm(items, desc=label, unit=unit, disable=None, leave=False)
