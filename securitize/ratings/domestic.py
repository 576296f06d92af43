"""The domestic agencies' rating method (中债资信's corporate-loan ABS criteria; similar at 中诚信
and 联合): rating-level target default rates against break-even default rates, capped by a
large-obligor test.

For each rating level (best first, ``securitize/data/domestic_rating_levels.toml``):

* the **target default rate** (目标违约比率, TDR) is the quantile of the simulated pool
  default-rate distribution (each path's defaulted balance over the pool's cut-off balance,
  ``pool.defaulted``) at 1 − the level's idealised default probability for the deal's tenor
  (``rating_default_probability.csv`` through the sf mapping, log-linear in tenor), with its
  Monte Carlo standard error;
* each tranche's **break-even default rate** (临界违约率, BDR) is found by the deterministic
  machinery of ``securitize.stress`` under the level's stresses (front-loaded timing, recovery
  haircut and delay, spread compression), measured on the same basis as the TDR (defaulted
  balance over the cut-off balance);
* the tranche earns the level when BDR > TDR; its **cash-flow rating** is the best level it earns;
* the **large-obligor test** at the level: the level's number of largest obligors default
  together (with zero recovery where the level says so), sparing obligors whose shadow rating is
  at least the level (they rank after every other obligor, so they default only when fewer than
  the count are left); the enhancement below the tranche must absorb the loss (stand-alone). Its
  **large-obligor rating** is the best level it passes.

The domestic rating is the worse of the two. The method is stand-alone: guarantors do not enter
the BDR, so the rating says what the structure alone supports.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from securitize.pool import Pool
from securitize.ratings.large_obligor import large_obligor_test, obligor_ids
from securitize.ratings.tables import (
    RatingError,
    default_probability_ceiling,
    rating_rank,
    scale_ratings,
)
from securitize.scenario import Stress
from securitize.stats import Estimate, quantile_estimate
from securitize.stress import break_even_default_rates
from securitize.structure import Structure

LEVELS_FILE = "domestic_rating_levels.toml"
# A verdict within this many standard errors of the TDR is not robust to Monte Carlo error.
ROBUST_SIGMAS = 2.0
BASIS = "defaulted_balance"
# Fewer expected paths beyond a TDR than this and the quantile sits at the edge of the simulated
# tail (its order-statistic SE understates the error): the verdict there is not robust.
MIN_TAIL_PATHS = 10.0
_FIELDS = {
    "rating": str,
    "front_loaded": float,
    "recovery_haircut": float,
    "recovery_delay_months": int,
    "spread_compression_bp": float,
    "large_obligors": int,
    "large_obligor_zero_recovery": bool,
}


@dataclass(frozen=True)
class RatingLevel:
    """One rating level's stresses and large-obligor count."""

    rating: str
    front_loaded: float
    recovery_haircut: float
    recovery_delay_months: int
    spread_compression_bp: float
    large_obligors: int
    large_obligor_zero_recovery: bool

    def stress(self) -> Stress:
        """The level's cash-flow stress as a deterministic stress run reads it."""
        return Stress(
            name=f"{self.rating} level stresses",
            front_loaded=self.front_loaded,
            recovery_haircut=self.recovery_haircut,
            spread_compression_bp=self.spread_compression_bp,
        )


def _check_level(entry: dict[str, Any], k: int, path: str) -> RatingLevel:
    where = f"{path}: levels[{k}]"
    unknown = set(entry) - set(_FIELDS)
    if unknown:
        raise RatingError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = [f for f in _FIELDS if f not in entry]
    if missing:
        raise RatingError(f"{where}: missing field(s) {', '.join(missing)}")
    values: dict[str, Any] = {}
    for name, kind in _FIELDS.items():
        value = entry[name]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise RatingError(
                f"{where}, field '{name}': value {value!r}: must be a {kind.__name__}"
            )
        values[name] = value
    for name in ("front_loaded", "recovery_haircut"):
        if not 0.0 <= values[name] <= 1.0:
            raise RatingError(f"{where}, field '{name}': value {values[name]!r}: must be 0 to 1")
    for name in ("recovery_delay_months", "spread_compression_bp"):
        if values[name] < 0:
            raise RatingError(f"{where}, field '{name}': value {values[name]!r}: must be >= 0")
    if values["large_obligors"] < 1:
        raise RatingError(f"{where}, field 'large_obligors': must be at least 1")
    rating_rank(values["rating"], "sf")  # on the sf scale, or a RatingError naming it
    return RatingLevel(**values)


def load_levels(path: Path) -> tuple[RatingLevel, ...]:
    """Read and check a levels file: sf ratings, best first, each once."""
    with open(path, "rb") as handle:
        document = tomllib.load(handle)
    entries = document.get("levels")
    if not isinstance(entries, list) or not entries:
        raise RatingError(f"{path}: needs at least one [[levels]] entry")
    levels = tuple(_check_level(e, k, str(path)) for k, e in enumerate(entries))
    ranks = [rating_rank(level.rating, "sf") for level in levels]
    if ranks != sorted(set(ranks)):
        raise RatingError(f"{path}: levels must run from the best rating to the worst, each once")
    return levels


@cache
def rating_levels() -> tuple[RatingLevel, ...]:
    """The bundled levels (read once)."""
    return load_levels(Path(str(resources.files("securitize.data").joinpath(LEVELS_FILE))))


def below_levels(levels: Sequence[RatingLevel]) -> str:
    """The label for a tranche that earns no level (``below BBB-sf``)."""
    return f"below {levels[-1].rating}"


def deal_tenor_years(pool: Pool) -> float:
    """The tenor the idealised default probabilities are read at: the pool's balance-weighted
    loan tenor in years."""
    return float(pool.tenor_months @ pool.balance / pool.total_balance / 12.0)


def target_default_rates(
    default_rates: np.ndarray,
    tenor_years: float,
    weights: np.ndarray | None = None,
    levels: Sequence[RatingLevel] | None = None,
) -> list[dict[str, Any]]:
    """Each level's TDR: the (1 − PD) quantile of the per-path pool default rates, with its SE.

    Rows: rating, default_probability (idealised, at ``tenor_years``), quantile (1 − PD), tdr
    (an Estimate), expected_tail_paths (paths × PD: fewer than about 10 and the quantile sits at
    the edge of the simulated tail, so its SE understates the error), resolved (at least
    ``MIN_TAIL_PATHS`` of them).
    """
    levels = rating_levels() if levels is None else levels
    rates = np.asarray(default_rates, dtype=float)
    out = []
    for level in levels:
        pd_level = float(default_probability_ceiling(level.rating, tenor_years, "sf"))
        quantile = 1.0 - pd_level
        out.append(
            {
                "rating": level.rating,
                "default_probability": pd_level,
                "quantile": quantile,
                "tdr": quantile_estimate(rates, quantile, weights),
                "expected_tail_paths": rates.size * pd_level,
                "resolved": rates.size * pd_level >= MIN_TAIL_PATHS,
            }
        )
    return out


def level_break_even(
    pool: Pool,
    structure: Structure,
    lag: int,
    base_cumulative: np.ndarray,
    tranche: int,
    level: RatingLevel,
) -> float | None:
    """The tranche's BDR under ``level``'s stresses (defaulted balance / cut-off balance); None
    when it never loses."""
    return level_break_evens(pool, structure, lag, base_cumulative, level)[tranche]


def level_break_evens(
    pool: Pool, structure: Structure, lag: int, base_cumulative: np.ndarray, level: RatingLevel
) -> list[float | None]:
    """Every tranche's BDR under ``level``'s stresses, most senior first."""
    return break_even_default_rates(
        pool,
        structure,
        lag + level.recovery_delay_months,
        base_cumulative,
        level.stress(),
        basis=BASIS,
    )


def _sf_symbol(shadow: str) -> str | None:
    """A tape shadow rating (``AA-`` or ``AA-sf``) on the sf scale, or None if it is not one."""
    text = str(shadow).strip()
    if not text:
        return None
    symbol = text if text.endswith("sf") else f"{text}sf"
    return symbol if symbol in scale_ratings("sf") else None


def spared_obligors(loans: pd.DataFrame, rating: str) -> list[str]:
    """Obligors whose shadow rating (the worst of their loans') is at least ``rating``: the
    large-obligor test at that level takes them last (only when fewer than its count of other
    obligors are left). An obligor with a loan without a readable shadow rating is never
    spared."""
    if "shadow_rating" not in loans.columns:
        return []
    target = rating_rank(rating, "sf")
    worst: dict[str, float] = {}
    for obligor, shadow in zip(obligor_ids(loans), loans["shadow_rating"], strict=True):
        symbol = _sf_symbol(shadow)
        rank = math.inf if symbol is None else rating_rank(symbol, "sf")
        worst[obligor] = max(worst.get(obligor, -math.inf), rank)
    return sorted(o for o, rank in worst.items() if rank <= target)


def large_obligor_by_level(
    pool: Pool, structure: Structure, levels: Sequence[RatingLevel] | None = None
) -> list[pd.DataFrame]:
    """The large-obligor test at each level's count (its shadow-rated obligors taken last): the rows
    of :func:`large_obligor_test` with ``spared`` and the level's ``level_passes`` (with or
    without recovery as the level says). Pool enhancers (loan-level guarantee, first loss, risk
    pool) count, as they do in the break-even runs: they pay into the plan before any tranche.
    A tranche's own enhancers do not (the domestic read-out is the stand-alone one)."""
    levels = rating_levels() if levels is None else levels
    out = []
    for level in levels:
        spared = spared_obligors(pool.loans, level.rating)
        frame = large_obligor_test(pool, structure, [level.large_obligors], spared)
        column = "passes_pool_covered" + (
            "_zero_recovery" if level.large_obligor_zero_recovery else ""
        )
        frame["spared"] = "; ".join(spared)
        frame["level_passes"] = frame[column]
        out.append(frame)
    return out


def _earned(flags: Sequence[bool], levels: Sequence[RatingLevel]) -> str:
    for flag, level in zip(flags, levels, strict=True):
        if flag:
            return level.rating
    return below_levels(levels)


def _worse(first: str, second: str, levels: Sequence[RatingLevel]) -> str:
    order = [level.rating for level in levels] + [below_levels(levels)]
    return order[max(order.index(first), order.index(second))]


def verdict(
    tdrs: Sequence[Estimate],
    bdrs: Sequence[float | None],
    large_obligor_passes: Sequence[bool],
    levels: Sequence[RatingLevel],
    sigmas: float = ROBUST_SIGMAS,
    resolved: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """A tranche's domestic rating from its BDRs and large-obligor results, level by level.

    ``cash_flow_rating``: the best level with BDR > TDR (a BDR of None — never loses — passes);
    ``large_obligor_rating``: the best level whose large-obligor test passes; ``rating``: the
    worse of the two; ``binding``: which one sets it (``cash_flow``, ``large_obligor`` or
    ``both``); ``robust``: false when the earned level or the one above it has a BDR within
    ``sigmas`` SE of its TDR (Monte Carlo error could flip the verdict), or a TDR there that
    the paths do not resolve (``resolved`` false).
    """
    resolved = [True] * len(levels) if resolved is None else list(resolved)
    rows = []
    for level, tdr, bdr, large in zip(levels, tdrs, bdrs, large_obligor_passes, strict=True):
        margin = None if bdr is None else bdr - tdr.value
        rows.append(
            {
                "rating": level.rating,
                "tdr": tdr.value,
                "tdr_se": tdr.se,
                "bdr": bdr,
                "margin": margin,
                "passes": margin is None or margin > 0,
                "within_sigmas": margin is not None and abs(margin) <= sigmas * tdr.se,
                "large_obligors": level.large_obligors,
                "large_obligor_zero_recovery": level.large_obligor_zero_recovery,
                "large_obligor_passes": bool(large),
            }
        )
    cash_flow = _earned([r["passes"] for r in rows], levels)
    large_obligor = _earned([r["large_obligor_passes"] for r in rows], levels)
    rating = _worse(cash_flow, large_obligor, levels)
    if cash_flow == large_obligor:
        binding = "both"
    else:
        binding = "cash_flow" if rating == cash_flow else "large_obligor"
    names = [level.rating for level in levels]
    earned = names.index(cash_flow) if cash_flow in names else len(names)
    near = [k for k in (earned - 1, earned) if 0 <= k < len(rows)]
    return {
        "rating": rating,
        "cash_flow_rating": cash_flow,
        "large_obligor_rating": large_obligor,
        "binding": binding,
        "robust": not any(rows[k]["within_sigmas"] or not resolved[k] for k in near),
        "levels": rows,
    }


def pool_enhancer_cap(structure: Structure, levels: Sequence[RatingLevel]) -> dict[str, Any] | None:
    """The weak link: the break-even runs and the large-obligor test count the pool enhancers'
    payments (loan-level guarantee, first loss, risk pool), so a rating they earn rests on those
    enhancers and cannot be above the weakest one's own rating (credit substitution). None when
    no rated pool enhancer pays in. An unrated one (a budget-funded risk pool) sets no cap."""
    rated = []
    for k in structure.pool_enhancers:
        g = structure.guarantees[k]
        symbol = (g.spec.rating or "").strip()
        if symbol:
            rated.append((rating_rank(symbol + "sf", "sf"), symbol + "sf", g.name))
    if not rated:
        return None
    rank = max(rated)[0]
    names = [level.rating for level in levels]
    # The best level not above the enhancer's rating.
    capped = next((r for r in names if rating_rank(r, "sf") >= rank), below_levels(levels))
    return {"rating": capped, "enhancers": [name for r, _, name in rated if r == rank]}


def _capped(found: dict[str, Any], cap: dict[str, Any] | None, levels) -> dict[str, Any]:
    """``found`` with its rating lowered to ``cap`` where it is better (``binding`` then says
    ``pool_enhancer``); the uncapped rating is kept."""
    found["uncapped_rating"] = found["rating"]
    found["pool_enhancer_cap"] = cap
    if cap is not None and _worse(found["rating"], cap["rating"], levels) != found["rating"]:
        found["rating"] = cap["rating"]
        found["binding"] = "pool_enhancer"
    return found


def domestic_ratings(
    pool: Pool,
    structure: Structure,
    lag: int,
    base_cumulative: np.ndarray,
    default_rates: np.ndarray,
    weights: np.ndarray | None = None,
    levels: Sequence[RatingLevel] | None = None,
    sigmas: float = ROBUST_SIGMAS,
) -> dict[str, Any]:
    """The ``domestic_ratings`` block of the results (``docs/results.md``)."""
    levels = rating_levels() if levels is None else levels
    tenor = deal_tenor_years(pool)
    targets = target_default_rates(default_rates, tenor, weights, levels)
    tdrs = [t["tdr"] for t in targets]
    large = large_obligor_by_level(pool, structure, levels)
    by_level = [level_break_evens(pool, structure, lag, base_cumulative, lv) for lv in levels]
    tranches = {}
    cap = pool_enhancer_cap(structure, levels)
    for j, terms in enumerate(structure.tranches):
        bdrs = [rates[j] for rates in by_level]
        passes = [bool(frame["level_passes"].iloc[j]) for frame in large]
        found = verdict(tdrs, bdrs, passes, levels, sigmas, [t["resolved"] for t in targets])
        for row, frame in zip(found["levels"], large, strict=True):
            loss = "loss_zero_recovery" if row["large_obligor_zero_recovery"] else "loss"
            row["large_obligor_loss"] = float(frame[loss].iloc[j])
            row["enhancement"] = float(frame["enhancement"].iloc[j])
            row["largest_obligors"] = str(frame["largest_obligors"].iloc[j])
            row["spared_obligors"] = str(frame["spared"].iloc[j])
        tranches[terms.name] = _capped(found, cap, levels)
    return {
        "method": "target default rate vs break-even default rate, capped by large obligors "
        "and by the pool enhancers' own rating",
        "levels_source": LEVELS_FILE,
        "basis": BASIS,
        "tenor_years": tenor,
        "sigmas": sigmas,
        "target_default_rates": [
            {**{k: v for k, v in t.items() if k != "tdr"}, "tdr": t["tdr"].to_dict()}
            for t in targets
        ],
        "tranches": tranches,
    }


def earns_level(
    pool: Pool,
    structure: Structure,
    lag: int,
    base_cumulative: np.ndarray,
    tranche: int,
    level: RatingLevel,
    tdr: Estimate,
    sigmas: float = 0.0,
) -> bool:
    """Whether the tranche earns ``level`` by the domestic method: the level is not above the
    pool enhancers' cap, BDR > TDR + ``sigmas`` SE and the level's large-obligor test passes
    (what a sizing solver asks)."""
    levels = rating_levels()
    cap = pool_enhancer_cap(structure, levels)
    if cap is not None and _worse(level.rating, cap["rating"], levels) != level.rating:
        return False  # above the weak link: no subordination earns it
    frame = large_obligor_by_level(pool, structure, [level])[0]
    if not bool(frame["level_passes"].iloc[tranche]):
        return False
    bdr = level_break_even(pool, structure, lag, base_cumulative, tranche, level)
    return bdr is None or bdr > tdr.value + sigmas * tdr.se


def level_of(rating: str, levels: Sequence[RatingLevel] | None = None) -> RatingLevel:
    """The level for ``rating``; a RatingError naming the levels when it has none."""
    levels = rating_levels() if levels is None else levels
    for level in levels:
        if level.rating == rating:
            return level
    names = ", ".join(level.rating for level in levels)
    raise RatingError(f"rating {rating!r}: the domestic method has no level for it ({names})")
