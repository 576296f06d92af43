"""securitize: technology property securitisation (技术产权证券化) modelling.

Pools of enterprise loans → tranches → correlated-default Monte Carlo under external credit
enhancers → issuance memos. Start with ``run_scenario``::

    from securitize import run_scenario
    run = run_scenario("scenarios/wenzhou_pilot.toml", paths=20_000)
    run.results.tranche_table()
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Run", "__version__", "load_scenario", "run_scenario"]


def __getattr__(name: str) -> Any:
    """The public names, imported when first used: ``securitize --help`` and an early Ctrl-C
    then happen before numpy and scipy load (and inside the command's error handling)."""
    if name in ("Run", "run_scenario"):
        from securitize import run

        return getattr(run, name)
    if name == "load_scenario":
        from securitize.scenario import load_scenario

        return load_scenario
    raise AttributeError(f"module 'securitize' has no attribute {name!r}")
