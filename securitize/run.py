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
from securitize.credit import DefaultPaths, simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.evaluate import evaluate
from securitize.pool import Pool, build_pool
from securitize.results import Results, build_results
from securitize.scenario import LoadedScenario, load_scenario, parse_scenario
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


def with_overrides(loaded: LoadedScenario, **simulation: Any) -> LoadedScenario:
    """The scenario with simulation settings replaced (``paths``, ``seed``, ...), revalidated."""
    changes = {k: v for k, v in simulation.items() if v is not None}
    if not changes:
        return loaded
    # Only what the file set goes back through validation, so defaults and "given or not"
    # rules see the scenario exactly as written.
    data = loaded.scenario.model_dump(exclude_unset=True)
    data["simulation"] = {**data.get("simulation", {}), **changes}
    scenario = parse_scenario(data, Path(f"{loaded.path} (with command-line overrides)"))
    return LoadedScenario(scenario=scenario, path=loaded.path, raw=loaded.raw)


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
) -> Run:
    """Load (if needed), simulate and evaluate a scenario."""
    loaded = source if isinstance(source, LoadedScenario) else load_scenario(source)
    loaded = with_overrides(loaded, paths=paths, seed=seed, workers=workers)
    scenario = loaded.scenario
    pool = build_pool(loaded)
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
        progress=progress,
    )
    outcomes = evaluate(
        pool, structure, credit.recovery_lag_months, defaults, settings.workers, progress
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
            "recovery_haircut": scenario.pool.recovery_haircut if pool.tape_sha256 else None,
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
            "chunks": len(defaults.chunks),
            "workers": settings.workers,
            "importance_shift": None if model.shift is None else model.shift.tolist(),
            "seconds": elapsed,
        },
        manifest=manifest(loaded, pool),
    )
    results = replace(results, validation=compare_with_exact(pool, structure, model, outcomes))
    return Run(loaded, pool, structure, defaults, results)
