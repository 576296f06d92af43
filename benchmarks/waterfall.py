"""Simulate once, evaluate many: the cost of one more design against simulating the paths.

A 100-loan pool, monthly payments for 36 periods, a 10-step waterfall (two fees, a guarantee
fee, a reserve draw, senior and mezzanine interest, a reserve top-up, sequential principal, a
turbo step, the residual). Prints JSON. Every figure is measured in the same run and the same
process, on one core:

* simulation: default paths (thinning sampler);
* collections: the pool's cash per path and period;
* shared_beyond_collections: the rest of what every design on a chunk shares
  (``evaluate.share_chunk``: the kernel's block layout of the collections, the pool's own
  figures and their sums), made once per chunk;
* kernel_design: one more design as ``sweep``, ``compare`` and ``size`` evaluate it: the
  enhancers' default months, the compiled kernel's waterfall and its reduction to the per-path
  figures they report (``evaluate.summarise`` without yields or per-period sums);
* kernel_design_all_figures: the same with every figure a scenario's own run reports: each
  path's yields, and the per-period and per-month sums (loss tranches included);
* ledger_design: the same kernel in ledger mode (``waterfall.ledger.run_waterfall``, every
  date's rows for every path, as statements and stresses read them), for scale;
* end_to_end: ``evaluate_many`` on stored paths with 1 and with K designs (senior shares
  stepped down), after one untimed run with K designs: the tool's own marginal cost of one
  more design, (T_K − T_1)/(K − 1), against ``simulate_defaults`` for the same paths and
  against that plus the collections (from the chunk loop above);
* the ratios of each design figure to simulation + collections and to the simulation alone.

The process keeps freed memory for reuse as the command line does (``securitize.heap``);
``--default-heap`` runs with the allocator's defaults instead, for comparison.

    python benchmarks/waterfall.py                 # 1,000,000 paths
    python benchmarks/waterfall.py --paths 200000
    python benchmarks/waterfall.py --skip-ledger   # without the ledger-mode figure
    python benchmarks/waterfall.py --default-heap  # glibc's heap defaults
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from securitize.credit import simulate_chunk, simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.credit.paths import chunk_sizes
from securitize.evaluate import (
    chunk_collections,
    evaluate_many,
    guarantor_default_months,
    share_chunk,
    summarise,
)
from securitize.heap import keep_freed_memory
from securitize.pool import build_pool
from securitize.scenario import load_scenario, with_fields
from securitize.structure import build_structure
from securitize.waterfall.ledger import run_waterfall

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


def _designs(loaded, pool, count: int) -> list:
    """The benchmark deal with the senior share stepped down by 2 points per design."""
    out = []
    for k in range(count):
        changes = {"tranches[0].share": 0.85 - 0.02 * k, "tranches[2].share": 0.08 + 0.02 * k}
        out.append(build_structure(with_fields(loaded, changes), pool))
    return out


def _end_to_end(
    loaded, pool, model, paths: int, chunk: int, designs: int, collections: float
) -> dict[str, float]:
    """``simulate_defaults`` once, then ``evaluate_many`` with one design and with ``designs``."""
    started = time.perf_counter()
    defaults = simulate_defaults(model, paths, 7, chunk, 1)
    simulated = time.perf_counter() - started
    structures = _designs(loaded, pool, designs)
    # One untimed run first: the process's first use of that much memory (page faults, costly
    # on a virtual machine) belongs to no design.
    evaluate_many(pool, structures, 0, defaults, yields=False, periods=False)
    seconds = {}
    for count in (1, designs):
        started = time.perf_counter()
        evaluate_many(pool, structures[:count], 0, defaults, yields=False, periods=False)
        seconds[count] = time.perf_counter() - started
    marginal = (seconds[designs] - seconds[1]) / (designs - 1)
    return {
        "designs": designs,
        "simulate_defaults": simulated,
        "evaluate_one_design": seconds[1],
        f"evaluate_{designs}_designs": seconds[designs],
        "one_more_design": marginal,
        "one_more_design_over_simulation": marginal / simulated,
        "one_more_design_over_simulation_and_collections": marginal / (simulated + collections),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--designs", type=int, default=4, help="K for the end-to-end figure")
    parser.add_argument("--skip-ledger", action="store_true", help="without ledger mode")
    parser.add_argument(
        "--default-heap", action="store_true", help="the allocator's defaults, not the CLI's"
    )
    args = parser.parse_args()
    heap_kept = False if args.default_heap else keep_freed_memory()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark.toml"
        path.write_text(SCENARIO)
        loaded = load_scenario(path)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    seconds = dict.fromkeys(
        [
            "simulation",
            "collections",
            "shared_beyond_collections",
            "kernel_design",
            "kernel_design_all_figures",
            "ledger_design",
        ],
        0.0,
    )
    small = simulate_chunk(model, 7, 0, 100)
    started = time.perf_counter()
    summarise(
        structure,
        share_chunk(pool, structure, 0, small),
        guarantor_default_months(structure, small),
    )
    seconds["kernel_first_call"] = time.perf_counter() - started
    from securitize.waterfall.kernel_loop import run_kernel

    # Whether that first call compiled the kernel (no cached code) or loaded it.
    first_call_compiled = bool(run_kernel.stats.cache_misses)
    for index, size in enumerate(chunk_sizes(args.paths, args.chunk)):
        started = time.perf_counter()
        chunk = simulate_chunk(model, 7, index, size)
        seconds["simulation"] += time.perf_counter() - started
        started = time.perf_counter()
        chunk_collections(pool, structure, 0, chunk)
        collections = time.perf_counter() - started
        seconds["collections"] += collections
        started = time.perf_counter()
        shared = share_chunk(pool, structure, 0, chunk)
        seconds["shared_beyond_collections"] += time.perf_counter() - started - collections
        started = time.perf_counter()
        months = guarantor_default_months(structure, chunk)
        summarise(structure, shared, months, yields=False, periods=False)
        seconds["kernel_design"] += time.perf_counter() - started
        started = time.perf_counter()
        months = guarantor_default_months(structure, chunk)
        summarise(structure, shared, months)
        seconds["kernel_design_all_figures"] += time.perf_counter() - started
        if not args.skip_ledger:
            started = time.perf_counter()
            months = guarantor_default_months(structure, chunk)
            ledger = run_waterfall(structure, shared.period, months)
            seconds["ledger_design"] += time.perf_counter() - started
            del ledger
        del shared
    shared_paths = seconds["simulation"] + seconds["collections"]
    ratios = {}
    for name in ("kernel_design", "kernel_design_all_figures", "ledger_design"):
        if seconds[name] > 0:
            ratios[f"{name}_over_simulation_and_collections"] = seconds[name] / shared_paths
            ratios[f"{name}_over_simulation"] = seconds[name] / seconds["simulation"]
    end_to_end = _end_to_end(
        loaded, pool, model, args.paths, args.chunk, args.designs, seconds["collections"]
    )
    print(
        json.dumps(
            {
                "paths": args.paths,
                "loans": pool.size,
                "periods": len(structure.payment_months),
                "steps": len(structure.program.combined),
                "kernel_first_call_compiled": first_call_compiled,
                "heap_keeps_freed_memory": heap_kept,
                "seconds": seconds,
                "ratios": ratios,
                "end_to_end": end_to_end,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
