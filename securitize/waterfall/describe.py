"""The priority of payments in words: what the memo and results.json say the deal pays.

Generated from the compiled program, so the disclosed order is always the one the engine runs
(never prose that could drift from it).
"""

from __future__ import annotations

from typing import Any

from securitize.structure import Structure
from securitize.waterfall.program import Step
from securitize.waterfall.spec import Target


def _target(target: Target) -> str:
    if target.amount is not None:
        return f"CNY {target.amount:,.0f}"
    base = {"pool": "the performing pool", "notes": "all notes"}.get(
        target.share_of, f"the {target.share_of} balance"
    )
    floor = f", at least CNY {target.floor:,.0f}" if target.floor else ""
    return f"{100 * target.share:g}% of {base}{floor}"


def describe_step(step: Step, structure: Structure, deferred: frozenset[int] = frozenset()) -> str:
    """One step as a sentence fragment (``deferred``: tranches whose arrears a deferred-interest
    step pays, so their interest steps pay current interest only)."""
    names = [structure.tranches[j].name for j in step.tranches]
    joined = " → ".join(names) if step.mode == "sequential" else " and ".join(names)
    if step.kind == "fee":
        fee = step.fee
        if fee.basis == "interest_collections":
            return f"tax {fee.name}: {100 * fee.annual_rate:.4g}% of the interest collected"
        if fee.basis == "fixed":
            return f"fee {fee.name}: CNY {fee.amount_per_year:,.0f} a year"
        base = (
            "the performing pool"
            if fee.basis == "pool_balance"
            else (f"the {structure.tranches[fee.tranche].name} balance")
        )
        return f"fee {fee.name}: {10_000 * fee.annual_rate:g} bp a year on {base}"
    if step.kind == "guarantee_fee":
        g = structure.guarantees[step.enhancer]
        return (
            f"guarantee fee of {g.name}: {10_000 * g.net_fee_rate:g} bp a year on the "
            f"{structure.tranches[g.tranche].name} balance"
        )
    if step.kind == "interest":
        spread = "" if len(names) == 1 else " (pro rata)"
        if all(j in deferred for j in step.tranches):
            return f"current interest to {' and '.join(names)}{spread} (arrears are deferred)"
        return f"interest to {' and '.join(names)}{spread}: arrears first, then current"
    if step.kind == "deferred_interest":
        return f"deferred interest of {' and '.join(names)}"
    if step.kind == "reserve_fund":
        account = structure.accounts[step.account]
        return f"fund reserve {account.name} to {_target(account.target)}"
    if step.kind == "reserve_draw":
        account = structure.accounts[step.account]
        covered = (["fees"] if step.cover_fees else []) + [f"{n} interest" for n in names]
        return f"draw reserve {account.name} to cover {', '.join(covered) or 'nothing'}"
    if step.kind == "principal":
        amount = {
            "principal_due": "the principal due (notes down to the performing pool)",
            "all": "all remaining cash (turbo)",
            "to_target": f"down to {_target(step.target)}" if step.target else "to target",
        }[step.amount]
        return f"principal, {step.mode.replace('_', ' ')}, {joined}: {amount}"
    if step.kind == "residual":
        return f"residual to {names[0]}"
    return step.label


def describe(structure: Structure) -> dict[str, Any]:
    """The waterfalls, accounts, triggers and calls of a structure, in words."""
    program = structure.program
    waterfalls = {}
    for name in ("combined", "interest", "principal", "accelerated"):
        steps = getattr(program, name)
        if steps:
            deferred = program.deferred_accelerated if name == "accelerated" else program.deferred
            waterfalls[name] = [describe_step(step, structure, deferred) for step in steps]
    return {
        "waterfalls": waterfalls,
        "accounts": [
            {"name": a.name, "target": _target(a.target), "initial": a.initial}
            for a in structure.accounts
        ],
        "triggers": [
            {
                "name": t.name,
                "test": t.metric
                + (f" above {t.above:g}" if t.above is not None else "")
                + (f" below {t.below:g}" if t.below is not None else ""),
                "effect": t.effect,
                "curable": t.curable,
            }
            for t in structure.triggers
        ],
        "clean_up_call": structure.clean_up_call,
    }
