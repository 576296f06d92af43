"""Helpers for the hand-computed waterfall tests: the two-loan deal and a one-path runner.

tests/test_hand_computed_deal.py works the deal below out by hand; tests/test_waterfall.py
reruns it with the priority of payments written out. Both run deals on a single path with
default and prepayment events given loan by loan, which is what ``run_one_path`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from securitize.collections import Collections
from securitize.period_cash import collect
from securitize.pool import Pool, build_pool
from securitize.scenario import LoadedScenario, load_scenario
from securitize.structure import Structure, build_structure
from securitize.waterfall.ledger import Ledger, run_waterfall

HAND_TAPE = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,pd,recovery_rate\n"
    "L1,Alpha Tech,Software,Lucheng,1000000,0.06,12,bullet,80,0,0.02,0.40\n"
    "L2,Beta Tech,New materials,Ruian,1000000,0.06,12,bullet,80,0,0.02,0.40\n"
)


def two_tranches(senior_coupon: float = 0.04) -> str:
    """The usual notes: a senior 1,800,000 at ``senior_coupon`` over a zero-coupon 200,000."""
    return f"""
[[tranches]]
name = "senior"
balance = 1800000
coupon = {senior_coupon}

[[tranches]]
name = "subordinated"
balance = 200000
"""


# The hand-computed deal over HAND_TAPE, without fees (each test file adds its own).
HAND_DEAL = """
[deal]
name = "hand_computed"
closing_date = 2024-01-01
payment_interval_months = 3
legal_final_months = 15

[pool]
tape = "tape.csv"

[credit]
recovery_lag_months = 3
""" + two_tranches()

TRUSTEE_FEE = '\n[[fees]]\nname = "trustee"\nrate_bp = 50\n'


def build_deal(
    folder: Path, text: str, tape: str | None = None
) -> tuple[LoadedScenario, Pool, Structure]:
    """Write the scenario (and its tape) into ``folder`` and resolve it as a run would."""
    if tape is not None:
        (folder / "tape.csv").write_text(tape, encoding="utf-8")
    scenario = folder / "deal.toml"
    scenario.write_text(text, encoding="utf-8")
    loaded = load_scenario(scenario)
    pool = build_pool(loaded)
    return loaded, pool, build_structure(loaded, pool)


def events(rows: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(path, loan, month) arrays on path 0 from (loan, month) pairs, as ``collect`` takes them."""
    array = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return np.zeros(len(array), dtype=np.int64), array[:, 0], array[:, 1]


def run_one_path(
    folder: Path,
    text: str,
    defaults: Sequence[tuple[int, int]] = (),
    prepayments: Sequence[tuple[int, int]] = (),
    tape: str | None = None,
    guarantor_default_month: int | None = None,
) -> tuple[Structure, Collections, Ledger]:
    """Run one path with defaults and prepayments given as (0-based loan, month).

    Every guarantor defaults in ``guarantor_default_month``; by default after the horizon,
    that is never.
    """
    loaded, pool, structure = build_deal(folder, text, tape)
    path, loan, month = events(defaults)
    collections = collect(
        pool.schedule,
        pool.recovery_rate,
        loaded.scenario.credit.recovery_lag_months,
        structure.horizon,
        1,
        path,
        loan,
        month,
        prepayments=events(prepayments),
    )
    default_month = (
        structure.horizon + 1 if guarantor_default_month is None else guarantor_default_month
    )
    guarantor = np.full((1, len(structure.guarantees)), default_month)
    return structure, collections, run_waterfall(structure, collections, guarantor)


def kernel_one_path(
    folder: Path,
    text: str,
    defaults: Sequence[tuple[int, int]] = (),
    tape: str | None = None,
) -> tuple[Structure, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``run_one_path`` reduced by the kernel as design evaluation has it (no ledger): the
    path's figures (``kernel_lower.path_series``) and its per-date values (``period_series``;
    with one path of weight 1 a date's sum is the path's value)."""
    from securitize.waterfall import kernel

    structure, collections, _ = run_one_path(folder, text, defaults, tape=tape)
    period = collections.by_period(structure.payment_months, structure.pool_balance)
    guarantor = np.full((1, len(structure.guarantees)), structure.horizon + 1)
    per_path, sums, _ = kernel.ledger_outcomes(structure, period, guarantor, None)
    values = {name: total for name, (total, _) in sums.items()}
    return structure, {name: v[0] for name, v in per_path.items()}, values
