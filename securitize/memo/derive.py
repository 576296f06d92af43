"""Figures the memo shows that ``Results`` does not carry directly, derived from it alone.

Kept out of the template (no arithmetic there) and out of ``Results`` (they are presentation:
a selection of rows, a running sum of shares, a command line), each a pure function of a run.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from securitize.results import Results
from securitize.stats import Estimate

Words = Callable[..., str]


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


def payment_schedule(
    results: Results, t: Words, shown: Callable[[str], str] = str
) -> PaymentSchedule:
    """Each tranche's wrapped interest and principal, claims and residual, per payment month.

    Only payment months are shown: notes, guarantors and the residual are paid on no other month.
    """
    series = []
    for tr in results.tranches:
        series += [
            (f"tranche.{tr.name}.wrapped.interest", t("schedule.interest", name=shown(tr.name))),
            (f"tranche.{tr.name}.wrapped.principal", t("schedule.principal", name=shown(tr.name))),
        ]
    series += [
        (f"enhancer.{e.name}.claims", t("schedule.claims", name=shown(e.name)))
        for e in results.enhancers
    ]
    series.append(("residual", t("schedule.residual")))
    frame = results.cash_flows.set_index("month").loc[results.deal["payment_months"]]
    rows = [
        (int(month), [Estimate(float(row[c]), float(row[f"{c}.se"])) for c, _ in series])
        for month, row in frame.iterrows()
    ]
    return PaymentSchedule([name for _, name in series], rows)


def model_description(results: Results, t: Words) -> str:
    """One sentence naming the dependence model and its parameters, recoveries, prepayment."""
    a = results.assumptions
    if a["model"] == "gaussian_multi_factor" or a.get("factors"):
        f = a["factors"]
        copula = (
            t("model.student_t_name", nu=f"{a['degrees_of_freedom']:g}")
            if a.get("degrees_of_freedom")
            else t("model.gaussian_name")
        )
        model = t(
            "model.multi_factor",
            copula=copula,
            glob=f"{f['global_loading']:.2f}",
            industry=f"{f['industry_loading']:.2f}",
            region=f"{f['region_loading']:.2f}",
            factors=len(a["factor_names"]),
        )
    elif a["model"] == "student_t":
        model = t(
            "model.student_t",
            nu=f"{a['degrees_of_freedom']:g}",
            rho=f"{a['asset_correlation']:.2f}",
        )
    else:
        model = t("model.gaussian", rho=f"{a['asset_correlation']:.2f}")
    recovery = a["recovery_distribution"]
    if recovery["distribution"] == "beta":
        model += t(
            "model.beta_recovery",
            sd=f"{recovery['dispersion']:.2f}",
            loading=f"{recovery['factor_loading']:.2f}",
        )
    else:
        model += t("model.fixed_recovery")
    model += t("model.lag", months=a["recovery_lag_months"])
    if a["prepayment_annual_rate"]:
        model += t("model.prepayment", rate=f"{100 * a['prepayment_annual_rate']:.1f}")
    return model


def sampling_description(results: Results, t: Words) -> str:
    """How the paths were drawn: plain Monte Carlo or importance sampling, with its ESS."""
    sim = results.simulation
    shift = sim.get("importance_shift")
    if not shift:
        return t("model.plain", paths=f"{sim['paths']:,}")
    return t(
        "model.importance",
        shift=f"{shift[0]:.3f}",
        paths=f"{sim['paths']:,}",
        ess=f"{sim['effective_sample_size']:,.0f}",
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
                "name": stress["name"],
                "monte_carlo_only": not stress.get("deterministic_change", True)
                and monte_carlo is not None,
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


def reproduce_command(results: Results, lang: str = "en") -> str:
    """The command line that reruns this memo's simulation (shell-quoted)."""
    sim = results.simulation
    words = [
        "securitize",
        "run",
        str(results.manifest["scenario_path"]),
        "--seed",
        str(sim["seed"]),
        "--paths",
        str(sim["paths"]),
    ]
    return shlex.join(words + (["--lang", lang] if lang != "en" else []))


def convergence(
    results: Results, t: Words, shown: Callable[[str], str] = str
) -> list[dict[str, object]]:
    """Relative standard error of the headline estimates, and the paths that would bring each
    to 1% (SE falls as 1/√paths): how far the run is from converged, figure by figure."""
    paths = results.simulation["paths"]
    figures = [(t("convergence.pool_el"), results.pool_loss["expected_loss"])]
    for tr in results.tranches:
        for view in ("standalone", "wrapped"):
            metrics = getattr(tr, view)
            for key in ("expected_loss", "probability_of_loss"):
                figures.append(
                    (
                        t(f"convergence.{view}_{key}", name=shown(tr.name)),
                        metrics[key],
                    )
                )
    rows = []
    for label, value in figures:
        relative = value.se / value.value if value.value > 0 else math.nan
        rows.append(
            {
                "label": label,
                "estimate": value,
                "relative_se": relative,
                "paths_for_one_percent": math.ceil(paths * (relative / 0.01) ** 2)
                if math.isfinite(relative)
                else math.nan,
            }
        )
    return rows


def repayment_tables(results: Results) -> list[dict[str, object]]:
    """The repayment schedule (兑付计划) per tranche: its rows and their totals."""
    records = getattr(results, "repayment_schedule", None) or []
    tables: dict[str, dict[str, object]] = {}
    for row in records:
        table = tables.setdefault(row["tranche"], {"name": row["tranche"], "rows": []})
        table["rows"].append(row)
    for table in tables.values():
        table["interest"] = sum(r["interest"] for r in table["rows"])
        table["principal"] = sum(r["principal"] for r in table["rows"])
        table["payment"] = sum(r["payment"] for r in table["rows"])
    return list(tables.values())


def note_terms(results: Results) -> list[dict[str, object]]:
    """The coupon terms of each tranche that has more to state than a fixed coupon on the month
    grid: a margin over the index, a day count (for a tranche that pays interest), resets, a
    put or a call; a call's exercise is the share of paths it is exercised on, with its SE."""
    frame = results.cash_flows.set_index("month")
    out = []
    for tr in results.tranches:
        path = tr.coupon_path or [tr.coupon]
        pays = any(c > 0 for c in path)
        basis = tr.day_count if pays else None
        if tr.margin is None and basis is None and not (tr.resets or tr.put or tr.call):
            continue
        call = None
        if tr.call is not None:
            column = f"tranche.{tr.name}.redeemed"
            at = frame.loc[tr.call["month"]]
            call = {**tr.call, "exercised": Estimate(float(at[column]), float(at[f"{column}.se"]))}
        out.append(
            {
                "name": tr.name,
                "margin": tr.margin,
                "first_coupon": path[0],
                "day_count": basis,
                "resets": tr.resets,
                "put": tr.put,
                "call": call,
            }
        )
    return out
