"""The large-obligor test against a pool small enough to compute by hand."""

from __future__ import annotations

import math

import pytest

from securitize.pool import build_pool
from securitize.ratings import RatingError, large_obligor_test, obligor_exposures
from securitize.scenario import load_scenario
from securitize.structure import build_structure
from tests.conftest import TAPE_HEADER

# Beta and Gamma are related parties (group G) and count as one obligor of CNY 11m.
TAPE = (
    TAPE_HEADER
    + ",recovery_rate,related_group\n"
    + "\n".join(
        [
            "L1,Alpha,Electrical equipment,Lucheng,10000000,0.05,36,bullet,80,0,0.30,",
            "L2,Beta,New materials,Ruian,6000000,0.05,36,bullet,80,0,0.50,G",
            "L3,Gamma,New materials,Ruian,5000000,0.05,36,bullet,80,0,0.20,G",
            "L4,Delta,Biomedicine,Ouhai,8000000,0.05,36,bullet,80,0,0.25,",
            "L5,Epsilon,Digital economy,Lucheng,7000000,0.05,36,bullet,80,0,0.0,",
        ]
    )
    + "\n"
)

SCENARIO = """
[deal]
name = "lob"
closing_date = 2024-01-01

[pool]
tape = "tape.csv"

[[tranches]]
name = "senior"
balance = 27000000
coupon = 0.04

[[tranches]]
name = "mezzanine"
balance = 6000000
coupon = 0.06

[[tranches]]
name = "subordinated"
balance = 3000000

[[accounts]]
name = "reserve"
target = { amount = 1000000 }
initial = 1000000

[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 90
annual_pd = 0.001
asset_correlation = 0.3
"""

M = 1_000_000.0


@pytest.fixture
def deal(write_scenario):
    loaded = load_scenario(write_scenario(SCENARIO, TAPE))
    pool = build_pool(loaded)
    return pool, build_structure(loaded, pool)


def test_related_parties_are_one_obligor_ranked_by_balance(deal) -> None:
    pool, _ = deal
    table = obligor_exposures(pool.loans)
    assert list(table["obligor"]) == ["G", "Alpha", "Delta", "Epsilon"]
    assert list(table["balance"]) == [11 * M, 10 * M, 8 * M, 7 * M]
    # G: 6m × (1 − 0.5) + 5m × (1 − 0.2) = 3m + 4m.
    assert table["loss_given_default"].iloc[0] == pytest.approx(7 * M)
    assert table["loans"].iloc[0] == "L2; L3"


def test_losses_and_enhancement_by_hand(deal) -> None:
    pool, structure = deal
    result = large_obligor_test(pool, structure).set_index(["tranche", "obligors"])
    # Largest 1: G. Largest 3: G, Alpha (10m × 0.7), Delta (8m × 0.75). Largest 5: all four.
    expected_loss = {1: 7 * M, 3: 7 * M + 7 * M + 6 * M, 5: 20 * M + 7 * M}
    expected_balance = {1: 11 * M, 3: 29 * M, 5: 36 * M}
    # Enhancement: the notes junior to the tranche plus the 1m reserve deposit.
    enhancement = {"senior": 10 * M, "mezzanine": 4 * M, "subordinated": 1 * M}
    for (tranche, n), row in result.iterrows():
        assert row["obligors_defaulted"] == min(n, 4)
        assert row["loss"] == pytest.approx(expected_loss[n])
        assert row["loss_zero_recovery"] == pytest.approx(expected_balance[n])
        assert row["enhancement"] == pytest.approx(enhancement[tranche])
        assert row["reserve"] == pytest.approx(1 * M)
        assert row["enhancement_share"] == pytest.approx(enhancement[tranche] / (36 * M))
        assert row["passes"] == (expected_loss[n] <= enhancement[tranche])
        assert row["passes_zero_recovery"] == (expected_balance[n] <= enhancement[tranche])
        assert row["coverage_multiple"] == pytest.approx(enhancement[tranche] / expected_loss[n])
    senior_1 = result.loc[("senior", 1)]
    assert senior_1["passes"] and not senior_1["passes_zero_recovery"]
    assert not result.loc[("mezzanine", 1), "passes"]


def test_the_guaranteed_tranche_passes_by_virtue_of_the_guarantee(deal) -> None:
    pool, structure = deal
    result = large_obligor_test(pool, structure, obligors=(3,)).set_index("tranche")
    assert not result.loc["senior", "passes"]
    assert result.loc["senior", "passes_with_enhancers"]
    assert result.loc["senior", "passes_with_enhancers_zero_recovery"]
    assert result.loc["senior", "enhancers"] == "guarantor"
    assert not result.loc["mezzanine", "passes_with_enhancers"]
    assert result.loc["mezzanine", "enhancers"] == ""


def test_without_related_groups_each_enterprise_is_an_obligor(write_scenario) -> None:
    rows = TAPE.replace(",G\n", ",\n")
    loaded = load_scenario(write_scenario(SCENARIO, rows))
    pool = build_pool(loaded)
    result = large_obligor_test(pool, build_structure(loaded, pool), obligors=(1, 2))
    senior = result[result["tranche"] == "senior"].set_index("obligors")
    assert senior.loc[1, "largest_obligors"] == "Alpha"
    assert senior.loc[2, "loss"] == pytest.approx(7 * M + 6 * M)
    assert math.isclose(senior.loc[2, "defaulted_balance"], 18 * M)


@pytest.mark.parametrize(
    ("obligors", "message"),
    [
        ((), "obligors: must list at least one"),
        ((0,), "obligors: value 0: must be a whole number at least 1"),
        ((1.5,), "obligors: value 1.5"),
        ((3, 3), "obligors: value 3 is listed twice"),
    ],
)
def test_bad_obligor_counts_are_refused(deal, obligors, message) -> None:
    pool, structure = deal
    with pytest.raises(RatingError, match=message):
        large_obligor_test(pool, structure, obligors=obligors)
