"""Credit enhancers as counterparties: each kind's cash worked out by hand on the two-loan deal,
layering and reimbursement in call order, caps, per-borrower caps, and the claim distribution
of a guarantor checked against the exact finite-pool distribution.

The two-loan deal (tests/waterfall_support.py): loans of 1,000,000 at 6%, bullet at month 12,
recovery 40% three months after default; senior 1,800,000 at 4%, subordinated 200,000; quarterly
dates, legal final month 15. Both loans default in month 4: Q1 collects 30,000 of interest, Q2
nothing, Q3 the recoveries of 800,000, Q4 and Q5 nothing. Senior interest is 18,000 a quarter
until Q3 pays 764,000 of principal (800,000 less 36,000 of interest), then 10,360 on 1,036,000.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats
from waterfall_support import HAND_DEAL, HAND_TAPE, build_deal

from securitize.credit.paths import DefaultChunk
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.period_cash import period_collections
from securitize.run import run_scenario
from securitize.waterfall.ledger import run_waterfall

BOTH_DEFAULT_IN_MONTH_4 = ((0, 4), (1, 4))


def enhancer(name: str, kind: str, extra: str = "", covers: str | None = "senior") -> str:
    cover = f'covers = "{covers}"\n' if covers else ""
    return (
        f'\n[[enhancers]]\nname = "{name}"\ntype = "{kind}"\n{cover}'
        f"fee_bp = 0.0\npolicy_discount_bp = 0.0\nannual_pd = 0.01\nasset_correlation = 0.2\n"
        f"recovery_rate = 0.3\n{extra}"
    )


def run_deal(
    folder: Path,
    enhancers: str,
    defaults=BOTH_DEFAULT_IN_MONTH_4,
    default_months: dict[str, int] | None = None,
    tape: str = HAND_TAPE,
):
    """One path of the two-loan deal with the given enhancers; ``default_months`` names the
    month each enhancer defaults (never, if not named)."""
    loaded, pool, structure = build_deal(folder, HAND_DEAL + enhancers, tape)
    rows = np.array(defaults, dtype=np.int64).reshape(-1, 2)
    chunk = DefaultChunk(
        index=0,
        paths=1,
        seed=0,
        factor=np.zeros(1),
        log_weight=np.zeros(1),
        path=np.zeros(len(rows), dtype=np.int64),
        loan=rows[:, 0],
        month=rows[:, 1],
        recovery=pool.recovery_rate[rows[:, 0]],
    )
    collections, _ = period_collections(
        pool.schedule,
        pool.recovery_rate,
        structure.horizon,
        structure.payment_months,
        loaded.scenario.credit.recovery_lag_months,
        chunk,
    )
    months = default_months or {}
    standing = np.array([[months.get(g.name, structure.horizon + 1) for g in structure.guarantees]])
    covers = pool_cover_claims(pool, structure, chunk)
    return structure, run_waterfall(structure, collections, standing, covers)


def cents(actual, expected) -> None:
    np.testing.assert_allclose(actual, expected, atol=0.005, rtol=0)


def test_partial_guarantee_pays_its_share_of_each_shortfall(tmp_path: Path) -> None:
    _, ledger = run_deal(tmp_path, enhancer("g", "partial_guarantee", "share = 0.5\n"))
    # Half of each interest shortfall (Q2 18,000; Q4, Q5 10,360), half the unpaid 1,036,000.
    cents(ledger.claims["g"][0], [0, 9_000, 0, 5_180, 5_180 + 518_000])
    # Q3 repays the 9,000 advance (after investor arrears of 9,000, before current interest).
    cents(ledger.reimbursed["g"][0], [0, 0, 9_000, 0, 0])
    senior = ledger.tranches[0]
    cents(senior.interest_paid[0], [18_000, 0, 27_000, 0, 0])
    cents(senior.investor_arrears[0], 5_180 + 5_180)
    cents(senior.unpaid_principal[0], 1_036_000)


def test_partial_guarantee_stops_at_its_cap(tmp_path: Path) -> None:
    _, ledger = run_deal(
        tmp_path, enhancer("g", "partial_guarantee", "share = 0.5\ncap = 300000.0\n")
    )
    # 9,000 + 5,180 + 5,180 of interest leave 280,640 of the cap for principal.
    cents(ledger.claims["g"][0], [0, 9_000, 0, 5_180, 5_180 + 280_640])
    cents(ledger.claims["g"].sum(), 300_000)


def test_undertaking_is_called_before_the_guarantor_and_reimbursed_first(tmp_path: Path) -> None:
    enhancers = enhancer("guarantor", "full_guarantee") + enhancer(
        "originator", "shortfall_undertaking"
    )
    # The originator defaults in month 5: on the Q2 date (month 6) it pays 30% of the 18,000.
    _, ledger = run_deal(tmp_path, enhancers, default_months={"originator": 5})
    cents(ledger.claims["originator"][0, 1], 5_400)
    cents(ledger.claims["guarantor"][0, 1], 12_600)
    # Q3 reimburses 18,000 of advances in call order: the originator's first.
    cents(ledger.reimbursed["originator"][0], [0, 0, 5_400, 0, 0])
    cents(ledger.reimbursed["guarantor"][0], [0, 0, 12_600, 0, 0])
    # At the legal final date the defaulted originator pays 30% of 1,036,000, the rest is the
    # guarantor's; the investors lose nothing.
    cents(ledger.claims["originator"][0, 4], 0.3 * (10_360 + 1_036_000))
    cents(ledger.tranches[0].investor_arrears[0], 0)
    cents(ledger.tranches[0].guarantor_principal[0, 4], 1_036_000)


def test_crmw_pays_principal_and_interest_arrears_only_at_the_legal_final_date(
    tmp_path: Path,
) -> None:
    _, ledger = run_deal(tmp_path, enhancer("crmw", "crmw"))
    # No advances on the way: Q2's 18,000 waits for Q3, Q4 and Q5's 10,360 each wait for the end.
    cents(ledger.claims["crmw"][0], [0, 0, 0, 0, 1_036_000 + 20_720])
    senior = ledger.tranches[0]
    cents(senior.interest_paid[0], [18_000, 0, 36_000, 0, 0])
    cents(senior.investor_arrears[0], 0)
    cents(senior.guarantor_arrears[0], 20_720)


def test_pool_covers_pay_their_share_of_each_loss_into_the_trust(tmp_path: Path) -> None:
    # Each loan loses 600,000 (1,000,000 less 40%). The city guarantee, called first, takes 80%
    # of each loss up to 400,000 a borrower: 800,000 in Q2. The risk pool takes 50% of what is
    # left (200,000 a loan), within its 250,000.
    enhancers = enhancer(
        "city",
        "loan_guarantee",
        "per_borrower_cap = 400000.0\nrisk_split = { bank = 0.2, national = 0.3, "
        "provincial = 0.2, city = 0.3 }\n",
        covers=None,
    ) + enhancer("risk_pool", "risk_pool", "share = 0.5\ncap = 250000.0\n", covers=None)
    _, ledger = run_deal(tmp_path, enhancers)
    cents(ledger.claims["city"][0], [0, 800_000, 0, 0, 0])
    cents(ledger.claims["risk_pool"][0], [0, 200_000, 0, 0, 0])
    cents(ledger.cover_cash[0], [0, 1_000_000, 0, 0, 0])
    # The cash is available funds: Q2 pays 18,000 of interest and 982,000 of principal.
    senior = ledger.tranches[0]
    cents(senior.principal_paid[0, 1], 1_000_000 - 18_000)


def test_per_borrower_cap_counts_every_loan_of_the_borrower(tmp_path: Path) -> None:
    one_borrower = HAND_TAPE.replace("Beta Tech", "Alpha Tech")
    enhancers = enhancer(
        "city",
        "loan_guarantee",
        "per_borrower_cap = 400000.0\nrisk_split = { bank = 0.2, city = 0.8 }\n",
        covers=None,
    )
    # Loan 2 defaults later: the cap is used up by loan 1's 400,000 and loan 2 gets nothing.
    # (Without the cap the guarantee would pay 480,000 for each loan.)
    _, ledger = run_deal(tmp_path, enhancers, defaults=((0, 4), (1, 8)), tape=one_borrower)
    cents(ledger.claims["city"][0], [0, 400_000, 0, 0, 0])


def test_defaulted_pool_cover_pays_its_recovery_rate(tmp_path: Path) -> None:
    enhancers = enhancer("risk_pool", "first_loss", "cap = 500000.0\n", covers=None)
    _, ledger = run_deal(tmp_path, enhancers, default_months={"risk_pool": 2})
    # 1,200,000 of losses, capped at 500,000, of which a defaulted guarantor pays 30%.
    cents(ledger.claims["risk_pool"][0], [0, 150_000, 0, 0, 0])


EXACT_DEAL = """
[deal]
name = "exact_claims"
closing_date = 2024-01-01
payment_interval_months = 12
legal_final_months = 12

[pool.inline]
count = 20
balance = 1000000.0
annual_pd = 0.03
recovery_rate = 0.4
tenor_months = 12
coupon = 0.0

[credit]
asset_correlation = 0.2
recovery_lag_months = 0

[simulation]
paths = 200000
seed = 11
chunk_size = 50000

[[tranches]]
name = "senior"
share = 0.9

[[tranches]]
name = "subordinated"
share = 0.1

[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 0.0
policy_discount_bp = 0.0
annual_pd = 0.0
asset_correlation = 0.0
"""


def exact_default_counts(count: int, pd: float, rho: float) -> np.ndarray:
    """P(K = k) for k defaults of ``count`` one-factor Gaussian obligors (binomial mixture)."""
    threshold = stats.norm.ppf(pd)

    def probability(k: int) -> float:
        def integrand(z: float) -> float:
            p = stats.norm.cdf((threshold - np.sqrt(rho) * z) / np.sqrt(1 - rho))
            return stats.binom.pmf(k, count, p) * stats.norm.pdf(z)

        return integrate.quad(integrand, -10, 10, limit=200)[0]

    return np.array([probability(k) for k in range(count + 1)])


def test_guarantor_claim_distribution_matches_the_exact_finite_pool_result(
    tmp_path: Path,
) -> None:
    """No coupons, one date: the senior is short of 0.6·K million − 2 million when K loans
    default, and the guarantor (which cannot default) pays exactly that."""
    path = tmp_path / "exact.toml"
    path.write_text(EXACT_DEAL, encoding="utf-8")
    guarantor = run_scenario(path).results.enhancers[0]
    metrics = guarantor.metrics
    k = np.arange(21)
    claim = np.clip(0.6e6 * k - 2e6, 0.0, 18e6)
    exact = exact_default_counts(20, 0.03, 0.2)
    assert exact.sum() == pytest.approx(1.0, abs=1e-9)
    for name, value in (
        ("probability_of_claim", exact[claim > 0].sum()),
        ("expected_claim", exact @ claim),
    ):
        estimate = metrics[name]
        assert abs(estimate.value - value) <= 4 * estimate.se, (name, estimate, value)
    # The 99% claim quantile: the smallest claim level whose exceedance is at most 1%.
    tail = np.cumsum(exact[::-1])[::-1]
    exact_q99 = claim[np.argmax(np.r_[tail[1:], 0.0] <= 0.01)]
    q99 = metrics["claim_quantile_0.99"]
    assert abs(q99.value - exact_q99) <= max(4 * q99.se, 1.0), (q99, exact_q99)
    # The claim histogram: its first row is "no claim", and the rows add up to 1.
    histogram = guarantor.claim_distribution
    assert histogram["probability"].sum() == pytest.approx(1.0)
    no_claim = exact[claim == 0].sum()
    assert abs(histogram["probability"].iloc[0] - no_claim) <= 4 * histogram["se"].iloc[0]


def test_layered_package_only_adds_cash_path_by_path() -> None:
    """The layered scenario is the pilot plus pool covers and an undertaking: on the same paths
    the senior notes never lose more than in the pilot, stand-alone or wrapped."""
    root = Path(__file__).parents[1] / "scenarios"
    pilot = run_scenario(root / "wenzhou_interbank_note.toml", paths=20_000)
    layered = run_scenario(root / "wenzhou_layered_enhancement.toml", paths=20_000)
    for view in ("standalone", "wrapped"):
        key = f"tranche.senior.{view}.loss"
        less = layered.outcomes.per_path[key] <= pilot.outcomes.per_path[key] + 1e-12
        assert less.all(), view
    risk_pool = next(e for e in layered.results.enhancers if e.name == "science_bureau_risk_pool")
    assert risk_pool.metrics["claim_quantile_0.999"].value <= 5_000_000 + 0.01
    assert risk_pool.terms["fee_paid_by"] == "borrowers"
    covers = layered.results.cash_flows["pool_cover_cash"].sum()
    claims = sum(
        layered.results.cash_flows[f"enhancer.{name}.claims"].sum()
        for name in ("wenzhou_municipal_guarantor", "science_bureau_risk_pool")
    )
    assert covers == pytest.approx(claims, rel=1e-12)


def test_an_enhancer_out_of_capital_pays_only_its_recovery_rate(tmp_path: Path) -> None:
    # Net assets of 10,000: Q2's 18,000 advance is 10,000 from capital and 30% of the other
    # 8,000; every later claim is paid at 30% (Q4, Q5 interest of 10,360; 1,036,000 at the end).
    text = enhancer("g", "full_guarantee", "net_assets = 10000.0\n")
    _, ledger = run_deal(tmp_path, text)
    cents(ledger.claims["g"][0], [0, 12_400, 0, 3_108, 3_108 + 310_800])


def test_expected_shortfall_is_the_mean_of_the_worst_paths_even_at_an_atom() -> None:
    from securitize.enhancers.metrics import claim_metrics

    # 1,000 paths, claims on 5: the 99% quantile is 0 (an atom), and the worst 1% of paths
    # are the 5 claims and 5 zeros, whose mean is half the mean of the claims.
    claims = np.zeros(1000)
    claims[:5] = [100.0, 200.0, 300.0, 400.0, 500.0]
    key = "enhancer.g"
    per_path = {
        f"{key}.claims": claims,
        f"{key}.net_claims": claims,
        f"{key}.pv_net_claims": claims,
        f"{key}.fees": np.ones(1000),
        f"{key}.pv_fees": np.ones(1000),
        f"{key}.pv_cover": np.full(1000, 100.0),
        f"{key}.cover_years": np.full(1000, 100.0),
    }
    metrics = claim_metrics(per_path, key, None, 100.0)
    assert metrics["claim_quantile_0.99"].value == 0.0
    assert metrics["expected_shortfall_0.99"].value == pytest.approx(1500.0 / 10)
    assert metrics["expected_shortfall_0.999"].value == pytest.approx(500.0)


def test_loan_guarantee_fee_is_charged_on_the_capped_cover(tmp_path: Path) -> None:
    # 80% of each 1,000,000 borrower is 800,000, capped at 400,000: half the uncapped cover.
    text = enhancer(
        "city",
        "loan_guarantee",
        "per_borrower_cap = 400000.0\nrisk_split = { bank = 0.2, city = 0.8 }\n",
        covers=None,
    )
    structure, ledger = run_deal(tmp_path, text, defaults=())
    assert structure.guarantees[0].cover_factor == pytest.approx(0.5)
    # The first quarter's cover: 800,000 in CNY-years (3 months of 3,200,000 a year).
    cents(ledger.cover_base["city"][0, 0], 0.25 * 800_000)
