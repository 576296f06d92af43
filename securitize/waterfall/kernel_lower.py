"""Lowering a structure to the flat numeric arrays the compiled kernel runs on.

The kernel (``kernel_loop.py``) knows steps, targets, fees, guarantees and triggers only as
integer codes and float arrays. This module builds them from a ``Structure`` and its compiled
program and names the kernel's output rows. ``supports`` whitelists exactly the features written
into the kernel: a structure with a field it does not know (a feature added to the structure
but not yet to the kernel) is refused by ``lower`` rather than run wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from securitize.structure import Structure
from securitize.waterfall import kernel_codes as k
from securitize.waterfall.program import Step
from securitize.waterfall.spec import Target

_STEP_KINDS = {
    "fee": k.FEE,
    "guarantee_fee": k.GUARANTEE_FEE,
    "interest": k.INTEREST,
    "deferred_interest": k.DEFERRED,
    "reserve_fund": k.FUND,
    "reserve_draw": k.DRAW,
    "principal": k.PRINCIPAL,
    "residual": k.RESIDUAL,
}
_AMOUNTS = {"principal_due": k.DUE, "all": k.ALL, "to_target": k.TO_TARGET}
_MODES = {"sequential": 0, "pro_rata": 1}
_METRICS = {
    "cumulative_default_ratio": k.DEFAULT_RATIO,
    "overcollateralisation": k.OVERCOLLATERALISATION,
    "interest_shortfall": k.SHORTFALL,
}
_EFFECTS = ("sequential", "accelerate")
_FEE_BASES = {
    "pool_balance": k.POOL_FEE,
    "tranche_balance": k.TRANCHE_FEE,
    "fixed": k.FIXED_FEE,
    "interest_collections": k.INTEREST_FEE,
}

# Fields the kernel implements, and for fields it does not, the value under which they change
# nothing (a field missing here, or set to anything else, makes ``lower`` refuse the structure).
_STRUCTURE_FIELDS = {
    "tranches",
    "guarantees",
    "horizon",
    "payment_interval",
    "pool_balance",
    "program",
    "accounts",
    "triggers",
    "loss_tranches",
    "clean_up_call",
    "dates",
    "day_count_fractions",
}
_GUARANTEE_FIELDS = {
    "name",
    "tranche",
    "net_fee_rate",
    "annual_pd",
    "asset_correlation",
    "recovery_rate",
    "spec",
    "capital",
    "kind",
    "share",
    "cap",
    "timely_interest",
    "cover_factor",
}
_TRANCHE_FIELDS = {
    "name",
    "balance",
    "coupon",
    "holder",
    "deferrable",
    "expected_maturity_months",
    "coupon_path",
    "put_month",
    "put_exercised",
    "call_month",
}
_PROGRAM_FIELDS = {
    "combined",
    "interest",
    "principal",
    "accelerated",
    "fees",
    "residual_tranche",
    "deferred",
    "deferred_accelerated",
}
_STEP_FIELDS = {
    "kind",
    "label",
    "tranches",
    "account",
    "enhancer",
    "fee",
    "mode",
    "amount",
    "target",
    "cover_fees",
}
_FEE_FIELDS = {"name", "basis", "annual_rate", "amount_per_year", "tranche"}
_NEUTRAL = {"pool_covers": ()}


def _plain(obj: object, known: set[str]) -> bool:
    """Every field of the dataclass ``obj`` is one the kernel implements, or holds the value
    under which it changes nothing."""
    for f in fields(obj):
        if f.name in known:
            continue
        if f.name not in _NEUTRAL:
            return False
        value, neutral = getattr(obj, f.name), _NEUTRAL[f.name]
        if neutral is None:
            if value is not None:
                return False
        elif isinstance(neutral, tuple):
            if len(value) != 0:
                return False
        elif value != neutral:
            return False
    return True


def _steps(structure: Structure) -> tuple[Step, ...]:
    program = structure.program
    main = program.combined or (program.interest or ()) + (program.principal or ())
    return main + program.accelerated


def supports(structure: Structure) -> bool:
    """Whether the kernel implements everything this structure uses."""
    if not _plain(structure, _STRUCTURE_FIELDS) or not _plain(structure.program, _PROGRAM_FIELDS):
        return False
    if not structure.tranches or not all(_plain(t, _TRANCHE_FIELDS) for t in structure.tranches):
        return False
    for g in structure.guarantees:
        if not _plain(g, _GUARANTEE_FIELDS):
            return False
    for fee in structure.program.fees:
        if not _plain(fee, _FEE_FIELDS) or fee.basis not in _FEE_BASES:
            return False
    for trigger in structure.triggers:
        if trigger.metric not in _METRICS or trigger.effect not in _EFFECTS:
            return False
    for step in _steps(structure):
        if not _plain(step, _STEP_FIELDS) or step.kind not in _STEP_KINDS:
            return False
        if step.mode not in _MODES or step.amount not in _AMOUNTS:
            return False
        if len(set(step.tranches)) != len(step.tranches):
            return False
        if step.kind == "fee" and step.fee.name not in {f.name for f in structure.program.fees}:
            return False
    return True


def _cover_kind(g) -> int:
    """What the enhancer covers, as the kernel's code."""
    if g.kind == "first_loss":
        return k.FIRST_LOSS
    return k.POOL_COVER if g.pool_level else k.TRANCHE_COVER


def _redeemable(structure: Structure) -> list:
    """Tranches with a put or a call: their per-date redeemed flag is reported."""
    return [t for t in structure.tranches if t.put_month is not None or t.call_month is not None]


def _period_of(structure: Structure, month: int | None) -> int:
    """The payment period (0-based) whose payment month is ``month``; −1 for none."""
    if month is None:
        return -1
    return [int(m) for m in structure.payment_months].index(month)


def period_series(structure: Structure) -> list[str]:
    """Names of the kernel's per-period rows, in ``evaluate.summarise``'s order."""
    names = ["available", "due", "residual"]
    names += [f"fee.{f.name}" for f in structure.program.fees]
    names += [f"fee.{g.name}" for g in structure.guarantees]
    names += [f"account.{a.name}" for a in structure.accounts]
    names += [f"trigger.{t.name}" for t in structure.triggers]
    names.append("accelerated")
    names += [f"tranche.{t.name}.redeemed" for t in _redeemable(structure)]
    for t in structure.tranches:
        key = f"tranche.{t.name}"
        names += [
            f"{key}.standalone.interest",
            f"{key}.standalone.principal",
            f"{key}.wrapped.interest",
            f"{key}.wrapped.principal",
            f"{key}.balance",
        ]
    for g in structure.guarantees:
        names += [f"enhancer.{g.name}.claims", f"enhancer.{g.name}.cover"]
    if structure.pool_enhancers:
        names.append("pool_cover_cash")
    return names


def path_series(structure: Structure) -> list[str]:
    """Names of the kernel's per-path rows, in ``evaluate.summarise``'s order."""
    names = []
    for t in structure.tranches:
        key = f"tranche.{t.name}"
        names += [
            f"{key}.standalone.loss",
            f"{key}.wrapped.loss",
            f"{key}.standalone.wal",
            f"{key}.wrapped.wal",
            f"{key}.standalone.irr",
            f"{key}.wrapped.irr",
            f"{key}.interest_shortfall",
        ]
    for g in structure.guarantees:
        key = f"enhancer.{g.name}"
        names += [
            f"{key}.claims",
            f"{key}.net_claims",
            f"{key}.pv_net_claims",
            f"{key}.fees",
            f"{key}.pv_fees",
            f"{key}.pv_cover",
            f"{key}.cover_years",
        ]
    return names


# Each tranche's per-date ledger rows, in the kernel's order (``waterfall.ledger.TRANCHE_SERIES``).
TRANCHE_SERIES = (
    "interest_paid",
    "principal_paid",
    "guarantor_reimbursed",
    "guarantor_interest",
    "guarantor_principal",
    "interest_due",
    "balance",
    "shortfall",
)
# Each tranche's end-of-deal amounts.
TRANCHE_TOTALS = ("unpaid_principal", "investor_arrears", "guarantor_arrears")


def ledger_series(structure: Structure) -> list[tuple[str, str]]:
    """The kernel's per-date ledger rows in ledger mode, as (table, name) pairs: the ledger's
    own series (name ""), then its tables by fee, account, trigger, enhancer and redeemable
    tranche, then each tranche's series (table "tranche.<index>")."""
    fees = [f.name for f in structure.program.fees] + [g.name for g in structure.guarantees]
    rows = [
        (name, "") for name in ("available", "due", "residual", "accelerated", "called", "carried")
    ]
    rows.append(("cover_cash", ""))
    rows += [("fees_paid", name) for name in fees]
    for table in ("accounts", "deposits", "draws"):
        rows += [(table, a.name) for a in structure.accounts]
    rows += [("triggers", t.name) for t in structure.triggers]
    for table in ("claims", "reimbursed", "cover_base"):
        rows += [(table, g.name) for g in structure.guarantees]
    rows += [("redeemed", t.name) for t in _redeemable(structure)]
    for j in range(len(structure.tranches)):
        rows += [(f"tranche.{j}", name) for name in TRANCHE_SERIES]
    return rows


def ledger_ends(structure: Structure) -> list[tuple[str, str]]:
    """The kernel's end-of-deal rows in ledger mode: each tranche's ``TRANCHE_TOTALS``, then
    every fee's and enhancer's unpaid fee."""
    rows = [
        (f"tranche.{j}", name) for j in range(len(structure.tranches)) for name in TRANCHE_TOTALS
    ]
    fees = [f.name for f in structure.program.fees] + [g.name for g in structure.guarantees]
    return rows + [("unpaid_fees", name) for name in fees]


@dataclass(frozen=True)
class Lowered:
    """The structure as the kernel's positional arguments (after the collections)."""

    arrays: tuple[np.ndarray, ...]


def _ints(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _floats(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float64)


class _Targets:
    """Targets of accounts and principal steps, gathered into one table."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.kind: list[int] = []
        self.value: list[float] = []
        self.share: list[float] = []
        self.floor: list[float] = []
        self.tranche: list[int] = []

    def add(self, target: Target) -> int:
        if target.amount is not None:
            self.kind.append(k.AMOUNT_TARGET)
            self.tranche.append(0)
        elif target.share_of == "pool":
            self.kind.append(k.POOL)
            self.tranche.append(0)
        elif target.share_of == "notes":
            self.kind.append(k.NOTES)
            self.tranche.append(0)
        else:
            self.kind.append(k.TRANCHE)
            self.tranche.append(self.names.index(target.share_of))
        self.value.append(target.amount if target.amount is not None else 0.0)
        self.share.append(target.share if target.share is not None else 0.0)
        self.floor.append(target.floor)
        return len(self.kind) - 1

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (
            _ints(self.kind),
            _floats(self.value),
            _floats(self.share),
            _floats(self.floor),
            _ints(self.tranche),
        )


def accrual(structure: Structure) -> np.ndarray:
    """Each tranche's interest per unit of balance on each payment date (tranches × periods):
    the period's coupon (after resets and the index path) × its year fraction, the tranche's
    day count on the deal's dates or 30/360 on the month grid."""
    months = structure.months_per_period
    fractions = structure.day_count_fractions
    table = np.zeros((len(structure.tranches), len(months)))
    for j, t in enumerate(structure.tranches):
        for p in range(len(months)):
            fraction = float(months[p]) / 12.0 if fractions is None else float(fractions[j, p])
            table[j, p] = t.coupon_in(p) * fraction
    return table


def fee_years(structure: Structure) -> np.ndarray:
    """Each period's year fraction for fees that accrue by time (on a tranche's balance, a
    fixed amount a year, a guarantee's cover): the deal's day count between its payment dates
    on a dated deal, months / 12 on the grid."""
    if structure.dates is None:
        return structure.months_per_period / 12.0
    return structure.dates["year_fraction"].to_numpy(dtype=np.float64)


def lower(
    structure: Structure,
    bisections: int,
    newton: int,
    rate_limit: float,
    periods: bool = True,
    ledger: bool = False,
) -> Lowered:
    """The structure's flat arrays (``supports(structure)`` must hold); ``bisections`` and
    ``newton`` are the yield solver's iterations (none: no yields), ``periods`` whether the
    per-period sums are wanted, ``ledger`` whether the kernel writes the whole ledger."""
    if not supports(structure):
        raise ValueError("the waterfall kernel does not implement a field of this structure")
    program = structure.program
    tranches = structure.tranches
    names = [t.name for t in tranches]
    fee_index = {f.name: i for i, f in enumerate(program.fees)}
    targets = _Targets(names)
    account_target = [targets.add(a.target) for a in structure.accounts]

    rows: list[list[int]] = []
    flat: list[int] = []

    def add(steps: tuple[Step, ...]) -> list[int]:
        start = len(rows)
        for step in steps:
            arg = 0
            if step.kind == "fee":
                arg = fee_index[step.fee.name]
            elif step.kind == "guarantee_fee":
                arg = step.enhancer
            elif step.kind in ("reserve_fund", "reserve_draw"):
                arg = step.account
            target = targets.add(step.target) if step.target is not None else -1
            rows.append(
                [
                    _STEP_KINDS[step.kind],
                    arg,
                    _MODES[step.mode],
                    _AMOUNTS[step.amount],
                    target,
                    int(step.cover_fees),
                    len(flat),
                    len(step.tranches),
                ]
            )
            flat.extend(step.tranches)
        return [start, len(rows)]

    if program.separate:
        programs = [add(program.interest), add(program.principal)]
    else:
        programs = [add(program.combined), [0, 0]]
    programs.append(add(program.accelerated))

    calls = [k for j in range(len(names)) for k in structure.enhancers_of(j)]
    call_start = np.cumsum([0] + [len(structure.enhancers_of(j)) for j in range(len(names))])
    guarantees = structure.guarantees
    pool_slot = {k: slot for slot, k in enumerate(structure.pool_enhancers)}
    call = structure.clean_up_call
    triggers = structure.triggers
    arrays = (
        _floats([t.balance for t in structure.tranches]),
        accrual(structure),
        _ints([int(t.deferrable) for t in structure.tranches]),
        _ints([_period_of(structure, t.put_month if t.put_exercised else None) for t in tranches]),
        _ints([_period_of(structure, t.call_month) for t in tranches]),
        _ints([int(t.put_month is not None or t.call_month is not None) for t in tranches]),
        _ints(calls),
        call_start.astype(np.int64),
        _ints([_FEE_BASES[f.basis] for f in program.fees]),
        _floats([f.annual_rate for f in program.fees]),
        _floats([f.amount_per_year for f in program.fees]),
        _ints([f.tranche if f.tranche is not None else 0 for f in program.fees]),
        np.array(
            [[g.share, g.cap, g.recovery_rate, g.net_fee_rate, g.cover_factor] for g in guarantees],
            dtype=np.float64,
        ).reshape(-1, 5),
        np.array(
            [
                [g.tranche, int(g.timely_interest), _cover_kind(g), pool_slot.get(k, -1)]
                for k, g in enumerate(guarantees)
            ],
            dtype=np.int64,
        ).reshape(-1, 4),
        _floats([a.initial for a in structure.accounts]),
        _ints(account_target),
        *targets.arrays(),
        _ints([_METRICS[t.metric] for t in triggers]),
        _ints([int(t.above is not None) for t in triggers]),
        _floats([t.above if t.above is not None else (t.below or 0.0) for t in triggers]),
        _ints([int(t.effect == "accelerate") for t in triggers]),
        _ints([int(t.curable) for t in triggers]),
        np.array(rows, dtype=np.int64).reshape(-1, 8),
        _ints(flat),
        np.array(programs, dtype=np.int64),
        _ints([int(j in program.deferred) for j in range(len(names))]),
        _ints([int(j in program.deferred_accelerated) for j in range(len(names))]),
        fee_years(structure),
        _ints(
            [
                int(program.separate),
                int(call is not None),
                program.residual_tranche,
                bisections,
                newton,
                int(periods),
                int(ledger),
                int(structure.dates is not None),
            ]
        ),
        _floats(
            [structure.pool_balance, call * structure.pool_balance if call else 0.0, rate_limit]
        ),
    )
    return Lowered(arrays)
