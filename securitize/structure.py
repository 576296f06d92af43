"""The deal structure resolved against its pool: tranche balances, fees, guarantees, dates.

The structure is everything the waterfall needs and nothing the credit simulation needs, so
that one set of simulated paths can be evaluated under many structures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from securitize.errors import ScenarioError
from securitize.pool import Pool
from securitize.scenario import FullGuarantee, LoadedScenario

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


@dataclass(frozen=True)
class FeeTerms:
    """A senior expense accruing monthly at ``annual_rate`` × performing pool balance."""

    name: str
    annual_rate: float


@dataclass(frozen=True)
class GuaranteeTerms:
    """Full guarantee (担保) of one tranche: timely interest and ultimate principal."""

    name: str
    tranche: int
    net_fee_rate: float
    annual_pd: float
    asset_correlation: float
    recovery_rate: float
    spec: FullGuarantee


@dataclass(frozen=True)
class LossTrancheTerms:
    """A tranche of cumulative pool loss, [attachment, detachment) as shares of the pool."""

    name: str
    attachment: float
    detachment: float


@dataclass(frozen=True)
class Structure:
    """Tranches, fees and guarantees with the deal's monthly calendar."""

    tranches: tuple[TrancheTerms, ...]
    fees: tuple[FeeTerms, ...]
    guarantees: tuple[GuaranteeTerms, ...]
    horizon: int
    payment_interval: int
    pool_balance: float
    loss_tranches: tuple[LossTrancheTerms, ...] = ()

    @property
    def senior_attachment(self) -> float:
        """Share of the pool below the most senior note: the loss at which it starts to lose."""
        return 1.0 - self.tranches[0].balance / self.pool_balance

    @property
    def payment_months(self) -> np.ndarray:
        """Months (1-based) on which notes are paid; the legal final month always is one."""
        months = list(range(self.payment_interval, self.horizon + 1, self.payment_interval))
        if not months or months[-1] != self.horizon:
            months.append(self.horizon)
        return np.array(months)


def build_structure(loaded: LoadedScenario, pool: Pool) -> Structure:
    """Resolve shares to balances and check that the tranches add up to the pool."""
    scenario = loaded.scenario
    where = loaded.path
    total = pool.total_balance
    if scenario.tranches[0].share is not None:
        shares = sum(t.share for t in scenario.tranches)
        if abs(shares - 1.0) > _SHARE_TOLERANCE:
            raise ScenarioError(
                f"{where}: field 'tranches': shares add up to {shares:.6g}; "
                "tranche shares must add up to 1 (the whole pool)"
            )
        balances = [t.share * total for t in scenario.tranches]
    else:
        balances = [t.balance for t in scenario.tranches]
        if abs(sum(balances) - total) > _CENT:
            raise ScenarioError(
                f"{where}: field 'tranches': balances add up to {sum(balances):,.2f}; "
                f"they must add up to the pool balance {total:,.2f}"
            )
    tranches = tuple(
        TrancheTerms(t.name, b, t.coupon, t.holder)
        for t, b in zip(scenario.tranches, balances, strict=True)
    )
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
    names = [t.name for t in tranches]
    guarantees = tuple(
        GuaranteeTerms(
            g.name,
            names.index(g.covers),
            g.net_fee_bp / 10_000,
            g.annual_pd,
            g.asset_correlation,
            g.recovery_rate,
            g,
        )
        for g in scenario.enhancers
    )
    fees = tuple(FeeTerms(f.name, f.rate_bp / 10_000) for f in scenario.fees)
    return Structure(
        tranches, fees, guarantees, horizon, interval, total, loss_tranches(loaded, tranches, total)
    )


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
        detachment = min(attachment + tranche.balance / total, 1.0)
        out.append(LossTrancheTerms(tranche.name, attachment, detachment))
        attachment = detachment
    return tuple(reversed(out))
