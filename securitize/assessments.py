"""Judgements a run's figures feed: implied ratings, the large-obligor test, the enterprises'
and the government's economics, and the exchange and market rules. Kept apart from the
estimators (``results``) because each reads the estimates through a table or a policy (rating
tables, subsidy rules, exchange rules) that is data.
"""

from __future__ import annotations

import math
from typing import Any

from securitize.economics import economics_totals, enterprise_economics
from securitize.pool import Pool
from securitize.ratings import implied_rating_range, large_obligor_test
from securitize.results import Results
from securitize.rules import exchange_rules
from securitize.scenario import LoadedScenario
from securitize.structure import Structure

RATING_SCALE = "sf"


def implied_ratings(results: Results) -> dict[str, dict[str, dict[str, str]]]:
    """Each tranche's implied rating from its expected loss and WAL, stand-alone and wrapped,
    with the ratings at ±2 SE."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for t in results.tranches:
        views = {}
        for view, metrics in (("standalone", t.standalone), ("wrapped", t.wrapped)):
            wal = metrics["wal_years"].value
            wal = wal if math.isfinite(wal) and wal > 0 else 1.0
            found = implied_rating_range(metrics["expected_loss"], wal, RATING_SCALE)
            views[view] = {
                "rating": found.rating,
                "best": found.best,
                "worst": found.worst,
                "wal_years": wal,
                "text": found.text,
            }
        out[t.name] = views
    return out


def public_claims(loaded: LoadedScenario, results: Results) -> dict[str, float]:
    """Expected claims (CNY over the deal's life) of the enhancers the scenario calls public."""
    spec = loaded.scenario.economics
    public = set(spec.public_enhancers) if spec is not None else set()
    return {
        e.name: e.metrics["expected_claim"].value for e in results.enhancers if e.name in public
    }


def assessments(
    loaded: LoadedScenario, pool: Pool, structure: Structure, results: Results
) -> dict[str, Any]:
    """The ``ratings``, ``large_obligor``, ``economics`` and ``exchange_rules`` entries of the
    results."""
    table = enterprise_economics(loaded, pool, structure, public_claims(loaded, results))
    selection = loaded.scenario.selection
    label_column = (selection.limits.label_column if selection else None) or "ip_label"
    return {
        "ratings": implied_ratings(results),
        "large_obligor": large_obligor_test(pool, structure).to_dict(orient="records"),
        "economics": {
            "enterprises": table.to_dict(orient="records"),
            "totals": economics_totals(table).to_dict(),
        },
        "exchange_rules": exchange_rules(
            results, pool.loans, pool.source, label_column, loaded.scenario.deal.market
        ),
    }
