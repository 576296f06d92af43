"""The domestic agencies' rating method: target default rates (TDR) by level against break-even
default rates (BDR) under each level's stresses, capped by the large-obligor test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from securitize.cli import main
from securitize.credit.build import build_credit_model
from securitize.enhancers import sizing
from securitize.pool import build_pool
from securitize.ratings.domestic import (
    RatingLevel,
    domestic_ratings,
    earns_level,
    level_break_even,
    level_of,
    load_levels,
    rating_levels,
    spared_obligors,
    target_default_rates,
    verdict,
)
from securitize.ratings.tables import RatingError, default_probability_ceiling
from securitize.run import with_overrides
from securitize.scenario import load_scenario, with_fields
from securitize.stats import Estimate
from securitize.structure import build_structure
from tests.conftest import INTERBANK
from tests.waterfall_support import build_deal, two_tranches

# Two identical 12-month bullet loans at 6 %, PD 2 %, recovery 40 %; zero-coupon notes, no fees,
# so the only cash is principal of survivors and recoveries: hand-computable.
TAPE = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,pd,recovery_rate\n"
    "L1,Alpha Tech,Software,Lucheng,1000000,0.06,12,bullet,80,0,0.02,0.40\n"
    "L2,Beta Tech,New materials,Ruian,1000000,0.06,12,bullet,80,0,0.02,0.40\n"
)


def _deal(legal_final: int) -> str:
    return f"""
[deal]
name = "hand_domestic"
closing_date = 2024-01-01
payment_interval_months = 3
legal_final_months = {legal_final}

[pool]
tape = "tape.csv"

[credit]
recovery_lag_months = 3
""" + two_tranches(0.0)


def _level(**changes) -> RatingLevel:
    base = RatingLevel("AAAsf", 0.5, 0.5, 6, 600.0, 1, True)
    return dataclasses.replace(base, **changes)


def _hand(tmp_path, legal_final: int = 30):
    loaded, pool, structure = build_deal(tmp_path, _deal(legal_final), TAPE)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    return pool, structure, model


def test_tdr_is_the_vasicek_large_pool_quantile_at_one_minus_the_level_pd() -> None:
    """Large homogeneous pool: the default rate is Φ((Φ⁻¹(p) − √ρ Z)/√(1−ρ)), whose q-quantile is
    Φ((Φ⁻¹(p) + √ρ Φ⁻¹(q))/√(1−ρ)); each resolved TDR is within 4 SE of it."""
    p, rho, tenor = 0.07, 0.2, 3.0
    z = np.random.default_rng(7).standard_normal(400_000)
    rates = norm.cdf((norm.ppf(p) - np.sqrt(rho) * z) / np.sqrt(1 - rho))
    rows = target_default_rates(rates, tenor)
    checked = 0
    for row in rows:
        level_pd = float(default_probability_ceiling(row["rating"], tenor, "sf"))
        assert row["default_probability"] == pytest.approx(level_pd)
        exact = norm.cdf((norm.ppf(p) + np.sqrt(rho) * norm.ppf(1 - level_pd)) / np.sqrt(1 - rho))
        if row["resolved"]:
            tdr = row["tdr"]
            assert 0 < tdr.se < 0.02
            assert abs(tdr.value - exact) <= 4 * tdr.se
            checked += 1
    assert checked >= 8
    values = [r["tdr"].value for r in rows]
    assert values == sorted(values, reverse=True)  # a better level needs a higher TDR


def test_bdr_under_a_level_stress_matches_the_hand_computed_deal(tmp_path) -> None:
    """No interest (600 bp compression of a 6 % coupon), zero-coupon notes, no fees: the senior
    S is repaid iff B(1 − D(1 − r')) ≥ S, r' = r(1 − h): BDR = (1 − S/B) / (1 − r')."""
    pool, structure, model = _hand(tmp_path)
    level = _level(recovery_haircut=0.5)
    bdr = level_break_even(pool, structure, 3, model.cumulative_pd, 0, level)
    assert bdr == pytest.approx((1 - 0.9) / (1 - 0.4 * 0.5), rel=1e-6)
    unstressed_recovery = level_break_even(
        pool, structure, 3, model.cumulative_pd, 0, _level(recovery_haircut=0.0)
    )
    assert unstressed_recovery == pytest.approx(0.1 / 0.6, rel=1e-6)


def test_recovery_delay_past_the_legal_final_loses_the_recoveries(tmp_path) -> None:
    """Loans mature at 12, lag 3 + delay 6: with a legal final of 15 the recoveries of defaults
    after month 6 arrive too late; with front-loading 1 every default is in the first 12
    months, and a delay of 24 puts every recovery past the end: BDR = 1 − S/B."""
    pool, structure, model = _hand(tmp_path, legal_final=15)
    level = _level(front_loaded=1.0, recovery_delay_months=24)
    bdr = level_break_even(pool, structure, 3, model.cumulative_pd, 0, level)
    assert bdr == pytest.approx(0.1, rel=1e-6)


def test_verdict_flips_when_the_bdr_crosses_the_tdr() -> None:
    levels = rating_levels()[:2]
    tdrs = [Estimate(0.30, 0.01), Estimate(0.20, 0.01)]
    passing = [True, True]
    above = verdict(tdrs, [0.31, 0.31], passing, levels)
    below = verdict(tdrs, [0.29, 0.29], passing, levels)
    assert above["rating"] == levels[0].rating
    assert below["rating"] == levels[1].rating
    assert above["levels"][0]["margin"] == pytest.approx(0.01)
    # 0.01 from a TDR with SE 0.01 is within 2 SE: not robust.
    assert not above["robust"] and not below["robust"]
    far = verdict(tdrs, [0.50, 0.50], passing, levels)
    assert far["robust"] and far["binding"] == "both"
    neither = verdict(tdrs, [0.1, 0.1], passing, levels)
    assert neither["rating"] == f"below {levels[-1].rating}"


def _equal_tape(balances: list[int], scores: list[int] | None = None) -> str:
    scores = [80] * len(balances) if scores is None else scores
    rows = [
        f"L{k},Firm {k},Software,Lucheng,{b},0.05,36,bullet,{s},0,0.02,0.30"
        for k, (b, s) in enumerate(zip(balances, scores, strict=True))
    ]
    return (
        "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
        "ip_appraised_value,pd,recovery_rate\n" + "\n".join(rows) + "\n"
    )


HALF = """
[[tranches]]
name = "senior"
share = 0.5
coupon = 0.03

[[tranches]]
name = "subordinated"
share = 0.5
"""


def _tape_deal(folder, balances, scores=None):
    text = (
        '[deal]\nname = "obligors"\nclosing_date = 2024-01-01\n\n[pool]\ntape = "tape.csv"\n' + HALF
    )
    loaded, pool, structure = build_deal(folder, text, _equal_tape(balances, scores))
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    return pool, structure, model


def test_large_obligor_cap_binds_on_a_pool_with_one_huge_obligor(tmp_path) -> None:
    """No simulated defaults (TDR 0), so the cash flow earns the top level; 50 % subordination
    absorbs five of twenty equal obligors but not one obligor holding 80 % of the pool (its loss
    11.2m with 30 % recovery against 10m). All rated A+ (score 80, band B): sparing cannot empty
    the test, the huge obligor still defaults at every level."""
    even = tmp_path / "even"
    huge = tmp_path / "huge"
    even.mkdir()
    huge.mkdir()
    pool, structure, model = _tape_deal(even, [1_000_000] * 20)
    found = domestic_ratings(pool, structure, 3, model.cumulative_pd, np.zeros(1000))
    senior = found["tranches"]["senior"]
    assert senior["cash_flow_rating"] == "AAAsf"
    assert senior["rating"] == "AAAsf"
    pool, structure, model = _tape_deal(huge, [16_000_000] + [1_000_000] * 4)
    found = domestic_ratings(pool, structure, 3, model.cumulative_pd, np.zeros(1000))
    senior = found["tranches"]["senior"]
    assert senior["cash_flow_rating"] == "AAAsf"
    assert senior["binding"] == "large_obligor"
    assert senior["rating"] == f"below {rating_levels()[-1].rating}"
    assert all(row["largest_obligors"].startswith("Firm 0") for row in senior["levels"])


def test_a_shadow_rating_at_least_the_level_spares_the_huge_obligor(tmp_path) -> None:
    """The huge obligor rated A+ (score 80), the others BBB+ (score 50): from A+sf the test
    takes two small obligors first (1.4m against 10m) and passes; above A+sf it fails."""
    pool, structure, model = _tape_deal(tmp_path, [16_000_000] + [1_000_000] * 4, [80] + [50] * 4)
    found = domestic_ratings(pool, structure, 3, model.cumulative_pd, np.zeros(1000))
    senior = found["tranches"]["senior"]
    by_level = {row["rating"]: row for row in senior["levels"]}
    assert senior["rating"] == senior["large_obligor_rating"] == "A+sf"
    assert not by_level["AA-sf"]["large_obligor_passes"]
    assert by_level["A+sf"]["largest_obligors"] == "Firm 1; Firm 2"
    assert by_level["A+sf"]["large_obligor_loss"] == pytest.approx(1_400_000)
    assert senior["levels"][0]["largest_obligors"].startswith("Firm 0")


def test_obligors_rated_at_least_the_level_are_spared() -> None:
    loans = pd.DataFrame(
        {
            "enterprise": ["A", "B", "C", "C"],
            "loan_id": ["1", "2", "3", "4"],
            "shadow_rating": ["AA-", "BBB+", "AA-", ""],
        }
    )
    assert spared_obligors(loans, "AAAsf") == []
    assert spared_obligors(loans, "AA-sf") == ["A"]  # C has an unrated loan: never spared
    assert spared_obligors(loans, "BBB+sf") == ["A", "B"]


def test_levels_file_is_checked(tmp_path) -> None:
    bad = tmp_path / "levels.toml"
    bad.write_text(
        '[[levels]]\nrating = "AAAsf"\nfront_loaded = 1.5\nrecovery_haircut = 0.1\n'
        "recovery_delay_months = 0\nspread_compression_bp = 0\nlarge_obligors = 1\n"
        "large_obligor_zero_recovery = true\n",
        encoding="utf-8",
    )
    with pytest.raises(RatingError, match="front_loaded"):
        load_levels(bad)
    with pytest.raises(RatingError, match="no level"):
        level_of("CCCsf")


def test_size_with_the_domestic_method_earns_the_target() -> None:
    loaded = with_overrides(load_scenario(INTERBANK), paths=3000)
    shared = sizing.SharedPaths(loaded)
    answer = sizing.minimum_subordination(shared, "BBBsf", method="domestic")
    assert answer.answer is not None and answer.detail["method"] == "domestic"
    share = answer.detail["tranche_share"]
    tdr = sizing.target_default_rate(shared, "BBBsf")
    level = level_of("BBBsf")
    lag = loaded.scenario.credit.recovery_lag_months

    def earns(senior_share: float) -> bool:
        changes = {
            "tranches[0].share": senior_share,
            "tranches[1].share": 1.0 - senior_share,
            "enhancers": [],
        }
        structure = build_structure(with_fields(loaded, changes), shared.pool)
        return earns_level(shared.pool, structure, lag, shared.cumulative_pd, 0, level, tdr)

    assert earns(share)
    assert not earns(share + 2 * sizing.SHARE_TOLERANCE)
    # The loss-table answer is a different question on the same paths.
    table = sizing.minimum_subordination(shared, "BBBsf")
    assert table.detail["method"] == "loss_table"


def test_size_command_refuses_coverage_by_the_domestic_method(capsys) -> None:
    code = main(["size", str(INTERBANK), "--method", "domestic", "--solve", "coverage"])
    assert code != 0
    assert "subordination only" in capsys.readouterr().err


def test_a_run_reports_both_readouts_from_its_own_paths() -> None:
    from securitize import run_scenario
    from securitize.summary import format_summary

    run = run_scenario(INTERBANK, paths=2000)
    block = run.results.to_dict()["domestic_ratings"]
    per_path = run.outcomes.per_path
    again = target_default_rates(
        per_path["pool.defaulted"], block["tenor_years"], per_path["weight"]
    )
    assert [t["tdr"]["value"] for t in block["target_default_rates"]] == [
        t["tdr"].value for t in again
    ]
    assert set(block["tranches"]) == {t.name for t in run.structure.tranches}
    summary = format_summary(run.results)
    senior = block["tranches"][run.structure.tranches[0].name]
    assert f"domestic {senior['rating']}" in summary
    assert "loss table" in summary


def test_one_batched_waterfall_run_is_the_deterministic_runs_row_by_row(tmp_path) -> None:
    """The break-even search runs its grid points as rows of one waterfall run: each row is the
    single deterministic run of its inputs (the same waterfall, not a second one)."""
    from securitize.stress import StressInputs, _batch_ledger, run_deterministic

    loaded = load_scenario(INTERBANK)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    runs = [
        StressInputs(
            np.minimum(model.cumulative_pd * k, 0.9999), pool.recovery_rate, np.ones(pool.size)
        )
        for k in (0.0, 1.0, 3.0)
    ]
    ledger = _batch_ledger(pool, structure, 18, runs)
    for row, inputs in enumerate(runs):
        _, single = run_deterministic(pool, structure, 18, inputs)
        for batched, alone in zip(ledger.tranches, single.tranches, strict=True):
            assert batched.unpaid_principal[row] == pytest.approx(alone.unpaid_principal[0])
            assert batched.investor_arrears[row] == pytest.approx(alone.investor_arrears[0])


def test_a_rating_resting_on_a_pool_guarantee_is_capped_at_the_guarantor_rating() -> None:
    """The pilot's loans are all guaranteed by the AA+ municipal guarantor; the break-even runs
    and the large-obligor test count its payments, so the senior notes cannot read above AA+sf
    however the tests come out (the weak link), and the uncapped verdict is kept beside it."""
    from securitize import run_scenario
    from securitize.ratings.domestic import pool_enhancer_cap
    from securitize.ratings.tables import rating_rank
    from tests.conftest import PILOT

    run = run_scenario(PILOT, paths=4000)
    levels = rating_levels()
    cap = pool_enhancer_cap(run.structure, levels)
    assert cap == {"rating": "AA+sf", "enhancers": ["wenzhou_municipal_guarantor"]}
    for name, found in run.results.domestic_ratings["tranches"].items():
        worse = max(rating_rank(found["uncapped_rating"]), rating_rank("AA+sf"))
        assert rating_rank(found["rating"]) == worse, name
        capped = rating_rank(found["uncapped_rating"]) < rating_rank("AA+sf")
        assert (found["binding"] == "pool_enhancer") == capped
    senior = run.results.domestic_ratings["tranches"]["senior"]
    assert senior["uncapped_rating"] == "AAAsf" and senior["rating"] == "AA+sf"
    # A sizing solver cannot reach a level above the cap, whatever the subordination.
    model = build_credit_model(run.loaded, run.pool, run.structure.senior_attachment)
    tdr = Estimate(0.0, 0.0)
    lag = run.loaded.scenario.credit.recovery_lag_months
    aaa, aa_plus = level_of("AAAsf"), level_of("AA+sf")
    args = (run.pool, run.structure, lag, model.cumulative_pd, 0)
    assert not earns_level(*args, aaa, tdr)
    assert earns_level(*args, aa_plus, tdr)


def test_an_unrated_pool_enhancer_sets_no_cap() -> None:
    from securitize.ratings.domestic import pool_enhancer_cap

    layered = load_scenario(INTERBANK.parent / "wenzhou_layered_enhancement.toml")
    pool = build_pool(layered)
    structure = build_structure(layered, pool)
    cap = pool_enhancer_cap(structure, rating_levels())
    # The municipal guarantor (AA+) caps; the science bureau's budget-funded pool is unrated.
    assert cap == {"rating": "AA+sf", "enhancers": ["wenzhou_municipal_guarantor"]}
    plain = load_scenario(INTERBANK)
    assert pool_enhancer_cap(build_structure(plain, build_pool(plain)), rating_levels()) is None
