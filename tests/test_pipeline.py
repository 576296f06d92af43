"""End to end: the bundled pilot deal through the command line and the Python API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.evaluate import evaluate
from tests.conftest import INTERBANK

PATHS = 6000


@pytest.fixture(scope="module")
def pilot_run():
    return run_scenario(INTERBANK, paths=PATHS)


def test_pilot_deal_matches_the_programme_it_models(pilot_run) -> None:
    pool = pilot_run.results.pool
    assert 12 <= pool["loans"] <= 20
    assert 150e6 <= pool["balance"] <= 200e6
    assert pool["loans"] == pool["obligors"]
    assert 3e6 <= pool["largest_balance"] <= 20e6
    assert 0.045 <= pool["weighted_average_coupon"] <= 0.055
    senior, subordinated = pilot_run.results.tranches
    assert 0.90 <= senior.share <= 0.95 and senior.guaranteed_by is not None
    assert 0.05 <= subordinated.share <= 0.10
    assert any("ILLUSTRATIVE" in note for note in pilot_run.results.assumptions["tape_notes"])


def test_run_writes_memo_and_results_and_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    out = tmp_path / "pilot"
    assert main(["run", str(INTERBANK), "--paths", "3000", "--out", str(out), "--quiet"]) == 0
    document = json.loads((out / "results.json").read_text())
    assert document["schema"] == "securitize.results"
    assert document["simulation"]["paths"] == 3000
    assert (out / "memo.html").read_text().lstrip().lower().startswith("<!doctype html")
    before = (out / "results.json").read_bytes()
    capsys.readouterr()
    assert main(["run", str(INTERBANK), "--paths", "2000", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "results.json").read_bytes() == before
    assert main(["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--force"]) == 0
    assert json.loads((out / "results.json").read_text())["simulation"]["paths"] == 2000
    assert sorted(p.name for p in out.iterdir()) == [
        "memo.html",
        "repayment_schedule.csv",
        "results.json",
    ]


def test_every_monte_carlo_figure_carries_a_standard_error(pilot_run) -> None:
    document = pilot_run.results.to_dict()
    estimates = [document["pool"]["loss"]]
    for tranche in document["tranches"]:
        estimates += [tranche["standalone"], tranche["wrapped"]]
    estimates += [e["metrics"] for e in document["enhancers"]]
    for group in estimates:
        for estimate in group.values():
            assert set(estimate) == {"value", "se"}
            assert estimate["se"] >= 0
    columns = document["cash_flows"]
    for name in columns:
        if name != "month" and not name.endswith(".se"):
            assert f"{name}.se" in columns


def test_same_seed_gives_the_same_numbers_on_any_worker_count(pilot_run) -> None:
    again = run_scenario(INTERBANK, paths=PATHS, workers=2)
    first, second = pilot_run.results.to_dict(), again.results.to_dict()
    for document in (first, second):
        assert set(document.pop("timings")) == {"run_seconds", "simulation_seconds"}
        document["simulation"].pop("workers")
    assert first == second


def test_another_seed_gives_other_draws(pilot_run) -> None:
    other = run_scenario(INTERBANK, paths=PATHS, seed=pilot_run.results.simulation["seed"] + 1)
    a = pilot_run.results.pool_loss["expected_loss"].value
    b = other.results.pool_loss["expected_loss"].value
    assert a != b


def test_guarantee_never_makes_the_senior_worse_off_on_any_path(pilot_run) -> None:
    outcomes = evaluate(
        pilot_run.pool,
        pilot_run.structure,
        pilot_run.loaded.scenario.credit.recovery_lag_months,
        pilot_run.defaults,
    )
    standalone = outcomes.per_path["tranche.senior.standalone.loss"]
    wrapped = outcomes.per_path["tranche.senior.wrapped.loss"]
    assert np.all(wrapped <= standalone + 1e-12)
    assert (standalone > 0).any() and (wrapped < standalone).any()


def test_pool_loss_mean_agrees_with_the_exact_expected_loss(pilot_run) -> None:
    """E[loss] = Σ balance_at_default × (1 − R) × P(default in month m): exact, no simulation."""
    from securitize.credit.term_structure import from_annual_pd

    pool = pilot_run.pool
    months = np.arange(1, pool.schedule.months + 1)
    cumulative = from_annual_pd(pool.annual_pd, months.size)
    monthly = np.diff(np.c_[np.zeros(pool.size), cumulative], axis=1)
    alive = months[None, :] <= pool.tenor_months[:, None]
    exposure = pool.schedule.opening_balance * (1 - pool.recovery_rate)[:, None]
    exact = float((monthly * alive * exposure).sum() / pool.total_balance)
    estimate = pilot_run.results.pool_loss["expected_loss"]
    assert abs(estimate.value - exact) <= 4 * estimate.se


def test_monte_carlo_agrees_with_the_exact_engine_on_the_pilot(pilot_run) -> None:
    """Heterogeneous pool: quantiles and loss-tranche expected losses within 4 SE of exact."""
    validation = pilot_run.results.validation
    assert validation["applicable"]
    assert validation["all_agree"], validation["figures"]
    widths = {t.name: t.detachment - t.attachment for t in pilot_run.structure.loss_tranches}
    rounding = validation["mean_rounding_bound"]
    assert rounding <= 1e-3 * validation["figures"][0]["exact"]
    for point in validation["loss_tranche_curves"]:
        gap = abs(point["monte_carlo"] - point["exact"])
        assert gap <= 4 * point["monte_carlo_se"] + rounding / widths[point["tranche"]]


@pytest.mark.parametrize("dated", [False, True], ids=["month grid", "dated"])
def test_yield_solver_prices_every_path_back_to_par(dated: bool) -> None:
    """The kernel's yield solver: Σ cash (1 + y)^(−t) = price for awkward cash flows: deep
    losses, one early payment, nothing at all (−100%), and a windfall; on quarterly dates of
    the month grid, and on dated payments a few days off the quarter (actual days / 365)."""
    from securitize.waterfall.kernel import (
        _IRR_BISECTIONS,
        _IRR_NEWTON_STEPS,
        _RATE_LIMIT,
        _discount_steps,
    )
    from securitize.waterfall.kernel_loop import _yields

    rng = np.random.default_rng(3)
    years = np.arange(1, 19) * 0.25
    if dated:
        days = np.cumsum(rng.integers(88, 94, 18))
        years = days / 365.0
        powers, gaps = np.zeros(18, dtype=np.int64), np.zeros(0, dtype=np.int64)
    else:
        powers, gaps = _discount_steps(np.arange(1, 19) * 3)

    def internal_rate_of_return(cash, years, price):
        out = np.empty(cash.shape[0])
        steps = (_IRR_BISECTIONS, _IRR_NEWTON_STEPS, _RATE_LIMIT)
        _yields(np.ascontiguousarray(cash.T), years, powers, gaps, price, *steps, out)
        return out

    cash = rng.uniform(0, 2, (400, 18))
    cash[:, -1] += 100 * rng.uniform(0, 1.2, 400)
    cash[:5] = 0
    cash[5:10] = 0
    cash[5:10, 3] = 50
    cash[10:20] = 0
    cash[10:20, 0] = 300
    cash[20:30] = rng.uniform(0, 1, (10, 18))
    y = internal_rate_of_return(cash, years, 100.0)
    assert np.all(y[:5] == -1.0)
    paid = cash.sum(axis=1) > 0
    value = (cash[paid] * (1 + y[paid, None]) ** (-years)).sum(axis=1)
    np.testing.assert_allclose(value, 100.0, rtol=0, atol=1e-9)
    # 50 paid once, on the fourth date: (1 + y)^t = 100 / 50.
    np.testing.assert_allclose(y[5], 0.5 ** (1.0 / years[3]) - 1.0, rtol=1e-12)
