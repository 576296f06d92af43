"""Enterprise and public economics: what each enterprise pays a year for its financing, all in,
and what the programme costs the government.

An enterprise's all-in cost is its loan coupon, less the municipal interest subsidy (贴息), plus
its share of the guarantee fees after the policy discount, plus the guarantee-insurance premium
after the 50 % subsidy (capped per enterprise a year), plus its share of the intermediary fees
(rating agency, law firm, accountant, trustee …) after their subsidies. The government pays the
subsidies, forgoes the fee discount of the enhancers it owns, and bears their expected claims.

Figures are a year at the closing balance (amortisation lowers the CNY figures later, not the
rates). Deal-wide costs — guarantee fees and intermediary fees — are shared among enterprises in
proportion to their loan balances; a one-off intermediary fee is spread over the deal's life
(the longest loan's tenor). The ``[economics]`` scenario section holds the inputs; its defaults
are in ``securitize/data/economics.toml`` and ``docs/scenario.md`` documents each field.

This module must not import ``securitize.scenario`` at run time (which imports it), so it
declares its own strict base with the same configuration as the scenario sections.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from securitize.errors import ScenarioError
from securitize.money import LARGEST_AMOUNT
from securitize.names import NAME_LENGTH, DisplayName

if TYPE_CHECKING:
    from securitize.pool import Pool
    from securitize.scenario import LoadedScenario
    from securitize.structure import Structure


@cache
def economics_defaults() -> dict[str, Any]:
    """The documented defaults of ``[economics]``, read once from the package data file."""
    text = resources.files("securitize.data").joinpath("economics.toml").read_text("utf-8")
    return tomllib.loads(text)


def _default(key: str) -> Any:
    return Field(default_factory=lambda: economics_defaults()[key])


class _Strict(BaseModel):
    """Unknown fields are errors, models are immutable, values are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _share(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be a share from 0 to 1 (write 0.5 for 50 %)")
    return value


def _rate(value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError("must be an annual rate at least 0 and below 1 (write 0.01 for 1 %)")
    return value


def _cny(value: float) -> float:
    if value < 0.0:
        raise ValueError("must be at least 0 (CNY); a cap below zero is not allowed")
    if value > LARGEST_AMOUNT:
        raise ValueError(f"must be at most {LARGEST_AMOUNT:.0e} CNY")
    return value


Share = Annotated[float, AfterValidator(_share)]
Rate = Annotated[float, AfterValidator(_rate)]
Cny = Annotated[float, AfterValidator(_cny)]


class IntermediaryFee(_Strict):
    """A fee to an intermediary (rating agency, law firm, accountant, trustee …) for the deal."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    name_en: DisplayName = None
    name_zh: DisplayName = None
    amount: Cny
    basis: Literal["one_off", "per_year"] = "one_off"
    subsidy_share: Share = _default("intermediary_subsidy_share")


class EconomicsSpec(_Strict):
    """The ``[economics]`` section: policy support and which enhancers are public."""

    interest_subsidy_share: Share = _default("interest_subsidy_share")
    interest_subsidy_cap: Cny | None = None
    insurance_premium_rate: Rate = _default("insurance_premium_rate")
    insurance_subsidy_share: Share = _default("insurance_subsidy_share")
    insurance_subsidy_cap: Cny = _default("insurance_subsidy_cap")
    intermediary_fees: list[IntermediaryFee] = Field(default_factory=list)
    public_enhancers: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> EconomicsSpec:
        for label, names in (
            ("intermediary_fees", [f.name for f in self.intermediary_fees]),
            ("public_enhancers", list(self.public_enhancers)),
        ):
            for name in names:
                if names.count(name) > 1:
                    raise ValueError(f"{label}: '{name}' is listed twice")
        return self


TABLE_COLUMNS: tuple[str, ...] = (
    "enterprise",
    "loans",
    "balance",
    "coupon",
    "interest_subsidy_rate",
    "guarantee_fee_rate",
    "insurance_rate",
    "intermediary_rate",
    "all_in_rate",
    "interest_cny",
    "interest_subsidy_cny",
    "guarantee_fee_cny",
    "guarantee_discount_cny",
    "insurance_premium_cny",
    "insurance_subsidy_cny",
    "intermediary_fees_cny",
    "intermediary_subsidy_cny",
    "all_in_cny",
    "public_support_cny",
)


def _enhancer_fees(
    pool: Pool, structure: Structure, public: set[str]
) -> tuple[float, float, float]:
    """Net guarantee fees, all discounts and the public enhancers' discounts (CNY a year): each
    enhancer charges on the amount it covers at closing (``enhancers.metrics.covered_amount``)."""
    # Imported here: this module is imported by the scenario schema, which metrics depends on.
    from securitize.enhancers.metrics import covered_amount

    net = discount = public_discount = 0.0
    for g in structure.guarantees:
        base = covered_amount(pool, structure, g)
        spec = g.spec
        net += (spec.fee_bp - spec.policy_discount_bp) / 10_000 * base
        forgone = spec.policy_discount_bp / 10_000 * base
        discount += forgone
        if g.name in public:
            public_discount += forgone
    return net, discount, public_discount


def _check_names(loaded: LoadedScenario, spec: EconomicsSpec, claims: Mapping[str, float]) -> None:
    where = loaded.path
    enhancers = [e.name for e in loaded.scenario.enhancers]
    for i, name in enumerate(spec.public_enhancers):
        if name not in enhancers:
            known = ", ".join(enhancers) or "none"
            raise ScenarioError(
                f"{where}: field 'economics.public_enhancers[{i}]': value {name!r}: is not an "
                f"enhancer of the scenario (enhancers: {known})"
            )
    for name, value in claims.items():
        if name not in spec.public_enhancers:
            raise ScenarioError(
                f"{where}: expected claims given for {name!r}, which is not listed in "
                f"economics.public_enhancers ({', '.join(spec.public_enhancers) or 'none'})"
            )
        if isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise ScenarioError(
                f"{where}: expected claims of {name!r}: value {value!r}: must be a finite "
                "amount at least 0 (CNY)"
            )
    missing = [n for n in spec.public_enhancers if n not in claims]
    if missing:
        raise ScenarioError(
            f"{where}: no expected claims given for public enhancer(s) {', '.join(missing)}"
        )


def deal_years(pool: Pool) -> float:
    """The deal's life for spreading one-off costs: the longest loan's tenor in years."""
    return float(pool.tenor_months.max()) / 12.0


def enterprise_economics(
    loaded: LoadedScenario,
    pool: Pool,
    structure: Structure,
    expected_public_claims: Mapping[str, float],
) -> pd.DataFrame:
    """One row per enterprise: loan balance and coupon, each cost and subsidy as a rate a year
    (fraction of the balance, ``*_rate``) and in CNY a year (``*_cny``), the all-in cost, and
    the public support it receives. ``expected_public_claims`` (CNY over the deal's life, by
    public enhancer) is checked against ``economics.public_enhancers`` and kept, with the
    deal's life, in ``attrs`` for :func:`economics_totals`."""
    spec = loaded.scenario.economics or EconomicsSpec()
    claims = dict(expected_public_claims)
    _check_names(loaded, spec, claims)
    loans = pool.loans
    interest_by_loan = loans["balance"] * loans["coupon"]
    grouped = (
        loans.assign(_interest=interest_by_loan)
        .groupby("enterprise", sort=False)
        .agg(
            loans=("loan_id", lambda s: "; ".join(s.astype(str))),
            balance=("balance", "sum"),
            interest_cny=("_interest", "sum"),
        )
    )
    balance = grouped["balance"].to_numpy(dtype=float)
    weight = balance / pool.total_balance
    interest = grouped["interest_cny"].to_numpy(dtype=float)
    interest_subsidy = spec.interest_subsidy_share * interest
    if spec.interest_subsidy_cap is not None:
        interest_subsidy = np.minimum(interest_subsidy, spec.interest_subsidy_cap)
    net_fees, discounts, public_discounts = _enhancer_fees(
        pool, structure, set(spec.public_enhancers)
    )
    premium = spec.insurance_premium_rate * balance
    insurance_subsidy = np.minimum(
        spec.insurance_subsidy_share * premium, spec.insurance_subsidy_cap
    )
    years = deal_years(pool)
    gross_fees = subsidies = 0.0
    for fee in spec.intermediary_fees:
        per_year = fee.amount / years if fee.basis == "one_off" else fee.amount
        gross_fees += per_year
        subsidies += fee.subsidy_share * per_year
    intermediary = gross_fees * weight
    intermediary_subsidy = subsidies * weight
    guarantee_fee = net_fees * weight
    all_in = (
        interest
        - interest_subsidy
        + guarantee_fee
        + premium
        - insurance_subsidy
        + intermediary
        - intermediary_subsidy
    )
    table = pd.DataFrame(
        {
            "enterprise": grouped.index.astype(str),
            "loans": grouped["loans"].to_numpy(),
            "balance": balance,
            "coupon": interest / balance,
            "interest_subsidy_rate": interest_subsidy / balance,
            "guarantee_fee_rate": guarantee_fee / balance,
            "insurance_rate": (premium - insurance_subsidy) / balance,
            "intermediary_rate": (intermediary - intermediary_subsidy) / balance,
            "all_in_rate": all_in / balance,
            "interest_cny": interest,
            "interest_subsidy_cny": interest_subsidy,
            "guarantee_fee_cny": guarantee_fee,
            "guarantee_discount_cny": discounts * weight,
            "insurance_premium_cny": premium,
            "insurance_subsidy_cny": insurance_subsidy,
            "intermediary_fees_cny": intermediary,
            "intermediary_subsidy_cny": intermediary_subsidy,
            "all_in_cny": all_in,
            "public_support_cny": interest_subsidy
            + insurance_subsidy
            + intermediary_subsidy
            + public_discounts * weight,
        },
        columns=list(TABLE_COLUMNS),
    )
    table.attrs["expected_public_claims"] = claims
    table.attrs["deal_years"] = years
    return table


def economics_totals(
    table: pd.DataFrame,
    expected_public_claims: Mapping[str, float] | None = None,
    years: float | None = None,
) -> pd.Series:
    """Programme totals of an :func:`enterprise_economics` table and the government's expected
    cost: public support a year and over the deal's life, plus the public enhancers' expected
    claims (CNY over the life). Claims and life default to those kept in ``table.attrs``."""
    claims = dict(
        table.attrs.get("expected_public_claims", {})
        if expected_public_claims is None
        else expected_public_claims
    )
    life = float(table.attrs["deal_years"] if years is None else years)
    sums = table[[c for c in TABLE_COLUMNS if c.endswith("_cny") or c == "balance"]].sum()
    expected_claims = float(sum(claims.values()))
    support_over_life = float(sums["public_support_cny"]) * life
    out = {
        "enterprises": float(len(table)),
        **{name: float(value) for name, value in sums.items()},
        "all_in_rate": float(sums["all_in_cny"] / sums["balance"]),
        "deal_years": life,
        "public_support_over_life_cny": support_over_life,
        "expected_public_claims_cny": expected_claims,
        "government_expected_cost_cny": support_over_life + expected_claims,
        "government_expected_cost_per_year_cny": support_over_life / life + expected_claims / life,
    }
    return pd.Series(out, name="total")
