"""Scenario figures against a base revision: prints a JSON report of what changed.

For every scenario in ``scenarios/*.toml`` present both at a base git revision and in the working
tree, run it at a fixed number of paths with its own seed under each version of the package, and
compare the two ``results.json`` documents figure by figure. The base version runs from a
temporary ``git worktree`` (removed afterwards), each run in its own process with that tree
first on ``PYTHONPATH``, so the two versions never share an import.

Per scenario the report gives the numeric leaves compared, how many differ (and how many of those
by floating-point rounding only, relative 1e-9), the largest absolute and relative differences
with their key paths, the largest differences listed, figures null on one side only (JSON's NaN,
infinity or "not applicable"), text leaves that differ, and the keys only one side has (new keys
such as ``repayment_schedule`` are expected). Provenance fields (timings, manifest paths and
versions, workers) are skipped as ``securitize verify`` skips them. Whether the scenario file
itself changed and whether it has a ``[deal.calendar]`` are stated, since those are the expected
reasons for a figure to move; where figures moved, the headline ones (losses, yields, lives,
expected claims, break-even rates, the lowest coverage, scheduled interest) are listed with their
change. A programme file (``securitize book``) is listed as skipped: it writes no results.json,
and its deals are scenarios compared on their own.

    python benchmarks/scenario_figures.py                 # base 927e407, 4000 paths
    python benchmarks/scenario_figures.py --base HEAD~3 --paths 2000 --only wenzhou_pilot
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from securitize.verify import is_provenance

ROOT = Path(__file__).resolve().parents[1]
ROUNDING = 1e-9
LISTED = 10
# Runs one scenario with the package of the current directory and writes its results.json.
RUNNER = """
import sys
from pathlib import Path
import securitize
from securitize import run_scenario
from securitize.cli import results_json
here = Path.cwd().resolve()
if not Path(securitize.__file__).resolve().is_relative_to(here):
    sys.exit(f"imported securitize from {securitize.__file__}, not from {here}")
scenario, paths, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
out.write_bytes(results_json(run_scenario(scenario, paths=paths).results.to_dict()))
"""


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def scenarios_at(base: str) -> list[str]:
    """Scenario file names (``scenarios/*.toml``) present at ``base`` and in the working tree."""
    listed = git("ls-tree", "--name-only", base, "scenarios/").split()
    then = {Path(p).name for p in listed if p.endswith(".toml")}
    now = {p.name for p in (ROOT / "scenarios").glob("*.toml")}
    return sorted(then & now)


def run_in(tree: Path, scenario: Path, paths: int, out: Path) -> dict[str, Any]:
    """``scenario`` run by the package in ``tree``: the results document, or the error."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(scenario), str(paths), str(out)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = round(time.perf_counter() - started, 1)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {done.returncode}", "seconds": seconds}
    return {"document": json.loads(out.read_text("utf-8")), "seconds": seconds}


def _labels(items: list[Any]) -> list[str]:
    """``[name]`` for lists of uniquely named records, else ``[i]`` (as verify labels them)."""
    names = [i.get("name") if isinstance(i, dict) else None for i in items]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return [f"[{n}]" for n in names]
    return [f"[{i}]" for i in range(len(items))]


class Comparison:
    """The differences found walking two results documents."""

    def __init__(self) -> None:
        self.compared = 0
        self.numeric: list[tuple[str, float, float, float, float]] = []
        # A figure on one side, null on the other: JSON writes NaN and infinity as null, so a
        # figure that became (or stopped being) undefined or not applicable.
        self.undefined: list[tuple[str, Any, Any]] = []
        self.text: list[tuple[str, Any, Any]] = []
        self.only_base: list[str] = []
        self.only_new: list[str] = []
        self.shape: list[str] = []

    def walk(self, base: Any, new: Any, where: str = "", keys: tuple[str, ...] = ()) -> None:
        if isinstance(base, dict) and isinstance(new, dict):
            for key in [*base, *(k for k in new if k not in base)]:
                name = f"{where}.{key}" if where else key
                if is_provenance((*keys, key)):
                    continue
                if key not in new:
                    self.only_base.append(name)
                elif key not in base:
                    self.only_new.append(name)
                else:
                    self.walk(base[key], new[key], name, (*keys, key))
            return
        if isinstance(base, list) and isinstance(new, list):
            if len(base) != len(new):
                self.shape.append(f"{where}: {len(base)} entries at the base, {len(new)} now")
                return
            labels_base, labels_new = _labels(base), _labels(new)
            if labels_base != labels_new:
                labels_base = [f"[{i}]" for i in range(len(base))]
            for label, a, b in zip(labels_base, base, new, strict=True):
                self.walk(a, b, where + label, keys)
            return
        if _number(base) and _number(new):
            self.compared += 1
            if base == new:
                return
            gap = abs(new - base)
            scale = max(abs(base), abs(new))
            self.numeric.append((where, base, new, gap, gap / scale if scale else 0.0))
            return
        if (base is None and _number(new)) or (new is None and _number(base)):
            self.compared += 1
            self.undefined.append((where, base, new))
            return
        if base != new:
            self.text.append((where, base, new))

    def report(self) -> dict[str, Any]:
        def entry(row: tuple[str, Any, Any, float, float]) -> dict[str, Any]:
            where, a, b, gap, rel = row
            return {"key": where, "base": a, "new": b, "absolute": gap, "relative": rel}

        by_gap = sorted(self.numeric, key=lambda r: r[3], reverse=True)
        by_rel = sorted(self.numeric, key=lambda r: r[4], reverse=True)
        return {
            "numeric_compared": self.compared,
            "numeric_differing": len(self.numeric) + len(self.undefined),
            "null_on_one_side": [{"key": k, "base": a, "new": b} for k, a, b in self.undefined],
            "rounding_only": sum(r[4] <= ROUNDING for r in self.numeric),
            "largest_absolute": entry(by_gap[0]) if by_gap else None,
            "largest_relative": entry(by_rel[0]) if by_rel else None,
            "largest_relative_listed": [entry(r) for r in by_rel[:LISTED]],
            "text_differing": len(self.text),
            "text_listed": [{"key": k, "base": a, "new": b} for k, a, b in self.text[:LISTED]],
            "list_lengths_differ": self.shape,
            "keys_only_at_base": self.only_base,
            "keys_only_now": self.only_new,
        }


def headline(document: dict[str, Any]) -> dict[str, float]:
    """The figures a reader looks at first: pool and tranche losses, yields and lives, the
    guarantors' expected claims and break-even fees, the lowest coverage multiple and each
    tranche's interest in the no-default repayment schedule (where the document has one)."""
    out = {"pool.loss.expected_loss": document["pool"]["loss"]["expected_loss"]["value"]}
    for t in document["tranches"]:
        for view in ("standalone", "wrapped"):
            for name in ("expected_loss", "expected_yield", "wal_years"):
                out[f"tranches[{t['name']}].{view}.{name}"] = t[view][name]["value"]
    for e in document["enhancers"]:
        for name in ("expected_claim", "break_even_net_fee_bp"):
            if name in e["metrics"]:
                out[f"enhancers[{e['name']}].{name}"] = e["metrics"][name]["value"]
    for name, found in (document.get("break_even") or {}).get("tranches", {}).items():
        out[f"break_even.tranches.{name}.default_rate"] = found["default_rate"]
    coverage = [c for c in document["cash_flows"].get("coverage_multiple", []) if c is not None]
    if coverage:
        out["cash_flows.coverage_multiple (lowest)"] = min(coverage)
    for row in document.get("repayment_schedule", []):
        key = f"repayment_schedule[{row['tranche']}].interest (total)"
        out[key] = out.get(key, 0.0) + row["interest"]
    return out


def headline_changes(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Each headline figure both documents have, where it moved: base, new and the change."""
    then, now = headline(base), headline(new)
    out = {}
    for key in then.keys() & now.keys():
        a, b = then[key], now[key]
        if a is None or b is None or a == b:
            continue
        scale = max(abs(a), abs(b))
        out[key] = {"base": a, "new": b, "change": b - a, "relative": (b - a) / scale}
    return dict(sorted(out.items()))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_calendar(path: Path) -> bool:
    with path.open("rb") as stream:
        deal = tomllib.load(stream).get("deal", {})
    return isinstance(deal, dict) and "calendar" in deal


def _is_programme(path: Path) -> bool:
    with path.open("rb") as stream:
        return "programme" in tomllib.load(stream)


def compare_scenario(name: str, base: str, tree: Path, paths: int, tmp: Path) -> dict[str, Any]:
    if _is_programme(ROOT / "scenarios" / name):
        # A programme book (``securitize book``) writes no results.json; its deals are
        # scenarios of their own and are compared one by one.
        return {"scenario": name, "skipped": "a programme file (securitize book), not a deal"}
    then = run_in(tree, tree / "scenarios" / name, paths, tmp / f"base-{name}.json")
    now = run_in(ROOT, ROOT / "scenarios" / name, paths, tmp / f"new-{name}.json")
    changed = bool(git("diff", "--name-only", base, "--", f"scenarios/{name}").strip())
    out: dict[str, Any] = {
        "scenario": name,
        "scenario_file_changed": changed,
        "calendar": _has_calendar(ROOT / "scenarios" / name),
        "seconds": {"base": then["seconds"], "new": now["seconds"]},
    }
    if "error" in then or "error" in now:
        out["error"] = {"base": then.get("error"), "new": now.get("error")}
        return out
    comparison = Comparison()
    comparison.walk(then["document"], now["document"])
    headlines = headline_changes(then["document"], now["document"])
    return {**out, **comparison.report(), "headline_changes": headlines}


def summary_line(row: dict[str, Any]) -> dict[str, Any]:
    """The figures of one scenario's comparison that fit on a line."""
    if "error" in row or "skipped" in row:
        return {k: v for k, v in row.items() if k in ("scenario", "error", "skipped")}
    largest_abs, largest_rel = row["largest_absolute"], row["largest_relative"]
    return {
        "scenario": row["scenario"],
        "calendar": row["calendar"],
        "scenario_file_changed": row["scenario_file_changed"],
        "compared": row["numeric_compared"],
        "differing": row["numeric_differing"],
        "rounding_only": row["rounding_only"],
        "null_on_one_side": [n["key"] for n in row["null_on_one_side"]],
        "largest_absolute": None
        if largest_abs is None
        else [largest_abs["absolute"], largest_abs["key"]],
        "largest_relative": None
        if largest_rel is None
        else [largest_rel["relative"], largest_rel["key"]],
        "text_differing": row["text_differing"],
        "text_keys": [t["key"] for t in row["text_listed"]],
        "headline_changes": len(row["headline_changes"]),
        "keys_only_now": len(row["keys_only_now"]),
        "keys_only_at_base": len(row["keys_only_at_base"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="927e407", help="git revision to compare against")
    parser.add_argument("--paths", type=int, default=4000, help="Monte Carlo paths per run")
    parser.add_argument("--only", nargs="*", help="scenario names (without .toml) to compare")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    base = git("rev-parse", "--verify", f"{args.base}^{{commit}}").strip()
    names = scenarios_at(base)
    if args.only:
        names = [n for n in names if n.removesuffix(".toml") in args.only]
    with tempfile.TemporaryDirectory(prefix="securitize-figures-") as folder:
        tmp = Path(folder)
        tree = tmp / "base"
        git("worktree", "add", "--detach", str(tree), base)
        try:
            rows = []
            for name in names:
                print(f"{name} ...", file=sys.stderr, flush=True)
                rows.append(compare_scenario(name, base, tree, args.paths, tmp))
        finally:
            git("worktree", "remove", "--force", str(tree))
    report = {
        "base": base,
        "working_tree": git("rev-parse", "HEAD").strip()
        + ("+changes" if git("status", "--porcelain", "--untracked-files=no").strip() else ""),
        "paths": args.paths,
        "summary": [summary_line(row) for row in rows],
        "scenarios": rows,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
