"""The pipeline: scenario → pool → structure → simulated paths → evaluation → results.

``run_scenario`` is the one entry point the command line, the tests and notebooks share.
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
import numpy as np
import pandas as pd
import scipy

from securitize import __version__
from securitize.assessments import assessments
from securitize.credit import CreditModel, DefaultPaths, one_factor, simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.display import display_names
from securitize.errors import ScenarioError
from securitize.evaluate import Outcomes, evaluate
from securitize.note_terms import note_terms
from securitize.pool import Pool, build_pool
from securitize.progress import steps
from securitize.ratings.domestic import domestic_ratings
from securitize.repayment import repayment_schedule, schedule_records
from securitize.results import Results, build_results
from securitize.scenario import LoadedScenario, load_scenario, with_fields
from securitize.stats import mean_estimate, probability_estimate
from securitize.stress import (
    break_even_default_rates,
    deterministic_result,
    pool_default_rate,
    stressed_inputs,
)
from securitize.structure import Structure, build_structure
from securitize.validation import compare_with_exact


@dataclass(frozen=True)
class Run:
    """A finished run: its inputs, the simulated paths and the results."""

    loaded: LoadedScenario
    pool: Pool
    structure: Structure
    defaults: DefaultPaths
    results: Results
    outcomes: Outcomes
    selection: Any = None  # securitize.selection.api.Selection when the scenario selects its pool


def with_overrides(loaded: LoadedScenario, **simulation: Any) -> LoadedScenario:
    """The scenario with simulation settings replaced (``paths``, ``seed``, ...), revalidated."""
    changes = {f"simulation.{k}": v for k, v in simulation.items() if v is not None}
    return with_fields(loaded, changes) if changes else loaded


def portable(path: str | Path) -> str:
    """A path relative to the current folder when it lies below it, so memos travel."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest(loaded: LoadedScenario, pool: Pool) -> dict[str, Any]:
    """What a reader needs to reproduce the run: inputs' hashes and software versions."""
    return {
        "package": "securitize",
        "package_version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "pandas": pd.__version__,
            "matplotlib": matplotlib.__version__,
            "jinja2": jinja2.__version__,
        },
        "scenario_path": portable(loaded.path),
        "scenario_sha256": hashlib.sha256(loaded.raw).hexdigest(),
        "tape_path": portable(pool.source) if pool.tape_sha256 else None,
        "tape_sha256": pool.tape_sha256,
        "score_bands_path": portable(pool.bands.source) if pool.bands else None,
        "score_bands_sha256": file_sha256(pool.bands.source) if pool.bands else None,
    }


def run_scenario(
    source: str | Path | LoadedScenario,
    *,
    paths: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    scheduler: str | None = None,
) -> Run:
    """Load (if needed), simulate and evaluate a scenario (on ``scheduler``, a Dask cluster,
    when given: the same numbers as locally)."""
    begun = time.perf_counter()
    loaded = source if isinstance(source, LoadedScenario) else load_scenario(source)
    loaded = with_overrides(loaded, paths=paths, seed=seed, workers=workers)
    scenario = loaded.scenario
    selection = None
    if scenario.selection is not None:
        from securitize.selection.api import select_for_scenario

        selection = select_for_scenario(loaded)
    pool = build_pool(loaded, None if selection is None else selection.tape)
    structure = build_structure(loaded, pool)
    settings = scenario.simulation
    credit = scenario.credit
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    started = time.perf_counter()
    defaults = simulate_defaults(
        model,
        settings.paths,
        settings.seed,
        settings.chunk_size,
        settings.workers,
        # On a cluster each worker regenerates its chunks from their seeds rather than
        # shipping simulated paths back and forth (the numbers are the same).
        keep=scheduler is None,
        progress=progress,
        scheduler=scheduler,
    )
    outcomes = evaluate(
        pool,
        structure,
        credit.recovery_lag_months,
        defaults,
        settings.workers,
        progress,
        scheduler,
    )
    elapsed = time.perf_counter() - started
    deal = scenario.deal
    results = build_results(
        pool,
        structure,
        outcomes,
        deal={
            "name": deal.name,
            "title": deal.title,
            "closing_date": deal.closing_date.isoformat(),
            "currency": deal.currency,
            "originator": deal.originator,
            "payment_interval_months": structure.payment_interval,
            "legal_final_months": structure.horizon,
            "payment_months": structure.payment_months.tolist(),
            "display_names": display_names(scenario),
        },
        assumptions={
            "model": credit.model,
            "asset_correlation": None if credit.factors else credit.asset_correlation,
            "degrees_of_freedom": credit.degrees_of_freedom,
            "factors": credit.factors.model_dump() if credit.factors else None,
            "factor_names": list(model.copula.factor_names),
            "recovery_distribution": credit.recovery.model_dump(),
            "prepayment_annual_rate": credit.prepayment.annual_rate,
            "pd_curves": [c.model_dump() for c in credit.pd_curves],
            "recovery_lag_months": credit.recovery_lag_months,
            "ip_haircut": scenario.pool.ip_haircut if pool.tape_sha256 else None,
            "pool_source": portable(pool.source) if pool.tape_sha256 else pool.source,
            "pd_sources": sorted(set(pool.loans["pd_source"])),
            "recovery_sources": sorted(set(pool.loans["recovery_source"])),
            "score_bands": pool.bands.table.to_dict(orient="records") if pool.bands else [],
            "score_band_source": portable(pool.bands.source) if pool.bands else None,
            "score_band_notes": list(pool.bands.notes) if pool.bands else [],
            "tape_notes": list(pool.notes),
        },
        simulation={
            "engine": "monte_carlo",
            "paths": defaults.paths,
            "seed": settings.seed,
            "chunk_size": settings.chunk_size,
            "chunks": len(defaults.sizes),
            "workers": settings.workers,
            "scheduler": scheduler,
            "importance_shift": None if model.shift is None else model.shift.tolist(),
            "importance_mixing_scale": model.mixing_scale,
            "importance_defensive_share": model.defensive_share,
        },
        manifest=manifest(loaded, pool),
        notes=note_terms(scenario, structure),
    )
    results = replace(
        results,
        validation=compare_with_exact(pool, structure, model, outcomes),
        repayment_schedule=schedule_records(
            repayment_schedule(pool, structure, credit.recovery_lag_months, deal.closing_date)
        ),
        stresses=stress_runs(loaded, pool, structure, model, progress, scheduler),
        break_even=break_even_rates(pool, structure, credit.recovery_lag_months, model),
        selection=None if selection is None else _selection_summary(selection),
    )
    results = replace(results, **assessments(loaded, pool, structure, results))
    results = replace(
        results,
        domestic_ratings=domestic_ratings(
            pool,
            structure,
            credit.recovery_lag_months,
            model.cumulative_pd,
            outcomes.per_path["pool.defaulted"],
            outcomes.per_path["weight"],
        ),
    )
    timings = {"run_seconds": time.perf_counter() - begun, "simulation_seconds": elapsed}
    if results.selection is not None:
        timings["selection_seconds"] = _clock_readings(results.selection)
    results = replace(results, timings=timings)
    return Run(loaded, pool, structure, defaults, results, outcomes, selection)


def stress_runs(
    loaded: LoadedScenario,
    pool: Pool,
    structure: Structure,
    model: CreditModel,
    progress: bool = False,
    scheduler: str | None = None,
) -> list[dict[str, Any]]:
    """The expected case and every stress of the scenario, deterministically; a correlation
    stress also reruns the Monte Carlo (same seed: common random numbers)."""
    scenario = loaded.scenario
    lag = scenario.credit.recovery_lag_months
    base = stressed_inputs(pool, model.cumulative_pd, None)
    out = [
        {
            **deterministic_result("expected case", pool, structure, lag, base),
            "deterministic_change": False,
        }
    ]
    for stress in steps(scenario.stresses, "stresses", progress, unit="stress"):
        inputs = stressed_inputs(pool, model.cumulative_pd, stress)
        stressed = structure
        if stress.index_shift_bp is not None:
            # A shifted reference rate changes floating coupons (and a put's decision on them).
            stressed = build_structure(loaded, pool, index_shift=stress.index_shift_bp / 10_000)
        result = deterministic_result(stress.name, pool, stressed, lag, inputs)
        # Correlation changes only the Monte Carlo: its deterministic run is the expected case.
        result["deterministic_change"] = bool(
            stress.model_fields_set - {"name", "asset_correlation"}
        )
        if stress.asset_correlation is not None:
            result["monte_carlo"] = correlation_stress(
                loaded, pool, structure, model, stress.asset_correlation, progress, scheduler
            )
        out.append(result)
    return out


def correlation_stress(
    loaded: LoadedScenario,
    pool: Pool,
    structure: Structure,
    model: CreditModel,
    correlation: float,
    progress: bool,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Tranche metrics (with standard errors) from a Monte Carlo rerun at another correlation."""
    if model.copula.factors != 1:
        raise ScenarioError(
            f"{loaded.path}: field 'stresses': an asset_correlation stress needs a one-factor "
            "model; this scenario has several factors"
        )
    settings = loaded.scenario.simulation
    stressed = replace(model, copula=one_factor(correlation, pool.size, model.copula.nu))
    defaults = simulate_defaults(
        stressed,
        settings.paths,
        settings.seed,
        settings.chunk_size,
        settings.workers,
        keep=False,
        scheduler=scheduler,
    )
    lag = loaded.scenario.credit.recovery_lag_months
    outcomes = evaluate(pool, structure, lag, defaults, settings.workers, progress, scheduler)
    weight = outcomes.per_path["weight"]
    metrics: dict[str, Any] = {"asset_correlation": correlation}
    for t in structure.tranches:
        for view in ("standalone", "wrapped"):
            loss = outcomes.per_path[f"tranche.{t.name}.{view}.loss"]
            metrics[f"{t.name}.{view}.expected_loss"] = mean_estimate(loss, weight).to_dict()
            metrics[f"{t.name}.{view}.probability_of_loss"] = probability_estimate(
                loss > 0.01 / t.balance, weight
            ).to_dict()
    return metrics


def break_even_rates(
    pool: Pool, structure: Structure, lag: int, model: CreditModel
) -> dict[str, Any]:
    """Each tranche's break-even lifetime pool default rate, and its multiple of the expected."""
    expected = pool_default_rate(pool, model.cumulative_pd)
    out = {}
    rates = break_even_default_rates(pool, structure, lag, model.cumulative_pd)
    for t, rate in zip(structure.tranches, rates, strict=True):
        out[t.name] = {
            "default_rate": rate,
            "multiple_of_expected": None if rate is None or expected == 0 else rate / expected,
        }
    return {"expected_default_rate": expected, "tranches": out}


def _clock_readings(document: dict[str, Any]) -> dict[str, Any]:
    """Take every ``seconds`` out of ``document`` (in place), keyed by where it was."""
    found: dict[str, Any] = {}
    for key in list(document):
        value = document[key]
        if key == "seconds":
            found["seconds"] = document.pop(key)
        elif isinstance(value, dict):
            inner = _clock_readings(value)
            found.update({f"{key}.{k}": v for k, v in inner.items()})
    return found


def _selection_summary(selection: Any) -> dict[str, Any]:
    from securitize.selection.api import selection_summary

    return selection_summary(selection)
