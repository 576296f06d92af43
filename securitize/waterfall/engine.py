"""The waterfall engine: a compiled priority of payments applied to every path at once.

Collections arrive per payment period (paths × periods). On each payment date the engine
evaluates the triggers, picks the waterfall (combined, or interest then principal; the
post-acceleration one once accelerated), and runs its steps — each a few numpy operations on
arrays over paths — recording what every party received. The loop runs over payment periods and
steps, never over paths.

Conventions. Interest is 30/360: balance after the previous payment date × annual rate × months
in the period / 12. Fees on the pool accrue monthly on the opening performing balance. Unpaid
fees and interest carry forward (interest arrears earn no interest). A full guarantee advances the
covered tranche's current-interest shortfall on each date and its unpaid principal at the legal
final month; a guarantor in default pays only its recovery rate on each claim, and earns no fee
from the month of its default. Several enhancers of one tranche are called in turn, each on what
the ones before it left unpaid: the originator's shortfall undertaking, then the guarantees (a
partial one takes its share of each shortfall, up to its cap), then a CRMW, which pays only at
the legal final month (unpaid principal and interest arrears). Advances are reimbursed from the
waterfall's interest steps, to the enhancers in the order they were called. Pool enhancers pay
their share of each defaulted loan's loss into the trust's available funds in the period of the
default, up to their cap; their fees are paid by the borrowers, outside the trust. An enhancer
whose claims have used up its capital (its net assets, less what earlier deals of its book took)
is insolvent: from then on it pays its recovery rate, as after its own default.

Principal due is the amount that brings the notes back to the
performing pool balance (all notes at the legal final month, after acceleration or a clean-up
call). Reserve accounts release their excess over target into available funds and their whole
balance at the legal final month.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from securitize.collections import Collections, PeriodCollections
from securitize.structure import Structure
from securitize.waterfall.program import Step
from securitize.waterfall.spec import Target

CENT = 0.01


@dataclass
class TrancheLedger:
    """What one tranche received per path and payment period, and what it was owed at the end."""

    interest_paid: np.ndarray
    principal_paid: np.ndarray
    guarantor_reimbursed: np.ndarray
    guarantor_interest: np.ndarray
    guarantor_principal: np.ndarray
    interest_due: np.ndarray
    balance: np.ndarray
    shortfall: np.ndarray
    unpaid_principal: np.ndarray = field(init=False)
    investor_arrears: np.ndarray = field(init=False)
    guarantor_arrears: np.ndarray = field(init=False)


@dataclass
class Ledger:
    """The waterfall's record for a set of paths, one column per payment period."""

    available: np.ndarray
    due: np.ndarray
    fees_paid: dict[str, np.ndarray]
    tranches: list[TrancheLedger]
    residual: np.ndarray
    accounts: dict[str, np.ndarray]
    deposits: dict[str, np.ndarray]
    draws: dict[str, np.ndarray]
    triggers: dict[str, np.ndarray]
    accelerated: np.ndarray
    called: np.ndarray
    carried: np.ndarray
    unpaid_fees: dict[str, np.ndarray]
    claims: dict[str, np.ndarray] = field(default_factory=dict)
    reimbursed: dict[str, np.ndarray] = field(default_factory=dict)
    cover_base: dict[str, np.ndarray] = field(default_factory=dict)
    cover_cash: np.ndarray | None = None
    # Per tranche with a put or a call: true on the date (and paths) it is put or redeemed.
    redeemed: dict[str, np.ndarray] = field(default_factory=dict)


# The ledger's per-date arrays by name: series on the ledger itself, tables of series (by fee,
# account or trigger name) and series on each tranche's ledger, all paths × dates; then each
# tranche's end-of-deal amounts, one per path. ``finish`` transposes the per-date arrays, and
# checks that walk a whole ledger take the names from here.
LEDGER_SERIES = ("available", "due", "residual", "accelerated", "called", "carried", "cover_cash")
LEDGER_TABLES = (
    "fees_paid",
    "accounts",
    "deposits",
    "draws",
    "triggers",
    "claims",
    "reimbursed",
    "cover_base",
    "redeemed",
)
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
TRANCHE_TOTALS = ("unpaid_principal", "investor_arrears", "guarantor_arrears")


def _take(pot: np.ndarray, due: np.ndarray) -> np.ndarray:
    """Pay as much of ``due`` as ``pot`` allows; reduces ``pot`` in place."""
    paid = np.minimum(pot, due)
    pot -= paid
    return paid


class _Run:
    """The mutable state of one waterfall run over a set of paths."""

    def __init__(
        self,
        structure: Structure,
        collections: PeriodCollections,
        guarantor_default: np.ndarray,
        pool_claims: dict[int, np.ndarray] | None = None,
        capital: dict[int, np.ndarray] | None = None,
    ) -> None:
        self.program, self.terms, self.col = structure.program, structure, collections
        self.paths, self.periods = collections.interest.shape
        self.guarantor_default = guarantor_default
        self.pool_claims = {k: np.ascontiguousarray(v.T) for k, v in (pool_claims or {}).items()}
        self.start_month = structure.period_start_months
        paths, terms, program = self.paths, structure, structure.program

        # Ledger and collections are held dates × paths, so each date reads and writes one
        # contiguous row; ``finish`` hands the ledger back as paths × dates (transposed views).
        def zeros() -> np.ndarray:
            return np.zeros((self.periods, paths))

        self.by_date = {
            name: np.ascontiguousarray(getattr(collections, name).T)
            for name in (
                "interest",
                "principal",
                "recoveries",
                "defaulted",
                "performing_balance",
                "fee_base",
            )
        }

        self.balance = [np.full(paths, t.balance) for t in terms.tranches]
        # Principal a put left unpaid: the trust owes it no more (as at the legal final month),
        # but it is the tranche's stand-alone loss.
        self.put_unpaid = [np.zeros(paths) for _ in terms.tranches]
        # The payment period of each tranche's exercised put and of its call, if any.
        months = [int(m) for m in structure.payment_months]
        self.put_period = {
            j: months.index(t.put_month) for j, t in enumerate(terms.tranches) if t.put_exercised
        }
        self.call_period = {
            j: months.index(t.call_month)
            for j, t in enumerate(terms.tranches)
            if t.call_month is not None
        }
        self.arrears = [np.zeros(paths) for _ in terms.tranches]
        self.guarantor_arrears = [np.zeros(paths) for _ in terms.tranches]
        self.fee_due = {f.name: np.zeros(paths) for f in program.fees}
        self.guarantee_fee_due = [np.zeros(paths) for _ in terms.guarantees]
        self.capacity = [np.full(paths, g.cap) for g in terms.guarantees]
        # What each enhancer can still pay before it is insolvent (its net assets, less what
        # earlier deals of its book took on the path); beyond it, it pays its recovery rate.
        self.capital = [
            np.asarray((capital or {}).get(k, np.full(paths, g.capital)), dtype=float).copy()
            for k, g in enumerate(terms.guarantees)
        ]
        self.enhancer_arrears = [np.zeros(paths) for _ in terms.guarantees]
        # Whether an enhancer's capital can run out at all (checked once, not on every claim).
        self.limited = [bool(np.isfinite(c).any()) for c in self.capital]
        # Each tranche's enhancers in call order (looked up on every interest step).
        self.called_on = [terms.enhancers_of(j) for j in range(len(terms.tranches))]
        self.account = [np.full(paths, a.initial) for a in terms.accounts]
        self.trigger = [np.zeros(paths, dtype=bool) for _ in terms.triggers]
        self.accelerated = np.zeros(paths, dtype=bool)
        self.called = np.zeros(paths, dtype=bool)
        self.shortfall_event = np.zeros(paths, dtype=bool)
        self.cumulative_defaults = np.zeros(paths)
        self.carry = np.zeros(paths)
        self.active = np.ones(paths, dtype=bool)
        self.everyone = True
        self.deferred = program.deferred
        self.final = False
        fee_names = [f.name for f in program.fees] + [g.name for g in terms.guarantees]
        self.ledger = Ledger(
            available=zeros(),
            due=zeros(),
            fees_paid={name: zeros() for name in fee_names},
            tranches=[
                TrancheLedger(**{name: zeros() for name in TRANCHE_SERIES}) for _ in terms.tranches
            ],
            residual=zeros(),
            accounts={a.name: zeros() for a in terms.accounts},
            deposits={a.name: zeros() for a in terms.accounts},
            draws={a.name: zeros() for a in terms.accounts},
            triggers={t.name: np.zeros((self.periods, paths), dtype=bool) for t in terms.triggers},
            accelerated=np.zeros((self.periods, paths), dtype=bool),
            called=np.zeros((self.periods, paths), dtype=bool),
            carried=zeros(),
            unpaid_fees={},
            claims={g.name: zeros() for g in terms.guarantees},
            reimbursed={g.name: zeros() for g in terms.guarantees},
            cover_base={g.name: zeros() for g in terms.guarantees},
            cover_cash=zeros(),
            redeemed={
                t.name: np.zeros((self.periods, paths), dtype=bool)
                for t in terms.tranches
                if t.put_month is not None or t.call_month is not None
            },
        )

    # -- per-period quantities -------------------------------------------------------------

    def _accrue(self, p: int) -> None:
        months = float(self.col.months[p])
        for fee in self.program.fees:
            if fee.basis == "pool_balance":
                accrued = fee.annual_rate / 12.0 * self.by_date["fee_base"][p]
            elif fee.basis == "interest_collections":
                # VAT and surcharges on the period's interest collections (interest-type
                # income); principal and recoveries are not taxed.
                accrued = fee.annual_rate * self.by_date["interest"][p]
            elif fee.basis == "tranche_balance":
                accrued = fee.annual_rate * months / 12.0 * self.balance[fee.tranche]
            else:
                accrued = np.full(self.paths, fee.amount_per_year * months / 12.0)
            if self.terms.clean_up_call is not None:
                # A called deal has ended: nothing more accrues.
                accrued = np.where(self.called, 0.0, accrued)
            self.fee_due[fee.name] = self.fee_due[fee.name] + accrued
        for k, g in enumerate(self.terms.guarantees):
            # Months of the period before the guarantor's default month earn the fee, on the
            # amount covered (CNY-years of cover, recorded for the break-even fee).
            standing = np.clip(self.guarantor_default[:, k] - self.start_month[p], 0, months)
            cover = self._covered(k, p) * (standing / 12.0)
            self.ledger.cover_base[g.name][p] = cover
            if not g.pool_level:
                self.guarantee_fee_due[k] = self.guarantee_fee_due[k] + g.net_fee_rate * cover

    def _covered(self, k: int, p: int) -> np.ndarray:
        """The amount enhancer k covers during period p: its share of the tranche's balance or
        of the performing pool (a first-loss cover: what is left of its cap), within its cap."""
        g = self.terms.guarantees[k]
        if g.kind == "first_loss":
            return self.capacity[k]
        if g.pool_level:
            months = float(self.col.months[p])
            base = g.share * g.cover_factor * self.by_date["fee_base"][p] / months
        else:
            base = g.share * self.balance[g.tranche]
        return base if g.cap == np.inf else np.minimum(base, self.capacity[k])

    def _current_interest(self, j: int, p: int) -> np.ndarray:
        """This date's interest on tranche j: on its balance after the previous date, whatever
        principal earlier steps pay today (computed once a date, in ``period``)."""
        return self.current[j]

    def _target(self, target: Target, p: int) -> np.ndarray:
        if target.amount is not None:
            return np.full(self.paths, target.amount)
        if target.share_of == "pool":
            base = self.by_date["performing_balance"][p]
        elif target.share_of == "notes":
            base = sum(self.balance)
        else:
            names = [t.name for t in self.terms.tranches]
            base = self.balance[names.index(target.share_of)]
        return np.maximum(target.share * base, target.floor)

    def _claim(self, loss: np.ndarray, k: int, p: int, share: bool = True) -> np.ndarray:
        """Enhancer k's payment on ``loss``: its share (unless already applied), within what is
        left of its cap; in full while it stands, its recovery rate after its default."""
        g = self.terms.guarantees[k]
        claim = g.share * loss if share and g.share != 1.0 else loss
        if g.cap != np.inf:
            claim = np.minimum(claim, self.capacity[k])
            self.capacity[k] = self.capacity[k] - claim
        month = self.start_month[p] + self.col.months[p] - 1
        standing = self.guarantor_default[:, k] > month
        if not self.limited[k]:
            paid = np.where(standing, claim, claim * g.recovery_rate)
        else:
            solvent = np.where(standing, np.minimum(claim, self.capital[k]), 0.0)
            self.capital[k] = self.capital[k] - solvent
            paid = solvent + (claim - solvent) * g.recovery_rate
        self.ledger.claims[g.name][p] += paid
        return paid

    def _reimburse(self, j: int, amount: np.ndarray, p: int) -> None:
        """Split a reimbursement of tranche j's advances among its enhancers, in call order."""
        left = amount
        for k in self.called_on[j]:
            part = np.minimum(left, self.enhancer_arrears[k])
            self.enhancer_arrears[k] = self.enhancer_arrears[k] - part
            self.ledger.reimbursed[self.terms.guarantees[k].name][p] += part
            left = left - part

    def _triggers(self, p: int) -> None:
        notes = sum(self.balance)
        reserves = sum(self.account) if self.account else 0.0
        self.cumulative_defaults = self.cumulative_defaults + self.by_date["defaulted"][p]
        for k, t in enumerate(self.terms.triggers):
            if t.metric == "cumulative_default_ratio":
                value = self.cumulative_defaults / self.terms.pool_balance
            elif t.metric == "overcollateralisation":
                with np.errstate(divide="ignore", invalid="ignore"):
                    collateral = self.by_date["performing_balance"][p] + reserves
                    value = np.where(notes > CENT, collateral / notes, np.inf)
            else:
                value = None
            if value is None:
                breached = self.shortfall_event.copy()
            elif t.above is not None:
                breached = value > t.above
            else:
                breached = value < t.below
            self.trigger[k] = breached if t.curable else (self.trigger[k] | breached)
            self.ledger.triggers[t.name][p] = self.trigger[k]
            if t.effect == "accelerate":
                self.accelerated = self.accelerated | self.trigger[k]

    @property
    def _sequential(self) -> np.ndarray:
        forced = np.zeros(self.paths, dtype=bool)
        for k, t in enumerate(self.terms.triggers):
            if t.effect == "sequential":
                forced |= self.trigger[k]
        return forced

    # -- steps -----------------------------------------------------------------------------
    # Each step acts only on the paths of the program being run (``self.active``): amounts due
    # elsewhere count as zero, so the normal and the post-acceleration programs can run one
    # after the other on complementary sets of paths.

    def _on(self, amount: np.ndarray) -> np.ndarray:
        if self.everyone:
            return amount
        return np.where(self.active, amount, 0.0)

    def _fee(self, step: Step, pot: np.ndarray, p: int) -> None:
        name = step.fee.name
        paid = _take(pot, self._on(self.fee_due[name]))
        self.fee_due[name] = self.fee_due[name] - paid
        self.ledger.fees_paid[name][p] += paid

    def _guarantee_fee(self, step: Step, pot: np.ndarray, p: int) -> None:
        k = step.enhancer
        paid = _take(pot, self._on(self.guarantee_fee_due[k]))
        self.guarantee_fee_due[k] = self.guarantee_fee_due[k] - paid
        self.ledger.fees_paid[self.terms.guarantees[k].name][p] += paid

    def _interest_due(self, j: int, p: int, with_arrears: bool) -> np.ndarray:
        current = self._on(self._current_interest(j, p))
        if with_arrears:
            return current + self._on(self.arrears[j] + self.guarantor_arrears[j])
        return current

    def _interest(self, step: Step, pot: np.ndarray, p: int, paid_current: set[int]) -> None:
        # A tranche's current interest falls due once a date; a later interest step for it
        # pays what is still in arrears.
        again = [j for j in step.tranches if j in paid_current]
        if again:
            self._deferred_interest(Step("deferred_interest", step.label, tuple(again)), pot, p)
        group = [j for j in step.tranches if j not in paid_current]
        if not group:
            return
        with_arrears = {j: j not in self.deferred for j in group}
        due = [self._interest_due(j, p, with_arrears[j]) for j in group]
        if len(group) == 1:
            # One tranche: it takes what the pot can pay (no pro rata split to compute).
            paid_current.add(group[0])
            self._allocate_interest(group[0], _take(pot, due[0]), p, with_arrears[group[0]])
            return
        total = sum(due)
        paid_total = _take(pot, total)
        share = np.divide(paid_total, total, out=np.zeros(self.paths), where=total > 0)
        for j, owed in zip(group, due, strict=True):
            paid_current.add(j)
            self._allocate_interest(j, owed * share, p, with_arrears[j])

    def _allocate_interest(self, j: int, paid: np.ndarray, p: int, with_arrears: bool) -> None:
        ledger = self.ledger.tranches[j]
        current = self._on(self._current_interest(j, p))
        ledger.interest_due[p] += current
        # Arrears first (to investors, then the guarantor), when there are any at all: most
        # dates on most paths have none, and skipping saves half the step's work.
        remaining = paid
        if with_arrears and self.arrears[j].any():
            to_investor = np.minimum(remaining, self._on(self.arrears[j]))
            self.arrears[j] = self.arrears[j] - to_investor
            ledger.interest_paid[p] += to_investor
            remaining = remaining - to_investor
        if with_arrears and self.guarantor_arrears[j].any():
            to_guarantor = np.minimum(remaining, self._on(self.guarantor_arrears[j]))
            self.guarantor_arrears[j] = self.guarantor_arrears[j] - to_guarantor
            ledger.guarantor_reimbursed[p] += to_guarantor
            self._reimburse(j, to_guarantor, p)
            remaining = remaining - to_guarantor
        to_current = np.minimum(remaining, current)
        ledger.interest_paid[p] += to_current
        shortfall = current - to_current
        ledger.shortfall[p] += shortfall
        for k in self.called_on[j]:
            if not self.terms.guarantees[k].timely_interest:
                continue
            advanced = self._claim(shortfall, k, p)
            ledger.guarantor_interest[p] += advanced
            self.guarantor_arrears[j] = self.guarantor_arrears[j] + advanced
            self.enhancer_arrears[k] = self.enhancer_arrears[k] + advanced
            shortfall = shortfall - advanced
        self.arrears[j] = self.arrears[j] + shortfall
        if not self.terms.tranches[j].deferrable:
            self.shortfall_event |= shortfall > CENT

    def _deferred_interest(self, step: Step, pot: np.ndarray, p: int) -> None:
        for j in step.tranches:
            ledger = self.ledger.tranches[j]
            to_investor = _take(pot, self._on(self.arrears[j]))
            to_guarantor = _take(pot, self._on(self.guarantor_arrears[j]))
            self.arrears[j] = self.arrears[j] - to_investor
            self.guarantor_arrears[j] = self.guarantor_arrears[j] - to_guarantor
            ledger.interest_paid[p] += to_investor
            ledger.guarantor_reimbursed[p] += to_guarantor
            self._reimburse(j, to_guarantor, p)

    def _reserve_fund(self, step: Step, pot: np.ndarray, p: int) -> None:
        a = step.account
        name = self.terms.accounts[a].name
        # At the legal final month the account is released, not refunded.
        target = 0.0 if self.final else self._target(self.terms.accounts[a].target, p)
        excess = self._on(np.maximum(self.account[a] - target, 0.0))
        pot += excess
        self.ledger.draws[name][p] += excess
        deposit = _take(pot, self._on(np.maximum(target - self.account[a] + excess, 0.0)))
        self.account[a] = self.account[a] - excess + deposit
        self.ledger.deposits[name][p] += deposit

    def _reserve_draw(self, step: Step, pot: np.ndarray, p: int) -> None:
        a = step.account
        need = np.zeros(self.paths)
        if step.cover_fees:
            need = need + self._on(sum(self.fee_due.values(), np.zeros(self.paths)))
            need = need + self._on(sum(self.guarantee_fee_due, np.zeros(self.paths)))
        for j in step.tranches:
            need = need + self._interest_due(j, p, j not in self.deferred)
        draw = np.minimum(self._on(self.account[a]), np.maximum(need - pot, 0.0))
        self.account[a] = self.account[a] - draw
        pot += draw
        self.ledger.draws[self.terms.accounts[a].name][p] += draw

    def _principal(self, step: Step, pot: np.ndarray, p: int, due_left: np.ndarray) -> None:
        limit = due_left if step.amount == "principal_due" else np.full(self.paths, np.inf)
        target = self._target(step.target, p) if step.target is not None else 0.0
        owed = [self._on(np.maximum(self.balance[j] - target, 0.0)) for j in step.tranches]
        paid_step = np.zeros(self.paths)
        sequential = np.ones(self.paths, dtype=bool)
        if step.mode == "pro_rata":
            # A "sequential" trigger turns pro rata into sequential on the paths it has hit.
            sequential = self._sequential
            total = sum(owed)
            budget = np.where(sequential, 0.0, np.minimum(np.minimum(pot, total), limit))
            share = np.divide(budget, total, out=np.zeros(self.paths), where=total > 0)
            for j, amount in zip(step.tranches, owed, strict=True):
                self._pay_principal(j, amount * share, pot, p)
            paid_step += budget
        for j, amount in zip(step.tranches, owed, strict=True):
            want = np.where(sequential, np.minimum(amount, limit - paid_step), 0.0)
            paid_step += self._pay_principal(j, np.minimum(pot, want), pot, p)
        if step.amount == "principal_due":
            due_left -= paid_step

    def _pay_principal(self, j: int, paid: np.ndarray, pot: np.ndarray, p: int) -> np.ndarray:
        pot -= paid
        self.balance[j] = self.balance[j] - paid
        self.ledger.tranches[j].principal_paid[p] += paid
        return paid

    def _residual(self, step: Step, pot: np.ndarray, p: int) -> None:
        self.ledger.residual[p] += pot
        pot[:] = 0.0

    def _run_steps(
        self, steps: tuple[Step, ...], pot: np.ndarray, p: int, due_left: np.ndarray, paid: set
    ) -> None:
        for step in steps:
            if step.kind == "fee":
                self._fee(step, pot, p)
            elif step.kind == "guarantee_fee":
                self._guarantee_fee(step, pot, p)
            elif step.kind == "interest":
                self._interest(step, pot, p, paid)
            elif step.kind == "deferred_interest":
                self._deferred_interest(step, pot, p)
            elif step.kind == "reserve_fund":
                self._reserve_fund(step, pot, p)
            elif step.kind == "reserve_draw":
                self._reserve_draw(step, pot, p)
            elif step.kind == "principal":
                self._principal(step, pot, p, due_left)
            elif step.kind == "residual":
                self._residual(step, pot, p)

    # -- one payment date ------------------------------------------------------------------

    def _year_fraction(self, tranche: int, p: int) -> float:
        """The tranche's accrual for period ``p``: its day count on the deal's dates, or 30/360
        on the month grid (months in the period / 12) when the deal has no calendar."""
        fractions = self.terms.day_count_fractions
        if fractions is None:
            return float(self.col.months[p]) / 12.0
        return float(fractions[tranche, p])

    def period(self, p: int) -> None:
        final = p == self.periods - 1
        self.current = [
            b * (t.coupon_in(p) * self._year_fraction(j, p))
            if t.coupon_in(p)
            else np.zeros(self.paths)
            for j, (b, t) in enumerate(zip(self.balance, self.terms.tranches, strict=True))
        ]
        self._accrue(p)
        self._triggers(p)
        self.shortfall_event = np.zeros(self.paths, dtype=bool)
        interest_cash = self.by_date["interest"][p]
        principal_cash = self.by_date["principal"][p] + self.by_date["recoveries"][p]
        performing = self.by_date["performing_balance"][p]
        if self.terms.clean_up_call is not None:
            # After a clean-up call the loans belong to the originator: their cash is not ours.
            interest_cash = np.where(self.called, 0.0, interest_cash)
            principal_cash = np.where(self.called, 0.0, principal_cash)
            performing = np.where(self.called, 0.0, performing)
        call_now = np.zeros(self.paths, dtype=bool)
        if self.terms.clean_up_call is not None:
            threshold = self.terms.clean_up_call * self.terms.pool_balance
            # A call buys performing loans; once none are left there is nothing to buy.
            call_now = (
                ~self.called
                & (performing <= threshold)
                & (performing > CENT)
                & (sum(self.balance) > CENT)
            )
            # The originator buys the remaining loans at par: their balance becomes cash.
            principal_cash = principal_cash + np.where(call_now, performing, 0.0)
            performing = np.where(call_now, 0.0, performing)
        for k, claim in self.pool_claims.items():
            # A pool enhancer's payment on the period's losses joins the available funds.
            loss = (
                claim[p]
                if self.terms.clean_up_call is None
                else np.where(self.called, 0.0, claim[p])
            )
            paid = self._claim(loss, k, p, share=False)
            self.ledger.cover_cash[p] += paid
            principal_cash = principal_cash + paid
        self.final = final
        released = np.zeros(self.paths)
        if final:
            # Reserve accounts are released into the pot (recorded as draws, not collections).
            for a, account in enumerate(self.account):
                released = released + account
                self.ledger.draws[self.terms.accounts[a].name][p] += account
                self.account[a] = np.zeros(self.paths)
        notes = sum(self.balance)
        everything = final | self.accelerated | call_now | self.called
        due_left = np.where(everything, notes, np.maximum(notes - performing, 0.0))
        carried_in = self.carry
        redeem = self._redemption(p, interest_cash + principal_cash + carried_in + released)
        due_left = np.maximum(due_left, redeem)
        # Coverage (覆盖倍数) is of the senior notes' principal: scheduled with the pool's
        # amortisation, or all of it when it falls due in full.
        senior = self.balance[0]
        scheduled = np.minimum(senior, self.col.scheduled_principal[p])
        self._record_due(p, np.where(everything | (redeem > 0), senior, scheduled))
        accelerated = self.accelerated.copy()
        self.ledger.available[p] = interest_cash + principal_cash + carried_in
        principal_cash = principal_cash + released
        self.active = ~accelerated
        self.everyone = not accelerated.any()
        self.deferred = self.program.deferred
        paid: set[int] = set()
        if self.program.separate:
            pot = np.where(self.active, interest_cash + carried_in, 0.0)
            self._run_steps(self.program.interest, pot, p, due_left, paid)
            pot += np.where(self.active, principal_cash, 0.0)
            self._run_steps(self.program.principal, pot, p, due_left, paid)
        else:
            pot = np.where(self.active, interest_cash + principal_cash + carried_in, 0.0)
            self._run_steps(self.program.combined, pot, p, due_left, paid)
        if not self.everyone:
            self.active = accelerated
            self.deferred = self.program.deferred_accelerated
            fast = np.where(accelerated, interest_cash + principal_cash + carried_in, 0.0)
            self._run_steps(self.program.accelerated, fast, p, due_left, set())
            pot = pot + fast
        self.active = np.ones(self.paths, dtype=bool)
        self.everyone = True
        # Cash no step took stays in the collection account for the next date; at the legal
        # final month it goes to the most junior holder with the residual.
        if final:
            self.ledger.residual[p] += pot
            pot = np.zeros(self.paths)
        self.carry = pot
        self.ledger.carried[p] = pot
        if final:
            for j in range(len(self.terms.tranches)):
                self._guarantee_principal(j, p)
        for j, put in self.put_period.items():
            if put == p and not final:
                # What the put left unpaid is the guarantors' to pay, as at the legal final
                # month; the trust owes the tranche no more principal.
                self._guarantee_principal(j, p)
                self.put_unpaid[j] = self.put_unpaid[j] + self.balance[j]
                self.balance[j] = np.zeros(self.paths)
        self.called = self.called | call_now
        self.ledger.accelerated[p] = self.accelerated
        self.ledger.called[p] = self.called
        for a, account in enumerate(self.account):
            self.ledger.accounts[self.terms.accounts[a].name][p] = account
        for j, balance in enumerate(self.balance):
            self.ledger.tranches[j].balance[p] = balance

    def _record_due(self, p: int, principal_due: np.ndarray) -> None:
        """Amounts due for the coverage multiple (覆盖倍数): fees, every tranche's interest (with
        arrears) and the senior principal scheduled for the date (all of it when due in full)."""
        due = principal_due.copy()
        due += sum(self.fee_due.values(), np.zeros(self.paths))
        due += sum(self.guarantee_fee_due, np.zeros(self.paths))
        for j in range(len(self.terms.tranches)):
            due += self._interest_due(j, p, True)
        self.ledger.due[p] = due

    def _redemption(self, p: int, funds: np.ndarray) -> np.ndarray:
        """Principal that a put (回售) or an issuer call (赎回) makes due on date p: the balance
        of the tranche and of every tranche above it (it cannot be repaid ahead of them).

        An exercised put falls due on every path. A call is exercised only on the paths whose
        funds for the date cover every fee and tax due, every tranche's interest due and those
        balances; elsewhere it lapses."""
        redeem = np.zeros(self.paths)
        for j, t in enumerate(self.terms.tranches):
            ahead = sum(self.balance[: j + 1])
            if self.put_period.get(j) == p:
                redeem = np.maximum(redeem, ahead)
                self.ledger.redeemed[t.name][p] = True
            if self.call_period.get(j) == p:
                need = ahead + sum(self.fee_due.values(), np.zeros(self.paths))
                need = need + sum(self.guarantee_fee_due, np.zeros(self.paths))
                for i in range(len(self.terms.tranches)):
                    need = need + self._interest_due(i, p, True)
                exercised = (funds >= need) & (self.balance[j] > CENT)
                redeem = np.where(exercised, np.maximum(redeem, ahead), redeem)
                self.ledger.redeemed[t.name][p] = exercised
        return redeem

    def _guarantee_principal(self, j: int, p: int) -> None:
        """Tranche j's enhancers pay its unpaid principal in turn (at the legal final month, or
        on its put date); a CRMW also pays the investors' interest arrears (it then holds that
        claim)."""
        unpaid = self.balance[j]
        for k in self.called_on[j]:
            paid = self._claim(unpaid, k, p)
            self.ledger.tranches[j].guarantor_principal[p] += paid
            unpaid = unpaid - paid
            if not self.terms.guarantees[k].timely_interest:
                arrears = self._claim(self.arrears[j], k, p)
                self.arrears[j] = self.arrears[j] - arrears
                self.guarantor_arrears[j] = self.guarantor_arrears[j] + arrears
                self.enhancer_arrears[k] = self.enhancer_arrears[k] + arrears
                self.ledger.tranches[j].guarantor_interest[p] += arrears

    def finish(self) -> Ledger:
        ledger_all = self.ledger
        for name in LEDGER_SERIES:
            setattr(ledger_all, name, getattr(ledger_all, name).T)
        for kind in LEDGER_TABLES:
            table = getattr(ledger_all, kind)
            for name in table:
                table[name] = table[name].T
        for t in ledger_all.tranches:
            for name in TRANCHE_SERIES:
                setattr(t, name, getattr(t, name).T)
        for j, ledger in enumerate(self.ledger.tranches):
            ledger.unpaid_principal = self.balance[j] + self.put_unpaid[j]
            ledger.investor_arrears = self.arrears[j]
            ledger.guarantor_arrears = self.guarantor_arrears[j]
        self.ledger.unpaid_fees = {
            **self.fee_due,
            **{g.name: self.guarantee_fee_due[k] for k, g in enumerate(self.terms.guarantees)},
        }
        return self.ledger


def run_program(
    structure: Structure,
    collections: PeriodCollections,
    guarantor_default: np.ndarray,
    pool_claims: dict[int, np.ndarray] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> Ledger:
    """Apply the structure's priority of payments to every path, period by period.
    ``pool_claims`` holds each pool enhancer's claims (paths × periods, its share applied);
    ``capital`` what each enhancer can pay per path before it is insolvent (default: its
    net assets)."""
    if collections.interest.shape[1] != len(structure.payment_months):
        raise ValueError("collections and structure disagree on the payment periods")
    run = _Run(structure, collections, guarantor_default, pool_claims, capital)
    for p in range(run.periods):
        run.period(p)
    return run.finish()


def run_waterfall(
    structure: Structure,
    collections: Collections | PeriodCollections,
    enhancer_default_month: np.ndarray,
    pool_claims: dict[int, np.ndarray] | None = None,
    capital: dict[int, np.ndarray] | None = None,
) -> Ledger:
    """Run the structure's waterfall on monthly or per-period collections."""
    if isinstance(collections, Collections):
        collections = collections.by_period(structure.payment_months, structure.pool_balance)
    return run_program(structure, collections, enhancer_default_month, pool_claims, capital)
