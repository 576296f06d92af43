"""Compiling a waterfall spec into checked steps with resolved names.

Every name a step uses (tranche, account, enhancer) is resolved to an index here, once, so the
engine never looks anything up per path. A spec that names something unknown, or a waterfall
that could never pay a tranche its principal, is a ``ScenarioError`` naming the step and the rule
— raised before any simulation starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from securitize.errors import ScenarioError
from securitize.waterfall import spec as s


@dataclass(frozen=True)
class Fee:
    """A senior expense. ``annual_rate`` is a rate a year on the basis, except for the basis
    ``interest_collections`` (the VAT and surcharges): the share of each period's interest
    collections due."""

    name: str
    basis: str
    annual_rate: float
    amount_per_year: float
    tranche: int | None


@dataclass(frozen=True)
class Step:
    """A compiled step: its kind, its label (for errors and statements) and resolved targets."""

    kind: str
    label: str
    tranches: tuple[int, ...] = ()
    account: int | None = None
    enhancer: int | None = None
    fee: Fee | None = None
    mode: str = "sequential"
    amount: str = "principal_due"
    target: s.Target | None = None
    cover_fees: bool = False


@dataclass(frozen=True)
class Program:
    """The compiled waterfalls: combined, or interest and principal; and post-acceleration."""

    combined: tuple[Step, ...] | None
    interest: tuple[Step, ...] | None
    principal: tuple[Step, ...] | None
    accelerated: tuple[Step, ...]
    fees: tuple[Fee, ...]
    residual_tranche: int
    deferred: frozenset[int]
    deferred_accelerated: frozenset[int]

    @property
    def separate(self) -> bool:
        return self.combined is None


def _label(step: s.Step, where: str, k: int) -> str:
    what = getattr(step, "pay", None) or f"draw {step.draw}"
    return f"{where}[{k}] ({what})"


def _compile(
    steps: list[s.Step],
    where: str,
    tranches: list[str],
    accounts: list[str],
    enhancers: list[str],
    borrower_paid: frozenset[str] = frozenset(),
    tax: Fee | None = None,
) -> tuple[Step, ...]:
    def tranche(name: str, label: str) -> int:
        if name not in tranches:
            raise ScenarioError(
                f"step {label}: tranche '{name}' is not a tranche ({', '.join(tranches)})"
            )
        return tranches.index(name)

    def account(name: str, label: str) -> int:
        if name not in accounts:
            known = ", ".join(accounts) or "none defined"
            raise ScenarioError(f"step {label}: account '{name}' is not an account ({known})")
        return accounts.index(name)

    def target(t: s.Target | None, label: str) -> None:
        if t is not None and t.share_of not in (None, "pool", "notes"):
            tranche(t.share_of, label)

    out = []
    for k, step in enumerate(steps):
        label = _label(step, where, k)
        if isinstance(step, s.TaxStep):
            if tax is None:
                raise ScenarioError(f"step {label}: the deal pays no tax")
            out.append(Step("fee", label, fee=tax))
        elif isinstance(step, s.FeeStep):
            index = tranche(step.tranche, label) if step.tranche else None
            fee = Fee(step.name, step.basis, step.rate_bp / 10_000, step.amount_per_year, index)
            out.append(Step("fee", label, fee=fee))
        elif isinstance(step, s.GuaranteeFeeStep):
            if step.enhancer not in enhancers:
                known = ", ".join(enhancers) or "none defined"
                raise ScenarioError(
                    f"step {label}: enhancer '{step.enhancer}' is not an enhancer ({known})"
                )
            if step.enhancer in borrower_paid:
                raise ScenarioError(
                    f"step {label}: enhancer '{step.enhancer}' covers the pool's losses; its fee "
                    "is paid by the borrowers, not from the trust"
                )
            out.append(Step("guarantee_fee", label, enhancer=enhancers.index(step.enhancer)))
        elif isinstance(step, s.InterestStep | s.DeferredInterestStep):
            kind = "interest" if isinstance(step, s.InterestStep) else "deferred_interest"
            out.append(Step(kind, label, tuple(tranche(t, label) for t in step.tranches)))
        elif isinstance(step, s.ReserveFundStep):
            out.append(Step("reserve_fund", label, account=account(step.account, label)))
        elif isinstance(step, s.ReserveDrawStep):
            covered = tuple(tranche(t, label) for t in step.cover_interest)
            out.append(
                Step(
                    "reserve_draw",
                    label,
                    covered,
                    account=account(step.account, label),
                    cover_fees=step.cover_fees,
                )
            )
        elif isinstance(step, s.PrincipalStep):
            target(step.target, label)
            out.append(
                Step(
                    "principal",
                    label,
                    tuple(tranche(t, label) for t in step.tranches),
                    mode=step.mode,
                    amount=step.amount,
                    target=step.target,
                )
            )
        elif isinstance(step, s.ResidualStep):
            out.append(Step("residual", label, (tranche(step.tranche, label),)))
    return tuple(out)


def default_steps(tranches: list[str], fees: list[s.FeeStep], enhancers: list[str]) -> list[s.Step]:
    """The plain priority of payments: fees, guarantee fees, interest from the top, principal
    sequentially down to the performing pool, the residual to the most junior holder."""
    steps: list[s.Step] = list(fees)
    steps += [s.GuaranteeFeeStep(pay="guarantee_fee", enhancer=e) for e in enhancers]
    steps += [s.InterestStep(pay="interest", tranches=[t]) for t in tranches]
    steps.append(s.PrincipalStep(pay="principal", tranches=tranches))
    steps.append(s.ResidualStep(pay="residual", tranche=tranches[-1]))
    return steps


def accelerated_steps(
    tranches: list[str], fees: list[s.FeeStep], enhancers: list[str]
) -> list[s.Step]:
    """After acceleration: fees, then for each tranche from the top its interest and all its
    principal, before anything reaches the next one; the residual last."""
    steps: list[s.Step] = list(fees)
    steps += [s.GuaranteeFeeStep(pay="guarantee_fee", enhancer=e) for e in enhancers]
    for t in tranches:
        steps.append(s.InterestStep(pay="interest", tranches=[t]))
        steps.append(s.PrincipalStep(pay="principal", tranches=[t], amount="all"))
    steps.append(s.ResidualStep(pay="residual", tranche=tranches[-1]))
    return steps


def _check_pays_every_tranche(steps: tuple[Step, ...], tranches: list[str], where: str) -> None:
    paid = {j for step in steps if step.kind == "principal" for j in step.tranches}
    for j, name in enumerate(tranches):
        if j not in paid:
            raise ScenarioError(
                f"waterfall '{where}': no principal step pays tranche '{name}', so it could "
                "never be repaid"
            )


def _check_interest_paid(
    steps: tuple[Step, ...], tranches: list[str], coupons: list[float]
) -> None:
    paid = {
        j for step in steps if step.kind in ("interest", "deferred_interest") for j in step.tranches
    }
    for j, (name, coupon) in enumerate(zip(tranches, coupons, strict=True)):
        if coupon > 0 and j not in paid:
            raise ScenarioError(
                f"waterfall: tranche '{name}' bears interest ({coupon:.4%}) but no interest step "
                "pays it"
            )


def compile_program(
    waterfall: s.Waterfall | None,
    tranches: list[str],
    accounts: list[str],
    enhancers: list[str],
    fees: list[s.FeeStep],
    coupons: list[float] | None = None,
    borrower_paid: frozenset[str] = frozenset(),
    tax: Fee | None = None,
) -> Program:
    """Check and resolve the scenario's waterfall (or the plain default one). Enhancers in
    ``borrower_paid`` are paid their fees outside the trust: no step may pay them. ``tax``:
    the VAT and surcharges a ``tax`` step pays (the default waterfall pays it first)."""
    if waterfall is None:
        trust_paid = [e for e in enhancers if e not in borrower_paid]
        steps = default_steps(tranches, fees, trust_paid)
        if tax is not None:
            steps.insert(0, s.TaxStep(pay="tax"))
        waterfall = s.Waterfall(combined=steps)
    elif fees:
        raise ScenarioError(
            "[[fees]] and [waterfall] both given: with a [waterfall], define each fee as a "
            "fee step inside it"
        )
    coupons = coupons if coupons is not None else [0.0] * len(tranches)
    parts = {}
    for where in ("combined", "interest", "principal", "accelerated"):
        steps = getattr(waterfall, where)
        parts[where] = (
            None
            if steps is None
            else _compile(steps, where, tranches, accounts, enhancers, borrower_paid, tax)
        )
    main = parts["combined"] or (parts["interest"] or ()) + (parts["principal"] or ())
    _check_pays_every_tranche(main, tranches, "combined" if parts["combined"] else "principal")
    fee_steps = [step.fee for step in main if step.fee is not None]
    if parts["accelerated"] is not None:
        # A fee the post-acceleration waterfall adds accrues like any other; one it shares
        # with the main waterfall keeps the main waterfall's terms.
        named = {fee.name for fee in fee_steps}
        fee_steps += [
            step.fee
            for step in parts["accelerated"]
            if step.fee is not None and step.fee.name not in named
        ]
    all_fees = tuple(fee_steps)
    if parts["accelerated"] is None:
        parts["accelerated"] = _accelerated_from(main, tranches, enhancers)
    else:
        _check_pays_every_tranche(parts["accelerated"], tranches, "accelerated")

    def deferred_in(*programs: tuple[Step, ...] | None) -> frozenset[int]:
        """Tranches whose arrears only a deferred_interest step of these programs pays."""
        return frozenset(
            j
            for steps in programs
            if steps
            for step in steps
            if step.kind == "deferred_interest"
            for j in step.tranches
        )

    _check_interest_paid(main, tranches, coupons)
    return Program(
        parts["combined"],
        parts["interest"],
        parts["principal"],
        parts["accelerated"],
        all_fees,
        next(
            (step.tranches[0] for step in reversed(main) if step.kind == "residual"),
            len(tranches) - 1,
        ),
        deferred_in(parts["combined"], parts["interest"], parts["principal"]),
        deferred_in(parts["accelerated"]),
    )


def _accelerated_from(
    main: tuple[Step, ...], tranches: list[str], enhancers: list[str]
) -> tuple[Step, ...]:
    """The default post-acceleration waterfall, with the deal's own fee steps first."""
    fee_steps = tuple(step for step in main if step.kind in ("fee", "guarantee_fee"))
    rest = accelerated_steps(tranches, [], [])
    return fee_steps + _compile(rest, "accelerated", tranches, [], enhancers)
