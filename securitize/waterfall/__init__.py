"""The priority of payments: its schema (``spec``), compiled steps (``program``) and the
engine that runs it over paths (``engine.run_waterfall``)."""
