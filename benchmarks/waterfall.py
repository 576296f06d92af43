"""Simulate once, evaluate many: the cost of one more design against simulating the paths.

A 100-loan pool, monthly payments for 36 periods, a 10-step waterfall (two fees, a guarantee
fee, a reserve draw, senior and mezzanine interest, a reserve top-up, sequential principal, a
turbo step, the residual). Prints JSON with, measured in the same run and the same process (one
core for every figure):

* simulation: default paths (thinning sampler) for the paths;
* collections: the pool's cash per path and period (shared by every design on those paths);
* numpy_waterfall: the numpy engine's ledger alone (the figure this benchmark first reported);
* numpy_design: one design on the numpy engine — the ledger and its reduction to outcomes
  (``evaluate.summarise``), what ``evaluate`` does per chunk without the kernel;
* kernel_waterfall: the compiled kernel's waterfall and its reduction to outcomes
  (``kernel.ledger_outcomes``: everything in a design's evaluation that depends on the design);
* kernel_design: the whole design on the kernel (``evaluate.summarise_compiled``):
  kernel_waterfall plus pool_figures;
* kernel_waterfall_no_yields, kernel_design_no_yields: the same without solving for each path's
  yields, as ``sweep``, ``compare`` and ``size`` evaluate designs (they report no yields);
* pool_figures: the pool's own per-path and per-period figures (``evaluate.pool_outcomes`` and
  their sums), which no design changes but ``evaluate`` recomputes for each design;
* kernel_first_call: the kernel's first call on a small chunk (loading the compiled code from
  numba's cache, or compiling it when there is none: kernel_first_call_compiled), not
  included in kernel_design;
* the ratios of each design figure to simulation + collections and to the simulation alone,
  and the largest difference between the two designs' figures (relative to each series' scale).

    python benchmarks/waterfall.py                 # 1,000,000 paths
    python benchmarks/waterfall.py --paths 200000
    python benchmarks/waterfall.py --skip-numpy    # the kernel only
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from securitize.credit import simulate_chunk
from securitize.credit.build import build_credit_model
from securitize.credit.paths import chunk_sizes
from securitize.evaluate import (
    Outcomes,
    chunk_collections,
    guarantor_default_months,
    moments,
    pool_outcomes,
    summarise,
    summarise_compiled,
)
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.structure import build_structure
from securitize.waterfall import kernel
from securitize.waterfall.engine import run_waterfall

SCENARIO = """
[deal]
name = "benchmark"
closing_date = 2024-01-01
payment_interval_months = 1
legal_final_months = 36

[pool.inline]
count = 100
balance = 1000000
annual_pd = 0.025
recovery_rate = 0.3
tenor_months = 36
amortisation = "equal_principal"

[credit]
asset_correlation = 0.18
recovery_lag_months = 0

[[tranches]]
name = "senior"
share = 0.85
coupon = 0.035

[[tranches]]
name = "mezzanine"
share = 0.07
coupon = 0.05
deferrable = true

[[tranches]]
name = "subordinated"
share = 0.08

[[enhancers]]
name = "guarantor"
type = "full_guarantee"
covers = "senior"
fee_bp = 90
annual_pd = 0.0005
asset_correlation = 0.3

[[accounts]]
name = "reserve"
target = { share_of = "senior", share = 0.02, floor = 500000 }

[waterfall]
combined = [
  { pay = "fee", name = "trustee", rate_bp = 10 },
  { pay = "fee", name = "servicer", rate_bp = 20 },
  { pay = "guarantee_fee", enhancer = "guarantor" },
  { draw = "reserve", account = "reserve", cover_interest = ["senior"] },
  { pay = "interest", tranches = ["senior"] },
  { pay = "interest", tranches = ["mezzanine"] },
  { pay = "reserve", account = "reserve" },
  { pay = "principal", tranches = ["senior", "mezzanine", "subordinated"] },
  { pay = "principal", tranches = ["senior", "mezzanine"], amount = "all" },
  { pay = "residual", tranche = "subordinated" },
]
"""


def _largest_difference(reference: Outcomes, compiled: Outcomes) -> float:
    """The largest |kernel − numpy| over every figure, relative to its series' scale."""
    worst = 0.0
    pairs = [(reference.per_path[k], compiled.per_path[k]) for k in reference.per_path]
    for table in ("per_month", "per_period"):
        for name, sums in getattr(reference, table).items():
            pairs += list(zip(sums, getattr(compiled, table)[name], strict=True))
    for expected, got in pairs:
        finite = np.isfinite(expected)
        scale = max(float(np.abs(expected[finite]).max()) if finite.any() else 0.0, 1.0)
        both = finite & np.isfinite(got)
        worst = max(worst, float(np.abs(got[both] - expected[both]).max(initial=0.0)) / scale)
    return worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--skip-numpy", action="store_true", help="time the kernel only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark.toml"
        path.write_text(SCENARIO)
        loaded = load_scenario(path)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    compiled = kernel.usable(structure)
    seconds = dict.fromkeys(
        [
            "simulation",
            "collections",
            "numpy_waterfall",
            "numpy_design",
            "kernel_waterfall",
            "kernel_design",
            "kernel_waterfall_no_yields",
            "kernel_design_no_yields",
            "pool_figures",
        ],
        0.0,
    )
    first_call_compiled = None
    if compiled:
        small = simulate_chunk(model, 7, 0, 100)
        period, loss = chunk_collections(pool, structure, 0, small)
        months = guarantor_default_months(structure, small)
        started = time.perf_counter()
        summarise_compiled(pool, structure, small, period, loss, months)
        seconds["kernel_first_call"] = time.perf_counter() - started
        from securitize.waterfall.kernel_loop import run_kernel

        # Whether that first call compiled the kernel (no cached code) or loaded it.
        first_call_compiled = bool(run_kernel.stats.cache_misses)
    difference = None
    for index, size in enumerate(chunk_sizes(args.paths, args.chunk)):
        started = time.perf_counter()
        chunk = simulate_chunk(model, 7, index, size)
        seconds["simulation"] += time.perf_counter() - started
        started = time.perf_counter()
        period, loss = chunk_collections(pool, structure, 0, chunk)
        seconds["collections"] += time.perf_counter() - started
        months = guarantor_default_months(structure, chunk)
        reference = None
        if not args.skip_numpy:
            started = time.perf_counter()
            ledger = run_waterfall(structure, period, months)
            seconds["numpy_waterfall"] += time.perf_counter() - started
            reference = summarise(pool, structure, chunk, period, loss, ledger)
            seconds["numpy_design"] += time.perf_counter() - started
            del ledger
        if compiled:
            started = time.perf_counter()
            outcomes = summarise_compiled(pool, structure, chunk, period, loss, months)
            seconds["kernel_design"] += time.perf_counter() - started
            started = time.perf_counter()
            weight = None if not chunk.log_weight.any() else chunk.weight
            kernel.ledger_outcomes(structure, period, months, weight)
            seconds["kernel_waterfall"] += time.perf_counter() - started
            started = time.perf_counter()
            summarise_compiled(pool, structure, chunk, period, loss, months, yields=False)
            seconds["kernel_design_no_yields"] += time.perf_counter() - started
            started = time.perf_counter()
            kernel.ledger_outcomes(structure, period, months, weight, yields=False)
            seconds["kernel_waterfall_no_yields"] += time.perf_counter() - started
            started = time.perf_counter()
            _, per_month, per_period = pool_outcomes(pool, structure, chunk, period, loss)
            moments(per_month, None if weight is None else weight[:, None])
            moments(per_period, None if weight is None else weight[:, None])
            seconds["pool_figures"] += time.perf_counter() - started
            if reference is not None:
                gap = _largest_difference(reference, outcomes)
                difference = gap if difference is None else max(difference, gap)
    shared = seconds["simulation"] + seconds["collections"]
    ratios = {}
    for name in (
        "kernel_waterfall",
        "kernel_design",
        "kernel_waterfall_no_yields",
        "kernel_design_no_yields",
        "numpy_design",
        "numpy_waterfall",
    ):
        if seconds[name] > 0:
            ratios[f"{name}_over_simulation_and_collections"] = seconds[name] / shared
            ratios[f"{name}_over_simulation"] = seconds[name] / seconds["simulation"]
    print(
        json.dumps(
            {
                "paths": args.paths,
                "loans": pool.size,
                "periods": len(structure.payment_months),
                "steps": len(structure.program.combined),
                "kernel": compiled,
                "kernel_first_call_compiled": first_call_compiled,
                "seconds": seconds,
                "ratios": ratios,
                "largest_relative_difference_kernel_vs_numpy": difference,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
