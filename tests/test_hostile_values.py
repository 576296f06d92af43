"""Hostile values in the bundled scenarios: each is refused in one line naming the field, the
value and the rule, before anything is simulated or written (no traceback, no output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from securitize.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def _changed(name: str, line: str, replacement: str, folder: Path) -> Path:
    """The bundled scenario ``name`` with ``line`` replaced, written to ``folder`` (its tape
    and score bands still read from the bundled data)."""
    text = (SCENARIOS / name).read_text(encoding="utf-8")
    assert line in text
    text = text.replace(line, replacement, 1)
    text = text.replace('= "data/', f'= "{(SCENARIOS / "data").as_posix()}/')
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "line", "replacement", "expected"),
    [
        # A profile must be a profile's name, not a list or a table.
        (
            "wenzhou_pilot.toml",
            'profile = "wenzhou_municipal_guarantor"',
            "profile = []",
            ["enhancers[0]", "profile [] is not a known enhancer profile"],
        ),
        (
            "wenzhou_layered_enhancement.toml",
            'profile = "science_bureau_risk_pool"',
            "profile = {}",
            ["enhancers", "profile {} is not a known enhancer profile"],
        ),
        # Amounts beyond any loan (their squares would overflow the figures' moments).
        (
            "wenzhou_put_reset.toml",
            "balance = 12_666_666.67",
            "balance = 1e300",
            ["pool.inline.balance", "1e+300", "less than or equal to 1000000000000"],
        ),
        (
            "wenzhou_layered_enhancement.toml",
            "cap = 5000000.0",
            "cap = 1e300",
            ["cap", "1e+300", "less than or equal to 1000000000000"],
        ),
        (
            "wenzhou_pilot.toml",
            "per_borrower_cap = 30000000.0",
            "per_borrower_cap = 1e13",
            ["per_borrower_cap", "less than or equal to 1000000000000"],
        ),
        # A file field must name a file (an empty one named the scenario's folder).
        (
            "wenzhou_calibrated.toml",
            'score_bands = "data/lender_history_band_table.csv"',
            'score_bands = ""',
            ["pool.score_bands", "value ''", "must name a file"],
        ),
        # A cumulative default ratio is a fraction: a threshold above 1 could never be breached.
        (
            "wenzhou_senior_mezz_reserve.toml",
            "above = 0.05",
            "above = 5",
            ["triggers[0]", "threshold 5", "at most 1 (write 0.05 for 5 %)"],
        ),
    ],
)
def test_a_hostile_value_is_refused_by_field_value_and_rule(
    tmp_path: Path, capsys, name: str, line: str, replacement: str, expected: list[str]
) -> None:
    scenario = _changed(name, line, replacement, tmp_path)
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--paths", "64", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert str(scenario) in err, err
    for fragment in expected:
        assert fragment in err, err
    assert not out.exists()


def test_a_default_ratio_threshold_of_one_is_allowed(tmp_path: Path, capsys) -> None:
    # The rule's bound itself runs: it refuses only what could never be breached.
    scenario = _changed("wenzhou_senior_mezz_reserve.toml", "above = 0.05", "above = 1", tmp_path)
    code = main(["run", str(scenario), "--paths", "64", "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(("patents", "rule"), [("1e300", "from 0 to 100,000"), ("-1", "from 0")])
def test_a_patent_count_beyond_any_portfolio_is_refused(
    tmp_path: Path, capsys, patents: str, rule: str
) -> None:
    tape = (SCENARIOS / "data" / "wenzhou_interbank_tape.csv").read_text(encoding="utf-8")
    row = "WZ01,Oujiang Smart Valve Technology (illustrative),Smart equipment,Longwan,20000000,"
    row += "0.0520,36,bullet,71,"
    assert row + "6," in tape
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "wenzhou_interbank_tape.csv"
    path.write_text(tape.replace(row + "6,", row + patents + ","), encoding="utf-8")
    scenario = tmp_path / "wenzhou_interbank_note.toml"
    scenario.write_text((SCENARIOS / scenario.name).read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--paths", "64", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    for fragment in ("loan WZ01", "'patents'", patents, rule):
        assert fragment in err, err
    assert not out.exists()
