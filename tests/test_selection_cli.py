"""`securitize pool select` / `pool programme`, `run` from a candidate tape, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.scenario import LoadedScenario, load_scenario
from securitize.selection.api import select_for_scenario, selection_summary
from securitize.tape import load_tape
from tests.conftest import ROOT
from tests.selection_support import write_candidate_deal

BUNDLED = ROOT / "scenarios" / "wenzhou_programme_select.toml"
HEADER = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,patents"
)
ROWS = [
    "C1,Alpha,Smart equipment,Lucheng,6000000,0.05,36,bullet,85,15000000,3",
    "C2,Beta,New materials,Ruian,5000000,0.05,36,bullet,80,12000000,2",
    "C3,Gamma,Biomedicine,Ouhai,5000000,0.05,36,equal_principal,75,11000000,1",
    "C4,Delta,Smart equipment,Yueqing,4000000,0.05,36,bullet,52,10000000,2",
    "C5,Epsilon,Digital economy,Lucheng,3000000,0.05,36,bullet,70,8000000,0",
]
SELECTION = """
[selection]
deal_size_max = 15_000_000

[selection.eligibility]
score_min = 60

[selection.limits]
obligor_max = 0.45
"""


def write(tmp_path: Path, selection: str = SELECTION) -> Path:
    """The candidate tape and ``cut.toml``, a deal that selects its pool from it."""
    tape = "# illustrative\n" + "\n".join([HEADER, *ROWS]) + "\n"
    simulation = "[simulation]\npaths = 2000\nchunk_size = 1000\n"
    return write_candidate_deal(
        tmp_path, "cut", "candidates.csv", tape, simulation + selection, senior_coupon=0.03
    )


def test_pool_select_writes_tape_report_and_summary_and_refuses_to_overwrite(
    tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    assert main(["pool", "select", str(write(tmp_path)), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "selected_tape.csv",
        "selection.json",
        "selection_report.csv",
    ]
    tape = load_tape(out / "selected_tape.csv")  # a valid tape for the pipeline
    # C4 fails the score; 6 + 5 + 5 > 15, so 14m = C1 + C5 + one 5m loan. C2 and C3 tie on
    # balance and band; C2's larger IP value gives it the lower expected loss (the tie-break).
    assert sorted(tape.loans["loan_id"]) == ["C1", "C2", "C5"]
    assert any("Pool selected by securitize" in note for note in tape.notes)
    summary = json.loads((out / "selection.json").read_text())
    assert summary["schema"] == "securitize.selection"
    assert summary["pool"]["balance"] <= 15e6
    report = (out / "selection_report.csv").read_text()
    assert "C4" in report and "eligibility.score_min" in report
    before = (out / "selection.json").read_bytes()
    capsys.readouterr()
    assert main(["pool", "select", str(write(tmp_path)), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "selection.json").read_bytes() == before
    assert main(["pool", "select", str(write(tmp_path)), "--out", str(out), "--force"]) == 0


def test_run_selects_first_and_simulates_the_selected_pool(tmp_path: Path) -> None:
    run = run_scenario(write(tmp_path), paths=1000)
    assert run.selection is not None
    selected = set(run.selection.loans["loan_id"])
    assert set(run.pool.loans["loan_id"]) == selected
    assert run.pool.total_balance == pytest.approx(run.selection.loans["balance"].sum())
    assert run.results.to_dict()["pool"]["totals"]["loans"] == len(selected)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (
            ("obligor_max = 0.45", "obligor_max = 1.2"),
            ["selection.limits.obligor_max", "1.2", "at most 1"],
        ),
        (
            ("[selection]\n", '[selection]\nobjective = "senior_size"\n'),
            ["selection.objective", "'senior_size'", "'balance'", "'excess_spread'"],
        ),
        (
            (
                "score_min = 60\n",
                '\n[[selection.rules]]\ncolumn = "region"\noperator = "=~"\nvalue = "x"\n',
            ),
            ["selection.rules[0].operator", "'=~'", "'not in'"],
        ),
        (
            (
                "score_min = 60\n",
                '\n[[selection.rules]]\ncolumn = "revenue"\noperator = ">"\nvalue = 1\n',
            ),
            ["selection.rules[0].column", "'revenue'", "not a column of the candidate tape"],
        ),
        (
            ("score_min = 60\n", "score_min = 60\nbalance_min = 9e6\nbalance_max = 5e6\n"),
            ["selection.eligibility", "'balance_min'", "'balance_max'"],
        ),
        (
            ("obligor_max = 0.45", "obligor_max = 0.1"),
            ["no pool", "non-empty pool", "limits.obligor_max", "meets these limits together"],
        ),
    ],
)
def test_bad_selection_input_is_one_line_with_field_value_and_rule(
    tmp_path: Path, capsys, change, fragments
) -> None:
    old, new = change
    assert old in SELECTION
    out = tmp_path / "out"
    code = main(
        ["pool", "select", str(write(tmp_path, SELECTION.replace(old, new))), "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err and "cut.toml" in err
    for fragment in fragments:
        assert fragment in err
    assert not out.exists()


def test_bundled_pipeline_and_scenario(capsys) -> None:
    loaded = load_scenario(BUNDLED)
    quick = loaded.scenario.selection.model_copy(update={"explain_solves_max": 0})
    loaded = LoadedScenario(
        scenario=loaded.scenario.model_copy(update={"selection": quick}),
        path=loaded.path,
        raw=loaded.raw,
    )
    selection = select_for_scenario(loaded)
    summary = selection_summary(selection)
    assert 60 <= summary["counts"]["candidates"] <= 100
    assert any("NOT REAL BORROWERS" in note for note in summary["candidates"]["notes"])
    failed = {c["name"] for c in summary["criteria"] if c["failed"]}
    for deliberate in (
        "eligibility.score_min",
        "eligibility.tenor_months_min",
        "eligibility.tenor_months_max",
        "eligibility.ltv_max",
        "eligibility.ip_protection_months_min",
        "eligibility.industries",
        "eligibility.balance_max",
        "eligibility.related_party_balance_max",
    ):
        assert deliberate in failed
    assert summary["solver"]["proven_optimal"]
    assert 150e6 <= summary["pool"]["balance"] <= 200e6
    assert 12 <= summary["pool"]["loans"] <= 20
    assert all(limit["met"] for limit in summary["limits"])


def test_pool_programme_on_the_bundled_pipeline(tmp_path: Path, capsys) -> None:
    out = tmp_path / "programme"
    assert main(["pool", "programme", str(BUNDLED), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "programme.json",
        "programme_deals.csv",
        "programme_loans.csv",
    ]
    summary = json.loads((out / "programme.json").read_text())
    (year,) = summary["years"]
    assert year["year"] == 2021 and year["target"] == 80
    assert year["enterprises_served"] == sum(d["enterprises"] or 0 for d in summary["deals"])
    assert "enterprises served" in capsys.readouterr().out
