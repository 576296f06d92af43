"""The priority of payments as data: steps, accounts, triggers (scenario schema).

A waterfall is an ordered list of steps, each a small TOML table naming what it pays. A deal may
have one combined waterfall (all collections in one pot) or separate interest and principal
waterfalls, and a post-acceleration waterfall used once an event of default has accelerated the
notes. ``docs/waterfall.md`` lists every step and trigger with an example.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from securitize.money import Amount


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Share = Annotated[float, Field(ge=0.0, le=1.0)]


class Target(_Strict):
    """A target amount: fixed CNY, or a share of a tranche, of all notes or of the pool, with
    an optional floor (CNY)."""

    amount: Amount | None = None
    share_of: Literal["pool", "notes"] | str | None = None
    share: Share | None = None
    floor: Amount = 0.0

    @model_validator(mode="after")
    def _one_kind(self) -> Target:
        if (self.amount is None) == (self.share_of is None):
            raise ValueError("give either 'amount' (CNY) or 'share_of' with 'share'")
        if self.share_of is not None and self.share is None:
            raise ValueError("'share_of' needs 'share' (a fraction)")
        return self


class FeeStep(_Strict):
    """Pay a fee: a rate on the pool or a tranche balance, or a fixed amount a year."""

    pay: Literal["fee"]
    name: Annotated[str, Field(min_length=1)]
    basis: Literal["pool_balance", "tranche_balance", "fixed"] = "pool_balance"
    rate_bp: Annotated[float, Field(ge=0.0, le=10_000)] = 0.0
    amount_per_year: Amount = 0.0
    tranche: str | None = None

    @model_validator(mode="after")
    def _basis_fields(self) -> FeeStep:
        if self.basis == "tranche_balance" and self.tranche is None:
            raise ValueError("basis 'tranche_balance' needs 'tranche'")
        if self.basis != "tranche_balance" and self.tranche is not None:
            raise ValueError("'tranche' applies to basis 'tranche_balance'")
        if self.basis == "fixed" and self.rate_bp:
            raise ValueError("a fixed fee takes 'amount_per_year', not 'rate_bp'")
        if self.basis != "fixed" and self.amount_per_year:
            raise ValueError("'amount_per_year' applies to basis 'fixed'")
        return self


class TaxStep(_Strict):
    """Pay the VAT and surcharges (增值税及附加) on the interest collected, at the rates of the
    scenario's [tax] section (or the packaged ones, ``securitize/data/taxes.toml``)."""

    pay: Literal["tax"]


class GuaranteeFeeStep(_Strict):
    """Pay an enhancer's guarantee fee on the amount it covers (net of the policy discount)."""

    pay: Literal["guarantee_fee"]
    enhancer: str


class InterestStep(_Strict):
    """Pay interest to one tranche, or pro rata to several (a class)."""

    pay: Literal["interest"]
    tranches: Annotated[list[str], Field(min_length=1)]


class DeferredInterestStep(_Strict):
    """Pay interest deferred on earlier dates (a tranche whose arrears rank lower)."""

    pay: Literal["deferred_interest"]
    tranches: Annotated[list[str], Field(min_length=1)]


class ReserveFundStep(_Strict):
    """Deposit into a reserve account up to its target."""

    pay: Literal["reserve"]
    account: str


class ReserveDrawStep(_Strict):
    """Draw on a reserve account to cover the fees and the interest of the named tranches."""

    draw: Literal["reserve"]
    account: str
    cover_fees: bool = True
    cover_interest: list[str] = Field(default_factory=list)


class PrincipalStep(_Strict):
    """Pay principal sequentially or pro rata: the principal due (notes down to the performing
    pool), everything left (turbo), or down to a target balance."""

    pay: Literal["principal"]
    tranches: Annotated[list[str], Field(min_length=1)]
    mode: Literal["sequential", "pro_rata"] = "sequential"
    amount: Literal["principal_due", "all", "to_target"] = "principal_due"
    target: Target | None = None

    @model_validator(mode="after")
    def _target(self) -> PrincipalStep:
        if (self.amount == "to_target") != (self.target is not None):
            raise ValueError("amount 'to_target' needs a 'target', and only it takes one")
        return self


class ResidualStep(_Strict):
    """Everything left to a holder (the subordinated tranche's excess return)."""

    pay: Literal["residual"]
    tranche: str


STEP_KINDS = {
    "tax": TaxStep,
    "fee": FeeStep,
    "guarantee_fee": GuaranteeFeeStep,
    "interest": InterestStep,
    "deferred_interest": DeferredInterestStep,
    "reserve": ReserveFundStep,
    "principal": PrincipalStep,
    "residual": ResidualStep,
}


def _step_kind(value: Any) -> str | None:
    """Which step a TOML table is: its ``pay`` value, or "draw" for a reserve draw."""
    if isinstance(value, dict):
        if "draw" in value:
            return "draw"
        return value.get("pay")
    if isinstance(value, ReserveDrawStep):
        return "draw"
    return getattr(value, "pay", None)


Step = Annotated[
    Annotated[TaxStep, Tag("tax")]
    | Annotated[FeeStep, Tag("fee")]
    | Annotated[GuaranteeFeeStep, Tag("guarantee_fee")]
    | Annotated[InterestStep, Tag("interest")]
    | Annotated[DeferredInterestStep, Tag("deferred_interest")]
    | Annotated[ReserveFundStep, Tag("reserve")]
    | Annotated[ReserveDrawStep, Tag("draw")]
    | Annotated[PrincipalStep, Tag("principal")]
    | Annotated[ResidualStep, Tag("residual")],
    Discriminator(
        _step_kind,
        custom_error_type="unknown_step",
        custom_error_message=(
            "a step needs pay = one of "
            + ", ".join(f"'{k}'" for k in STEP_KINDS)
            + ', or draw = "reserve"'
        ),
    ),
]


class Waterfall(_Strict):
    """The deal's priority of payments.

    ``combined``: one pot of all collections. Or ``interest`` and ``principal``: interest
    collections run the first, principal collections and recoveries the second, and what the
    interest waterfall leaves flows into the principal waterfall. ``accelerated``: the steps
    after an event of default has accelerated the notes (all cash in one pot).
    """

    combined: list[Step] | None = None
    interest: list[Step] | None = None
    principal: list[Step] | None = None
    accelerated: list[Step] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Waterfall:
        separate = self.interest is not None or self.principal is not None
        if self.combined is not None and separate:
            raise ValueError("give 'combined', or 'interest' and 'principal', not both")
        if separate and (self.interest is None or self.principal is None):
            raise ValueError("separate waterfalls need both 'interest' and 'principal'")
        if self.combined is None and not separate:
            raise ValueError("give 'combined', or 'interest' and 'principal'")
        return self


class Account(_Strict):
    """A reserve account (储备账户): funded to a target from the waterfall, drawn when short."""

    name: Annotated[str, Field(min_length=1)]
    target: Target
    initial: Amount = 0.0


class Trigger(_Strict):
    """A test on a deal metric that switches how the deal pays once it is breached.

    Metrics: ``cumulative_default_ratio`` (defaulted balance since closing ÷ original pool),
    ``overcollateralisation`` ((performing pool + reserve accounts) ÷ notes outstanding),
    ``interest_shortfall`` (current interest of a tranche that is not deferrable left unpaid to
    its investors, after any guarantor advance: an event of default from the next date).
    Tests run at the start of each payment date on that period's collections. Effects:
    ``sequential`` (pro rata principal steps pay sequentially) or ``accelerate`` (the
    post-acceleration waterfall from that date on; after an interest shortfall, from the next).
    """

    name: Annotated[str, Field(min_length=1)]
    metric: Literal["cumulative_default_ratio", "overcollateralisation", "interest_shortfall"]
    above: float | None = None
    below: float | None = None
    effect: Literal["sequential", "accelerate"]
    curable: bool = False

    @model_validator(mode="after")
    def _threshold(self) -> Trigger:
        if self.metric == "interest_shortfall":
            if self.above is not None or self.below is not None:
                raise ValueError("'interest_shortfall' takes no threshold")
            return self
        if (self.above is None) == (self.below is None):
            raise ValueError("give one threshold: 'above' or 'below'")
        value = self.above if self.above is not None else self.below
        if value < 0:
            raise ValueError(f"threshold {value}: must be at least 0")
        if self.metric == "cumulative_default_ratio" and value > 1:
            # Defaulted balance over the original pool is a fraction: 'above' 1 could never
            # be breached, 'below' 1 always would (write 0.05 for 5 %).
            raise ValueError(
                f"threshold {value}: a cumulative default ratio is a fraction of the original "
                "pool, at most 1 (write 0.05 for 5 %)"
            )
        return self
