"""Sizing solvers for the structurer and the enhancement agency, on common random numbers.

Each solver simulates the scenario's default paths once and evaluates every candidate design on
those same paths, so a design's metric moves smoothly with the sized quantity and bisection
converges. Each answer comes with a Monte Carlo band: the same question solved with the metric
moved by ±2 standard errors (``BAND_SIGMAS``).

* minimum subordination for a target rating without a guarantee: the largest share of the
  tranche whose stand-alone expected loss stays within the rating's ceiling at its WAL (method
  ``loss_table``, the default), or whose break-even default rate under the target level's
  stresses exceeds the level's target default rate and which passes the level's large-obligor
  test (method ``domestic``, ``securitize.ratings.domestic``);
* minimum guarantee coverage for a target rating: the smallest share of each shortfall the
  tranche's guarantor must take for the wrapped expected loss to meet the ceiling;
* break-even guarantee fee: the net fee at which the guarantor's expected net result earns the
  target annual return on its 99.9% economic capital;
* the largest pool the guarantor can support within its leverage and concentration limits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from securitize.credit.build import build_credit_model
from securitize.credit.paths import DefaultPaths, simulate_defaults
from securitize.enhancers.metrics import CAPITAL_LEVEL, claim_metrics, covered_amount
from securitize.errors import ScenarioError, SecuritizeError
from securitize.evaluate import Outcomes, evaluate
from securitize.pool import Pool, build_pool
from securitize.ratings import expected_loss_ceiling, implied_rating
from securitize.ratings.domestic import (
    deal_tenor_years,
    earns_level,
    level_break_even,
    level_of,
    target_default_rates,
)
from securitize.scenario import LoadedScenario, with_fields
from securitize.stats import Estimate, mean_estimate, ratio_estimate
from securitize.structure import Structure, build_structure

BAND_SIGMAS = 2.0
METHODS: tuple[str, ...] = ("loss_table", "domestic")
# Bisection stops when the bracket is this narrow (shares of the pool or of a shortfall).
SHARE_TOLERANCE = 0.0025
_SMALLEST_SHARE = 1e-4


@dataclass(frozen=True)
class SizingAnswer:
    """A solver's answer at the estimate, and at the estimate ±2 SE (``band``)."""

    question: str
    unit: str
    answer: float | None
    band: tuple[float | None, float | None]
    detail: dict[str, Any] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "unit": self.unit,
            "answer": self.answer,
            "band": list(self.band),
            "band_sigmas": BAND_SIGMAS,
            "detail": self.detail,
            "evaluations": self.evaluations,
            "seconds": self.seconds,
        }


class SharedPaths:
    """A scenario's default paths, simulated once; designs are evaluated on them."""

    def __init__(self, loaded: LoadedScenario, workers: int = 1) -> None:
        self.loaded = loaded
        self.workers = workers
        self.pool: Pool = build_pool(loaded)
        self.structure: Structure = build_structure(loaded, self.pool)
        settings = loaded.scenario.simulation
        model = build_credit_model(loaded, self.pool, self.structure.senior_attachment)
        # The base default curves the deterministic (domestic-method) break-even runs scale.
        self.cumulative_pd: np.ndarray = model.cumulative_pd
        self.defaults: DefaultPaths = simulate_defaults(
            model, settings.paths, settings.seed, settings.chunk_size, workers
        )
        self.evaluations = 0
        self._cache: dict[tuple[tuple[str, Any], ...], tuple[Structure, Outcomes]] = {}

    def design(self, changes: dict[str, Any]) -> tuple[Structure, Outcomes]:
        """The scenario with ``changes`` (dotted fields) evaluated on the shared paths."""
        key = tuple(sorted((k, repr(v)) for k, v in changes.items()))
        if key not in self._cache:
            loaded = with_fields(self.loaded, changes)
            structure = build_structure(loaded, self.pool)
            lag = loaded.scenario.credit.recovery_lag_months
            # Solvers read per-path figures only: no yields, no per-period sums.
            outcomes = evaluate(
                self.pool,
                structure,
                lag,
                self.defaults,
                self.workers,
                yields=False,
                periods=False,
            )
            self._cache[key] = (structure, outcomes)
            self.evaluations += 1
        return self._cache[key]


def _tranche_index(loaded: LoadedScenario, tranche: str | None) -> int:
    names = [t.name for t in loaded.scenario.tranches]
    if tranche is None:
        return 0
    if tranche not in names:
        raise ScenarioError(f"--tranche {tranche!r}: not a tranche ({', '.join(names)})")
    return names.index(tranche)


def _loss_and_wal(outcomes: Outcomes, name: str, view: str) -> tuple[Estimate, float]:
    per_path = outcomes.per_path
    weight = per_path["weight"]
    loss = mean_estimate(per_path[f"tranche.{name}.{view}.loss"], weight)
    wal = per_path[f"tranche.{name}.{view}.wal"]
    paid = np.isfinite(wal)
    years = ratio_estimate(np.where(paid, wal, 0.0), paid, weight).value
    return loss, years if math.isfinite(years) and years > 0 else 1.0


def _bisect(
    test: Callable[[float], bool], low: float, high: float, tolerance: float, passes_low: bool
) -> float:
    """The boundary in [low, high] where ``test`` changes value; ``test(low)`` is
    ``passes_low``. Returns the last value that passes."""
    while high - low > tolerance:
        middle = 0.5 * (low + high)
        if test(middle) == passes_low:
            low = middle
        else:
            high = middle
    return low if passes_low else high


def _rating_test(
    shared: SharedPaths,
    changes: Callable[[float], dict[str, Any]],
    name: str,
    view: str,
    target: str,
    scale: str,
    sigmas: float,
) -> Callable[[float], bool]:
    def meets(x: float) -> bool:
        _, outcomes = shared.design(changes(x))
        loss, wal = _loss_and_wal(outcomes, name, view)
        return loss.value + sigmas * loss.se <= expected_loss_ceiling(target, wal, scale)

    return meets


def _solve_band(
    shared: SharedPaths,
    changes: Callable[[float], dict[str, Any]],
    name: str,
    view: str,
    target: str,
    scale: str,
    bounds: tuple[float, float],
    passes_low: bool,
) -> tuple[float | None, tuple[float | None, float | None]]:
    """Solve at the estimate and at ∓2 SE (the optimistic and the prudent answer)."""
    answers = []
    for sigmas in (0.0, -BAND_SIGMAS, BAND_SIGMAS):
        test = _rating_test(shared, changes, name, view, target, scale, sigmas)
        low, high = bounds
        end = low if passes_low else high
        if not test(end):
            answers.append(None)
            continue
        other = high if passes_low else low
        if test(other):
            answers.append(other)
            continue
        answers.append(_bisect(test, low, high, SHARE_TOLERANCE, passes_low))
    return answers[0], (answers[1], answers[2])


def _check_method(method: str, scale: str) -> None:
    if method not in METHODS:
        raise SecuritizeError(f"--method {method!r}: must be one of {', '.join(METHODS)}")
    if method == "domestic" and scale != "sf":
        raise SecuritizeError("--method domestic rates on the sf scale only (use --scale sf)")


def target_default_rate(shared: SharedPaths, target: str) -> Estimate:
    """The domestic method's TDR for ``target`` on the shared paths (the pool's default-rate
    distribution does not depend on the structure)."""
    return _target_row(shared, target)["tdr"]


def _target_row(shared: SharedPaths, target: str) -> dict[str, Any]:
    _, outcomes = shared.design({})
    per_path = outcomes.per_path
    return target_default_rates(
        per_path["pool.defaulted"],
        deal_tenor_years(shared.pool),
        per_path["weight"],
        [level_of(target)],
    )[0]


def _domestic_band(
    shared: SharedPaths,
    changes: Callable[[float], dict[str, Any]],
    j: int,
    target: str,
    bounds: tuple[float, float],
) -> tuple[float | None, tuple[float | None, float | None]]:
    """The largest tranche share that earns ``target`` by the domestic method, with the TDR at
    its estimate and at ∓2 SE (the optimistic and the prudent answer)."""
    level = level_of(target)
    tdr = target_default_rate(shared, target)
    lag = shared.loaded.scenario.credit.recovery_lag_months
    answers: list[float | None] = []
    for sigmas in (0.0, -BAND_SIGMAS, BAND_SIGMAS):

        def test(share: float, sigmas: float = sigmas) -> bool:
            structure = build_structure(with_fields(shared.loaded, changes(share)), shared.pool)
            return earns_level(
                shared.pool, structure, lag, shared.cumulative_pd, j, level, tdr, sigmas
            )

        low, high = bounds
        if not test(low):
            answers.append(None)
        elif test(high):
            answers.append(high)
        else:
            answers.append(_bisect(test, low, high, SHARE_TOLERANCE, True))
    return answers[0], (answers[1], answers[2])


def _without_enhancers_of(loaded: LoadedScenario, tranche: str) -> list[dict[str, Any]]:
    return [
        e.model_dump(exclude_unset=True) for e in loaded.scenario.enhancers if e.covers != tranche
    ]


def minimum_subordination(
    shared: SharedPaths,
    target: str,
    tranche: str | None = None,
    scale: str = "sf",
    method: str = "loss_table",
) -> SizingAnswer:
    """The least subordination below ``tranche`` (most senior by default) for ``target`` on its
    stand-alone expected loss (``method="loss_table"``) or by the domestic agencies' method
    (``method="domestic"``: BDR under the level's stresses above the level's TDR, and the
    level's large-obligor test passed), with no enhancer covering it. The tranche's share
    moves; the most junior tranche takes up the difference."""
    _check_method(method, scale)
    started = time.perf_counter()
    before = shared.evaluations
    loaded = shared.loaded
    tranches = loaded.scenario.tranches
    j = _tranche_index(loaded, tranche)
    if tranches[0].share is None:
        raise ScenarioError("sizing subordination needs tranches sized by 'share'")
    if j == len(tranches) - 1:
        raise ScenarioError("the most junior tranche has no subordination to size")
    name = tranches[j].name
    fixed = sum(t.share for k, t in enumerate(tranches) if k not in (j, len(tranches) - 1))
    senior_of_j = sum(t.share for t in tranches[:j])
    enhancers = _without_enhancers_of(loaded, name)

    def changes(share: float) -> dict[str, Any]:
        return {
            f"tranches[{j}].share": share,
            f"tranches[{len(tranches) - 1}].share": 1.0 - fixed - share,
            "enhancers": enhancers,
        }

    room = 1.0 - fixed - _SMALLEST_SHARE
    if method == "domestic":
        share, (optimistic, prudent) = _domestic_band(
            shared, changes, j, target, (_SMALLEST_SHARE, room)
        )
    else:
        share, (optimistic, prudent) = _solve_band(
            shared, changes, name, "standalone", target, scale, (_SMALLEST_SHARE, room), True
        )

    def subordination(s: float | None) -> float | None:
        return None if s is None else 1.0 - senior_of_j - s

    detail: dict[str, Any] = {
        "tranche": name,
        "target": target,
        "scale": scale,
        "method": method,
    }
    if share is not None and method == "domestic":
        level = level_of(target)
        structure = build_structure(with_fields(loaded, changes(share)), shared.pool)
        lag = loaded.scenario.credit.recovery_lag_months
        bdr = level_break_even(shared.pool, structure, lag, shared.cumulative_pd, j, level)
        row = _target_row(shared, target)
        tdr = row["tdr"]
        detail.update(
            tranche_share=share,
            target_default_rate=tdr.to_dict(),
            # False: the TDR rests on fewer than MIN_TAIL_PATHS expected paths (more are needed).
            target_default_rate_resolved=row["resolved"],
            break_even_default_rate=bdr,
            margin=None if bdr is None else bdr - tdr.value,
            large_obligors=level.large_obligors,
        )
    elif share is not None:
        _, outcomes = shared.design(changes(share))
        loss, wal = _loss_and_wal(outcomes, name, "standalone")
        detail.update(
            tranche_share=share,
            expected_loss=loss.to_dict(),
            wal_years=wal,
            ceiling=float(expected_loss_ceiling(target, wal, scale)),
        )
    else:
        detail["reason"] = "even the thinnest tranche misses the target"
    return SizingAnswer(
        "minimum subordination for the target rating, without a guarantee",
        "share of the pool",
        subordination(share),
        (subordination(optimistic), subordination(prudent)),
        detail,
        shared.evaluations - before,
        time.perf_counter() - started,
    )


def _guarantor_index(loaded: LoadedScenario, enhancer: str | None, tranche: str | None) -> int:
    enhancers = loaded.scenario.enhancers
    for k, e in enumerate(enhancers):
        if enhancer is not None and e.name == enhancer:
            if e.type not in ("full_guarantee", "partial_guarantee"):
                raise ScenarioError(
                    f"--enhancer {enhancer!r} is a {e.type}; coverage and fee sizing apply to "
                    "a full or partial guarantee"
                )
            return k
        guarantee = e.type in ("full_guarantee", "partial_guarantee")
        if enhancer is None and guarantee and (tranche is None or e.covers == tranche):
            return k
    known = ", ".join(e.name for e in enhancers) or "none"
    if enhancer is not None:
        raise ScenarioError(f"--enhancer {enhancer!r}: no such enhancer (enhancers: {known})")
    raise ScenarioError(
        f"the scenario has no full or partial guarantee to size (enhancers: {known})"
    )


def minimum_coverage(
    shared: SharedPaths, target: str, enhancer: str | None = None, scale: str = "sf"
) -> SizingAnswer:
    """The smallest share of each shortfall the guarantor must take for the covered tranche's
    wrapped expected loss to meet ``target`` (its own default risk included)."""
    started = time.perf_counter()
    before = shared.evaluations
    loaded = shared.loaded
    k = _guarantor_index(loaded, enhancer, None)
    spec = loaded.scenario.enhancers[k]
    name = spec.covers or ""

    def changes(share: float) -> dict[str, Any]:
        if share >= 1.0:
            return {f"enhancers[{k}].type": "full_guarantee", f"enhancers[{k}].share": 1.0}
        return {f"enhancers[{k}].type": "partial_guarantee", f"enhancers[{k}].share": share}

    share, (optimistic, prudent) = _solve_band(
        shared, changes, name, "wrapped", target, scale, (_SMALLEST_SHARE, 1.0), False
    )
    balance = next(t for t in shared.structure.tranches if t.name == name).balance
    detail: dict[str, Any] = {"enhancer": spec.name, "tranche": name, "target": target}
    if share is not None:
        _, outcomes = shared.design(changes(share))
        loss, wal = _loss_and_wal(outcomes, name, "wrapped")
        detail.update(
            covered_amount=share * balance,
            expected_loss=loss.to_dict(),
            wal_years=wal,
            ceiling=float(expected_loss_ceiling(target, wal, scale)),
        )
    else:
        _, outcomes = shared.design(changes(1.0))
        loss, _ = _loss_and_wal(outcomes, name, "wrapped")
        _, wal = _loss_and_wal(outcomes, name, "wrapped")
        detail["reason"] = (
            f"even full cover leaves a wrapped expected loss of {loss.value:.3g} "
            f"(implied {implied_rating(loss.value, wal, scale)}): the guarantor's own default "
            "risk caps the rating"
        )
    return SizingAnswer(
        "minimum guarantee coverage for the target rating",
        "share of each shortfall",
        share,
        (optimistic, prudent),
        detail,
        shared.evaluations - before,
        time.perf_counter() - started,
    )


def _guarantee_metrics(
    shared: SharedPaths, changes: dict[str, Any], k: int
) -> tuple[float, dict[str, Estimate]]:
    structure, outcomes = shared.design(changes)
    g = structure.guarantees[k]
    covered = covered_amount(shared.pool, structure, g)
    weight = outcomes.per_path["weight"]
    return covered, claim_metrics(outcomes.per_path, f"enhancer.{g.name}", weight, covered)


def check_target_return(target_return: float) -> None:
    """A target return on capital is a fraction a year from 0 to below 1."""
    if not (math.isfinite(target_return) and 0.0 <= target_return < 1.0):
        raise ScenarioError(
            f"--target-return: value {target_return!r}: must be an annual return from 0 to "
            "below 1 (write 0.10 for 10%)"
        )


def break_even_fee(
    shared: SharedPaths, target_return: float, enhancer: str | None = None
) -> SizingAnswer:
    """The net fee (bp a year on the covered amount) at which the guarantor's expected net
    result is ``target_return`` a year on its 99.9% economic capital:

        fee = (target × capital × years covered + PV of expected net claims) / PV of cover,

    from the design's own claims and capital (the band moves capital and claims by ±2 SE). The
    fee is then charged in the deal, on the same paths: the trust pays it before note interest,
    so a fee the pool's excess spread cannot carry causes claims of its own. The answer reports
    those extra claims and the return the guarantor earns in the deal at that fee."""
    check_target_return(target_return)
    started = time.perf_counter()
    before = shared.evaluations
    loaded = shared.loaded
    k = _guarantor_index(loaded, enhancer, None)
    spec = loaded.scenario.enhancers[k]
    covered, base = _guarantee_metrics(shared, {}, k)
    capital = base[f"economic_capital_{CAPITAL_LEVEL:g}"]
    structure, outcomes = shared.design({})
    name = f"enhancer.{structure.guarantees[k].name}"
    weight = outcomes.per_path["weight"]
    pv_cover = mean_estimate(outcomes.per_path[f"{name}.pv_cover"], weight).value
    years = mean_estimate(outcomes.per_path[f"{name}.cover_years"], weight).value / covered
    if capital.value <= 0 or pv_cover <= 0:
        raise SecuritizeError(
            f"enhancer '{spec.name}' needs no economic capital on these paths (its 99.9% claim "
            "is its expected claim); there is no return on capital to solve for"
        )
    claims = base["pv_net_claims"]

    def fee(sigmas: float) -> float:
        required = target_return * (capital.value + sigmas * capital.se) * years
        return max((required + claims.value + sigmas * claims.se) / pv_cover * 1e4, 0.0)

    answer = fee(0.0)
    detail: dict[str, Any] = {
        "enhancer": spec.name,
        "target_annual_return_on_capital": target_return,
        "economic_capital_0.999": capital.to_dict(),
        "pv_net_claims": claims.to_dict(),
        "years_covered": years,
        "break_even_net_fee_bp_zero_return": base["break_even_net_fee_bp"].to_dict(),
        "policy_discount_bp": spec.policy_discount_bp,
        "gross_fee_bp": answer + spec.policy_discount_bp,
        "current_net_fee_bp": spec.net_fee_bp,
    }
    if answer + spec.policy_discount_bp <= 10_000:
        change = {f"enhancers[{k}].fee_bp": answer + spec.policy_discount_bp}
        _, charged = _guarantee_metrics(shared, change, k)
        roc = charged.get(f"return_on_capital_{CAPITAL_LEVEL:g}_per_year")
        extra = charged["expected_claim"].value - base["expected_claim"].value
        detail.update(
            in_deal_expected_claim_increase=extra,
            in_deal_annual_return_on_capital=None if roc is None else roc.to_dict(),
            trust_can_carry_the_fee=extra <= 0.01 * charged["expected_fee_income"].value,
        )
    return SizingAnswer(
        "break-even guarantee fee for the target return on capital",
        "bp a year, net of the policy discount",
        answer,
        (fee(-BAND_SIGMAS), fee(BAND_SIGMAS)),
        detail,
        shared.evaluations - before,
        time.perf_counter() - started,
    )


def largest_pool(shared: SharedPaths, enhancer: str | None = None) -> SizingAnswer:
    """The largest pool (CNY) of this deal's shape the guarantor can cover within its leverage
    and single-client limits (the trust counts as one client)."""
    started = time.perf_counter()
    structure = shared.structure
    k = _guarantor_index(shared.loaded, enhancer, None)
    g = structure.guarantees[k]
    spec = g.spec
    if spec.net_assets is None:
        raise ScenarioError(
            f"enhancer '{spec.name}': net_assets is not given (set it, or a profile that has "
            "it): the limits are multiples of net assets"
        )
    covered = covered_amount(shared.pool, structure, g)
    per_pool = covered / structure.pool_balance
    bounds = {
        "leverage": spec.limits.leverage_multiple * spec.net_assets - spec.existing_liability,
        "single_client": spec.limits.single_client_share * spec.net_assets,
        "related_client": spec.limits.related_client_share * spec.net_assets,
    }
    pools = {name: max(cover, 0.0) / per_pool for name, cover in bounds.items()}
    binding = min(pools, key=pools.__getitem__)
    return SizingAnswer(
        "largest pool the guarantor can support within its limits",
        "CNY of pool balance",
        pools[binding],
        (pools[binding], pools[binding]),
        {
            "enhancer": spec.name,
            "binding_limit": binding,
            "pool_by_limit": pools,
            "cover_by_limit": bounds,
            "covered_share_of_pool": per_pool,
            "current_pool": structure.pool_balance,
        },
        0,
        time.perf_counter() - started,
    )
