"""Names are bounded: an 8,000-character name is refused in one short line, not rendered."""

from __future__ import annotations

from pathlib import Path

from securitize.cli import main
from tests.conftest import GOOD_ROW, tape_rows, tape_scenario


def run(path: Path, capsys) -> tuple[int, str]:
    code = main(["run", str(path), "--out", str(path.parent / "out"), "--quiet"])
    return code, capsys.readouterr().err


def test_an_overlong_tranche_name_is_refused_in_one_short_line(write_scenario, capsys):
    scenario = tape_scenario().replace('name = "senior"', f'name = "{"S" * 8000}"')
    code, err = run(write_scenario(scenario, tape_rows(GOOD_ROW)), capsys)
    assert code == 2
    assert "tranches[0].name" in err and "at most 80 characters" in err
    assert "(8000 characters)" in err and len(err) < 300 and len(err.splitlines()) == 1


def test_an_overlong_enterprise_name_in_the_tape_is_refused_naming_row_and_column(
    write_scenario, capsys
):
    row = GOOD_ROW.replace("Alpha Tech", "A" * 8000)
    code, err = run(write_scenario(tape_scenario(), tape_rows(row)), capsys)
    assert code == 2
    assert "row 1 (loan A1), column 'enterprise'" in err
    assert "is 8000 characters long; at most 120" in err and len(err) < 300


def test_names_at_the_bound_are_accepted(write_scenario, capsys):
    scenario = tape_scenario().replace('name = "senior"', f'name = "{"S" * 80}"')
    row = GOOD_ROW.replace("Alpha Tech", "A" * 120)
    code, err = run(write_scenario(scenario, tape_rows(row)), capsys)
    assert code == 0, err
