"""The priority of payments: its schema (``spec``), compiled steps (``program``) and the
compiled kernel that runs it over paths (``kernel``; its ledger: ``ledger.run_waterfall``)."""
