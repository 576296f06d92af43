"""Dask backend: scaling from one to two workers, and the overhead against the local engine.

Simulates and evaluates the pilot deal (default paths, collections, waterfall, per-path
summaries) on: the local engine in one process; local processes (2 workers); a Dask
LocalCluster with 1 and with 2 single-threaded workers. Cluster start-up is timed separately;
every configuration must give the same numbers. Prints JSON.

    python benchmarks/dask_scaling.py [--paths 400000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from securitize.credit import simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.evaluate import evaluate
from securitize.parallel import close_clients, dask_client
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.structure import build_structure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--paths", type=int, default=400_000)
    parser.add_argument("--chunk", type=int, default=25_000)
    args = parser.parse_args()
    loaded = load_scenario("scenarios/wenzhou_pilot.toml")
    pool = build_pool(loaded)
    structure = build_structure(loaded, pool)
    model = build_credit_model(loaded, pool, structure.senior_attachment)
    lag = loaded.scenario.credit.recovery_lag_months
    seed = loaded.scenario.simulation.seed

    def timed(workers: int, scheduler: str | None) -> tuple[float, float]:
        started = time.perf_counter()
        # As run_scenario does: on a cluster, chunks are regenerated where they are evaluated.
        defaults = simulate_defaults(
            model,
            args.paths,
            seed,
            args.chunk,
            workers,
            keep=scheduler is None,
            scheduler=scheduler,
        )
        outcomes = evaluate(pool, structure, lag, defaults, workers, scheduler=scheduler)
        seconds = time.perf_counter() - started
        return seconds, float(np.mean(outcomes.per_path["tranche.senior.standalone.loss"]))

    figures: dict[str, object] = {"paths": args.paths, "chunk_size": args.chunk}
    results = {}
    results["local_1_process"] = timed(1, None)
    results["local_2_processes"] = timed(2, None)
    for workers in (1, 2):
        started = time.perf_counter()
        dask_client(f"local:{workers}")
        figures[f"dask_{workers}_startup_seconds"] = time.perf_counter() - started
        results[f"dask_{workers}_workers"] = timed(workers, f"local:{workers}")
        # One cluster at a time: the machine has only so many cores.
        close_clients()
    for name, (seconds, _) in results.items():
        figures[f"{name}_seconds"] = seconds
    values = {value for _, value in results.values()}
    figures["identical_senior_expected_loss"] = len(values) == 1
    figures["dask_scaling_1_to_2"] = results["dask_1_workers"][0] / results["dask_2_workers"][0]
    figures["dask_overhead_1_worker_vs_local"] = (
        results["dask_1_workers"][0] / results["local_1_process"][0]
    )
    figures["dask_2_workers_vs_local_2_processes"] = (
        results["dask_2_workers"][0] / results["local_2_processes"][0]
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
