"""Bad input: one line naming the file, row or field, the value and the rule; exit 2; no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from securitize.cli import main
from tests.conftest import GOOD_ROW, GOOD_ROW_2, TAPE_HEADER, tape_rows, tape_scenario


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "A3,Gamma,Smart equipment,Ouhai,-5000000,0.05,36,bullet,80,1000000",
            ["row 3", "loan A3", "'balance'", "-5000000", "must be above 0"],
        ),
        (
            "A3,Gamma,Smart equipment,Ouhai,5000000,0.05,36,balloon,80,1000000",
            ["row 3", "'amortisation'", "balloon", "bullet, equal_principal, level_payment"],
        ),
        (
            "A3,Gamma,Smart equipment,Ouhai,5000000,five,36,bullet,80,1000000",
            ["row 3", "'coupon'", "five", "not a finite number"],
        ),
        (
            "A3,Gamma,Smart equipment,Ouhai,5000000,0.05,36.5,bullet,80,1000000",
            ["row 3", "'tenor_months'", "36.5", "whole number"],
        ),
    ],
)
def test_bad_tape_row_is_named_with_value_and_rule(
    write_scenario, tmp_path: Path, capsys, row: str, expected: list[str]
) -> None:
    scenario = write_scenario(tape_scenario(), tape_rows(GOOD_ROW, GOOD_ROW_2, row))
    out = tmp_path / "out"
    code, err = run_cli(["run", str(scenario), "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "tape.csv" in err
    for fragment in expected:
        assert fragment in err
    assert not out.exists()


def test_pd_of_one_is_rejected(write_scenario, tmp_path: Path, capsys) -> None:
    tape = TAPE_HEADER + ",pd\n" + GOOD_ROW + ",0.02\n" + GOOD_ROW_2 + ",1.0\n"
    scenario = write_scenario(tape_scenario(), tape)
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "row 2" in err and "'pd'" in err and "1.0" in err and "below 1" in err


def test_missing_column_is_named(write_scenario, tmp_path: Path, capsys) -> None:
    header = TAPE_HEADER.replace(",score", "")
    rows = [",".join(r.split(",")[:8] + r.split(",")[9:]) for r in (GOOD_ROW, GOOD_ROW_2)]
    scenario = write_scenario(tape_scenario(), "\n".join([header, *rows]) + "\n")
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "missing required column" in err and "'score'" in err


def test_unknown_scenario_field_is_named(write_scenario, tmp_path: Path, capsys) -> None:
    text = tape_scenario().replace("[simulation]\n", "[simulation]\nseeed = 3\n")
    scenario = write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2))
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "deal.toml" in err and "simulation.seeed" in err and "unknown field" in err


def test_missing_required_field_is_named(write_scenario, tmp_path: Path, capsys) -> None:
    text = tape_scenario().replace("closing_date = 2024-01-01\n", "")
    scenario = write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2))
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "deal.closing_date" in err and "required" in err


def test_tranches_that_do_not_add_up_are_rejected(write_scenario, tmp_path: Path, capsys) -> None:
    text = tape_scenario().replace("share = 0.1", "share = 0.15")
    scenario = write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2))
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "tranches" in err and "1.05" in err and "add up to 1" in err


def test_tranche_balances_must_match_the_pool(write_scenario, tmp_path: Path, capsys) -> None:
    tranches = (
        '\n[[tranches]]\nname = "senior"\nbalance = 8000000\ncoupon = 0.04\n'
        '\n[[tranches]]\nname = "subordinated"\nbalance = 999999\n'
    )
    scenario = write_scenario(tape_scenario(tranches=tranches), tape_rows(GOOD_ROW, GOOD_ROW_2))
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "8,999,999.00" in err and "9,000,000.00" in err


def test_guarantee_of_unknown_tranche_is_rejected(write_scenario, tmp_path: Path, capsys) -> None:
    extra = (
        '\n[[enhancers]]\nname = "g"\ntype = "full_guarantee"\ncovers = "mezzanine"\n'
        "fee_bp = 80\nannual_pd = 0.001\nasset_correlation = 0.2\n"
    )
    scenario = write_scenario(tape_scenario(extra), tape_rows(GOOD_ROW, GOOD_ROW_2))
    code, err = run_cli(["run", str(scenario), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    assert "enhancers[0].covers" in err and "mezzanine" in err


def test_missing_scenario_file_is_an_error(tmp_path: Path, capsys) -> None:
    code, err = run_cli(["run", str(tmp_path / "nope.toml")], capsys)
    assert code == 2 and "nope.toml" in err and "not found" in err


def test_command_line_error_has_no_traceback(write_scenario, tmp_path: Path) -> None:
    scenario = write_scenario(
        tape_scenario(), tape_rows(GOOD_ROW, "A2,B,I,R,-1,0.05,36,bullet,70,1")
    )
    done = subprocess.run(
        [sys.executable, "-m", "securitize", "run", str(scenario), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("securitize: error: ")
    assert not (tmp_path / "o").exists()


def error_of(args: list[str], capsys) -> str:
    code, err = run_cli(args, capsys)
    assert code == 2
    return err


def test_infinite_tape_value_is_rejected(write_scenario, tmp_path: Path, capsys) -> None:
    row = "A3,Gamma,Smart equipment,Ouhai,5000000,0.05,36,bullet,80,inf"
    scenario = write_scenario(tape_scenario(), tape_rows(GOOD_ROW, row))
    err = error_of(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert "'ip_appraised_value'" in err and "'inf'" in err and "finite" in err


def test_column_name_in_the_wrong_case_is_named(write_scenario, tmp_path: Path, capsys) -> None:
    tape = TAPE_HEADER + ",PD\n" + GOOD_ROW + ",0.02\n"
    scenario = write_scenario(tape_scenario(), tape)
    err = error_of(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert "column 'PD'" in err and "'pd'" in err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("paths = 2000", 'paths = "2000"'), ["simulation.paths", "'2000'", "valid integer"]),
        (("paths = 2000", "paths = true"), ["simulation.paths", "True", "valid integer"]),
        (
            (
                'tape = "tape.csv"',
                'tape = "tape.csv"\ninline = { count = 2, balance = 1.0, '
                "annual_pd = 0.01, recovery_rate = 0.3, tenor_months = 12 }",
            ),
            ["exactly one of 'tape' or 'inline'"],
        ),
    ],
)
def test_scenario_values_are_not_coerced(
    write_scenario, tmp_path: Path, capsys, change: tuple[str, str], expected: list[str]
) -> None:
    text = tape_scenario().replace(*change)
    scenario = write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2))
    err = error_of(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    for fragment in expected:
        assert fragment in err


def test_inline_pool_refuses_tape_only_fields(write_scenario, tmp_path: Path, capsys) -> None:
    text = (
        '[deal]\nname = "x"\nclosing_date = 2024-01-01\n[pool]\nip_haircut = 0.5\n'
        "[pool.inline]\ncount = 2\nbalance = 1.0\nannual_pd = 0.01\nrecovery_rate = 0.3\n"
        'tenor_months = 12\n[[tranches]]\nname = "a"\nshare = 1.0\n'
    )
    err = error_of(["run", str(write_scenario(text)), "--out", str(tmp_path / "o")], capsys)
    assert "'ip_haircut' applies to a tape" in err


GUARANTEE = (
    '\n[[enhancers]]\nname = "{name}"\ntype = "full_guarantee"\ncovers = "senior"\n'
    "fee_bp = 80\nannual_pd = 0.001\nasset_correlation = 0.2\n"
)


LOAN_GUARANTEE = (
    '\n[[enhancers]]\nname = "city"\ntype = "loan_guarantee"\nfee_bp = 80\n'
    "annual_pd = 0.001\nasset_correlation = 0.2\n"
)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            LOAN_GUARANTEE + "risk_split = { bank = 0.2, national = 0.3, city = 0.4 }\n",
            ["enhancers[0].risk_split", "add up to 0.9", "must add up to 1"],
        ),
        (
            GUARANTEE.format(name="g").replace("full_guarantee", "partial_guarantee")
            + "cap = -5.0\n",
            ["enhancers[0].cap", "-5.0", "greater than or equal to 0"],
        ),
        (
            GUARANTEE.format(name="g").replace('covers = "senior"', 'covers = "seniour"'),
            ["enhancers[0].covers", "'seniour' is not a tranche"],
        ),
        (
            GUARANTEE.format(name="g").replace("annual_pd = 0.001", "annual_pd = 1.0"),
            ["enhancers[0].annual_pd", "less than 1"],
        ),
        (
            GUARANTEE.format(name="g") + "policy_discount_bp = 90\n",
            ["enhancers[0]", "policy_discount_bp 90", "exceeds fee_bp 80"],
        ),
        (
            GUARANTEE.format(name="g") + 'profile = "nowhere_guarantor"\n',
            ["enhancers[0]", "'nowhere_guarantor' is not a known enhancer profile"],
        ),
        (
            LOAN_GUARANTEE + 'covers = "senior"\nrisk_split = { bank = 0.2, city = 0.8 }\n',
            ["enhancers[0]", "covers the pool's losses", "remove 'covers'"],
        ),
        (
            GUARANTEE.format(name="g")
            .replace("full_guarantee", "first_loss")
            .replace('covers = "senior"\n', ""),
            ["enhancers[0]", "first_loss needs a 'cap'"],
        ),
    ],
)
def test_enhancer_terms_that_break_a_rule_are_named(
    write_scenario, tmp_path: Path, capsys, extra: str, expected: list[str]
) -> None:
    scenario = write_scenario(tape_scenario(extra), tape_rows(GOOD_ROW, GOOD_ROW_2))
    err = error_of(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    for fragment in expected:
        assert fragment in err, err


def test_fee_and_enhancer_names_must_differ(write_scenario, tmp_path: Path, capsys) -> None:
    extra = '\n[[fees]]\nname = "g1"\nrate_bp = 10\n' + GUARANTEE.format(name="g1")
    scenario = write_scenario(tape_scenario(extra), tape_rows(GOOD_ROW, GOOD_ROW_2))
    err = error_of(["run", str(scenario), "--out", str(tmp_path / "o")], capsys)
    assert "'g1' is used twice" in err


def test_the_old_pool_recovery_haircut_name_points_to_ip_haircut(write_scenario, capsys) -> None:
    """[pool] recovery_haircut (IP value lost) and [[stresses]] recovery_haircut (recoveries
    cut) meant different things; the pool's is now ip_haircut and the old name says so."""
    scenario = tape_scenario().replace(
        'tape = "tape.csv"', 'tape = "tape.csv"\nrecovery_haircut = 0.8'
    )
    path = write_scenario(scenario, tape_rows(GOOD_ROW))
    assert main(["run", str(path), "--out", str(path.parent / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "'recovery_haircut' is now 'ip_haircut' in [pool]" in err and len(err.splitlines()) == 1
