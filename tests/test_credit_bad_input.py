"""Bad credit assumptions: one line naming the field and the rule, exit 2, nothing written, and
the refusal comes before any path is simulated.

Every case runs the command line on a small tape (two loans in one industry and one region, so
the multi-factor model has the factors global, industry:Software, region:Lucheng in that
order) with ``securitize.run.simulate_defaults`` replaced by a function that fails the test if it
is ever called.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import securitize.run
from securitize.cli import main
from tests.conftest import TAPE_HEADER, tape_scenario

ROW_1 = "A1,Alpha Tech,Software,Lucheng,5000000,0.05,36,bullet,80,10000000"
ROW_2 = "A2,Beta Tech,Software,Lucheng,4000000,0.05,36,equal_principal,70,9000000"
TAPE = "\n".join([TAPE_HEADER, ROW_1, ROW_2]) + "\n"

MULTI_FACTOR = (
    '\n[credit]\nmodel = "gaussian_multi_factor"\n\n[credit.factors]\n'
    "global_loading = 0.4\nindustry_loading = 0.3\nregion_loading = 0.2\n"
)


def tape_with(column: str, first: str, second: str) -> str:
    return f"{TAPE_HEADER},{column}\n{ROW_1},{first}\n{ROW_2},{second}\n"


@pytest.fixture
def refuse(write_scenario, tmp_path: Path, capsys, monkeypatch):
    """Run the CLI on a scenario that must be refused; return its one-line error message."""

    def simulation_started(*args, **kwargs):
        raise AssertionError("the scenario was simulated before it was refused")

    monkeypatch.setattr(securitize.run, "simulate_defaults", simulation_started)

    def run(extra: str, tape: str = TAPE, simulation: str = "") -> str:
        text = tape_scenario(extra).replace("[simulation]\n", "[simulation]\n" + simulation)
        scenario = write_scenario(text, tape)
        out = tmp_path / "out"
        code = main(["run", str(scenario), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.startswith("securitize: error: ")
        assert err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists()
        return err

    return run


def test_factor_correlation_matrix_that_is_not_psd_is_refused(refuse) -> None:
    # Eigenvalues of this matrix are -0.8, 1.9, 1.9.
    err = refuse(
        MULTI_FACTOR + "correlation = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]\n"
    )
    assert "deal.toml" in err and "credit.factors" in err
    assert "not positive semi-definite" in err and "-0.8" in err


def test_factor_correlation_matrix_of_the_wrong_size_names_the_factor_order(refuse) -> None:
    err = refuse(MULTI_FACTOR + "correlation = [[1.0, 0.1], [0.1, 1.0]]\n")
    assert "credit.factors.correlation" in err and "(2, 2)" in err and "3 × 3" in err
    assert "global, industry:Software, region:Lucheng" in err


def test_loadings_whose_squares_sum_to_one_or_more_are_refused(refuse) -> None:
    # 0.8² + 0.7² = 1.13: no idiosyncratic variance left.
    err = refuse(
        '\n[credit]\nmodel = "gaussian_multi_factor"\n\n[credit.factors]\n'
        "global_loading = 0.8\nindustry_loading = 0.7\n"
    )
    assert "credit.factors" in err and "1.13" in err and "below 1" in err


def test_loadings_rule_also_holds_for_the_student_t_copula(refuse) -> None:
    err = refuse(
        '\n[credit]\nmodel = "student_t"\ndegrees_of_freedom = 4.0\n\n[credit.factors]\n'
        "global_loading = 0.8\nindustry_loading = 0.7\n"
    )
    assert "credit.factors" in err and "1.13" in err and "below 1" in err


@pytest.mark.parametrize("value", ["2.0", "2", "1.5", "-3.0"])
def test_degrees_of_freedom_of_two_or_less_are_refused(refuse, value: str) -> None:
    err = refuse(f'\n[credit]\nmodel = "student_t"\ndegrees_of_freedom = {value}\n')
    assert "credit.degrees_of_freedom" in err and value in err and "greater than 2" in err


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_non_finite_degrees_of_freedom_are_refused(refuse, value: str) -> None:
    err = refuse(f'\n[credit]\nmodel = "student_t"\ndegrees_of_freedom = {value}\n')
    assert "field 'credit.degrees_of_freedom'" in err and value in err and "finite" in err


def test_student_t_without_degrees_of_freedom_is_refused(refuse) -> None:
    err = refuse('\n[credit]\nmodel = "student_t"\n')
    assert "field 'credit'" in err and "degrees_of_freedom" in err and "student_t" in err


def test_degrees_of_freedom_for_a_gaussian_model_are_refused(refuse) -> None:
    err = refuse("\n[credit]\ndegrees_of_freedom = 4.0\n")
    assert "degrees_of_freedom" in err and "student_t" in err


def test_negative_pd_in_the_tape_is_refused(refuse) -> None:
    err = refuse("", tape_with("pd", "0.02", "-0.01"))
    assert "tape.csv" in err and "row 2" in err and "loan A2" in err
    assert "'pd'" in err and "-0.01" in err and "at least 0" in err


@pytest.mark.parametrize("value", ["1.2", "-0.1"])
def test_recovery_rate_outside_zero_one_in_the_tape_is_refused(refuse, value: str) -> None:
    err = refuse("", tape_with("recovery_rate", "0.3", value))
    assert "tape.csv" in err and "row 2" in err and "'recovery_rate'" in err
    assert value in err and "from 0 to 1" in err


def test_negative_hazard_rate_in_the_tape_is_refused(refuse) -> None:
    # The pool reads an optional 'hazard_rate' column (credit.build uses it for the PD curve);
    # a negative hazard is not a rate and must be refused like a negative 'pd'.
    err = refuse("", tape_with("hazard_rate", "0.05", "-0.05"))
    assert "tape.csv" in err and "row 2" in err and "'hazard_rate'" in err and "-0.05" in err


def test_beta_recovery_without_dispersion_is_refused(refuse) -> None:
    err = refuse('\n[credit.recovery]\ndistribution = "beta"\n')
    assert "credit.recovery" in err and "dispersion" in err and "beta" in err


def test_dispersion_too_large_for_a_loans_mean_recovery_is_refused(refuse) -> None:
    # Loan 2 recovers 5% on average: a Beta with mean 0.05 has sd below sqrt(0.05 × 0.95) ≈ 0.218.
    err = refuse(
        '\n[credit.recovery]\ndistribution = "beta"\ndispersion = 0.3\n',
        tape_with("recovery_rate", "0.3", "0.05"),
    )
    assert "credit.recovery.dispersion" in err and "0.3" in err
    assert "0.2179" in err and "loan 2" in err


def test_pd_curve_with_decreasing_cumulative_pd_is_refused(refuse) -> None:
    err = refuse(
        '\n[[credit.pd_curves]]\nband = "all"\nmonths = [12, 24]\ncumulative_pd = [0.05, 0.04]\n'
    )
    assert "credit.pd_curves[0]" in err and "cumulative_pd" in err and "must not decrease" in err


def test_pd_curve_for_an_unknown_band_is_refused(refuse) -> None:
    err = refuse(
        '\n[[credit.pd_curves]]\nband = "Z"\nmonths = [12, 24]\ncumulative_pd = [0.02, 0.04]\n'
    )
    assert "credit.pd_curves[0].band" in err and "'Z'" in err
    assert "A, B, C, D, E" in err


def test_industry_loadings_naming_an_industry_not_in_the_pool_are_refused(refuse) -> None:
    err = refuse(MULTI_FACTOR + 'industry_loadings = { "Biotech" = 0.3 }\n')
    assert "credit.factors.industry_loadings" in err and "'Biotech'" in err
    assert "Software" in err


def test_region_loadings_naming_a_region_not_in_the_pool_are_refused(refuse) -> None:
    err = refuse(MULTI_FACTOR + 'region_loadings = { "Ouhai" = 0.3 }\n')
    assert "credit.factors.region_loadings" in err and "'Ouhai'" in err and "Lucheng" in err


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_importance_shift_is_refused(refuse, value: str) -> None:
    # A NaN or infinite shift makes every likelihood ratio NaN or 0, so every estimate would be
    # meaningless: the scenario must be refused, not run.
    err = refuse("", simulation=f"importance_shift = {value}\n")
    # The field is named as the user wrote it (not a validator-internal 'importance_shift.float').
    assert "field 'simulation.importance_shift':" in err and value in err and "finite" in err
