"""securitize: technology property securitisation (技术产权证券化) modelling.

Pools of enterprise loans → tranches → correlated-default Monte Carlo under external credit
enhancers → issuance memos. Start with ``run_scenario``::

    from securitize import run_scenario
    run = run_scenario("scenarios/wenzhou_pilot.toml", paths=20_000)
    run.results.tranche_table()
"""

__version__ = "0.1.0"

from securitize.run import Run, run_scenario
from securitize.scenario import load_scenario

__all__ = ["Run", "__version__", "load_scenario", "run_scenario"]
