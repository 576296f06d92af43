"""The ``[[enhancers]]`` scenario section: who enhances the deal's credit, on what terms.

Seven kinds, in two families. Tranche enhancers pay a tranche's shortfalls: a full guarantee
(timely interest, ultimate principal), a partial guarantee (a share of each shortfall and/or a
capped amount), the originator's shortfall undertaking (差额支付承诺) and a credit risk mitigation
warrant (CRMW, ultimate principal and unpaid interest at the legal final date). Pool enhancers pay
part of each defaulted loan's loss into the trust: a first-loss guarantee with a cap, a loan-level
guarantee (a share of each loss up to a per-borrower cap, the loss split among the bank and the
guarantee system) and an insurance risk pool (保证保险风险池: a coverage ratio of each loss until
the pool is exhausted).

Terms may start from a named profile in ``securitize/data/enhancers.toml`` (which cites its
sources); fields the scenario gives override the profile's. This module must not import
``securitize.scenario`` (which imports it).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from securitize.money import Amount, PositiveAmount
from securitize.names import NAME_LENGTH, DisplayName

EnhancerKind = Literal[
    "full_guarantee",
    "partial_guarantee",
    "shortfall_undertaking",
    "crmw",
    "first_loss",
    "loan_guarantee",
    "risk_pool",
]
TRANCHE_KINDS = ("shortfall_undertaking", "full_guarantee", "partial_guarantee", "crmw")
POOL_KINDS = ("first_loss", "loan_guarantee", "risk_pool")
# Tolerance on shares that must add up to 1.
_SHARE_TOLERANCE = 1e-9

Share = Annotated[float, Field(gt=0.0, le=1.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


@cache
def enhancer_data() -> dict[str, Any]:
    """Defaults and profiles, read once from the package data file."""
    text = resources.files("securitize.data").joinpath("enhancers.toml").read_text("utf-8")
    return tomllib.loads(text)


@cache
def _scenario_defaults() -> dict[str, Any]:
    text = resources.files("securitize.data").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)["enhancer"]


class _Strict(BaseModel):
    """Unknown fields are errors, models are immutable, values are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class RiskSplit(_Strict):
    """How a defaulted loan's loss is shared: the bank (lender, here the trust) and the
    guarantee system's layers (national fund, provincial re-guarantor, city guarantor)."""

    bank: Fraction
    national: Fraction = 0.0
    provincial: Fraction = 0.0
    city: Fraction = 0.0

    @model_validator(mode="after")
    def _adds_up(self) -> RiskSplit:
        total = self.bank + self.national + self.provincial + self.city
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise ValueError(
                f"shares bank + national + provincial + city add up to {total:.6g}; "
                "they must add up to 1"
            )
        return self

    @property
    def system(self) -> float:
        """The guarantee system's share of each loss (everyone but the bank)."""
        return self.national + self.provincial + self.city


class Limits(_Strict):
    """Regulatory limits on a financing guarantor (sources in data/enhancers.toml)."""

    leverage_multiple: Annotated[float, Field(gt=0.0)]
    single_client_share: Fraction
    related_client_share: Fraction
    annual_claims_ratio: Fraction


def _default_limits() -> Limits:
    return Limits(**enhancer_data()["defaults"]["limits"])


class Enhancer(_Strict):
    """One credit enhancer: its kind, what it covers, its own credit and its terms."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    name_en: DisplayName = None
    name_zh: DisplayName = None
    type: EnhancerKind
    profile: str | None = None
    covers: str | None = None
    rating: str = ""
    fee_bp: Annotated[float, Field(ge=0.0, le=10_000)] = 0.0
    # Default: the policy discount of defaults.toml, or the whole fee if that is smaller.
    policy_discount_bp: Annotated[float, Field(ge=0.0, le=10_000)] = 0.0
    annual_pd: Annotated[float, Field(ge=0.0, lt=1.0)]
    asset_correlation: Annotated[float, Field(ge=0.0, lt=1.0)]
    recovery_rate: Fraction = Field(
        default_factory=lambda: float(_scenario_defaults()["recovery_rate"])
    )
    share: Share = 1.0
    cap: Amount | None = None
    per_borrower_cap: Amount | None = None
    risk_split: RiskSplit | None = None
    net_assets: PositiveAmount | None = None
    existing_liability: Amount = Field(
        default_factory=lambda: float(enhancer_data()["defaults"]["existing_liability"])
    )
    limits: Limits = Field(default_factory=_default_limits)
    discount_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        default_factory=lambda: float(enhancer_data()["defaults"]["discount_rate"])
    )

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "profile" in data:
            profiles = enhancer_data()["profiles"]
            name = data["profile"]
            if not isinstance(name, str) or name not in profiles:
                raise ValueError(
                    f"profile {name!r} is not a known enhancer profile "
                    f"(known: {', '.join(sorted(profiles))})"
                )
            data = {**profiles[name], **data}
        fee = data.get("fee_bp", 0.0)
        if "policy_discount_bp" not in data and isinstance(fee, int | float):
            # The policy discount reduces a fee; an enhancer charging less has no more to give.
            discount = float(_scenario_defaults()["policy_discount_bp"])
            data = {**data, "policy_discount_bp": min(discount, float(fee))}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Enhancer:
        tranche_level = self.type in TRANCHE_KINDS
        if tranche_level and self.covers is None:
            raise ValueError(f"a {self.type} must name the tranche it covers ('covers')")
        if not tranche_level and self.covers is not None:
            raise ValueError(
                f"a {self.type} covers the pool's losses, not a tranche: remove 'covers'"
            )
        if self.policy_discount_bp > self.fee_bp:
            raise ValueError(
                f"policy_discount_bp {self.policy_discount_bp} exceeds fee_bp {self.fee_bp}"
            )
        if self.type == "partial_guarantee" and self.share == 1.0 and self.cap is None:
            raise ValueError("a partial_guarantee needs a 'share' below 1 or a 'cap' (CNY)")
        if self.type in ("first_loss", "risk_pool") and self.cap is None:
            raise ValueError(f"a {self.type} needs a 'cap' (CNY): the most it can pay in all")
        if self.type == "loan_guarantee":
            if self.risk_split is None:
                raise ValueError(
                    "a loan_guarantee needs a 'risk_split' (bank, national, provincial, city)"
                )
            if "share" in self.model_fields_set:
                raise ValueError(
                    "a loan_guarantee's share is 1 − risk_split.bank: give 'risk_split', "
                    "not 'share'"
                )
        elif self.risk_split is not None:
            raise ValueError("'risk_split' applies to a loan_guarantee only")
        if self.per_borrower_cap is not None and self.type != "loan_guarantee":
            raise ValueError("'per_borrower_cap' applies to a loan_guarantee only")
        if self.type in ("full_guarantee", "shortfall_undertaking") and self.cap is not None:
            raise ValueError(f"a {self.type} has no cap; use a partial_guarantee for a cap")
        return self

    @property
    def net_fee_bp(self) -> float:
        return self.fee_bp - self.policy_discount_bp

    @property
    def covered_share(self) -> float:
        """The share of each shortfall or loss this enhancer takes."""
        if self.risk_split is not None:
            return self.risk_split.system
        return self.share

    @property
    def tranche_level(self) -> bool:
        return self.type in TRANCHE_KINDS
