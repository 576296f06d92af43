"""Programme cuts: successive deals from one pipeline, and enterprises served per year."""

from __future__ import annotations

from pathlib import Path

import pytest

from securitize.errors import ScenarioError
from securitize.scenario import load_scenario
from securitize.selection.programme import run_programme
from tests.selection_support import write_candidate_deal

HEADER = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,origination_date"
)
# Two loans originated in the first half of 2023, three in the second, three in 2024.
ROWS = [
    "P1,Alpha,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2023-02-01",
    "P2,Beta,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2023-05-01",
    "P3,Gamma,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2023-08-01",
    "P4,Delta,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2023-09-01",
    "P5,Epsilon,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2023-10-01",
    "P6,Alpha,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2024-02-01",
    "P7,Zeta,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2024-03-01",
    "P8,Eta,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2024-04-01",
]


def scenario(tmp_path: Path, selection: str, rows: list[str] = ROWS) -> Path:
    """The pipeline tape and ``programme.toml``, a deal that cuts its pools from it."""
    tape = "\n".join([HEADER, *rows]) + "\n"
    return write_candidate_deal(tmp_path, "programme", "pipeline.csv", tape, selection)


SELECTION = """
[selection]
loans_min = 2
loans_max = 3

[selection.programme]
cut_dates = [2023-03-31, 2023-06-30, 2023-12-31, 2024-06-30]
target_enterprises_per_year = 6
"""


def test_each_cut_takes_unused_loans_originated_by_its_date(tmp_path: Path) -> None:
    programme = run_programme(load_scenario(scenario(tmp_path, SELECTION)))
    deals = programme.deals().set_index("deal")
    # Cut 1 (2023-03-31): only P1 exists, and a deal needs two loans: no deal, P1 carries over.
    assert not deals.loc[1, "issued"]
    assert "loans_min" in deals.loc[1, "reason"]
    assert deals.loc[2, "loans"] == 2  # P1, P2
    assert deals.loc[3, "loans"] == 3  # P3, P4, P5
    assert deals.loc[4, "loans"] == 3  # P6, P7, P8
    loans = programme.loans().set_index("loan_id")
    assert loans["deal"].tolist() == [2, 2, 3, 3, 3, 4, 4, 4]
    for cut in programme.cuts:
        if cut.selection is not None:
            originated = cut.selection.loans["origination_date"].dt.date
            assert (originated <= cut.cut_off).all()


def test_enterprises_served_per_year_against_the_target(tmp_path: Path) -> None:
    programme = run_programme(load_scenario(scenario(tmp_path, SELECTION)))
    years = programme.years().set_index("year")
    assert years.loc[2023, "enterprises_served"] == 5
    assert years.loc[2023, "shortfall"] == 1 and not years.loc[2023, "target_met"]
    # 2024: Alpha borrows again (P6) and counts as served in 2024 as well.
    assert years.loc[2024, "enterprises_served"] == 3
    summary = programme.summary()
    assert summary["loans_used"] == 8 and summary["target_enterprises_per_year"] == 6


def test_a_cut_with_nothing_originated_issues_no_deal(tmp_path: Path) -> None:
    text = SELECTION.replace("2023-03-31,", "2022-12-31,")
    programme = run_programme(load_scenario(scenario(tmp_path, text)))
    first = programme.deals().iloc[0]
    assert not first["issued"] and first["reason"] == "no unused loan originated by this date"


def test_programme_needs_origination_dates(tmp_path: Path) -> None:
    rows = [",".join(r.split(",")[:-1]) for r in ROWS]
    header = HEADER.rsplit(",", 1)[0]
    path = scenario(tmp_path, SELECTION)
    (tmp_path / "pipeline.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="'origination_date'"):
        run_programme(load_scenario(path))
