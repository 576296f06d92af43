"""Figures the memo shows that ``Results`` does not carry directly, derived from it alone.

Kept out of the template (no arithmetic there) and out of ``Results`` (they are presentation:
a selection of rows, a running sum of shares, a command line), each a pure function of a run.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from securitize.results import Results
from securitize.stats import Estimate


@dataclass(frozen=True)
class PaymentSchedule:
    """Expected payments on each payment date (the cash-flow forecast disclosure), with SEs."""

    columns: list[str]
    rows: list[tuple[int, list[Estimate]]]


def subordination(results: Results) -> dict[str, float]:
    """Share of the pool junior to each tranche: the first-loss cushion beneath it (次级支持)."""
    below, cushion = 0.0, {}
    for tranche in reversed(results.tranches):
        cushion[tranche.name] = below
        below += tranche.share
    return {t.name: cushion[t.name] for t in results.tranches}


def payment_schedule(results: Results) -> PaymentSchedule:
    """Each tranche's wrapped interest and principal, claims and residual, per payment month.

    Only payment months are shown: notes, guarantors and the residual are paid on no other month.
    """
    series = []
    for t in results.tranches:
        series += [
            (f"tranche.{t.name}.wrapped.interest", f"{t.name} interest"),
            (f"tranche.{t.name}.wrapped.principal", f"{t.name} principal"),
        ]
    series += [(f"enhancer.{e.name}.claims", f"{e.name} claims") for e in results.enhancers]
    series.append(("residual", "residual"))
    frame = results.cash_flows.set_index("month").loc[results.deal["payment_months"]]
    rows = [
        (int(month), [Estimate(float(row[c]), float(row[f"{c}.se"])) for c, _ in series])
        for month, row in frame.iterrows()
    ]
    return PaymentSchedule([name for _, name in series], rows)


def model_description(results: Results) -> str:
    """One sentence naming the dependence model and its parameters, recoveries, prepayment."""
    a = results.assumptions
    if a["model"] == "gaussian_multi_factor" or a.get("factors"):
        f = a["factors"]
        model = (
            f"multi-factor Gaussian copula (global loading {f['global_loading']:.2f}, industry "
            f"{f['industry_loading']:.2f}, region {f['region_loading']:.2f}; "
            f"{len(a['factor_names'])} factors)"
        )
        if a.get("degrees_of_freedom"):
            model = model.replace("Gaussian", f"Student-t (ν = {a['degrees_of_freedom']:g})")
    elif a["model"] == "student_t":
        model = (
            f"one-factor Student-t copula, ν = {a['degrees_of_freedom']:g}, "
            f"asset correlation {a['asset_correlation']:.2f}"
        )
    else:
        model = f"one-factor Gaussian copula, asset correlation {a['asset_correlation']:.2f}"
    recovery = a["recovery_distribution"]
    if recovery["distribution"] == "beta":
        model += (
            f"; Beta recoveries (standard deviation {recovery['dispersion']:.2f}, factor "
            f"loading {recovery['factor_loading']:.2f})"
        )
    else:
        model += "; fixed recoveries"
    model += f", received {a['recovery_lag_months']} months after default"
    if a["prepayment_annual_rate"]:
        model += f"; prepayment {100 * a['prepayment_annual_rate']:.1f}% a year"
    return model


def sampling_description(results: Results) -> str:
    """How the paths were drawn: plain Monte Carlo or importance sampling, with its ESS."""
    sim = results.simulation
    shift = sim.get("importance_shift")
    if not shift:
        return f"plain Monte Carlo, {sim['paths']:,} paths"
    return (
        f"importance sampling, global factor shifted by {shift[0]:.3f} "
        f"(Glasserman–Li), {sim['paths']:,} paths, effective sample size "
        f"{sim['effective_sample_size']:,.0f}; every estimate is weighted by its likelihood ratio"
    )


def loss_tranche_rows(results: Results) -> list[dict[str, object]]:
    """Each loss tranche's expected loss at the legal final month, with its SE."""
    table = results.loss_tranches
    last = table[table["month"] == table["month"].max()]
    return [
        {
            "name": row.tranche,
            "attachment": row.attachment,
            "detachment": row.detachment,
            "expected_loss": Estimate(float(row.expected_loss), float(row.se)),
        }
        for row in last.itertuples(index=False)
    ]


def stress_rows(results: Results) -> list[dict[str, object]]:
    """One row per stress run: default rate, pool loss, each tranche's stand-alone loss, the
    lowest coverage multiple, and the Monte Carlo figures of a correlation stress."""
    names = [t.name for t in results.tranches]
    rows = []
    for stress in results.stresses:
        monte_carlo = stress.get("monte_carlo")
        rows.append(
            {
                "name": stress["name"]
                + (
                    ""
                    if stress.get("deterministic_change", True) or monte_carlo is None
                    else " (Monte Carlo only; deterministic run as the expected case)"
                ),
                "pool_default_rate": stress["pool_default_rate"],
                "pool_loss": stress["pool_loss"],
                "losses": [stress["tranches"][n]["standalone_loss"] for n in names],
                "minimum_coverage": stress["minimum_coverage_multiple"],
                "monte_carlo": None
                if monte_carlo is None
                else [Estimate(**monte_carlo[f"{n}.standalone.expected_loss"]) for n in names],
            }
        )
    return rows


def coverage_rows(results: Results) -> list[dict[str, object]]:
    """Coverage multiple per payment date: Monte Carlo expectation (± SE) and each stress."""
    frame = results.cash_flows
    rows = []
    for k, month in enumerate(frame["month"]):
        rows.append(
            {
                "month": int(month),
                "monte_carlo": Estimate(
                    float(frame["coverage_multiple"].iloc[k]),
                    float(frame["coverage_multiple.se"].iloc[k]),
                ),
                "stresses": [s["coverage_multiple"][k] for s in results.stresses],
            }
        )
    return rows


def reproduce_command(results: Results) -> str:
    """The command line that reruns this memo's simulation (shell-quoted)."""
    sim = results.simulation
    return shlex.join(
        [
            "securitize",
            "run",
            str(results.manifest["scenario_path"]),
            "--seed",
            str(sim["seed"]),
            "--paths",
            str(sim["paths"]),
        ]
    )
