"""Sizing solvers and the programme book, against answers computed exactly.

The deal: 20 loans of 1,000,000, one-year bullets with no coupon, annual PD 3%, recovery 40%,
asset correlation 0.2, one payment date; zero-coupon notes. With K defaults the pool is short of
600,000·K, so every tranche's expected loss is a sum over the exact distribution of K (a
binomial mixture over the factor), and each solver's answer has an exact counterpart. Every
Monte Carlo answer must land inside its ±2 SE band widened by the bisection tolerance.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize
from test_enhancers import EXACT_DEAL, exact_default_counts

from securitize.credit.build import build_credit_model
from securitize.credit.paths import simulate_chunk
from securitize.enhancers import sizing
from securitize.enhancers.book import load_programme, run_book
from securitize.errors import ScenarioError
from securitize.pool import build_pool
from securitize.ratings import expected_loss_ceiling
from securitize.scenario import load_scenario
from securitize.structure import build_structure

LOANS, PD, RHO, LGD = 20, 0.03, 0.2, 0.6
DEFAULTS = np.arange(LOANS + 1)


def senior_expected_loss(subordination: float, probabilities: np.ndarray) -> float:
    """Exact expected loss of a senior note above ``subordination`` (share of its balance)."""
    pool_loss = LGD * DEFAULTS / LOANS
    lost = np.clip(pool_loss - subordination, 0.0, 1.0 - subordination)
    return float(probabilities @ lost / (1.0 - subordination))


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> sizing.SharedPaths:
    folder = tmp_path_factory.mktemp("sizing")
    path = folder / "deal.toml"
    path.write_text(EXACT_DEAL.replace("paths = 200000", "paths = 100000"), encoding="utf-8")
    return sizing.SharedPaths(load_scenario(path))


@pytest.fixture(scope="module")
def probabilities() -> np.ndarray:
    return exact_default_counts(LOANS, PD, RHO)


def inside(value: float, band: tuple[float | None, float | None], slack: float) -> bool:
    low, high = sorted(b for b in band if b is not None)
    return low - slack <= value <= high + slack


def test_minimum_subordination_matches_the_exact_answer(shared, probabilities) -> None:
    target = "BBBsf"
    ceiling = expected_loss_ceiling(target, 1.0)
    # Expected loss falls with subordination: the exact minimum is where it meets the ceiling.
    exact = optimize.brentq(
        lambda d: senior_expected_loss(d, probabilities) - ceiling, 0.0, 0.5, xtol=1e-7
    )
    answer = sizing.minimum_subordination(shared, target)
    assert answer.answer is not None and None not in answer.band
    assert answer.detail["wal_years"] == pytest.approx(1.0)
    assert inside(exact, answer.band, sizing.SHARE_TOLERANCE), (exact, answer)
    assert abs(answer.answer - exact) <= 0.03


def test_minimum_coverage_matches_the_exact_answer(shared, probabilities) -> None:
    # The guarantor cannot default; a share s of each shortfall leaves (1 − s) of the loss.
    target = "A-sf"
    ceiling = expected_loss_ceiling(target, 1.0)
    exact = 1.0 - ceiling / senior_expected_loss(0.1, probabilities)
    answer = sizing.minimum_coverage(shared, target)
    assert answer.answer is not None
    assert inside(exact, answer.band, sizing.SHARE_TOLERANCE), (exact, answer)
    assert answer.detail["covered_amount"] == pytest.approx(answer.answer * 18_000_000)


def test_full_cover_by_a_riskless_guarantor_reaches_any_rating(shared) -> None:
    answer = sizing.minimum_coverage(shared, "AAAsf")
    assert answer.answer is not None and answer.answer > 0.99


def test_break_even_fee_matches_the_exact_answer(shared, probabilities) -> None:
    """The guarantor covers 18m for one year and pays the senior's shortfall at month 12:
    fee × 18m / 1.022 = target × (99.9% claim − expected claim) + expected claim / 1.022."""
    claim = np.clip(LGD * 1e6 * DEFAULTS - 2e6, 0.0, 18e6)
    expected = probabilities @ claim
    tail = np.r_[np.cumsum(probabilities[::-1])[::-1][1:], 0.0]
    q999 = claim[np.argmax(tail <= 0.001)]
    discount = 1.022
    exact_bp = (0.05 * (q999 - expected) + expected / discount) / (18e6 / discount) * 1e4
    answer = sizing.break_even_fee(shared, 0.05)
    assert answer.detail["years_covered"] == pytest.approx(1.0)
    assert inside(exact_bp, answer.band, 0.5), (exact_bp, answer)
    # Charged in this zero-coupon deal, the fee comes out of the senior's principal: the
    # guarantor pays part of it back as claims, and the answer says so.
    assert answer.detail["in_deal_expected_claim_increase"] > 0
    assert answer.detail["trust_can_carry_the_fee"] is False


def test_largest_pool_is_the_tightest_limit(tmp_path: Path) -> None:
    text = EXACT_DEAL + "net_assets = 1.0e9\nexisting_liability = 5.0e9\n"
    path = tmp_path / "deal.toml"
    path.write_text(text.replace("paths = 200000", "paths = 1000"), encoding="utf-8")
    answer = sizing.largest_pool(sizing.SharedPaths(load_scenario(path)))
    # Leverage allows 10 × 1e9 − 5e9 = 5e9 of cover; one client 10% of 1e9 = 1e8; related
    # parties 1.5e8. The senior is 90% of the pool, so the pool can be 1e8 / 0.9.
    assert answer.detail["binding_limit"] == "single_client"
    assert answer.answer == pytest.approx(1e8 / 0.9)
    assert answer.detail["pool_by_limit"]["leverage"] == pytest.approx(5e9 / 0.9)


def test_largest_pool_needs_net_assets(shared) -> None:
    with pytest.raises(ScenarioError, match="net_assets is not given"):
        sizing.largest_pool(shared)


PROGRAMME = """
[programme]
name = "two_deals"
paths = 20000
seed = 5
chunk_size = 5000

[[deals]]
scenario = "deal.toml"
start_month = 0

[[deals]]
scenario = "deal.toml"
start_month = 6
label = "second"
"""


def test_programme_deals_share_the_economy_but_not_their_loans(tmp_path: Path) -> None:
    path = tmp_path / "deal.toml"
    path.write_text(EXACT_DEAL, encoding="utf-8")
    loaded = load_scenario(path)
    pool = build_pool(loaded)
    model = build_credit_model(loaded, pool, build_structure(loaded, pool).senior_attachment)
    common = replace(model, common_seed=99)
    first, second = simulate_chunk(common, 1, 0, 4000), simulate_chunk(common, 2, 0, 4000)
    np.testing.assert_array_equal(first.factor, second.factor)
    assert first.counterparty_seed == second.counterparty_seed == 99
    assert not np.array_equal(first.path, second.path)
    # Without a common seed the deal's own seed drives the factor too.
    assert not np.array_equal(
        simulate_chunk(model, 1, 0, 4000).factor, simulate_chunk(model, 2, 0, 4000).factor
    )


def test_book_adds_claims_path_by_path(tmp_path: Path) -> None:
    (tmp_path / "deal.toml").write_text(EXACT_DEAL, encoding="utf-8")
    (tmp_path / "programme.toml").write_text(PROGRAMME, encoding="utf-8")
    book = run_book(load_programme(tmp_path / "programme.toml"))
    (guarantor,) = book.enhancers
    expected = sum(deal["guarantor.expected_claim"] for deal in book.deals)
    assert guarantor.claims["expected_claim"].value == pytest.approx(expected, rel=1e-12)
    assert guarantor.deals == ["exact_claims", "second"]
    # Each deal's cover (18m of senior) is outstanding from its first month to its one payment
    # date: programme months 1-12 and 7-18, so 36m in months 7-12.
    liability = {row["month"]: row["liability"] for row in guarantor.liability_by_month}
    assert sorted(liability) == list(range(1, 19))
    expected = {m: 18e6 * ((m <= 12) + (m >= 7)) for m in range(1, 19)}
    assert liability == pytest.approx(expected)
    assert guarantor.capacity["peak_book_liability"] == pytest.approx(36e6)


def test_programme_file_errors_name_the_field(tmp_path: Path) -> None:
    (tmp_path / "programme.toml").write_text(PROGRAMME, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"deals.0.scenario.*'deal.toml' is not a file"):
        load_programme(tmp_path / "programme.toml")
    bad = PROGRAMME.replace("start_month = 6", "start_month = -6")
    (tmp_path / "programme.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"deals.1.start_month"):
        load_programme(tmp_path / "programme.toml")


def test_book_claims_stop_at_the_enhancers_net_assets(tmp_path: Path) -> None:
    # With no recovery on claims beyond its capital, the guarantor's claims over the whole book
    # never exceed its net assets; the later deal gets what the earlier one left.
    deal = EXACT_DEAL + "recovery_rate = 0.0\nnet_assets = 2.0e6\n"
    (tmp_path / "deal.toml").write_text(deal, encoding="utf-8")
    (tmp_path / "programme.toml").write_text(PROGRAMME, encoding="utf-8")
    book = run_book(load_programme(tmp_path / "programme.toml"))
    (guarantor,) = book.enhancers
    assert guarantor.claims["claim_quantile_0.999"].value <= 2.0e6 + 0.01
    first, second = (deal["guarantor.expected_claim"] for deal in book.deals)
    assert second < first
    assert guarantor.capacity["probability_claims_exceed_net_assets"]["value"] == 0.0


def test_an_enhancer_defaults_in_the_same_calendar_month_in_every_deal(tmp_path: Path) -> None:
    from securitize.credit.counterparty import enhancer_default_months

    path = tmp_path / "deal.toml"
    path.write_text(EXACT_DEAL, encoding="utf-8")
    loaded = load_scenario(path)
    pool = build_pool(loaded)
    model = build_credit_model(loaded, pool, build_structure(loaded, pool).senior_attachment)
    early = replace(model, common_seed=7, calendar_offset=0)
    late = replace(model, common_seed=7, calendar_offset=24)
    args = (["g"], np.array([0.2]), np.array([0.3]), 600)
    months_early = enhancer_default_months(simulate_chunk(early, 1, 0, 5000), *args)[:, 0]
    months_late = enhancer_default_months(simulate_chunk(late, 2, 0, 5000), *args)[:, 0]
    # Read on the programme's calendar the two deals agree, wherever the default falls after
    # the later deal closed; before it, the later deal starts with its enhancer in default.
    after = months_early > 24
    assert after.any() and (~after).any()
    np.testing.assert_array_equal(months_late[after] + 24, months_early[after])
    assert (months_late[~after] == 1).all()


def test_a_negative_target_return_is_refused_before_simulating(tmp_path: Path, capsys) -> None:
    from securitize.cli import main

    path = tmp_path / "deal.toml"
    path.write_text(EXACT_DEAL, encoding="utf-8")
    assert main(["size", str(path), "--solve", "fee", "--target-return", "-0.1"]) == 2
    err = capsys.readouterr().err
    assert "--target-return: value -0.1" in err and "from 0 to below 1" in err
