"""An enhancer's programme book: several deals over time backed by the same enhancers.

A programme file lists the deals (scenario files) and the month each closes, counted from the
programme's start. Every deal is simulated on the programme's paths with one economy: on path p
every deal sees the same systematic factor (one draw for the programme's whole life, as the
one-factor model has one for a deal's) and each enhancer defaults in the same calendar month (the
programme's common seed; a deal closing in month s reads month m of the programme as its month
m − s), while each deal's loans draw their own idiosyncratic risk (the deal's seed). Summing
claims path by path then gives each enhancer's aggregate claim distribution across its book,
with the diversification the shared factor leaves; its guarantee liability, by calendar month,
is set against its leverage limit and its net assets against the book's tail.

Capacity is consumed across the book: deals are evaluated in closing order, and on each path an
enhancer enters a deal with its net assets less every claim it paid on the earlier deals (over
their whole lives, so an earlier deal's claims rank first). Once its claims use that up it is
insolvent and pays only its recovery rate, as after its own default. Losses on the enhancer's
existing book (outside the programme) are not simulated: its stated net assets are what is left.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from securitize.credit.build import build_credit_model
from securitize.credit.paths import simulate_defaults
from securitize.enhancers.metrics import CLAIM_QUANTILES, covered_amount, within_limit
from securitize.errors import ScenarioError
from securitize.evaluate import CENT, evaluate
from securitize.pool import build_pool
from securitize.run import with_overrides
from securitize.scenario import load_scenario
from securitize.stats import Estimate, mean_estimate, probability_estimate, quantile_estimate
from securitize.structure import build_structure


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ProgrammeTerms(_Strict):
    name: Annotated[str, Field(min_length=1)]
    paths: Annotated[int, Field(ge=100, le=10_000_000)] = 100_000
    seed: Annotated[int, Field(ge=0)] = 20210115
    chunk_size: Annotated[int, Field(ge=1, le=10_000_000)] = 25_000


class DealEntry(_Strict):
    scenario: Annotated[str, Field(min_length=1)]
    start_month: Annotated[int, Field(ge=0, le=600)] = 0
    label: str = ""


class Programme(_Strict):
    programme: ProgrammeTerms
    deals: Annotated[list[DealEntry], Field(min_length=1)]


@dataclass(frozen=True)
class LoadedProgramme:
    terms: ProgrammeTerms
    deals: tuple[DealEntry, ...]
    path: Path


def load_programme(path: str | Path) -> LoadedProgramme:
    """Read and validate a programme file; deal scenarios resolve against its folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: programme file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    try:
        programme = Programme.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        shown = "" if isinstance(error.get("input"), dict) else f": value {error.get('input')!r}"
        raise ScenarioError(f"{path}: field '{where}'{shown}: {error['msg']}") from None
    for k, deal in enumerate(programme.deals):
        if not (path.parent / deal.scenario).is_file():
            raise ScenarioError(
                f"{path}: field 'deals.{k}.scenario': {deal.scenario!r} is not a file "
                f"(relative to {path.parent})"
            )
    return LoadedProgramme(programme.programme, tuple(programme.deals), path)


@dataclass(frozen=True)
class EnhancerBook:
    """One enhancer's book across the programme's deals."""

    name: str
    deals: list[str]
    claims: dict[str, Estimate]
    standalone_quantile_sum: float
    liability_by_month: list[dict[str, float]]
    capacity: dict[str, Any]


@dataclass(frozen=True)
class Book:
    programme: str
    paths: int
    seed: int
    deals: list[dict[str, Any]]
    enhancers: list[EnhancerBook] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "paths": self.paths,
            "seed": self.seed,
            "deals": self.deals,
            "enhancers": [
                {
                    "name": e.name,
                    "deals": e.deals,
                    "claims": {k: v.to_dict() for k, v in e.claims.items()},
                    "sum_of_standalone_claim_quantile_0.999": e.standalone_quantile_sum,
                    "liability_by_month": e.liability_by_month,
                    "capacity": e.capacity,
                }
                for e in self.enhancers
            ],
        }


@dataclass
class _Exposure:
    """What one enhancer has on the book so far: per-path claims, liability by month."""

    spec: Any
    deals: list[str] = field(default_factory=list)
    claims: np.ndarray | None = None
    standalone_q999: float = 0.0
    liability: dict[int, float] = field(default_factory=dict)


def run_book(programme: LoadedProgramme, paths: int | None = None, workers: int = 1) -> Book:
    """Simulate every deal on the programme's common paths and add up each enhancer's book."""
    terms = programme.terms
    paths = paths or terms.paths
    exposures: dict[str, _Exposure] = {}
    deals = []
    models = set()
    capital_used: dict[str, np.ndarray] = {}
    order = sorted(range(len(programme.deals)), key=lambda k: programme.deals[k].start_month)
    for k in order:
        entry = programme.deals[k]
        source = programme.path.parent / entry.scenario
        loaded = with_overrides(
            load_scenario(source),
            paths=paths,
            seed=terms.seed + 1 + k,
            chunk_size=terms.chunk_size,
            importance_shift=0.0,
        )
        models.add(loaded.scenario.credit.model)
        if len(models) > 1 or "gaussian_multi_factor" in models:
            raise ScenarioError(
                f"{programme.path}: deals of a programme must share one dependence model, "
                "gaussian_one_factor or student_t (deal "
                f"{entry.scenario} uses {loaded.scenario.credit.model})"
            )
        pool = build_pool(loaded)
        structure = build_structure(loaded, pool)
        model = dataclasses.replace(
            build_credit_model(loaded, pool, structure.senior_attachment),
            common_seed=terms.seed,
            calendar_offset=entry.start_month,
        )
        settings = loaded.scenario.simulation
        defaults = simulate_defaults(model, paths, settings.seed, terms.chunk_size, workers)
        lag = loaded.scenario.credit.recovery_lag_months
        capital = {
            i: np.broadcast_to(g.capital - capital_used.get(g.name, 0.0), (paths,)).copy()
            for i, g in enumerate(structure.guarantees)
            if np.isfinite(g.capital)
        }
        outcomes = evaluate(pool, structure, lag, defaults, workers, capital=capital)
        label = entry.label or loaded.scenario.deal.name
        row: dict[str, Any] = {
            "label": label,
            "scenario": entry.scenario,
            "start_month": entry.start_month,
            "pool_balance": structure.pool_balance,
        }
        months = structure.payment_months
        for g in structure.guarantees:
            key = f"enhancer.{g.name}"
            claims = outcomes.per_path[f"{key}.claims"]
            capital_used[g.name] = capital_used.get(g.name, 0.0) + claims
            covered = covered_amount(pool, structure, g)
            row[f"{g.name}.covered"] = covered
            row[f"{g.name}.expected_claim"] = float(claims.mean())
            book = exposures.setdefault(g.name, _Exposure(g.spec))
            book.deals.append(label)
            book.claims = claims.copy() if book.claims is None else book.claims + claims
            book.standalone_q999 += quantile_estimate(claims, 0.999).value
            # Liability outstanding through each period: the cover written (CNY-years) back to
            # an amount, placed at the programme month of the period's end.
            total, _ = outcomes.per_period[f"{key}.cover"]
            period_months = months - structure.period_start_months + 1
            outstanding = total / outcomes.paths * 12.0 / period_months
            outstanding[0] = max(outstanding[0], covered)
            # Outstanding through every month of the period, so deals with different payment
            # dates add up month by month.
            for first, last, amount in zip(
                structure.period_start_months, months, outstanding, strict=True
            ):
                for month in range(int(first), int(last) + 1):
                    at = entry.start_month + month
                    book.liability[at] = book.liability.get(at, 0.0) + float(amount)
        deals.append(row)
    return Book(
        terms.name,
        paths,
        terms.seed,
        deals,
        [_enhancer_book(name, e) for name, e in exposures.items()],
    )


def _enhancer_book(name: str, exposure: _Exposure) -> EnhancerBook:
    claims = exposure.claims
    assert claims is not None
    metrics = {
        "probability_of_claim": probability_estimate(claims > CENT),
        "expected_claim": mean_estimate(claims),
    }
    for level in CLAIM_QUANTILES:
        metrics[f"claim_quantile_{level:g}"] = quantile_estimate(claims, level)
    spec = exposure.spec
    liability = [
        {"month": month, "liability": amount}
        for month, amount in sorted(exposure.liability.items())
    ]
    peak = max((row["liability"] for row in liability), default=0.0)
    capacity: dict[str, Any] = {"peak_book_liability": peak}
    if spec.net_assets is not None:
        limit = spec.limits.leverage_multiple * spec.net_assets
        leverage = (spec.existing_liability + peak) / spec.net_assets
        capacity.update(
            net_assets=spec.net_assets,
            existing_liability=spec.existing_liability,
            leverage_at_peak=leverage,
            leverage_limit=spec.limits.leverage_multiple,
            within_leverage_limit=within_limit(leverage, spec.limits.leverage_multiple),
            capacity_used=(spec.existing_liability + peak) / limit,
            probability_claims_exceed_net_assets=probability_estimate(
                claims > spec.net_assets
            ).to_dict(),
            claim_quantile_0_999_share_of_net_assets=metrics["claim_quantile_0.999"].value
            / spec.net_assets,
        )
    return EnhancerBook(
        name, exposure.deals, metrics, exposure.standalone_q999, liability, capacity
    )


def format_book(book: Book) -> str:
    """A terminal report of the book."""
    lines = [f"programme {book.programme}: {len(book.deals)} deals, {book.paths:,} common paths"]
    for deal in book.deals:
        lines.append(
            f"  {deal['label']}: closes month {deal['start_month']}, "
            f"pool CNY {deal['pool_balance']:,.0f}"
        )
    for e in book.enhancers:
        lines.append(f"enhancer {e.name} (deals: {', '.join(e.deals)})")
        for key, value in e.claims.items():
            lines.append(f"  {key}: {value.value:,.4g} ± {value.se:,.2g}")
        lines.append(
            f"  sum of the deals' stand-alone 99.9% claims: {e.standalone_quantile_sum:,.0f} "
            "(the book's own 99.9% claim is lower by the diversification)"
        )
        for key, value in e.capacity.items():
            shown = f"{value:,.4g}" if isinstance(value, float) else value
            lines.append(f"  {key}: {shown}")
    return "\n".join(lines)
