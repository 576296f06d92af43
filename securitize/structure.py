"""The deal structure resolved against its pool: tranches, fees, enhancers, accounts,
triggers, the compiled priority of payments and the payment calendar.

The structure is everything the waterfall needs and nothing the credit simulation needs, so
that one set of simulated paths can be evaluated under many structures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from securitize.dated_schedule import dated_schedule, payment_months
from securitize.enhancers.spec import TRANCHE_KINDS, Enhancer
from securitize.errors import CalendarError, ScenarioError
from securitize.pool import Pool
from securitize.scenario import TAX_NAME, DealTerms, LoadedScenario, Tranche
from securitize.waterfall.program import Fee, Program, compile_program
from securitize.waterfall.spec import Account, FeeStep, Trigger

# Tranche balances given in CNY must add up to the pool to the cent.
_CENT = 0.01
_SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TrancheTerms:
    """One class of notes (优先级 / 次级), from most senior to most junior."""

    name: str
    balance: float
    coupon: float
    holder: str
    deferrable: bool = False
    expected_maturity_months: int | None = None
    # The coupon of each payment period, when it is not ``coupon`` throughout (resets, a
    # floating coupon on an index path): fixed at the start of the period.
    coupon_path: tuple[float, ...] = ()
    # 回售: the payment month of the investor put, and whether its rule exercises it.
    put_month: int | None = None
    put_exercised: bool = False
    # 赎回: the payment month of the issuer's redemption at par.
    call_month: int | None = None

    def coupon_in(self, period: int) -> float:
        """The coupon of payment period ``period`` (0-based)."""
        return self.coupon_path[period] if self.coupon_path else self.coupon

    def coupons(self, periods: int) -> list[float]:
        """The coupon applied in each of ``periods`` payment periods (fixed or not)."""
        return [float(self.coupon_in(p)) for p in range(periods)]


@dataclass(frozen=True)
class GuaranteeTerms:
    """One credit enhancer as the waterfall sees it. A tranche enhancer (``tranche`` ≥ 0) takes
    ``share`` of the tranche's shortfalls; a pool enhancer (``tranche`` = −1) pays its share of
    each loss into the trust. Either way its claims stop at ``cap`` (CNY, in all) and, once it
    has defaulted or its claims have used up its ``capital`` (net assets), it pays only
    ``recovery_rate`` of each claim."""

    name: str
    tranche: int
    net_fee_rate: float
    annual_pd: float
    asset_correlation: float
    recovery_rate: float
    spec: Enhancer
    kind: str = "full_guarantee"
    share: float = 1.0
    cap: float = math.inf
    timely_interest: bool = True
    capital: float = math.inf
    # A loan-level guarantee covers each borrower only up to its cap: the share of the pool its
    # cover reaches (at closing), by which its fee base is scaled.
    cover_factor: float = 1.0

    @property
    def pool_level(self) -> bool:
        return self.tranche < 0


@dataclass(frozen=True)
class LossTrancheTerms:
    """A tranche of cumulative pool loss, [attachment, detachment) as shares of the pool."""

    name: str
    attachment: float
    detachment: float


@dataclass(frozen=True)
class Structure:
    """Tranches, enhancers, accounts, triggers and the priority of payments, with the calendar."""

    tranches: tuple[TrancheTerms, ...]
    guarantees: tuple[GuaranteeTerms, ...]
    horizon: int
    payment_interval: int
    pool_balance: float
    program: Program
    accounts: tuple[Account, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    loss_tranches: tuple[LossTrancheTerms, ...] = ()
    clean_up_call: float | None = None
    # With [deal.calendar]: one row per payment period (``dated_schedule``), and each tranche's
    # year fraction per period under its day count (tranches × periods). None: the month grid.
    dates: pd.DataFrame | None = None
    day_count_fractions: np.ndarray | None = None

    @property
    def fees(self):
        return self.program.fees

    @property
    def payment_months(self) -> np.ndarray:
        """Months (1-based) on which notes are paid; the legal final month always is one."""
        return payment_months(self.horizon, self.payment_interval)

    @property
    def payment_years(self) -> np.ndarray:
        """Each payment date's time from closing in years, for yields, lives and discounting:
        actual days / 365 on a dated deal (the exchange's yield convention), months / 12 on
        the month grid."""
        if self.dates is None:
            return self.payment_months / 12.0
        days = self.dates["accrual_days"].to_numpy(dtype=float)
        return np.cumsum(days) / 365.0

    @property
    def period_start_months(self) -> np.ndarray:
        """First month of each payment period."""
        return np.r_[1, self.payment_months[:-1] + 1]

    @property
    def months_per_period(self) -> np.ndarray:
        return self.payment_months - self.period_start_months + 1

    @property
    def senior_attachment(self) -> float:
        """Share of the pool below the most senior note: the loss at which it starts to lose."""
        return 1.0 - self.tranches[0].balance / self.pool_balance

    def guarantee_of(self, tranche: int) -> int | None:
        """The first enhancer called on ``tranche``'s shortfalls, if any."""
        called = self.enhancers_of(tranche)
        return called[0] if called else None

    def enhancers_of(self, tranche: int) -> tuple[int, ...]:
        """Indices of the enhancers of ``tranche`` in the order they are called: the
        originator's undertaking, then guarantees as listed, then a CRMW."""
        order = {kind: rank for rank, kind in enumerate(TRANCHE_KINDS)}
        order["partial_guarantee"] = order["full_guarantee"]
        found = [k for k, g in enumerate(self.guarantees) if g.tranche == tranche]
        return tuple(sorted(found, key=lambda k: order[self.guarantees[k].kind]))

    @property
    def pool_enhancers(self) -> tuple[int, ...]:
        return tuple(k for k, g in enumerate(self.guarantees) if g.pool_level)


def borrower_cover(pool: Pool, enhancer: Enhancer) -> pd.Series:
    """A pool enhancer's cover of each borrower at closing (CNY, by enterprise): its share of
    the borrower's balance, within its per-borrower cap."""
    cover = enhancer.covered_share * pool.loans.groupby("enterprise")["balance"].sum()
    cap = enhancer.per_borrower_cap
    return cover if cap is None else cover.clip(upper=cap)


def _cover_factor(pool: Pool, enhancer: Enhancer) -> float:
    """For a loan-level guarantee with a per-borrower cap: the capped cover at closing over the
    uncapped one; 1 for every other enhancer."""
    if enhancer.per_borrower_cap is None:
        return 1.0
    uncapped = enhancer.covered_share * pool.total_balance
    return float(borrower_cover(pool, enhancer).sum() / uncapped)


def _balances(loaded: LoadedScenario, total: float) -> list[float]:
    scenario, where = loaded.scenario, loaded.path
    if scenario.tranches[0].share is not None:
        shares = sum(t.share for t in scenario.tranches)
        if abs(shares - 1.0) > _SHARE_TOLERANCE:
            raise ScenarioError(
                f"{where}: field 'tranches': shares add up to {shares:.6g}; "
                "tranche shares must add up to 1 (the whole pool)"
            )
        return [t.share * total for t in scenario.tranches]
    balances = [t.balance for t in scenario.tranches]
    if abs(sum(balances) - total) > _CENT:
        raise ScenarioError(
            f"{where}: field 'tranches': balances add up to {sum(balances):,.2f}; "
            f"they must add up to the pool balance {total:,.2f}"
        )
    return balances


def _check_month(where: object, field: str, month: int, dates: np.ndarray) -> None:
    """A reset, put or call month must be a payment date before the legal final month."""
    allowed = [int(m) for m in dates[:-1]]
    if month not in allowed:
        shown = ", ".join(map(str, allowed[:6])) + (", …" if len(allowed) > 6 else "")
        raise ScenarioError(
            f"{where}: field '{field}': value {month}: must be a payment month before the legal "
            f"final month {int(dates[-1])} ({shown or 'none'})"
        )


def _tranche_terms(
    where: object,
    k: int,
    t: Tranche,
    balance: float,
    deal: DealTerms,
    dates: np.ndarray,
    index_shift: float,
) -> TrancheTerms:
    """One tranche with its coupon in every period (resets and the index path folded in) and
    its put and call resolved; ``index_shift`` moves the reference rate (a stress)."""
    for r, reset in enumerate(t.reset):
        _check_month(where, f"tranches[{k}].reset[{r}].month", reset.month, dates)
    for name, option in (("put", t.put), ("call", t.call)):
        if option is not None:
            _check_month(where, f"tranches[{k}].{name}.month", option.month, dates)
    # The coupon of a period is fixed at its start: the previous payment date (0 for the first).
    fixings = np.r_[0, dates[:-1]]
    path = tuple(t.coupon_in_force(int(m), deal.index_at(int(m)) + index_shift) for m in fixings)
    floating_path = t.margin is not None and (deal.index_path is not None or index_shift != 0)
    exercised = False
    if t.put is not None:
        if t.put.rule == "reset_below_market":
            # The coupon the reset sets for the period after the put date.
            after = path[int(np.searchsorted(fixings, t.put.month))]
            exercised = after < t.put.market_rate
        else:
            exercised = t.put.rule == "always"
    return TrancheTerms(
        t.name,
        balance,
        path[0],
        t.holder,
        t.deferrable,
        t.expected_maturity_months,
        path if t.reset or floating_path else (),
        t.put.month if t.put is not None else None,
        exercised,
        t.call.month if t.call is not None else None,
    )


def tax_fee(loaded: LoadedScenario) -> Fee | None:
    """The VAT and surcharges as the waterfall pays them, if the deal pays any."""
    terms = loaded.scenario.tax_terms
    if terms is None:
        return None
    return Fee(TAX_NAME, "interest_collections", terms.rate_on_interest, 0.0, None)


def build_structure(loaded: LoadedScenario, pool: Pool, index_shift: float = 0.0) -> Structure:
    """Resolve shares to balances, compile the waterfall and check every name it uses.
    ``index_shift`` (a fraction a year) moves the reference rate, as a stress does."""
    scenario = loaded.scenario
    where = loaded.path
    total = pool.total_balance
    balances = _balances(loaded, total)
    longest = int(pool.tenor_months.max())
    interval = scenario.deal.payment_interval_months
    horizon = scenario.deal.legal_final_months
    if horizon is None:
        lag = scenario.credit.recovery_lag_months
        horizon = interval * math.ceil((longest + lag) / interval)
    elif horizon < longest:
        raise ScenarioError(
            f"{where}: field 'deal.legal_final_months': value {horizon}: must not fall before "
            f"the last loan matures (month {longest})"
        )
    dates = payment_months(horizon, interval)
    tranches = tuple(
        _tranche_terms(where, k, t, b, scenario.deal, dates, index_shift)
        for k, (t, b) in enumerate(zip(scenario.tranches, balances, strict=True))
    )
    names = [t.name for t in tranches]
    guarantees = tuple(
        GuaranteeTerms(
            g.name,
            names.index(g.covers) if g.covers is not None else -1,
            g.net_fee_bp / 10_000,
            g.annual_pd,
            g.asset_correlation,
            g.recovery_rate,
            g,
            g.type,
            g.covered_share,
            g.cap if g.cap is not None else math.inf,
            g.type != "crmw",
            g.net_assets if g.net_assets is not None else math.inf,
            _cover_factor(pool, g),
        )
        for g in scenario.enhancers
    )
    fee_steps = [
        FeeStep(pay="fee", name=f.name, basis="pool_balance", rate_bp=f.rate_bp)
        for f in scenario.fees
    ]
    for account in scenario.accounts:
        share_of = account.target.share_of
        if share_of not in (None, "pool", "notes") and share_of not in names:
            raise ScenarioError(
                f"{where}: account '{account.name}': target share_of '{share_of}' is not "
                f"'pool', 'notes' or a tranche ({', '.join(names)})"
            )
    try:
        program = compile_program(
            scenario.waterfall,
            names,
            [a.name for a in scenario.accounts],
            [g.name for g in guarantees],
            fee_steps,
            [max((t.coupon, *t.coupon_path)) for t in tranches],
            frozenset(g.name for g in guarantees if g.pool_level),
            tax_fee(loaded),
        )
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    dates, fractions = _dated(loaded, horizon)
    return Structure(
        tranches=tranches,
        guarantees=guarantees,
        horizon=horizon,
        payment_interval=interval,
        pool_balance=total,
        program=program,
        accounts=tuple(scenario.accounts),
        triggers=tuple(scenario.triggers),
        loss_tranches=loss_tranches(loaded, tranches, total),
        clean_up_call=scenario.deal.clean_up_call,
        dates=dates,
        day_count_fractions=fractions,
    )


def _dated(loaded: LoadedScenario, horizon: int) -> tuple[pd.DataFrame | None, np.ndarray | None]:
    """The deal's dated schedule and each tranche's year fractions, when it has a calendar."""
    scenario, where = loaded.scenario, loaded.path
    terms = scenario.deal.calendar
    if terms is None:
        for k, t in enumerate(scenario.tranches):
            if t.day_count is not None:
                raise ScenarioError(
                    f"{where}: field 'tranches[{k}].day_count': value {t.day_count!r}: a day "
                    "count needs real dates: add a [deal.calendar] table (docs/dates.md)"
                )
        return None, None
    counts = {t.name: t.day_count or terms.day_count for t in scenario.tranches}
    try:
        table = dated_schedule(
            terms,
            scenario.deal.closing_date,
            scenario.deal.payment_interval_months,
            horizon,
            counts,
        )
    except CalendarError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    fractions = np.vstack([table[f"year_fraction_{name}"].to_numpy(float) for name in counts])
    return table, fractions


def loss_tranches(
    loaded: LoadedScenario, tranches: tuple[TrancheTerms, ...], total: float
) -> tuple[LossTrancheTerms, ...]:
    """The scenario's loss tranches, or by default one per note at its place in the capital
    structure (a note attaches where the notes junior to it end)."""
    given = loaded.scenario.loss_tranches
    if given:
        return tuple(LossTrancheTerms(t.name, t.attachment, t.detachment) for t in given)
    out, attachment = [], 0.0
    for tranche in reversed(tranches):
        # Rounded so shares read as written (0.15, not 0.15000000000000002).
        detachment = min(round(attachment + tranche.balance / total, 12), 1.0)
        out.append(LossTrancheTerms(tranche.name, attachment, detachment))
        attachment = detachment
    return tuple(reversed(out))
