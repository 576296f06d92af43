"""Credit engine benchmark: prints its figures as JSON.

(a) wall time to simulate default times and recoveries for 100 loans × 36 months × 1,000,000
    paths (one-factor Gaussian) and aggregate per-period pool losses, on 1 and 2 workers;
(b) the same time as a ratio to drawing 100 × 1,000,000 standard normals with numpy's default
    Generator on one thread, measured in the same run (target ≤ 1.0);
(c) a senior loss tranche whose probability of loss is near 1e-5: relative standard error from
    100,000 importance-sampled paths (target ≤ 10%), against the exact finite-pool value;
(d) peak memory (resident set size) of 10,000 loans × 1,000,000 paths in a child process
    (target ≤ 2 GB).

    python benchmarks/credit_engine.py            # all four
    python benchmarks/credit_engine.py --quick    # smaller (d): 10,000 loans × 100,000 paths
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

from securitize.credit import CreditModel, RecoveryModel, one_factor
from securitize.credit.importance import glasserman_li_shift
from securitize.credit.losses import simulate_pool_losses
from securitize.credit.term_structure import flat_after_maturity, from_annual_pd
from securitize.stats import effective_sample_size, probability_estimate

MONTHS = 36
RHO = 0.18
RECOVERY = 0.3


def pool(loans: int, shift: float | None = None) -> tuple[CreditModel, np.ndarray]:
    """``loans`` equal bullet loans, annual PD spread 1–4%, fixed 30% recovery."""
    annual_pd = np.linspace(0.01, 0.04, loans)
    tenor = np.full(loans, MONTHS)
    cumulative = flat_after_maturity(from_annual_pd(annual_pd, MONTHS), tenor)
    model = CreditModel(
        one_factor(RHO, loans),
        cumulative,
        tenor,
        RecoveryModel(np.full(loans, RECOVERY)),
        shift=None if shift is None else np.array([shift]),
    )
    exposure_at_default = np.full((loans, MONTHS), 1.0 / loans)
    return model, exposure_at_default


def reference_seconds(loans: int, paths: int) -> float:
    rng = np.random.default_rng(1)
    started = time.perf_counter()
    rng.standard_normal((paths, loans))
    return time.perf_counter() - started


def engine_seconds(loans: int, paths: int, workers: int) -> tuple[float, float]:
    model, lgd = pool(loans)
    started = time.perf_counter()
    result = simulate_pool_losses(model, lgd, paths, seed=7, chunk_size=100_000, workers=workers)
    return time.perf_counter() - started, float(result.final.mean())


def tail_tranche(paths: int, target_probability: float = 1e-5) -> dict[str, float]:
    """P(pool loss > attachment) with the attachment at the exact 1 − 1e-5 loss quantile."""
    from securitize.credit.analytic import finite_pool_loss_distribution

    loans = 100
    model, lgd = pool(loans)
    loss_per_default = (1 - RECOVERY) / loans
    # A lattice unit equal to the loss per default makes the exact distribution exact (no
    # rounding), so its quantile is a loss the simulation can produce.
    exact = finite_pool_loss_distribution(
        lgd * (1 - RECOVERY),
        model.cumulative_pd,
        np.full(loans, np.sqrt(RHO)),
        [MONTHS],
        unit=loss_per_default,
    )
    attachment = exact.quantile(MONTHS, 1 - target_probability)
    exact_probability = exact.probability_of_exceeding(MONTHS, attachment)
    threshold = model.copula.threshold(model.cumulative_pd[:, -1])
    mu = glasserman_li_shift(
        threshold, np.full(loans, np.sqrt(RHO)), np.full(loans, (1 - RECOVERY) / loans), attachment
    )
    shifted, _ = pool(loans, shift=mu)
    started = time.perf_counter()
    result = simulate_pool_losses(shifted, lgd, paths, seed=11, chunk_size=50_000)
    seconds = time.perf_counter() - started
    # Losses are whole multiples of the loss per default; half a default separates k from k + 1.
    cut = attachment + loss_per_default / 2
    estimate = probability_estimate(result.final > cut, result.weight)
    plain = simulate_pool_losses(model, lgd, paths, seed=11, chunk_size=50_000)
    plain_estimate = probability_estimate(plain.final > cut, plain.weight)
    return {
        "attachment": attachment,
        "exact_probability": exact_probability,
        "paths": paths,
        "shift": mu,
        "estimate": estimate.value,
        "se": estimate.se,
        "relative_se": estimate.se / estimate.value if estimate.value else float("inf"),
        "z_against_exact": (estimate.value - exact_probability) / estimate.se,
        "effective_sample_size": effective_sample_size(result.weight, result.paths),
        "plain_mc_estimate": plain_estimate.value,
        "plain_mc_se": plain_estimate.se,
        "seconds": seconds,
    }


def memory_child(loans: int, paths: int) -> None:
    model, lgd = pool(loans)
    started = time.perf_counter()
    result = simulate_pool_losses(model, lgd, paths, seed=3, chunk_size=5_000)
    print(
        json.dumps(
            {"seconds": time.perf_counter() - started, "mean_loss": float(result.final.mean())}
        )
    )


def peak_memory(loans: int, paths: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(loans), str(paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    child = json.loads(done.stdout)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"loans": loans, "paths": paths, "peak_rss_gb": peak_kb / 2**20, **child}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", nargs=2, type=int)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(*args.memory_child)
        return
    loans, paths = 100, 1_000_000
    reference = reference_seconds(loans, paths)
    one, mean_loss = engine_seconds(loans, paths, workers=1)
    two, _ = engine_seconds(loans, paths, workers=2)
    figures = {
        "a_engine_seconds_1_worker": one,
        "a_engine_seconds_2_workers": two,
        "a_mean_pool_loss": mean_loss,
        "b_reference_seconds_100M_normals": reference,
        "b_ratio_1_worker": one / reference,
        "b_ratio_2_workers": two / reference,
        "c_tail_tranche": tail_tranche(100_000),
        "d_memory": peak_memory(10_000, 100_000 if args.quick else 1_000_000),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
