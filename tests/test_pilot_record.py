"""The bundled deals against the public record: the pilot is the first Wenzhou deal as published
(12 enterprises, 56 patents, CNY 190m, loans of at least 75 % of the patents' appraised value,
the municipal guarantor behind every loan, 20 % of the interest and 90 % of the intermediary
fees paid by the city); the provincial AAA wrap belongs to the later inter-bank note; the CBIC
variant is hypothetical; a one-year bullet deal is bundled."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from securitize import run_scenario
from securitize.economics import economics_defaults, enterprise_economics
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.structure import build_structure
from tests.conftest import INTERBANK, PILOT, ROOT

SCENARIOS = ROOT / "scenarios"


@pytest.fixture(scope="module")
def pilot():
    loaded = load_scenario(PILOT)
    pool = build_pool(loaded)
    return loaded, pool, build_structure(loaded, pool)


def test_the_pilot_pool_has_the_published_totals(pilot) -> None:
    _, pool, _ = pilot
    loans = pool.loans
    assert loans["enterprise"].nunique() == 12
    assert int(loans["patents"].sum()) == 56
    assert loans["balance"].sum() == pytest.approx(190_000_000, abs=0.005)
    assert set(loans["tenor_months"]) == {36}


def test_every_pilot_loan_is_at_least_75_percent_of_its_patents_value(pilot) -> None:
    _, pool, _ = pilot
    loans = pool.loans
    ratio = loans["balance"] / loans["ip_appraised_value"]
    assert (ratio >= 0.75).all(), loans.loc[ratio < 0.75, ["loan_id", "balance"]]
    assert np.allclose(loans["loan_to_value"].astype(float), ratio, atol=5e-5)


def test_the_reported_loan_is_in_the_pool_as_published(pilot) -> None:
    """The one loan the press gave in full: CNY 10m for three years on 4 invention patents
    appraised at CNY 11.96m."""
    _, pool, _ = pilot
    row = pool.loans.set_index("loan_id").loc["WZ10"]
    assert (row["balance"], row["patents"], row["tenor_months"]) == (10_000_000, 4, 36)
    assert row["ip_appraised_value"] == 11_960_000


def test_the_municipal_guarantor_stands_behind_every_loan_and_nothing_wraps_the_notes(
    pilot,
) -> None:
    loaded, pool, structure = pilot
    scenario = loaded.scenario
    assert scenario.deal.closing_date.isoformat() == "2021-01-05"
    assert scenario.deal.market == "exchange"
    (guarantor,) = scenario.enhancers
    assert guarantor.type == "loan_guarantee"
    assert guarantor.profile == "wenzhou_municipal_guarantor"
    # The whole loss of every loan: no bank share, and no borrower above the cap.
    assert guarantor.covered_share == 1.0
    by_borrower = pool.loans.groupby("enterprise")["balance"].sum()
    assert guarantor.per_borrower_cap >= by_borrower.max()
    assert all(not structure.enhancers_of(k) for k in range(len(structure.tranches)))


def test_the_city_pays_a_fifth_of_the_interest_and_nine_tenths_of_the_fees(pilot) -> None:
    loaded, pool, structure = pilot
    economics = loaded.scenario.economics
    defaults = economics_defaults()
    assert economics.interest_subsidy_share == defaults["interest_subsidy_share"] == 0.20
    assert {f.subsidy_share for f in economics.intermediary_fees} == {0.9}
    assert defaults["intermediary_subsidy_share"] == 0.90
    table = enterprise_economics(loaded, pool, structure, {"wenzhou_municipal_guarantor": 0.0})
    interest = table["interest_cny"].sum()
    assert table["interest_subsidy_cny"].sum() == pytest.approx(0.2 * interest)
    fees = table["intermediary_fees_cny"].sum()
    assert table["intermediary_subsidy_cny"].sum() == pytest.approx(0.9 * fees)


def test_the_reported_loan_costs_the_enterprise_3_99_percent_all_in(pilot) -> None:
    """The press reported a 3.99 % all-in cost after the city's subsidies for the one loan it
    gave in full: the economics table (coupon less the 20 % subsidy, plus the guarantee fee
    after its policy discount, plus the 10 % of the intermediary fees left to the enterprise)
    reproduces it to half a basis point."""
    loaded, pool, structure = pilot
    table = enterprise_economics(loaded, pool, structure, {"wenzhou_municipal_guarantor": 0.0})
    enterprise = pool.loans.set_index("loan_id").loc["WZ10", "enterprise"]
    row = table.set_index("enterprise").loc[enterprise]
    assert row["all_in_rate"] == pytest.approx(0.0399, abs=0.00005)
    assert row["all_in_rate"] < row["coupon"]


def test_the_economics_defaults_cite_the_published_subsidies() -> None:
    text = (ROOT / "securitize" / "data" / "economics.toml").read_text("utf-8")
    assert "unpublished" not in text and "No general share is published" not in text
    assert "ca6.com.cn" in text and "20%的融资利息由财政补贴" in text


def test_the_provincial_wrap_is_the_later_interbank_note() -> None:
    scenario = load_scenario(INTERBANK).scenario
    assert scenario.deal.market == "interbank"
    assert scenario.deal.closing_date.year == 2021 and scenario.deal.closing_date.month == 12
    wraps = [e for e in scenario.enhancers if e.type == "full_guarantee"]
    assert [(e.profile, e.covers) for e in wraps] == [("zhejiang_provincial_guarantor", "senior")]
    assert wraps[0].rating == "AAA"
    header = INTERBANK.read_text("utf-8").split("[deal]")[0]
    assert "ca6.com.cn" in header and "ILLUSTRATIVE" in header


def test_the_cbic_variant_says_it_is_hypothetical() -> None:
    path = SCENARIOS / "wenzhou_pilot_cbic.toml"
    scenario = load_scenario(path).scenario
    assert "hypothetical" in scenario.deal.title.lower()
    assert "假设" in scenario.deal.title_zh
    assert path.read_text("utf-8").startswith("# HYPOTHETICAL")
    assert [e.profile for e in scenario.enhancers] == ["china_bond_insurance"]


def test_the_scenario_and_tape_headers_cite_their_sources() -> None:
    for path in (PILOT, SCENARIOS / "data" / "wenzhou_pilot_tape.csv"):
        header = path.read_text("utf-8").split("\n[deal]")[0].split("\nloan_id,")[0]
        assert "zj.people.com.cn" in header and "chsh.sinoins.com" in header
        assert "illustrative" in header.lower()


def test_the_one_year_bullet_deal_repays_at_twelve_months() -> None:
    path = SCENARIOS / "wenzhou_one_year_bullet.toml"
    loaded = load_scenario(path)
    pool = build_pool(loaded)
    assert set(pool.loans["tenor_months"]) == {12}
    assert set(pool.loans["amortisation"]) == {"bullet"}
    scheduled = pool.schedule.principal.sum(axis=0)
    assert scheduled[11] == pytest.approx(pool.total_balance)
    assert scheduled[:11].sum() == 0
    with open(path, "rb") as handle:
        assert tomllib.load(handle)["deal"]["market"] == "exchange"
    results = run_scenario(path, paths=2000, seed=1).results
    senior = next(t for t in results.tranches if t.name == "senior")
    # Without defaults the senior notes repay in one go at month 12: a WAL of one year; defaults
    # and late recoveries can only lengthen it.
    assert 1.0 - 1e-9 <= senior.standalone["wal_years"].value < 1.25
    assert results.exchange_rules["failed"] == []
