"""Eligibility criteria (入池标准): each excludes exactly the loans that break it, and says why."""

from __future__ import annotations

import datetime as dt

import pytest

from securitize.errors import ScenarioError
from securitize.selection.eligibility import evaluate_eligibility
from tests.selection_support import SOURCE, candidates, choose, loan, spec


def failing(rows, **fields) -> dict[str, list[str]]:
    """Loan id → the criteria it breaks."""
    table = evaluate_eligibility(candidates(rows), spec(**fields), SOURCE)
    return {loan_id: table.broken(i) for i, loan_id in enumerate(table.loan_ids) if table.broken(i)}


@pytest.mark.parametrize(
    ("criterion", "good", "bad", "shown"),
    [
        ({"score_min": 60}, {"score": 60}, {"score": 59.5}, "score 59.5"),
        ({"pd_max": 0.02}, {"score": 80}, {"score": 70}, "annual PD 2.80 %"),
        ({"bands": ["A", "B"]}, {"score": 76}, {"score": 74}, "band 'C'"),
        ({"tenor_months_min": 24}, {"tenor_months": 24}, {"tenor_months": 12}, "12 months"),
        ({"tenor_months_max": 48}, {"tenor_months": 48}, {"tenor_months": 60}, "60 months"),
        ({"balance_min": 3e6}, {"balance": 3e6}, {"balance": 2.5e6}, "CNY 2.50m"),
        ({"balance_max": 20e6}, {"balance": 20e6}, {"balance": 25e6}, "CNY 25.00m"),
        (
            {"ltv_max": 0.6},
            {"ip_appraised_value": 20e6},
            {"ip_appraised_value": 12.5e6},
            "loan-to-IP-value 0.80",
        ),
        ({"industries": ["Smart equipment"]}, {}, {"industry": "Real estate"}, "'Real estate'"),
        ({"regions": ["Lucheng"]}, {}, {"region": "Taizhou"}, "'Taizhou'"),
        (
            {"related_party_balance_max": 8e6},
            {"related_group": "G1", "balance": 8e6},
            {"related_group": "G1", "balance": 9e6},
            "related group 'G1'",
        ),
    ],
)
def test_each_criterion_excludes_only_the_loan_that_breaks_it(criterion, good, bad, shown) -> None:
    rows = [loan("OK", **good), loan("BAD", **bad), loan("PLAIN")]
    broken = failing(rows, eligibility=criterion)
    assert set(broken) == {"BAD"}
    (reason,) = broken["BAD"]
    assert reason.startswith(f"eligibility.{next(iter(criterion))} (")
    assert shown in reason


def test_ip_protection_must_outlive_maturity_by_the_stated_months() -> None:
    # Cut-off 2024-06-30 + 36 months = maturity 2027-06-30.
    rows = [
        loan("LONG", ip_protection_end="2029-01-01"),
        loan("EDGE", ip_protection_end="2028-12-30"),
        loan("SHORT", ip_protection_end="2027-01-31"),
        loan("BLANK", ip_protection_end=None),
    ]
    broken = failing(rows, eligibility={"ip_protection_months_min": 18})
    assert set(broken) == {"SHORT", "BLANK"}
    assert "IP protection beyond maturity -5 months" in broken["SHORT"][0]
    assert "blank" in broken["BLANK"][0]


def test_seasoned_loans_are_stated_at_the_cut_off_and_checked_there() -> None:
    rows = [
        loan("NEW", origination_date="2024-06-01"),
        loan("OLD", origination_date="2023-03-15", amortisation="equal_principal", balance=3.6e6),
        loan("LATE", origination_date="2024-07-02"),
        loan("DONE", origination_date="2020-01-01"),
    ]
    table = candidates(rows)
    loans = table.loans.set_index("loan_id")
    # 15 whole months of a 36-month equal-principal loan: 21 instalments of 100,000 left.
    assert loans.loc["OLD", "balance"] == pytest.approx(2.1e6)
    assert loans.loc["OLD", "tenor_months"] == 21
    assert loans.loc["OLD", "original_balance"] == 3.6e6
    broken = failing(rows, eligibility={"seasoning_months_max": 12})
    assert set(broken) == {"OLD", "LATE", "DONE"}
    assert "originated 2024-07-02" in broken["LATE"][0]
    assert any("matured 2023-01-01" in r for r in broken["DONE"])
    assert any("seasoning 15 months" in r for r in broken["OLD"])


@pytest.mark.parametrize(
    ("operator", "value", "passes"),
    [
        ("==", "Ruian", {"B"}),
        ("!=", "Ruian", {"A", "C"}),
        ("in", ["Ruian", "Ouhai"], {"B", "C"}),
        ("not in", ["Ruian", "Ouhai"], {"A"}),
    ],
)
def test_text_rules(operator, value, passes) -> None:
    rows = [loan("A"), loan("B", region="Ruian"), loan("C", region="Ouhai")]
    rule = {"column": "region", "operator": operator, "value": value}
    assert set(failing(rows, rules=[rule])) == {"A", "B", "C"} - passes


@pytest.mark.parametrize(
    ("operator", "value", "passes"),
    [
        ("<", 3, {"A"}),
        ("<=", 3, {"A", "B"}),
        (">", 3, {"C"}),
        (">=", 3, {"B", "C"}),
        ("==", 3, {"B"}),
        ("in", [1, 5], {"A", "C"}),
    ],
)
def test_number_rules_on_a_tape_column(operator, value, passes) -> None:
    rows = [loan("A", patents=1), loan("B", patents=3), loan("C", patents=5)]
    rule = {"column": "patents", "operator": operator, "value": value}
    assert set(failing(rows, rules=[rule])) == {"A", "B", "C"} - passes


def test_rules_on_extra_and_derived_columns() -> None:
    rows = [
        loan("A", origination_date="2024-01-10", ip_label="true", covenant="ok"),
        loan("B", origination_date="2024-05-10", ip_label="no", covenant="ok", score=70),
        loan("C", origination_date="2024-03-10", ip_label="yes", covenant="breach"),
    ]
    rules = [
        {"column": "origination_date", "operator": "<", "value": dt.date(2024, 4, 1)},
        {"column": "ip_label", "operator": "==", "value": True},
        {"column": "covenant", "operator": "==", "value": "ok", "name": "covenants"},
        {"column": "annual_pd", "operator": "<=", "value": 0.02},
    ]
    broken = failing(rows, rules=rules)
    assert set(broken) == {"B", "C"}
    assert len(broken["B"]) == 3  # late, unlabelled, band C
    assert broken["C"] == ["rules[2] (covenants: covenant == 'ok'): covenant 'breach'"]


def test_a_rule_on_an_unknown_column_is_an_error_naming_the_rule() -> None:
    rule = {"column": "revenue", "operator": ">", "value": 1e6}
    with pytest.raises(ScenarioError) as error:
        failing([loan("A")], rules=[rule])
    message = str(error.value)
    assert "deal.toml" in message and "selection.rules[0].column" in message
    assert "'revenue'" in message and "not a column of the candidate tape" in message


def test_a_rule_comparing_text_with_a_number_is_an_error() -> None:
    rule = {"column": "region", "operator": ">", "value": 3}
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.value.*holds text"):
        failing([loan("A")], rules=[rule])


def test_a_criterion_on_a_missing_column_is_an_error() -> None:
    with pytest.raises(ScenarioError, match=r"ip_protection_months_min.*'ip_protection_end'"):
        failing([loan("A")], eligibility={"ip_protection_months_min": 12})


def test_every_candidate_reports_the_criteria_it_meets() -> None:
    selection = choose(
        [loan("A"), loan("B", score=50)], eligibility={"score_min": 60, "balance_max": 20e6}
    )
    report = selection.report.set_index("loan_id")
    assert report.loc["A", "status"] == "included"
    assert report.loc["A", "criteria_met"] == [
        "eligibility.score_min (score ≥ 60): score 80",
        "eligibility.balance_max (balance ≤ CNY 20.00m): balance CNY 10.00m",
    ]
    assert report.loc["B", "status"] == "ineligible"
    assert report.loc["B", "rules_broken"] == ["eligibility.score_min (score ≥ 60): score 50"]


def test_an_allowed_value_that_matches_no_candidate_is_a_warning() -> None:
    selection = choose([loan("A")], eligibility={"industries": ["Smart equipment", "Biomedcine"]})
    assert selection.eligibility.warnings == (
        "eligibility.industries: 'Biomedcine' matches no candidate (check the spelling)",
    )
