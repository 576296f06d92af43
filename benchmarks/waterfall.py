"""Simulate once, evaluate many: the cost of one more design against simulating the paths.

A 100-loan pool, monthly payments for 36 periods, a 10-step waterfall (two fees, a guarantee
fee, a reserve draw, senior and mezzanine interest, a reserve top-up, sequential principal, a
turbo step, the residual). Prints JSON with, measured in the same run:

* simulation: default paths (thinning sampler) for the paths;
* collections: the pool's cash per path and period (shared by every design on those paths);
* one design: the waterfall over all paths (what each extra design costs);
* the ratio of one design to simulation + collections, and to the simulation alone.

    python benchmarks/waterfall.py                 # 1,000,000 paths
    python benchmarks/waterfall.py --paths 200000
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
from securitize.evaluate import chunk_collections
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.structure import build_structure
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "benchmark.toml"
        path.write_text(SCENARIO)
        loaded = load_scenario(path)
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    seconds = {"simulation": 0.0, "collections": 0.0, "one_design": 0.0}
    standing = None
    for index, size in enumerate(chunk_sizes(args.paths, args.chunk)):
        started = time.perf_counter()
        chunk = simulate_chunk(model, 7, index, size)
        seconds["simulation"] += time.perf_counter() - started
        started = time.perf_counter()
        collections, _ = chunk_collections(pool, structure, 0, chunk)
        seconds["collections"] += time.perf_counter() - started
        if standing is None or standing.shape[0] != size:
            standing = np.full((size, 1), structure.horizon + 1)
        started = time.perf_counter()
        run_waterfall(structure, collections, standing)
        seconds["one_design"] += time.perf_counter() - started
    shared = seconds["simulation"] + seconds["collections"]
    print(
        json.dumps(
            {
                "paths": args.paths,
                "loans": pool.size,
                "periods": len(structure.payment_months),
                "steps": len(structure.program.combined),
                "seconds": seconds,
                "one_design_over_simulation_and_collections": seconds["one_design"] / shared,
                "one_design_over_simulation": seconds["one_design"] / seconds["simulation"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
