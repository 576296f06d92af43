"""Comparing and sweeping deal designs on shared simulated paths.

Structurers ask "what if the senior were 90%? the fee 80 bp? the correlation 0.25?". Every design
is the scenario with some fields changed. Designs whose credit inputs (pool, credit assumptions,
seed, path count, chunking) are the same are evaluated on the very same simulated paths — common
random numbers — so their differences are the design's, not Monte Carlo noise, and the paths are
simulated once. The standard error of a difference between two designs on shared paths is the
paired one: the standard deviation of the per-path differences.
"""

from __future__ import annotations

import io
import itertools
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from securitize.credit import DefaultPaths, simulate_defaults
from securitize.credit.build import build_credit_model
from securitize.errors import ScenarioError
from securitize.evaluate import Outcomes, evaluate_many
from securitize.pool import build_pool
from securitize.progress import steps
from securitize.scenario import POOL_FILE_FIELDS, LoadedScenario, load_scenario, with_fields
from securitize.stats import Estimate, mean_estimate
from securitize.structure import Structure, build_structure

# Fields of these sections change the simulated paths; everything else is the structure.
_PATH_SECTIONS = ("pool", "credit", "simulation", "selection")


def parse_value(text: str, field: str) -> Any:
    """A command-line value as TOML (numbers, booleans, quoted strings, arrays)."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        raise ScenarioError(
            f"--vary {field}: value {text!r} is not a TOML value (quote text: '\"name\"')"
        ) from None


def with_field(loaded: LoadedScenario, field: str, value: Any) -> LoadedScenario:
    """The scenario with one dotted field (``tranches[0].share``) set, revalidated."""
    return with_fields(loaded, {field: value})


def paths_key(loaded: LoadedScenario) -> str:
    """What the simulated paths depend on: designs with equal keys share paths."""
    dump = loaded.scenario.model_dump(mode="json")
    dump["simulation"].pop("workers", None)
    pool = dump["pool"]
    # Files named relative to different scenario folders may be different files: resolve them.
    for name in POOL_FILE_FIELDS:
        if pool.get(name):
            pool[name] = str(loaded.resolve(pool[name]).resolve())
    return repr({section: dump.get(section) for section in _PATH_SECTIONS})


@dataclass(frozen=True)
class Design:
    """One evaluated design: its label, changed fields, structure and outcomes."""

    label: str
    changes: dict[str, Any]
    structure: Structure
    outcomes: Outcomes
    paths_key: str


def evaluate_designs(
    designs: list[tuple[str, dict[str, Any], LoadedScenario]],
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> list[Design]:
    """Evaluate designs, simulating each distinct set of paths once. Designs on the same paths
    and payment dates run together (``evaluate_many``): each chunk's collections and pool
    figures are made once for all of them, so each further design costs its waterfall. Only
    per-path figures are kept: the tables and charts of designs report nothing else."""
    built = []
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, (label, changes, loaded) in enumerate(designs):
        pool = build_pool(loaded)
        structure = build_structure(loaded, pool)
        key = paths_key(loaded)
        lag = loaded.scenario.credit.recovery_lag_months
        built.append((label, changes, loaded, pool, structure, key))
        dates = (structure.horizon, tuple(structure.payment_months.tolist()))
        groups.setdefault((key, lag, dates), []).append(index)
    paths: dict[str, DefaultPaths] = {}
    outcomes: dict[int, Outcomes] = {}
    for (key, lag, _), members in steps(
        groups.items(), "designs on shared paths", progress, unit="set"
    ):
        _, _, loaded, pool, structure, _ = built[members[0]]
        if key not in paths:
            model = build_credit_model(loaded, pool, structure.senior_attachment)
            settings = loaded.scenario.simulation
            paths[key] = simulate_defaults(
                model,
                settings.paths,
                settings.seed,
                settings.chunk_size,
                workers,
                scheduler=scheduler,
            )
        together = evaluate_many(
            pool,
            [built[i][4] for i in members],
            lag,
            paths[key],
            workers,
            scheduler=scheduler,
            yields=False,
            periods=False,
        )
        outcomes.update(zip(members, together, strict=True))
    return [
        Design(label, changes, structure, outcomes[i], key)
        for i, (label, changes, _, _, structure, key) in enumerate(built)
    ]


def _metrics(design: Design) -> dict[str, tuple[np.ndarray, str]]:
    """Per-path series behind each reported metric, and how to reduce them."""
    per_path = design.outcomes.per_path
    series: dict[str, tuple[np.ndarray, str]] = {
        "pool.expected_loss": (per_path["pool.loss"], "mean"),
    }
    for t in design.structure.tranches:
        for view in ("standalone", "wrapped"):
            loss = per_path[f"tranche.{t.name}.{view}.loss"]
            series[f"{t.name}.{view}.expected_loss"] = (loss, "mean")
            series[f"{t.name}.{view}.probability_of_loss"] = (loss > 0.01 / t.balance, "mean")
    for g in design.structure.guarantees:
        claims = per_path[f"enhancer.{g.name}.claims"]
        series[f"{g.name}.probability_of_claim"] = (claims > 0.01, "mean")
        series[f"{g.name}.expected_claim"] = (claims, "mean")
        series[f"{g.name}.expected_net_claim"] = (
            per_path[f"enhancer.{g.name}.net_claims"],
            "mean",
        )
        series[f"{g.name}.expected_fee_income"] = (per_path[f"enhancer.{g.name}.fees"], "mean")
    return series


def design_table(designs: list[Design]) -> pd.DataFrame:
    """Tidy table: one row per design and metric, with value and standard error."""
    rows = []
    for design in designs:
        weight = design.outcomes.per_path["weight"]
        for metric, (values, _) in _metrics(design).items():
            estimate = mean_estimate(np.asarray(values, dtype=float), weight)
            rows.append(
                {
                    "design": design.label,
                    **{f"vary.{k}": v for k, v in design.changes.items()},
                    "metric": metric,
                    "value": estimate.value,
                    "se": estimate.se,
                }
            )
    return pd.DataFrame(rows)


def comparison(designs: list[Design]) -> pd.DataFrame:
    """Each metric for every design, and each design's difference from the first with its
    standard error (paired when the two share paths) and whether it exceeds 3 SE."""
    base = designs[0]
    base_series = _metrics(base)
    metrics = list(base_series)
    for other in designs[1:]:
        metrics += [m for m in _metrics(other) if m not in metrics]
    rows = []
    for metric in metrics:
        row: dict[str, Any] = {"metric": metric}
        if metric not in base_series:
            # A metric only a later design has (another tranche): shown, with no difference.
            row[base.label] = math.nan
            for other in designs[1:]:
                series = _metrics(other)
                if metric in series:
                    value = mean_estimate(
                        np.asarray(series[metric][0], dtype=float),
                        other.outcomes.per_path["weight"],
                    )
                    row[other.label], row[f"{other.label}.se"] = value.value, value.se
            rows.append(row)
            continue
        base_values = np.asarray(base_series[metric][0], dtype=float)
        base_weight = base.outcomes.per_path["weight"]
        base_estimate = mean_estimate(base_values, base_weight)
        row[f"{base.label}"] = base_estimate.value
        row[f"{base.label}.se"] = base_estimate.se
        for other in designs[1:]:
            series = _metrics(other)
            if metric not in series:
                row[other.label] = math.nan
                continue
            values = np.asarray(series[metric][0], dtype=float)
            weight = other.outcomes.per_path["weight"]
            estimate = mean_estimate(values, weight)
            if other.paths_key == base.paths_key:
                difference = mean_estimate(values * weight - base_values * base_weight)
            else:
                difference = Estimate(
                    estimate.value - base_estimate.value, math.hypot(estimate.se, base_estimate.se)
                )
            row[other.label] = estimate.value
            row[f"{other.label}.se"] = estimate.se
            row[f"{other.label}.difference"] = difference.value
            row[f"{other.label}.difference_se"] = difference.se
            # Beyond three standard errors (or exactly different, with no noise at all).
            row[f"{other.label}.significant"] = bool(
                abs(difference.value) > 3 * difference.se and difference.value != 0
            )
        rows.append(row)
    return pd.DataFrame(rows)


def compare_scenarios(
    paths: list[Path],
    *,
    paths_count: int | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Side-by-side metrics of scenario files, designs sharing paths where they can."""
    designs = []
    for path in paths:
        loaded = load_scenario(path)
        if paths_count is not None:
            loaded = with_field(loaded, "simulation.paths", paths_count)
        if seed is not None:
            loaded = with_field(loaded, "simulation.seed", seed)
        designs.append((Path(path).stem, {}, loaded))
    labels = [d[0] for d in designs]
    if len(set(labels)) != len(labels):
        raise ScenarioError("compare: give scenario files with different names")
    return comparison(evaluate_designs(designs, workers, scheduler, progress))


def sweep(
    loaded: LoadedScenario,
    vary: dict[tuple[str, ...], list[tuple[Any, ...]]],
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Every combination of the varied fields, evaluated on shared paths where possible.

    ``vary`` maps a group of fields that move together (one field, or e.g. the senior and the
    subordinated shares) to the list of their values.
    """
    groups = list(vary)
    designs = []
    for k, combination in enumerate(itertools.product(*(vary[g] for g in groups))):
        changes = {
            field: value
            for fields, values in zip(groups, combination, strict=True)
            for field, value in zip(fields, values, strict=True)
        }
        designs.append((f"design_{k + 1}", changes, with_fields(loaded, changes)))
    return design_table(evaluate_designs(designs, workers, scheduler, progress))


def sweep_chart(table: pd.DataFrame, metrics: list[str] | None = None) -> bytes:
    """PNG: each chosen metric for every design, with ±1.96 SE error bars."""
    from matplotlib.figure import Figure

    chosen = metrics or [m for m in table["metric"].unique() if m.endswith("expected_loss")]
    # Designs by their number in the table (design_1, design_2, ...): the varied values of each
    # are in the table's vary.* columns.
    names = [d.removeprefix("design_") for d in table.drop_duplicates("design")["design"]]
    figure = Figure(figsize=(max(6.0, 0.9 * len(names)), 2.4 * len(chosen)), layout="constrained")
    axes = figure.subplots(len(chosen), 1, squeeze=False)[:, 0]
    axes[-1].set_xlabel("design (numbered as in the table)")
    for ax, metric in zip(axes, chosen, strict=True):
        rows = table[table["metric"] == metric]
        ax.bar(range(len(rows)), rows["value"], yerr=1.96 * rows["se"], capsize=3)
        ax.set_title(metric, fontsize=9, loc="left")
        ax.set_xticks(range(len(rows)), names if ax is axes[-1] else [""] * len(rows), fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
