"""Deterministic stress runs, break-even default rates and single-path statements."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from securitize import run_scenario
from securitize.credit import simulate_chunk
from securitize.credit.build import build_credit_model
from securitize.evaluate import chunk_collections
from securitize.pool import build_pool
from securitize.scenario import Stress, load_scenario
from securitize.statement import path_statement, worst_path
from securitize.stress import (
    StressInputs,
    break_even_default_rate,
    expected_collections,
    pool_default_rate,
    run_deterministic,
    stressed_inputs,
)
from securitize.structure import build_structure
from tests.conftest import INTERBANK


@pytest.fixture(scope="module")
def pilot():
    loaded = load_scenario(INTERBANK)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    return loaded, pool, structure, model


def test_expected_case_cash_is_the_mean_of_the_simulated_cash(pilot) -> None:
    """By linearity, E[collections] of the Monte Carlo equals the fractional-default run."""
    loaded, pool, structure, model = pilot
    lag = loaded.scenario.credit.recovery_lag_months
    deterministic = expected_collections(
        pool, structure, lag, stressed_inputs(pool, model.cumulative_pd, None)
    ).by_period(structure.payment_months, structure.pool_balance)
    chunk = simulate_chunk(model, 5, 0, 100_000)
    simulated, _ = chunk_collections(pool, structure, lag, chunk)
    for name in ("interest", "principal", "recoveries", "defaulted", "performing_balance"):
        values = getattr(simulated, name)
        mean = values.mean(axis=0)
        se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
        exact = getattr(deterministic, name)[0]
        assert np.all(np.abs(mean - exact) <= 4 * se + 1e-6 * np.abs(exact) + 1e-6), name


def test_no_defaults_means_no_losses_and_full_interest(pilot) -> None:
    _loaded, pool, structure, model = pilot
    inputs = StressInputs(
        np.zeros_like(model.cumulative_pd), pool.recovery_rate, np.ones(pool.size)
    )
    collections, ledger = run_deterministic(pool, structure, 18, inputs)
    assert collections.loss[0] == 0
    for t in ledger.tranches:
        assert t.unpaid_principal[0] < 0.01 and t.investor_arrears[0] < 0.01


def test_heavier_stresses_lose_more(pilot) -> None:
    _loaded, pool, structure, model = pilot
    losses = []
    for k in (1.0, 1.5, 2.0, 3.0):
        stress = Stress(name=f"x{k}", default_multiplier=k)
        _, ledger = run_deterministic(
            pool, structure, 18, stressed_inputs(pool, model.cumulative_pd, stress)
        )
        t = ledger.tranches[1]
        losses.append(t.unpaid_principal[0] + t.investor_arrears[0])
    assert losses == sorted(losses) and losses[-1] > losses[0]


def test_recovery_haircut_and_spread_compression_lower_cash(pilot) -> None:
    _loaded, pool, _structure, model = pilot
    base = stressed_inputs(pool, model.cumulative_pd, None)
    haircut = stressed_inputs(pool, model.cumulative_pd, Stress(name="h", recovery_haircut=0.5))
    spread = stressed_inputs(pool, model.cumulative_pd, Stress(name="s", spread_compression_bp=50))
    assert np.allclose(haircut.recovery_rate, 0.5 * base.recovery_rate)
    coupon = pool.loans["coupon"].to_numpy(float)
    assert np.allclose(spread.coupon_scale * coupon, coupon - 0.005)


def test_front_loading_keeps_lifetime_defaults_but_moves_them_early(pilot) -> None:
    _loaded, pool, _structure, model = pilot
    base = stressed_inputs(pool, model.cumulative_pd, None).cumulative_pd
    front = stressed_inputs(
        pool, model.cumulative_pd, Stress(name="f", front_loaded=0.8)
    ).cumulative_pd
    assert np.allclose(front[:, -1], base[:, -1])
    assert np.allclose(front[:, 11], 0.8 * base[:, -1])
    assert np.all(front[:, 11] > base[:, 11])


def test_break_even_rate_separates_no_loss_from_loss(pilot) -> None:
    _loaded, pool, structure, model = pilot
    rate = break_even_default_rate(pool, structure, 18, model.cumulative_pd, 0)
    base = pool_default_rate(pool, model.cumulative_pd)
    assert rate is not None and rate > base

    def senior_loss(scale: float) -> float:
        inputs = StressInputs(
            np.minimum(model.cumulative_pd * scale, 0.9999), pool.recovery_rate, np.ones(pool.size)
        )
        _, ledger = run_deterministic(pool, structure, 18, inputs)
        t = ledger.tranches[0]
        return float(t.unpaid_principal[0] + t.investor_arrears[0] + t.guarantor_arrears[0])

    scale = rate / base
    assert senior_loss(scale * 0.999) <= 0.01
    assert senior_loss(scale * 1.01) > 0.01


def test_statement_of_the_worst_path_matches_the_run(tmp_path) -> None:
    run = run_scenario(INTERBANK, paths=3000)
    statement = path_statement(run, "worst")
    k = worst_path(run)
    assert statement.attrs["path"] == k
    assert list(statement["month"]) == list(run.structure.payment_months)
    # The same path: its defaults and its senior outcome are the run's.
    defaulted = statement["pool.defaulted"].sum() / run.pool.total_balance
    assert defaulted == pytest.approx(run.outcomes.per_path["pool.defaulted"][k], abs=1e-12)
    assert defaulted == run.outcomes.per_path["pool.defaulted"].max() or defaulted > 0
    senior = run.structure.tranches[0]
    lost = run.outcomes.per_path["tranche.senior.standalone.loss"][k] * senior.balance
    unpaid = statement["tranche.senior.balance"].iloc[-1]
    assert unpaid <= lost + 0.01


def test_statement_of_an_unknown_path_is_a_clear_error() -> None:
    from securitize.errors import SecuritizeError

    run = run_scenario(INTERBANK, paths=1000)
    with pytest.raises(SecuritizeError, match="no such path"):
        path_statement(run, 5000)


def test_statement_command_writes_a_csv(tmp_path, capsys) -> None:
    from securitize.cli import main

    out = tmp_path / "worst.csv"
    assert main(["statement", str(INTERBANK), "--paths", "1000", "--quiet", "--out", str(out)]) == 0
    assert out.read_text().startswith("month,")
    assert main(["statement", str(INTERBANK), "--paths", "1000", "--quiet", "--path", "x"]) == 2
    assert "--path" in capsys.readouterr().err


def test_correlation_stress_reruns_with_common_random_numbers() -> None:
    run = run_scenario(INTERBANK, paths=4000)
    stressed = [s for s in run.results.stresses if "monte_carlo" in s]
    assert stressed
    mc = stressed[0]["monte_carlo"]
    base = run.results.tranches[0].standalone["expected_loss"]
    # Higher correlation fattens the tail the senior sits in.
    assert mc["senior.standalone.expected_loss"]["value"] > base.value
    assert dataclasses.is_dataclass(run.results)
