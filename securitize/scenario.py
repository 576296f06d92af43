"""Scenario files: a deal described as data (TOML).

A scenario names the pool source, the tranches, fees, enhancers, credit assumptions and
simulation settings. It is validated once, where it enters: unknown fields, missing required
fields and broken rules are ``ScenarioError`` messages that name the file, the field, the value
and the rule. Defaults for omitted fields come from ``securitize/data/defaults.toml``;
``docs/scenario.md`` documents every field.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from securitize.dated_schedule import DayCountField, DealCalendar
from securitize.economics import EconomicsSpec
from securitize.enhancers.spec import Enhancer
from securitize.errors import ScenarioError
from securitize.money import PositiveAmount
from securitize.names import NAME_LENGTH, TEXT_LENGTH, DisplayName, DisplayText, quoted
from securitize.selection.spec import SelectionSpec
from securitize.waterfall.spec import Account, Trigger, Waterfall

Amortisation = Literal["bullet", "equal_principal", "level_payment"]
# The ledger's and the results' name of the VAT and surcharges step (fee.vat_and_surcharges).
TAX_NAME = "vat_and_surcharges"


@cache
def defaults() -> dict[str, Any]:
    """The documented defaults, read once from the package data file."""
    text = resources.files("securitize.data").joinpath("defaults.toml").read_text("utf-8")
    return tomllib.loads(text)


def _default(section: str, key: str) -> Any:
    """A field default read from the data file (``section`` may be dotted, e.g. pool.inline)."""

    def read() -> Any:
        table = defaults()
        for part in section.split("."):
            table = table[part]
        return table[key]

    return Field(default_factory=read)


class _Strict(BaseModel):
    """Base for every scenario section: unknown fields are errors, models are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# A larger shift of the factor makes nearly every likelihood-ratio weight underflow to zero.
MAX_IMPORTANCE_SHIFT = 10.0
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
# An interest rate a year: a coupon, an index fixing, a market rate (the index may be negative).
IndexRate = Annotated[float, Field(ge=-0.05, lt=1.0)]
Coupon = Annotated[float, Field(ge=0.0, lt=1.0)]
Month = Annotated[int, Field(ge=1, le=600)]


@cache
def tax_defaults() -> dict[str, Any]:
    """The packaged tax rates with their sources (``securitize/data/taxes.toml``)."""
    text = resources.files("securitize.data").joinpath("taxes.toml").read_text("utf-8")
    return tomllib.loads(text)


class IndexPoint(_Strict):
    """One point of the reference-rate path: the rate in force from ``month`` on."""

    month: Annotated[int, Field(ge=0, le=600)]
    rate: IndexRate


class SurchargeRates(_Strict):
    """Surcharges on the VAT, each a share of the VAT (securitize/data/taxes.toml)."""

    urban_maintenance_construction: Fraction = Field(
        default_factory=lambda: tax_defaults()["surcharge_rates"]["urban_maintenance_construction"]
    )
    education: Fraction = Field(
        default_factory=lambda: tax_defaults()["surcharge_rates"]["education"]
    )
    local_education: Fraction = Field(
        default_factory=lambda: tax_defaults()["surcharge_rates"]["local_education"]
    )


class TaxTerms(_Strict):
    """VAT and surcharges (增值税及附加) the plan pays on its interest income, a senior step of
    the waterfall. Rates default to ``securitize/data/taxes.toml``, which cites them."""

    vat_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        default_factory=lambda: tax_defaults()["vat_rate"]
    )
    surcharge_rates: SurchargeRates = Field(default_factory=SurchargeRates)

    @property
    def rate_on_interest(self) -> float:
        """Tax paid per yuan of interest collected: the VAT on the tax-inclusive interest,
        r / (1 + r), plus the surcharges on that VAT."""
        s = self.surcharge_rates
        surcharges = s.urban_maintenance_construction + s.education + s.local_education
        return self.vat_rate / (1.0 + self.vat_rate) * (1.0 + surcharges)


class DealTerms(_Strict):
    """Basic terms of the special-purpose plan (专项计划)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]+$", min_length=1, max_length=NAME_LENGTH)]
    title: Annotated[str, Field(max_length=TEXT_LENGTH)] = ""
    title_zh: DisplayText = None
    closing_date: dt.date
    currency: Literal["CNY"] = _default("deal", "currency")
    originator: Annotated[str, Field(max_length=TEXT_LENGTH)] = ""
    originator_zh: DisplayText = None
    # Where the notes are issued: exchange-listed ABS or inter-bank ABN; sets which market's
    # disclosure tiers the rule block applies (both are reported when not stated).
    market: Literal["exchange", "interbank"] | None = None
    # Real dates (docs/dates.md): collection and payment dates on the exchange's business days
    # and each tranche's day count; without it the notes accrue 30/360 on the month grid.
    calendar: DealCalendar | None = None
    payment_interval_months: Annotated[int, Field(ge=1, le=12)] = _default(
        "deal", "payment_interval_months"
    )
    legal_final_months: Annotated[int, Field(ge=1, le=600)] | None = None
    index_rate: IndexRate = 0.0
    # The reference rate as a step function of months from the cut-off (LPR-like).
    index_path: Annotated[list[IndexPoint], Field(min_length=1)] | None = None
    clean_up_call: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None

    @field_validator("index_path")
    @classmethod
    def _path_increases(cls, path: list[IndexPoint] | None) -> list[IndexPoint] | None:
        if path is None:
            return path
        if path[0].month != 0:
            raise ValueError(
                f"the first point is at month {path[0].month}; the path must start at month 0 "
                "(the index in force at the cut-off)"
            )
        for a, b in itertools.pairwise(path):
            if b.month <= a.month:
                raise ValueError(
                    f"month {b.month} follows month {a.month}; months must increase strictly"
                )
        return path

    @model_validator(mode="after")
    def _one_index(self) -> DealTerms:
        if self.index_path is not None and "index_rate" in self.model_fields_set:
            raise ValueError("give 'index_rate' (constant) or 'index_path', not both")
        return self

    def index_at(self, month: int) -> float:
        """The reference rate in force at ``month`` (months from the cut-off)."""
        if self.index_path is None:
            return self.index_rate
        return [point.rate for point in self.index_path if point.month <= month][-1]


class InlinePool(_Strict):
    """N identical loans, for textbook cases and tests."""

    count: Annotated[int, Field(ge=1, le=100_000)]
    balance: PositiveAmount
    annual_pd: Probability
    recovery_rate: Fraction
    tenor_months: Annotated[int, Field(ge=1, le=360)]
    coupon: Annotated[float, Field(ge=0.0, lt=1.0)] = _default("pool.inline", "coupon")
    amortisation: Amortisation = _default("pool.inline", "amortisation")
    industry: str = _default("pool.inline", "industry")
    region: str = _default("pool.inline", "region")


# The [pool] fields that name files (relative to the scenario's folder).
POOL_FILE_FIELDS = ("tape", "score_bands")


def _names_a_file(value: str) -> str:
    if not value.strip():
        raise ValueError("must name a file (a path relative to the scenario's folder)")
    return value


FileName = Annotated[str, AfterValidator(_names_a_file)]


class PoolSource(_Strict):
    """Where the pool comes from: a loan tape file, or an inline description."""

    tape: FileName | None = None
    inline: InlinePool | None = None
    score_bands: FileName | None = None
    ip_haircut: Fraction = _default("pool", "ip_haircut")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "recovery_haircut" in data:
            raise ValueError(
                "'recovery_haircut' is now 'ip_haircut' in [pool] (the share of the pledged IP's "
                "appraised value lost on realisation); [[stresses]] recovery_haircut cuts "
                "recoveries"
            )
        return data

    @model_validator(mode="after")
    def _one_source(self) -> PoolSource:
        if (self.tape is None) == (self.inline is None):
            raise ValueError("give exactly one of 'tape' or 'inline'")
        if self.inline is not None:
            for name in ("score_bands", "ip_haircut"):
                if name in self.model_fields_set:
                    raise ValueError(
                        f"'{name}' applies to a tape; an inline pool states its own "
                        "annual_pd and recovery_rate"
                    )
        return self


class FactorLoadings(_Strict):
    """Multi-factor loadings: a global factor plus one factor per industry and per region."""

    global_loading: Annotated[float, Field(ge=0.0, lt=1.0)]
    industry_loading: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    region_loading: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    industry_loadings: dict[str, Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        default_factory=dict
    )
    region_loadings: dict[str, Annotated[float, Field(ge=0.0, lt=1.0)]] = Field(
        default_factory=dict
    )
    correlation: list[list[float]] | None = None


class RecoveryAssumptions(_Strict):
    """Recovery per default: the loan's recovery rate, or Beta around it."""

    distribution: Literal["fixed", "beta"] = "fixed"
    dispersion: Annotated[float, Field(gt=0.0, lt=0.5)] | None = None
    factor_loading: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0

    @model_validator(mode="after")
    def _dispersion_for_beta(self) -> RecoveryAssumptions:
        if self.distribution == "beta" and self.dispersion is None:
            raise ValueError("a beta recovery distribution needs 'dispersion' (standard deviation)")
        if self.distribution == "fixed" and (
            self.dispersion is not None or self.factor_loading != 0.0
        ):
            raise ValueError("'dispersion' and 'factor_loading' apply to distribution = 'beta'")
        return self


class PrepaymentAssumptions(_Strict):
    """Constant annual prepayment rate (CPR); 0 for none."""

    annual_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0


class PdCurve(_Strict):
    """A cumulative PD curve for the loans of one score band (or ``band = "all"``)."""

    band: Annotated[str, Field(min_length=1)]
    months: Annotated[list[Annotated[int, Field(ge=1, le=600)]], Field(min_length=1)]
    cumulative_pd: Annotated[list[Annotated[float, Field(gt=0.0, lt=1.0)]], Field(min_length=1)]

    @model_validator(mode="after")
    def _increasing(self) -> PdCurve:
        if len(self.months) != len(self.cumulative_pd):
            raise ValueError("'months' and 'cumulative_pd' must have the same length")
        if any(b <= a for a, b in zip(self.months, self.months[1:], strict=False)):
            raise ValueError("'months' must increase strictly")
        if any(b < a for a, b in zip(self.cumulative_pd, self.cumulative_pd[1:], strict=False)):
            raise ValueError("'cumulative_pd' must not decrease")
        return self


class CreditAssumptions(_Strict):
    """Dependence model, PD term structures, recoveries and prepayment."""

    model: Literal["gaussian_one_factor", "gaussian_multi_factor", "student_t"] = _default(
        "credit", "model"
    )
    asset_correlation: Annotated[float, Field(ge=0.0, lt=1.0)] = _default(
        "credit", "asset_correlation"
    )
    degrees_of_freedom: Annotated[float, Field(gt=2.0)] | None = None
    factors: FactorLoadings | None = None
    recovery_lag_months: Annotated[int, Field(ge=0, le=120)] = _default(
        "credit", "recovery_lag_months"
    )
    recovery: RecoveryAssumptions = Field(default_factory=RecoveryAssumptions)
    prepayment: PrepaymentAssumptions = Field(default_factory=PrepaymentAssumptions)
    pd_curves: list[PdCurve] = Field(default_factory=list)

    @model_validator(mode="after")
    def _model_fields(self) -> CreditAssumptions:
        if self.model == "student_t" and self.degrees_of_freedom is None:
            raise ValueError("model 'student_t' needs 'degrees_of_freedom' (above 2)")
        if self.model != "student_t" and self.degrees_of_freedom is not None:
            raise ValueError("'degrees_of_freedom' applies to model = 'student_t'")
        if self.model == "gaussian_multi_factor" and self.factors is None:
            raise ValueError("model 'gaussian_multi_factor' needs a [credit.factors] table")
        if self.model == "gaussian_one_factor" and self.factors is not None:
            raise ValueError("[credit.factors] applies to 'gaussian_multi_factor' or 'student_t'")
        if self.factors is not None and "asset_correlation" in self.model_fields_set:
            raise ValueError("give 'asset_correlation' or [credit.factors], not both")
        bands = [c.band for c in self.pd_curves]
        for band in bands:
            if bands.count(band) > 1:
                raise ValueError(f"pd_curves: band '{band}' has more than one curve")
        return self


class Stress(_Strict):
    """A deterministic stress run (and, with ``asset_correlation``, a Monte Carlo rerun)."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    name_zh: DisplayName = None
    default_multiplier: Annotated[float, Field(gt=0.0, le=100.0)] | None = None
    default_vector: (
        Annotated[list[Annotated[float, Field(ge=0.0, lt=1.0)]], Field(min_length=1)] | None
    ) = None
    front_loaded: Fraction | None = None
    recovery_haircut: Fraction | None = None
    spread_compression_bp: Annotated[float, Field(ge=0.0, le=10_000)] | None = None
    # Shifts the reference rate (deal.index_rate or every point of deal.index_path).
    index_shift_bp: Annotated[float, Field(ge=-1_000, le=1_000)] | None = None
    asset_correlation: Annotated[float, Field(ge=0.0, lt=1.0)] | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Stress:
        if len(self.model_fields_set - {"name", "name_zh"}) == 0:
            raise ValueError(f"stress '{self.name}' changes nothing; give at least one change")
        return self


class LossTranche(_Strict):
    """A CDO-style tranche of cumulative pool loss: [attachment, detachment) of pool balance."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    attachment: Annotated[float, Field(ge=0.0, lt=1.0)]
    detachment: Annotated[float, Field(gt=0.0, le=1.0)]

    @model_validator(mode="after")
    def _ordered(self) -> LossTranche:
        if self.detachment <= self.attachment:
            raise ValueError("detachment must be above attachment")
        return self


class SimulationSettings(_Strict):
    """Path count, seed and chunking; the same values give the same numbers on any workers."""

    paths: Annotated[int, Field(ge=1, le=100_000_000)] = _default("simulation", "paths")
    seed: Annotated[int, Field(ge=0)] = _default("simulation", "seed")
    chunk_size: Annotated[int, Field(ge=1, le=10_000_000)] = _default("simulation", "chunk_size")
    workers: Annotated[int, Field(ge=1, le=256)] = _default("simulation", "workers")
    importance_shift: float | Literal["auto"] = _default("simulation", "importance_shift")

    @field_validator("importance_shift", mode="before")
    @classmethod
    def _shift(cls, value: Any) -> Any:
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError('must be a number (standard deviations) or "auto"')
        if not math.isfinite(value) or abs(value) > MAX_IMPORTANCE_SHIFT:
            raise ValueError(
                f"must be a finite number from -{MAX_IMPORTANCE_SHIFT:g} to "
                f'{MAX_IMPORTANCE_SHIFT:g} (standard deviations), or "auto"'
            )
        return float(value)


class CouponReset(_Strict):
    """票面利率调整: from the payment date in ``month`` on, the tranche pays a new fixed
    ``coupon`` (a fixed-rate tranche) or a new ``margin`` over the index (a floating one)."""

    month: Month
    coupon: Coupon | None = None
    margin: IndexRate | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> CouponReset:
        if (self.coupon is None) == (self.margin is None):
            raise ValueError("give the new 'coupon' (fixed rate) or the new 'margin', not both")
        return self


PUT_RULES = ("always", "never", "reset_below_market")


class InvestorPut(_Strict):
    """回售: at the payment date in ``month`` investors may sell the notes back at par. Whether
    they do is stated by ``rule``: ``always``, ``never``, or ``reset_below_market`` (when the
    coupon reset at that month is below ``market_rate``)."""

    month: Month
    rule: Literal["always", "never", "reset_below_market"]
    market_rate: IndexRate | None = None

    @model_validator(mode="after")
    def _market_rate(self) -> InvestorPut:
        if (self.rule == "reset_below_market") != (self.market_rate is not None):
            raise ValueError(
                f"rule '{self.rule}': 'market_rate' is required with rule 'reset_below_market' "
                "and only with it"
            )
        return self


class IssuerCall(_Strict):
    """赎回: at the payment date in ``month`` the issuer redeems the whole tranche at par when
    that date's funds allow (docs/waterfall.md, Investor put and issuer redemption)."""

    month: Month


class Tranche(_Strict):
    """A class of notes; listed in the scenario from most senior to most junior."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    share: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    balance: Annotated[float, Field(gt=0)] | None = None
    coupon: Annotated[float, Field(ge=0.0, lt=1.0)] = _default("tranche", "coupon")
    margin: Annotated[float, Field(ge=-0.05, lt=1.0)] | None = None
    name_en: DisplayName = None
    name_zh: DisplayName = None
    holder: Annotated[str, Field(max_length=TEXT_LENGTH)] = ""
    holder_zh: DisplayText = None
    deferrable: bool = False
    expected_maturity_months: Annotated[int, Field(ge=1, le=600)] | None = None
    # The tranche's day count (计息基准); absent: the deal calendar's. Needs [deal.calendar].
    day_count: DayCountField | None = None
    reset: list[CouponReset] = Field(default_factory=list)
    put: InvestorPut | None = None
    call: IssuerCall | None = None

    @field_validator("reset", mode="before")
    @classmethod
    def _one_reset_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("reset")
    @classmethod
    def _resets_increase(cls, resets: list[CouponReset]) -> list[CouponReset]:
        for a, b in itertools.pairwise(resets):
            if b.month <= a.month:
                raise ValueError(
                    f"reset at month {b.month} follows one at month {a.month}; reset months "
                    "must increase strictly"
                )
        return resets

    @model_validator(mode="after")
    def _one_size(self) -> Tranche:
        if (self.share is None) == (self.balance is None):
            raise ValueError("give exactly one of 'share' (of pool balance) or 'balance' (CNY)")
        if self.margin is not None and "coupon" in self.model_fields_set:
            raise ValueError("give a fixed 'coupon' or a 'margin' over deal.index_rate, not both")
        floating = self.margin is not None
        for k, reset in enumerate(self.reset):
            if floating and reset.coupon is not None:
                raise ValueError(
                    f"reset[{k}] (month {reset.month}) gives 'coupon' {reset.coupon:g}; a tranche "
                    "priced over the index resets its 'margin'"
                )
            if not floating and reset.margin is not None:
                raise ValueError(
                    f"reset[{k}] (month {reset.month}) gives 'margin' {reset.margin:g}; a "
                    "fixed-coupon tranche resets its 'coupon'"
                )
        put, call = self.put, self.call
        resets = [r.month for r in self.reset]
        if put is not None and put.rule == "reset_below_market" and put.month not in resets:
            raise ValueError(
                f"put at month {put.month}: rule 'reset_below_market' needs a coupon reset "
                f"at month {put.month} ('reset')"
            )
        if put is not None and call is not None and put.month == call.month:
            raise ValueError(f"put and call both at month {put.month}; give them different months")
        return self

    def coupon_in_force(self, month: int, index: float) -> float:
        """The coupon fixed at ``month`` (after any reset at or before it), ``index`` being the
        reference rate then; a floating coupon is floored at 0."""
        fixed, margin = self.coupon, self.margin
        for reset in self.reset:
            if reset.month <= month:
                fixed = reset.coupon if reset.coupon is not None else fixed
                margin = reset.margin if reset.margin is not None else margin
        return fixed if margin is None else max(index + margin, 0.0)


class Fee(_Strict):
    """A senior expense paid before note interest (trustee, custodian, servicer, ...)."""

    name: Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)]
    name_en: DisplayName = None
    name_zh: DisplayName = None
    rate_bp: Annotated[float, Field(ge=0.0, le=10_000)]
    basis: Literal["pool_balance"] = "pool_balance"


class Scenario(_Strict):
    """A whole deal: terms, pool, structure, enhancement, assumptions, simulation."""

    deal: DealTerms
    pool: PoolSource
    credit: CreditAssumptions = Field(default_factory=CreditAssumptions)
    simulation: SimulationSettings = Field(default_factory=SimulationSettings)
    tranches: Annotated[list[Tranche], Field(min_length=1)]
    fees: list[Fee] = Field(default_factory=list)
    enhancers: list[Enhancer] = Field(default_factory=list)
    loss_tranches: list[LossTranche] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    waterfall: Waterfall | None = None
    stresses: list[Stress] = Field(default_factory=list)
    selection: SelectionSpec | None = None
    economics: EconomicsSpec | None = None
    tax: TaxTerms | None = None

    @model_validator(mode="after")
    def _names_and_references(self) -> Scenario:
        names = [t.name for t in self.tranches]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"tranche name '{name}' is used twice")
        uses_share = {t.share is not None for t in self.tranches}
        if len(uses_share) > 1:
            raise ValueError("size every tranche the same way: all by 'share' or all by 'balance'")
        payees = [f.name for f in self.fees] + [e.name for e in self.enhancers]
        if self.waterfall is not None:
            for steps in (
                self.waterfall.combined,
                self.waterfall.interest,
                self.waterfall.principal,
            ):
                payees += [step.name for step in steps or () if getattr(step, "pay", "") == "fee"]
        if self.tax is not None or self.waterfall_pays_tax:
            payees.append(TAX_NAME)
        for name in set(payees):
            if payees.count(name) > 1:
                if name == TAX_NAME:
                    raise ValueError(f"fee or enhancer name '{name}' is reserved for the tax")
                raise ValueError(f"fee or enhancer name '{name}' is used twice")
        if self.tax is not None and self.waterfall is not None and not self.waterfall_pays_tax:
            raise ValueError(
                '[tax] is given but no step of [waterfall] pays it; add { pay = "tax" } '
                "where it ranks (before the fees, as a rule)"
            )
        for label, items in (
            ("account", self.accounts),
            ("trigger", self.triggers),
            ("loss tranche", self.loss_tranches),
            ("stress", self.stresses),
        ):
            seen = [item.name for item in items]
            for name in set(seen):
                if seen.count(name) > 1:
                    raise ValueError(f"{label} name '{name}' is used twice")
        for i, enhancer in enumerate(self.enhancers):
            if enhancer.covers is not None and enhancer.covers not in names:
                raise ValueError(
                    f"enhancers[{i}].covers: '{enhancer.covers}' is not a tranche "
                    f"(tranches: {', '.join(names)})"
                )
        return self

    @property
    def waterfall_pays_tax(self) -> bool:
        """Whether a step of the scenario's [waterfall] is a tax step."""
        if self.waterfall is None:
            return False
        parts = (self.waterfall.combined, self.waterfall.interest, self.waterfall.principal)
        return any(getattr(step, "pay", "") == "tax" for steps in parts for step in steps or ())

    @property
    def tax_terms(self) -> TaxTerms | None:
        """The tax the deal pays: [tax], or the packaged rates when only a step names it."""
        if self.tax is not None:
            return self.tax
        return TaxTerms() if self.waterfall_pays_tax else None


def _field_path(loc: tuple[Any, ...]) -> str:
    text = ""
    for item in loc:
        text += f"[{item}]" if isinstance(item, int) else ("." if text else "") + str(item)
    return text


def _one_line(error: dict[str, Any]) -> str:
    field = _field_path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        value = error["input"]
        shown = "a table" if isinstance(value, dict) else f"value {quoted(value)}"
        return f"field '{field}': unknown field ({shown}); check the spelling"
    if kind == "missing":
        return f"field '{field}': required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if not field:
        return message
    value = error.get("input")
    if isinstance(value, dict):
        # A table: name the step or item by what identifies it, if anything does.
        keys = [k for k in ("pay", "draw", "name") if k in value]
        shown = "".join(f": {k} = {quoted(value[k])}" for k in keys[:1])
    else:
        shown = f": value {quoted(value)}"
    return f"field '{field}'{shown}: {message}"


def parse_scenario(data: dict[str, Any], source: Path) -> Scenario:
    """Validate a parsed TOML mapping; errors name ``source`` and the field."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        # A misspelt name shows up as an unknown field and a missing one; name the misspelling.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ScenarioError(f"{source}: {_one_line(errors[0])}{more}") from None


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario file; relative paths inside it resolve against its folder."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    if "programme" in data and "deal" not in data:
        raise ScenarioError(
            f"{path}: is a programme file (it has [programme], not [deal]); "
            f"run it with: securitize book {path}"
        )
    return LoadedScenario(scenario=parse_scenario(data, path), path=path.resolve(), raw=raw)


class LoadedScenario(BaseModel):
    """A validated scenario with the file it came from (for relative paths and hashes)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    scenario: Scenario
    path: Path
    raw: bytes

    def resolve(self, relative: str) -> Path:
        """A path named inside the scenario, relative to the scenario file's folder."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else self.path.parent / candidate


_FIELD_STEP = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def _set(data: dict[str, Any], field: str, value: Any) -> None:
    """Set dotted ``field`` (``tranches[0].share``) in a scenario mapping."""
    node: Any = data
    parts = field.split(".")
    for depth, part in enumerate(parts):
        match = _FIELD_STEP.match(part)
        if match is None:
            raise ScenarioError(f"field '{field}' is not a dotted field name")
        name, index = match.group(1), match.group(2)
        last = depth == len(parts) - 1
        if index is None:
            if last:
                node[name] = value
            else:
                node = node.setdefault(name, {})
            continue
        items = node.get(name)
        if not isinstance(items, list) or int(index) >= len(items):
            count = len(items) if isinstance(items, list) else 0
            raise ScenarioError(f"field '{field}': '{name}' has {count} entries, no [{index}]")
        if last:
            items[int(index)] = value
        else:
            node = items[int(index)]


def with_fields(loaded: LoadedScenario, changes: dict[str, Any]) -> LoadedScenario:
    """The scenario with several dotted fields set at once, then revalidated once (so fields
    that must agree, like tranche shares, can move together)."""
    data = loaded.scenario.model_dump(exclude_unset=True)
    for field, value in changes.items():
        _set(data, field, value)
    described = ", ".join(f"{f} = {v!r}" for f, v in changes.items())
    scenario = parse_scenario(data, Path(f"{loaded.path} (with {described})"))
    return LoadedScenario(scenario=scenario, path=loaded.path, raw=loaded.raw)
