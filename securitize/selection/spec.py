"""The ``[selection]`` scenario section: eligibility criteria, rules, limits and objective.

Criteria (入池标准) and concentration limits are data: a structurer changes them in the scenario
file, not in code. Every field is optional unless stated; an omitted criterion or limit is not
applied. ``docs/selection.md`` documents each field with its unit, default and allowed values.

This module must not import ``securitize.scenario`` (which imports it), so it declares its own
strict base with the same configuration as the scenario sections.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
OBJECTIVES = ("balance", "excess_spread", "loans")


class _Strict(BaseModel):
    """Unknown fields are errors, models are immutable, values are not coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _share(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise ValueError(
            "must be a share of the pool balance above 0 and at most 1 (write 0.15 for 15 %)"
        )
    return value


def _positive(value: float) -> float:
    if not value > 0.0:
        raise ValueError("must be above 0 (CNY)")
    return value


Share = Annotated[float, AfterValidator(_share)]
Money = Annotated[float, AfterValidator(_positive)]
Score = Annotated[float, Field(ge=0.0, le=100.0)]
Tenor = Annotated[int, Field(ge=1, le=360)]
Label = Annotated[str, Field(min_length=1)]


def _labels(values: list[str] | None, field: str) -> None:
    if values is None:
        return
    if not values:
        raise ValueError(f"'{field}' must list at least one value (omit it to allow any)")
    stripped = [v.strip() for v in values]
    for value in stripped:
        if stripped.count(value) > 1:
            raise ValueError(f"'{field}': value '{value}' is listed twice")


def _ordered(low: float | None, high: float | None, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(
            f"'{low_name}' ({low:g}) is above '{high_name}' ({high:g}); nothing can meet both"
        )


class EligibilityCriteria(_Strict):
    """Per-loan criteria (入池标准): a loan that fails any of them is not a candidate."""

    score_min: Score | None = None
    pd_max: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    bands: list[Label] | None = None
    tenor_months_min: Tenor | None = None
    tenor_months_max: Tenor | None = None
    balance_min: Money | None = None
    balance_max: Money | None = None
    ltv_max: Annotated[float, Field(gt=0.0, le=10.0)] | None = None
    ip_protection_months_min: Annotated[int, Field(ge=0, le=600)] | None = None
    industries: list[Label] | None = None
    regions: list[Label] | None = None
    related_party_balance_max: Money | None = None
    seasoning_months_max: Annotated[int, Field(ge=0, le=360)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EligibilityCriteria:
        _ordered(
            self.tenor_months_min, self.tenor_months_max, "tenor_months_min", "tenor_months_max"
        )
        _ordered(self.balance_min, self.balance_max, "balance_min", "balance_max")
        for name in ("bands", "industries", "regions"):
            _labels(getattr(self, name), name)
        return self


RuleValue = bool | int | float | str | dt.date | list[int | float | str | dt.date]


class Rule(_Strict):
    """A user-defined criterion on one tape column: ``column operator value``."""

    column: Annotated[str, Field(min_length=1)]
    operator: Literal["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
    value: RuleValue
    name: str = ""

    @model_validator(mode="after")
    def _value_fits_operator(self) -> Rule:
        listed = isinstance(self.value, list)
        if self.operator in ("in", "not in"):
            if not listed:
                raise ValueError(
                    f'operator \'{self.operator}\' needs a list value, e.g. value = ["a", "b"]'
                )
            if not self.value:
                raise ValueError(f"operator '{self.operator}' needs a non-empty list")
            kinds = {_kind(v) for v in self.value}
            if len(kinds) > 1:
                raise ValueError("the values of a list must all be numbers, all text or all dates")
        elif listed:
            raise ValueError(
                f"operator '{self.operator}' compares with one value; use 'in' for a list"
            )
        elif isinstance(self.value, bool) and self.operator not in ("==", "!="):
            raise ValueError(f"operator '{self.operator}' does not apply to true/false")
        elif isinstance(self.value, str) and self.operator not in ("==", "!="):
            raise ValueError(
                f"operator '{self.operator}' needs a number or a date; text is compared with "
                "'==', '!=', 'in' or 'not in'"
            )
        return self

    @property
    def label(self) -> str:
        value = self.value
        shown = (
            "[" + ", ".join(show_value(v) for v in value) + "]"
            if isinstance(value, list)
            else show_value(value)
        )
        text = f"{self.column} {self.operator} {shown}"
        return f"{self.name}: {text}" if self.name else text


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def show_value(value: object) -> str:
    """A rule's value, or a loan's value in a rule's column, as the scenario file spells it:
    the same spelling in rule labels and in the exclusion report's reasons."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dt.date):
        return value.isoformat()
    return f"{value:g}" if isinstance(value, float) else str(value)


class ConcentrationLimits(_Strict):
    """Pool-level limits; every share is a fraction of the selected pool's balance."""

    obligor_max: Share | None = None
    related_group_max: Share | None = None
    top_n: Annotated[int, Field(ge=1, le=10_000)] | None = None
    top_n_max: Share | None = None
    industry_max: Share | None = None
    region_max: Share | None = None
    wa_pd_max: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    wa_score_min: Score | None = None
    label_min: Share | None = None
    label_column: Annotated[str, Field(min_length=1)] | None = None
    loans_per_enterprise_max: Annotated[int, Field(ge=1, le=1000)] | None = None

    @model_validator(mode="after")
    def _top_n_pair(self) -> ConcentrationLimits:
        if (self.top_n is None) != (self.top_n_max is None):
            raise ValueError("give both 'top_n' (how many loans) and 'top_n_max' (their share)")
        return self


class Programme(_Strict):
    """Successive deals cut from the pipeline on the given dates (项目储备 → 多期发行)."""

    cut_dates: Annotated[list[dt.date], Field(min_length=1)]
    target_enterprises_per_year: Annotated[int, Field(ge=1, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _increasing(self) -> Programme:
        for earlier, later in zip(self.cut_dates, self.cut_dates[1:], strict=False):
            if later <= earlier:
                raise ValueError(
                    f"'cut_dates' must increase strictly ({later.isoformat()} follows "
                    f"{earlier.isoformat()})"
                )
        return self


class SelectionSpec(_Strict):
    """How a pool is cut from the candidate tape: criteria, limits, objective, solver."""

    objective: Literal["balance", "excess_spread", "loans"] = "balance"
    tie_break: Literal["expected_loss", "none"] = "expected_loss"
    tie_break_tolerance: Annotated[float, Field(ge=0.0, le=0.1)] = 1e-3
    cut_off_date: dt.date | None = None
    deal_size_min: Money | None = None
    deal_size_max: Money | None = None
    loans_min: Annotated[int, Field(ge=1, le=100_000)] | None = None
    loans_max: Annotated[int, Field(ge=1, le=100_000)] | None = None
    funding_cost: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None
    time_limit_seconds: Annotated[float, Field(gt=0.0, le=3600.0)] = 60.0
    mip_rel_gap: Annotated[float, Field(ge=0.0, le=0.5)] = 1e-4
    explain_solves_max: Annotated[int, Field(ge=0, le=1_000_000)] = 500
    explain_mip_rel_gap: Annotated[float, Field(ge=0.0, le=0.5)] = 1e-3
    explain_time_limit_seconds: Annotated[float, Field(gt=0.0, le=3600.0)] = 2.0
    eligibility: EligibilityCriteria = Field(default_factory=EligibilityCriteria)
    rules: list[Rule] = Field(default_factory=list)
    limits: ConcentrationLimits = Field(default_factory=ConcentrationLimits)
    programme: Programme | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SelectionSpec:
        _ordered(self.deal_size_min, self.deal_size_max, "deal_size_min", "deal_size_max")
        _ordered(self.loans_min, self.loans_max, "loans_min", "loans_max")
        if self.funding_cost is not None and self.objective != "excess_spread":
            raise ValueError("'funding_cost' applies to objective = 'excess_spread'")
        return self
