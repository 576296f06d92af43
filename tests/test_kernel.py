"""The kernel's reduction (what design evaluation reads) agrees with its own ledger.

Design evaluation never writes a ledger: the kernel reduces each path as it goes to per-path
losses, lives, yields, shortfalls and claims, and per-date weighted sums. The same kernel in
ledger mode writes every date's rows. Here the figures are derived again, with numpy, from the
ledger — the losses from what is owed at the end, lives from principal × time, yields priced
back to par, per-date sums from the rows — and compared with the reduction on random deals from
the conservation generator (every enhancer kind, weights, custom post-acceleration waterfalls),
the bundled scenarios and deals across several blocks. The ledger itself is checked against
deals worked out by hand (tests/test_hand_computed_deal.py, tests/test_waterfall_features.py)
and the accounting identities (tests/test_conservation.py).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securitize import evaluate as ev
from securitize.collections import PeriodCollections
from securitize.credit import simulate_chunk, simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.credit.paths import DefaultChunk, chunk_sizes
from securitize.enhancers.metrics import discount_factors
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.pool import Pool, build_pool
from securitize.scenario import LoadedScenario, load_scenario, parse_scenario, with_fields
from securitize.structure import Structure, build_structure
from securitize.waterfall import kernel
from securitize.waterfall.kernel_codes import LANES
from securitize.waterfall.kernel_lower import lower, supports
from securitize.waterfall.ledger import Ledger, run_waterfall
from tests.conftest import ROOT
from tests.test_conservation import Spec, specs

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RELATIVE = 1e-9
CENT = 0.01
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


@dataclass(frozen=True)
class Deal:
    pool: Pool
    structure: Structure
    lag: int
    chunk: DefaultChunk
    guarantor: np.ndarray


# -- the reduction and the ledger -------------------------------------------------------------


def _ledger_figures(
    structure: Structure, ledger: Ledger, weight: np.ndarray | None
) -> tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The per-path figures (yields aside) and per-date sums that the reduction reports,
    derived from the ledger."""
    years = structure.payment_years
    per_path: dict[str, np.ndarray] = {}
    per_period: dict[str, np.ndarray] = {
        "available": ledger.available,
        "due": ledger.due,
        "residual": ledger.residual,
    }
    for name, paid in ledger.fees_paid.items():
        per_period[f"fee.{name}"] = paid
    for name, balance in ledger.accounts.items():
        per_period[f"account.{name}"] = balance
    for name, state in ledger.triggers.items():
        per_period[f"trigger.{name}"] = state
    per_period["accelerated"] = ledger.accelerated
    for name, state in ledger.redeemed.items():
        per_period[f"tranche.{name}.redeemed"] = state

    def life(principal: np.ndarray) -> np.ndarray:
        received = principal.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(received > CENT, principal @ years / received, np.nan)

    for terms, t in zip(structure.tranches, ledger.tranches, strict=True):
        key = f"tranche.{terms.name}"
        owed = t.unpaid_principal + t.investor_arrears
        per_path[f"{key}.standalone.loss"] = (owed + t.guarantor_arrears) / terms.balance
        wrapped = owed - t.guarantor_principal.sum(axis=1)
        per_path[f"{key}.wrapped.loss"] = wrapped / terms.balance
        per_path[f"{key}.standalone.wal"] = life(t.principal_paid)
        per_path[f"{key}.wrapped.wal"] = life(t.principal_paid + t.guarantor_principal)
        per_path[f"{key}.interest_shortfall"] = t.shortfall.sum(axis=1)
        per_period[f"{key}.standalone.interest"] = t.interest_paid + t.guarantor_reimbursed
        per_period[f"{key}.standalone.principal"] = t.principal_paid
        per_period[f"{key}.wrapped.interest"] = t.interest_paid + t.guarantor_interest
        per_period[f"{key}.wrapped.principal"] = t.principal_paid + t.guarantor_principal
        per_period[f"{key}.balance"] = t.balance
    for g in structure.guarantees:
        key = f"enhancer.{g.name}"
        df = discount_factors(structure, g.spec.discount_rate)
        claims, cover = ledger.claims[g.name], ledger.cover_base[g.name]
        net = claims - ledger.reimbursed[g.name]
        fees = g.net_fee_rate * cover if g.pool_level else ledger.fees_paid[g.name]
        per_path[f"{key}.claims"] = claims.sum(axis=1)
        per_path[f"{key}.net_claims"] = net.sum(axis=1)
        per_path[f"{key}.pv_net_claims"] = net @ df
        per_path[f"{key}.fees"] = fees.sum(axis=1)
        per_path[f"{key}.pv_fees"] = fees @ df
        per_path[f"{key}.pv_cover"] = cover @ df
        per_path[f"{key}.cover_years"] = cover.sum(axis=1)
        per_period[f"{key}.claims"] = claims
        per_period[f"{key}.cover"] = cover
    if structure.pool_enhancers:
        per_period["pool_cover_cash"] = ledger.cover_cash
    sums = {}
    for name, values in per_period.items():
        weighted = values.astype(float) * (1.0 if weight is None else weight)
        sums[name] = (weighted.sum(axis=0), (weighted * weighted).sum(axis=0))
    w = 1.0 if weight is None else weight
    cross = (w * ledger.available * w * ledger.due).sum(axis=0)
    sums["coverage.cross"] = (cross, cross)
    return per_path, sums


def _assert_priced_to_par(structure: Structure, ledger: Ledger, outcomes: ev.Outcomes) -> None:
    """Each tranche's yields discount its cash (from the ledger) back to its price."""
    years = structure.payment_years
    holder = structure.program.residual_tranche
    for j, (terms, t) in enumerate(zip(structure.tranches, ledger.tranches, strict=True)):
        excess = ledger.residual if j == holder else 0.0
        cash = {
            "standalone": t.interest_paid + t.guarantor_reimbursed + t.principal_paid + excess,
            "wrapped": t.interest_paid
            + t.guarantor_interest
            + t.principal_paid
            + t.guarantor_principal
            + excess,
        }
        for view, flows in cash.items():
            y = outcomes.per_path[f"tranche.{terms.name}.{view}.irr"]
            paid = flows.sum(axis=1) > CENT
            assert np.all(y[~paid] == -1.0), view
            # Yields at the solver's bounds (cash of a fraction of a cent) are not priced.
            with np.errstate(divide="ignore"):
                inside = paid & (np.abs(np.log1p(y)) < 19.0)
            value = (flows[inside] * (1.0 + y[inside, None]) ** (-years)).sum(axis=1)
            # The solver stops after a fixed number of steps: within 1e-7 of the price, the
            # yield is within a thousandth of a basis point.
            np.testing.assert_allclose(value, terms.balance, rtol=1e-7, err_msg=view)


def agree(deal: Deal) -> ev.Outcomes:
    """Run the deal's chunk both ways and check the reduction against the ledger; the
    reduction's outcomes."""
    period, _ = ev.chunk_collections(deal.pool, deal.structure, deal.lag, deal.chunk)
    covers = pool_cover_claims(deal.pool, deal.structure, deal.chunk)
    ledger = run_waterfall(deal.structure, period, deal.guarantor, covers)
    shared = ev.share_chunk(deal.pool, deal.structure, deal.lag, deal.chunk)
    reduced = ev.summarise(deal.structure, shared, deal.guarantor, pool_claims=covers)
    per_path, sums = _ledger_figures(deal.structure, ledger, ev._weight(deal.chunk))
    for name, values in per_path.items():
        assert_close(reduced.per_path[name], values, f"per path {name}")
    assert set(reduced.per_period) == set(sums) | set(shared.pool_period_sums)
    for name, (total, square) in sums.items():
        got_total, got_square = reduced.per_period[name]
        assert_close(got_total, total, f"per period {name} sum")
        assert_close(got_square, square, f"per period {name} sum of squares")
    _assert_priced_to_par(deal.structure, ledger, reduced)
    return reduced


def assert_close(got: np.ndarray, expected: np.ndarray, name: str) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, name
    finite = expected[np.isfinite(expected)]
    scale = max(float(np.abs(finite).max()) if finite.size else 0.0, 1.0)
    np.testing.assert_allclose(
        got, expected, rtol=RELATIVE, atol=RELATIVE * scale, equal_nan=True, err_msg=name
    )


# -- deals from the conservation generator ----------------------------------------------------


def _accelerated(draw: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A custom post-acceleration waterfall that pays every tranche."""
    names = [t["name"] for t in data["tranches"]]
    steps: list[dict[str, Any]] = [
        {"pay": "fee", "name": "enforcement", "rate_bp": float(draw(st.integers(0, 50)))}
    ]
    if any(e["name"] == "guarantor" for e in data.get("enhancers", [])):
        steps.append({"pay": "guarantee_fee", "enhancer": "guarantor"})
    if draw(st.booleans()):
        steps.append({"pay": "interest", "tranches": names})
    else:
        steps += [{"pay": "interest", "tranches": [n]} for n in names]
    mode = draw(st.sampled_from(["sequential", "pro_rata"]))
    amount = draw(st.sampled_from(["principal_due", "all"]))
    steps.append({"pay": "principal", "tranches": names, "mode": mode, "amount": amount})
    deferrable = [t["name"] for t in data["tranches"] if t.get("deferrable")]
    if deferrable and draw(st.booleans()):
        steps.append({"pay": "deferred_interest", "tranches": deferrable})
    if draw(st.booleans()):
        steps.append({"pay": "residual", "tranche": names[-1]})
    return steps


@st.composite
def deals(draw: Any) -> tuple[Spec, dict[str, Any], int, int]:
    """A generated deal (its data), how many times its paths repeat, and a weights seed (or
    -1 for plain Monte Carlo)."""
    spec = draw(specs())
    data = spec.data
    if "waterfall" in data and draw(st.booleans()):
        data = {**data, "waterfall": {**data["waterfall"], "accelerated": _accelerated(draw, data)}}
    copies = draw(st.sampled_from([1, 3, 40]))
    seed = draw(st.sampled_from([-1, -1, 1, 2, 3]))
    return spec, data, copies, seed


def _events(rows: tuple[tuple[int, int, int], ...], paths: int, copies: int) -> np.ndarray:
    array = np.array(rows, dtype=np.int64).reshape(-1, 3)
    tiled = np.concatenate([array + np.array([c * paths, 0, 0]) for c in range(copies)])
    return tiled[np.argsort(tiled[:, 0], kind="stable")]


def build_deal(spec: Spec, data: dict[str, Any], copies: int, seed: int) -> Deal:
    """The scenario built through the real API, its events repeated ``copies`` times."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder) / "deal.toml"
        if spec.tape is not None:
            (Path(folder) / "tape.csv").write_text(spec.tape, encoding="utf-8")
        loaded = LoadedScenario(scenario=parse_scenario(data, where), path=where, raw=b"")
        pool = build_pool(loaded)
        structure = build_structure(loaded, pool)
    paths = spec.paths * copies
    defaults = _events(spec.defaults, spec.paths, copies)
    prepay = _events(spec.prepayments, spec.paths, copies)
    log_weight = (
        np.zeros(paths) if seed < 0 else np.random.default_rng(seed).normal(0.0, 0.5, paths)
    )
    chunk = DefaultChunk(
        0,
        paths,
        0,
        np.zeros(paths),
        log_weight,
        defaults[:, 0],
        defaults[:, 1],
        defaults[:, 2],
        pool.recovery_rate[defaults[:, 1]],
        prepay[:, 0],
        prepay[:, 1],
        prepay[:, 2],
    )
    # Each copy's guarantor defaults a month later than the last (not before month 1).
    months = np.array(spec.guarantor_months * copies, dtype=np.int64)
    months = months + np.repeat(np.arange(copies), spec.paths) % 5
    guarantor = months[:, None] + np.arange(len(structure.guarantees))[None, :]
    return Deal(pool, structure, loaded.scenario.credit.recovery_lag_months, chunk, guarantor)


@SETTINGS
@given(deals())
def test_the_reduction_agrees_with_the_ledger_on_random_deals(drawn) -> None:
    agree(build_deal(*drawn))


def test_blocks_mix_accelerated_and_performing_paths() -> None:
    """A deal whose senior interest default accelerates some paths and not others, over more
    paths than one block of lanes, including a partly filled last block."""
    data = {
        "deal": {"name": "mix", "closing_date": dt.date(2024, 1, 1), "payment_interval_months": 3},
        "pool": {
            "inline": {
                "count": 4,
                "balance": 1_000_000.0,
                "annual_pd": 0.05,
                "recovery_rate": 0.2,
                "tenor_months": 12,
                "coupon": 0.07,
                "amortisation": "bullet",
            }
        },
        "credit": {"recovery_lag_months": 3},
        "tranches": [
            {"name": "senior", "share": 0.8, "coupon": 0.06},
            {"name": "junior", "share": 0.2, "coupon": 0.08, "deferrable": True},
        ],
        "triggers": [{"name": "eod", "metric": "interest_shortfall", "effect": "accelerate"}],
    }
    # Every other path loses two of its four loans early: its interest no longer covers the
    # senior coupon, an event of default.
    rows = tuple((p, loan, 1 + p % 6) for p in range(0, 2 * LANES + 7, 2) for loan in (0, 1))
    spec = Spec(data, None, 2 * LANES + 7, rows, (), (99,) * (2 * LANES + 7))
    deal = build_deal(spec, data, 1, -1)
    accelerated = agree(deal).per_period["accelerated"][0]
    assert 0 < accelerated[-1] < deal.chunk.paths


# -- bundled scenarios and the evaluation itself ----------------------------------------------


def _scenario(path: Path, paths: int) -> tuple[LoadedScenario, Pool, Structure, list]:
    loaded = load_scenario(path)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    seed = loaded.scenario.simulation.seed
    chunks = [simulate_chunk(model, seed, k, n) for k, n in enumerate(chunk_sizes(paths, 700))]
    return loaded, pool, structure, chunks


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_the_reduction_agrees_with_the_ledger_on_the_bundled_scenarios(path: Path) -> None:
    try:
        loaded, pool, structure, chunks = _scenario(path, 1500)
    except Exception as exc:  # a programme book is not a single deal
        assert "programme" in str(exc)
        return
    for chunk in chunks:
        guarantor = ev.guarantor_default_months(structure, chunk)
        lag = loaded.scenario.credit.recovery_lag_months
        agree(Deal(pool, structure, lag, chunk, guarantor))


def test_evaluation_without_yields_or_sums_gives_the_same_figures() -> None:
    """Design evaluation leaves out the yields and the per-date sums: the figures it keeps
    are the full evaluation's, to the last digit."""
    path = ROOT / "scenarios" / "wenzhou_senior_mezz_reserve.toml"
    loaded, pool, structure, _ = _scenario(path, 10)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    defaults = simulate_defaults(model, 3000, 11, 1000, 1)
    lag = loaded.scenario.credit.recovery_lag_months
    full = ev.evaluate(pool, structure, lag, defaults)
    lean = ev.evaluate(pool, structure, lag, defaults, yields=False)
    assert set(lean.per_path) == {k for k in full.per_path if not k.endswith(".irr")}
    for name, values in lean.per_path.items():
        np.testing.assert_array_equal(values, full.per_path[name])
    for name, (total, square) in full.per_period.items():
        np.testing.assert_array_equal(lean.per_period[name][0], total)
        np.testing.assert_array_equal(lean.per_period[name][1], square)
    # Per-path figures alone, as designs are evaluated: the same per-path figures, no sums.
    bare = ev.evaluate(pool, structure, lag, defaults, yields=False, periods=False)
    assert bare.per_month == bare.per_period == {}
    for name, values in bare.per_path.items():
        np.testing.assert_array_equal(values, lean.per_path[name])
    # The kernel itself skips the per-period work (its cross moment is left at zero).
    chunk = defaults.chunk(0)
    shared = ev.share_chunk(pool, structure, lag, chunk)
    months = ev.guarantor_default_months(structure, chunk)
    _, sums, cross = kernel.ledger_outcomes(
        structure, shared.period, months, None, False, shared.blocks, periods=False
    )
    assert sums == {} and not cross.any()
    _, sums, cross = kernel.ledger_outcomes(structure, shared.period, months, None, False)
    assert sums and cross.all()


def test_narrow_blocks_write_the_same_ledger_as_full_ones() -> None:
    """A few paths run in a narrow block (``lanes_for``): the same ledger, to the last digit,
    as in a block of ``LANES`` lanes."""
    loaded, pool, structure, chunks = _scenario(
        ROOT / "scenarios" / "wenzhou_layered_enhancement.toml", 300
    )
    chunk = chunks[0]
    lag = loaded.scenario.credit.recovery_lag_months
    period, _ = ev.chunk_collections(pool, structure, lag, chunk)
    months = ev.guarantor_default_months(structure, chunk)
    covers = pool_cover_claims(pool, structure, chunk)
    assert kernel.lanes_for(1) == 8 and kernel.lanes_for(300) == 512
    assert kernel.lanes_for(10**6) == LANES
    narrow = kernel.ledger_run(structure, period, months, covers, None, kernel.lanes_for(300))
    wide = kernel.ledger_run(structure, period, months, covers, None, LANES)
    assert narrow.out_ledger.any()
    np.testing.assert_array_equal(narrow.out_ledger, wide.out_ledger)
    np.testing.assert_array_equal(narrow.out_end, wide.out_end)


def test_the_block_layout_holds_each_path_s_collections_in_its_lane() -> None:
    """Block b, series c, period p, lane l is path b·LANES + l's value (principal and
    recoveries as their sum, the one amount the waterfall uses); lanes past the last path are
    zero."""
    rng = np.random.default_rng(5)
    paths, periods = 2 * LANES + 7, 5
    interest, principal, recoveries, defaulted, performing, fee_base = (
        rng.random((paths, periods)) for _ in range(6)
    )
    ones = np.ones(periods)
    period = PeriodCollections(
        interest, principal, recoveries, defaulted, performing, fee_base, ones, ones
    )
    blocks = kernel.blocked(period)
    expected = [interest, principal + recoveries, defaulted, performing, fee_base]
    assert blocks.shape == (3, len(expected), periods, LANES)
    for c, values in enumerate(expected):
        for path in (0, LANES - 1, LANES, paths - 1):
            b, lane = divmod(path, LANES)
            np.testing.assert_array_equal(blocks[b, c, :, lane], values[path])
    assert not blocks[2, :, :, 7:].any()
    # Into a buffer that held a larger chunk before: the same layout, padding zeroed.
    buffer = np.full((4, len(expected), periods, LANES), np.nan)
    np.testing.assert_array_equal(kernel.blocked(period, buffer), blocks)
    with pytest.raises(ValueError, match="buffer"):
        kernel.blocked(period, buffer[:2])


def test_designs_evaluated_together_give_each_design_s_own_figures() -> None:
    """``evaluate_many`` shares each chunk's collections between designs: every design's
    figures are exactly those of evaluating it alone (a partial guarantee among them)."""
    path = ROOT / "scenarios" / "wenzhou_interbank_note.toml"
    loaded, pool, structure, _ = _scenario(path, 10)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    defaults = simulate_defaults(model, 2500, 13, 1000, 1)
    lag = loaded.scenario.credit.recovery_lag_months
    thinner = build_structure(
        with_fields(loaded, {"tranches[0].share": 0.85, "tranches[1].share": 0.15}), pool
    )
    partial = replace(
        structure,
        guarantees=(replace(structure.guarantees[0], share=0.5, kind="partial_guarantee"),),
    )
    designs = [structure, thinner, partial]
    together = ev.evaluate_many(pool, designs, lag, defaults, yields=False)
    for design, outcomes in zip(designs, together, strict=True):
        alone = ev.evaluate(pool, design, lag, defaults, yields=False)
        assert list(outcomes.per_path) == list(alone.per_path)
        for name, values in alone.per_path.items():
            np.testing.assert_array_equal(outcomes.per_path[name], values, err_msg=name)
        for table in ("per_month", "per_period"):
            for name, sums in getattr(alone, table).items():
                np.testing.assert_array_equal(getattr(outcomes, table)[name][0], sums[0])
                np.testing.assert_array_equal(getattr(outcomes, table)[name][1], sums[1])
    assert not np.array_equal(
        together[0].per_path["tranche.senior.standalone.loss"],
        together[1].per_path["tranche.senior.standalone.loss"],
    )


def test_designs_on_different_payment_dates_are_not_evaluated_together() -> None:
    path = ROOT / "scenarios" / "wenzhou_senior_mezz_reserve.toml"
    loaded, pool, structure, _ = _scenario(path, 10)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    defaults = simulate_defaults(model, 100, 13, 100, 1)
    shifted = replace(structure, payment_interval=structure.payment_interval * 3)
    with pytest.raises(ValueError, match="payment dates"):
        ev.evaluate_many(pool, [structure, shifted], 0, defaults)


# -- what the kernel accepts ------------------------------------------------------------------


def _pilot_structure() -> Structure:
    _, _, structure, _ = _scenario(ROOT / "scenarios" / "wenzhou_interbank_note.toml", 10)
    return structure


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "partial_guarantee", "share": 0.5},
        {"cap": 1e6},
        {"timely_interest": False, "kind": "crmw"},
        {"kind": "shortfall_undertaking"},
        {"tranche": -1, "kind": "first_loss", "cap": 5e6},
    ],
)
def test_the_reduction_agrees_with_the_ledger_for_every_enhancer_kind(change) -> None:
    loaded, pool, structure, chunks = _scenario(
        ROOT / "scenarios" / "wenzhou_interbank_note.toml", 1500
    )
    changed = replace(structure, guarantees=(replace(structure.guarantees[0], **change),))
    lag = loaded.scenario.credit.recovery_lag_months
    guarantor = ev.guarantor_default_months(changed, chunks[0])
    agree(Deal(pool, changed, lag, chunks[0], guarantor))


def test_two_enhancers_of_one_tranche_are_called_in_order() -> None:
    loaded, pool, structure, chunks = _scenario(
        ROOT / "scenarios" / "wenzhou_interbank_note.toml", 1500
    )
    first = replace(structure.guarantees[0], share=0.5, kind="partial_guarantee", cap=5e6)
    second = replace(structure.guarantees[0], name="second")
    changed = replace(structure, guarantees=(first, second))
    lag = loaded.scenario.credit.recovery_lag_months
    guarantor = ev.guarantor_default_months(changed, chunks[0])
    reduced = agree(Deal(pool, changed, lag, chunks[0], guarantor))
    # The capped partial guarantee never pays beyond its cap; the second takes the rest.
    claims = [reduced.per_path[f"enhancer.{g.name}.claims"] for g in changed.guarantees]
    assert claims[0].max() <= 5e6 + CENT < claims[1].max()


def test_a_field_the_kernel_does_not_know_is_refused() -> None:
    """A structure field added later (say a new kind of cover) is not silently ignored."""

    @dataclass(frozen=True)
    class Later(Structure):
        pool_covers: tuple = ((0, 0.5),)

    structure = _pilot_structure()
    fields = {f: getattr(structure, f) for f in structure.__dataclass_fields__}
    assert not supports(Later(**fields))
    with pytest.raises(ValueError, match="does not implement"):
        lower(Later(**fields), 0, 0, 20.0)
    assert supports(Later(**fields, pool_covers=()))


def test_the_cache_goes_to_a_temporary_folder_when_the_package_is_read_only(monkeypatch) -> None:
    import numba

    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # both restored after the test
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    monkeypatch.setattr(kernel.os, "access", lambda path, mode: False)
    kernel.ensure_cache_dir()
    folder = kernel.os.environ["NUMBA_CACHE_DIR"]
    assert Path(folder).parent == Path(tempfile.gettempdir())
    assert folder == numba.config.CACHE_DIR
