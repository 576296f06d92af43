"""Pool assembly (入池): eligibility criteria, concentration limits and optimal pool selection.

A programme holds a pipeline of candidate 科创指数 loans and cuts pools from it. This package
turns the ``[selection]`` section of a scenario into a pool:

- ``spec``         the ``[selection]`` schema (criteria, rules, limits, objective, programme)
- ``candidates``   the candidate tape: validated, seasoned to the cut-off, with PD and recovery
- ``eligibility``  per-loan criteria (入池标准) → a loans × criteria table of pass / fail
- ``limits``       concentration limits as linear constraints (and their exact measures)
- ``solve``        the MILP (scipy.optimize.milp / HiGHS), greedy baseline, conflict diagnosis
- ``report``       why each loan is in or out; the JSON-ready summary
- ``programme``    successive deals cut from the pipeline over time
- ``api``          entry points from a scenario: ``select_for_scenario``, ``run_programme``
- ``commands``     the ``securitize pool …`` command line

Import from the submodules (``from securitize.selection.api import select_for_scenario``):
this file stays free of imports so that ``securitize.scenario`` can import ``spec`` without a
cycle.
"""
