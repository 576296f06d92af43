"""The compiled waterfall kernel gives the numpy engine's figures.

Design evaluation runs on ``securitize/waterfall/kernel.py`` when numba is installed and the
kernel implements the structure. Each test here evaluates the same chunk of paths both ways —
``evaluate.summarise`` on the numpy engine's ledger, and ``evaluate.summarise_compiled`` — and
requires every per-path figure and every per-period and per-month sum to agree to 1e-9 of the
series' scale (the kernel repeats the engine's arithmetic; only the order of sums over paths and
the yield solver's discounting differ, at the level of rounding).

Deals come from the conservation tests' generator (every step type, triggers, reserve
accounts, clean-up call, guarantees, random defaults and prepayments), widened here: paths are
repeated with shifted guarantor defaults to fill several blocks of the kernel's lanes, some draws
carry importance weights, some add a custom post-acceleration waterfall. On the generator's raw
deals the kernel must either decline the structure (``supports``) or agree; on deals restricted
to what it implements it must agree. The bundled scenarios are checked the same way on paths of
their own credit model, and ``evaluate`` end to end with and without the kernel.
"""

from __future__ import annotations

import datetime as dt
import math
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
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.pool import Pool, build_pool
from securitize.scenario import LoadedScenario, load_scenario, parse_scenario, with_fields
from securitize.structure import Structure, build_structure
from securitize.waterfall import kernel
from securitize.waterfall.engine import run_waterfall
from securitize.waterfall.kernel_codes import LANES
from securitize.waterfall.kernel_lower import supports
from tests.conftest import ROOT
from tests.test_conservation import Spec, specs

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RELATIVE = 1e-9
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


@dataclass(frozen=True)
class Deal:
    pool: Pool
    structure: Structure
    lag: int
    chunk: DefaultChunk
    guarantor: np.ndarray


# -- the two evaluations ---------------------------------------------------------------------


def both(deal: Deal) -> tuple[ev.Outcomes, ev.Outcomes]:
    """The chunk's outcomes from the numpy engine's ledger and from the compiled kernel."""
    period, loss = ev.chunk_collections(deal.pool, deal.structure, deal.lag, deal.chunk)
    covers = pool_cover_claims(deal.pool, deal.structure, deal.chunk)
    ledger = run_waterfall(deal.structure, period, deal.guarantor, covers)
    reference = ev.summarise(deal.pool, deal.structure, deal.chunk, period, loss, ledger)
    shared = ev.share_chunk(deal.pool, deal.structure, deal.lag, deal.chunk, blocks=True)
    compiled = ev.summarise_compiled(deal.structure, shared, deal.guarantor, pool_claims=covers)
    return reference, compiled


def assert_close(got: np.ndarray, expected: np.ndarray, name: str) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, name
    finite = expected[np.isfinite(expected)]
    scale = max(float(np.abs(finite).max()) if finite.size else 0.0, 1.0)
    np.testing.assert_allclose(
        got, expected, rtol=RELATIVE, atol=RELATIVE * scale, equal_nan=True, err_msg=name
    )


def assert_same_outcomes(reference: ev.Outcomes, compiled: ev.Outcomes) -> None:
    """Every figure, under the same names in the same order."""
    assert compiled.paths == reference.paths
    assert list(compiled.per_path) == list(reference.per_path)
    assert list(compiled.per_month) == list(reference.per_month)
    assert list(compiled.per_period) == list(reference.per_period)
    for name, values in reference.per_path.items():
        assert_close(compiled.per_path[name], values, f"per path {name}")
    for table in ("per_month", "per_period"):
        for name, (total, square) in getattr(reference, table).items():
            got_total, got_square = getattr(compiled, table)[name]
            assert_close(got_total, total, f"{table} {name} sum")
            assert_close(got_square, square, f"{table} {name} sum of squares")


# -- deals from the conservation generator ----------------------------------------------------


def _only_what_the_kernel_implements(data: dict[str, Any]) -> dict[str, Any]:
    """The deal with its enhancers cut down to one full guarantee (the kernel's enhancer)."""
    data = dict(data)
    kept = [dict(e) for e in data.get("enhancers", []) if e["name"] == "guarantor"]
    for enhancer in kept:
        enhancer["type"] = "full_guarantee"
        enhancer.pop("share", None)
        enhancer.pop("cap", None)
    data["enhancers"] = kept
    names = {e["name"] for e in kept}
    if "waterfall" in data:
        data["waterfall"] = {
            part: [s for s in steps if "enhancer" not in s or s["enhancer"] in names]
            for part, steps in data["waterfall"].items()
        }
    return data


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
def deals(draw: Any, restricted: bool) -> tuple[Spec, dict[str, Any], int, int]:
    """A generated deal (its data), how many times its paths repeat, and a weights seed (or
    -1 for plain Monte Carlo)."""
    spec = draw(specs())
    data = _only_what_the_kernel_implements(spec.data) if restricted else spec.data
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


def _unsupported_feature(structure: Structure) -> bool:
    """Whether the structure uses an enhancer or waterfall feature the kernel does not
    implement (puts and calls among them)."""
    tranches = [g.tranche for g in structure.guarantees]
    numpy_only = any(
        t.put_month is not None or t.call_month is not None for t in structure.tranches
    )
    return (
        numpy_only
        or any(
            g.kind != "full_guarantee" or g.tranche < 0 or g.share != 1.0 or g.cap != math.inf
            for g in structure.guarantees
        )
        or len(set(tranches)) != len(tranches)
    )


@SETTINGS
@given(deals(restricted=True))
def test_kernel_gives_the_engines_figures_on_random_deals(drawn) -> None:
    deal = build_deal(*drawn)
    assert supports(deal.structure)
    assert_same_outcomes(*both(deal))


@SETTINGS
@given(deals(restricted=False))
def test_kernel_declines_or_agrees_on_every_generated_deal(drawn) -> None:
    deal = build_deal(*drawn)
    if not supports(deal.structure):
        assert _unsupported_feature(deal.structure)
        return
    assert_same_outcomes(*both(deal))


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
    reference, compiled = both(deal)
    accelerated = reference.per_period["accelerated"][0]
    assert 0 < accelerated[-1] < deal.chunk.paths
    assert_same_outcomes(reference, compiled)


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
def test_kernel_gives_the_engines_figures_on_the_bundled_scenarios(path: Path) -> None:
    try:
        loaded, pool, structure, chunks = _scenario(path, 1500)
    except Exception as exc:  # a programme book is not a single deal
        assert "programme" in str(exc)
        return
    if not supports(structure):
        assert _unsupported_feature(structure)
        return
    for chunk in chunks:
        guarantor = ev.guarantor_default_months(structure, chunk)
        lag = loaded.scenario.credit.recovery_lag_months
        assert_same_outcomes(*both(Deal(pool, structure, lag, chunk, guarantor)))


def test_the_pilot_deal_runs_on_the_kernel() -> None:
    _, _, structure, _ = _scenario(ROOT / "scenarios" / "wenzhou_interbank_note.toml", 10)
    assert kernel.usable(structure)


def test_evaluate_gives_the_same_outcomes_with_and_without_the_kernel() -> None:
    """The dispatch in ``evaluate``: same scenario, seed and paths, the same figures."""
    path = ROOT / "scenarios" / "wenzhou_senior_mezz_reserve.toml"
    loaded, pool, structure, _ = _scenario(path, 10)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    defaults = simulate_defaults(model, 3000, 11, 1000, 1)
    lag = loaded.scenario.credit.recovery_lag_months
    assert kernel.usable(structure)
    compiled = ev.evaluate(pool, structure, lag, defaults, compiled=True)
    reference = ev.evaluate(pool, structure, lag, defaults)
    assert_same_outcomes(reference, compiled)
    # Design evaluation without yields: the same figures, less the yields, on both engines.
    lean = ev.evaluate(pool, structure, lag, defaults, compiled=True, yields=False)
    lean_reference = ev.evaluate(pool, structure, lag, defaults, yields=False)
    assert_same_outcomes(lean_reference, lean)
    assert set(lean.per_path) == {k for k in reference.per_path if not k.endswith(".irr")}
    for name, values in lean.per_path.items():
        np.testing.assert_array_equal(values, compiled.per_path[name])
    # Per-path figures alone, as designs are evaluated: the same per-path figures, no sums.
    bare = ev.evaluate(pool, structure, lag, defaults, compiled=True, yields=False, periods=False)
    bare_reference = ev.evaluate(pool, structure, lag, defaults, yields=False, periods=False)
    assert bare.per_month == bare.per_period == bare_reference.per_period == {}
    assert_same_outcomes(bare_reference, bare)
    for name, values in bare.per_path.items():
        np.testing.assert_array_equal(values, lean.per_path[name])
    # The kernel itself skips the per-period work (its cross moment is left at zero).
    chunk = defaults.chunk(0)
    shared = ev.share_chunk(pool, structure, lag, chunk, blocks=True)
    months = ev.guarantor_default_months(structure, chunk)
    _, sums, cross = kernel.ledger_outcomes(
        structure, shared.period, months, None, False, shared.blocks, periods=False
    )
    assert sums == {} and not cross.any()
    _, sums, cross = kernel.ledger_outcomes(structure, shared.period, months, None, False)
    assert sums and cross.all()


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
    assert [kernel.usable(s) for s in designs] == [True, True, True]
    together = ev.evaluate_many(pool, designs, lag, defaults, compiled=True, yields=False)
    for design, outcomes in zip(designs, together, strict=True):
        alone = ev.evaluate(pool, design, lag, defaults, compiled=True, yields=False)
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
def test_the_kernel_gives_the_engines_figures_for_every_enhancer_kind(change) -> None:
    loaded, pool, structure, chunks = _scenario(
        ROOT / "scenarios" / "wenzhou_interbank_note.toml", 1500
    )
    changed = replace(structure, guarantees=(replace(structure.guarantees[0], **change),))
    assert supports(changed)
    lag = loaded.scenario.credit.recovery_lag_months
    guarantor = ev.guarantor_default_months(changed, chunks[0])
    assert_same_outcomes(*both(Deal(pool, changed, lag, chunks[0], guarantor)))


def test_two_enhancers_of_one_tranche_run_on_the_kernel_in_call_order() -> None:
    loaded, pool, structure, chunks = _scenario(
        ROOT / "scenarios" / "wenzhou_interbank_note.toml", 1500
    )
    first = replace(structure.guarantees[0], share=0.5, kind="partial_guarantee", cap=5e6)
    second = replace(structure.guarantees[0], name="second")
    changed = replace(structure, guarantees=(first, second))
    assert supports(changed)
    lag = loaded.scenario.credit.recovery_lag_months
    guarantor = ev.guarantor_default_months(changed, chunks[0])
    assert_same_outcomes(*both(Deal(pool, changed, lag, chunks[0], guarantor)))


def test_a_field_the_kernel_does_not_know_sends_the_deal_to_numpy() -> None:
    """A structure field added later (say a new kind of cover) is not silently ignored."""

    @dataclass(frozen=True)
    class Later(Structure):
        pool_covers: tuple = ((0, 0.5),)

    structure = _pilot_structure()
    fields = {f: getattr(structure, f) for f in structure.__dataclass_fields__}
    assert not supports(Later(**fields))
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
