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
