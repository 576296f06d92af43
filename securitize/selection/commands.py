"""``securitize pool select`` and ``securitize pool programme``.

``pool select SCENARIO`` cuts the optimal pool from the scenario's candidate tape and writes
``selected_tape.csv`` (a valid loan tape), ``selection_report.csv`` (every candidate, in or out,
with its reasons) and ``selection.json`` (the summary). ``pool programme SCENARIO`` cuts a deal
on each programme date and writes ``programme.json``, ``programme_deals.csv`` and
``programme_loans.csv``. Both write under ``reports/<deal name>/`` unless ``--out`` says
otherwise, atomically, and never over an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_pool_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``pool select`` and ``pool programme`` on the top-level subparsers."""
    pool = commands.add_parser("pool", help="cut pools from a pipeline of candidate loans")
    actions = pool.add_subparsers(dest="pool_command", required=True)
    select = actions.add_parser(
        "select",
        help="choose the optimal eligible pool and explain every candidate",
    )
    programme = actions.add_parser(
        "programme",
        help="cut successive deals on the programme's dates; enterprises served per year",
    )
    for parser, handler in ((select, _select), (programme, _programme)):
        parser.add_argument("scenario", help="scenario TOML file with a [selection] section")
        parser.add_argument("--out", help="output folder (default: reports/<deal name>/)")
        parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
        parser.add_argument("--quiet", action="store_true", help="print only the files written")
        parser.set_defaults(handler=handler)
    select.add_argument(
        "--enforce-rules",
        action="store_true",
        help="a selected pool that fails an exchange rule is an error and nothing is written "
        "(default: a warning per failed rule)",
    )


def _folder(args: argparse.Namespace, loaded) -> Path:
    from securitize.output import output_option

    out = output_option(args.out)
    return out if out is not None else Path("reports") / loaded.scenario.deal.name


def _select(args: argparse.Namespace) -> int:
    from securitize.cli import results_json
    from securitize.output import write_outputs
    from securitize.scenario import load_scenario
    from securitize.selection.api import select_for_scenario, selection_files, selection_summary

    loaded = load_scenario(args.scenario)
    selection = select_for_scenario(loaded)
    summary = selection_summary(selection)
    if args.enforce_rules:
        enforce_rules(summary["exchange_rules"], loaded.path)
    written = write_outputs(
        _folder(args, loaded), selection_files(selection, results_json), force=args.force
    )
    if not args.quiet:
        print(format_selection(summary))
    for path in written:
        print(f"wrote {path}")
    return 0


def _programme(args: argparse.Namespace) -> int:
    from securitize.cli import results_json
    from securitize.output import write_outputs
    from securitize.scenario import load_scenario
    from securitize.selection.programme import run_programme

    loaded = load_scenario(args.scenario)
    programme = run_programme(loaded)
    files = {
        "programme.json": results_json(programme.summary()),
        "programme_deals.csv": programme.deals().to_csv(index=False, lineterminator="\n").encode(),
        "programme_loans.csv": programme.loans().to_csv(index=False, lineterminator="\n").encode(),
    }
    written = write_outputs(_folder(args, loaded), files, force=args.force)
    if not args.quiet:
        print(format_programme(programme.summary()))
    for path in written:
        print(f"wrote {path}")
    return 0


# The [selection.limits] field that makes the solver meet an exchange rule, for the warning.
RULE_LIMITS = {"single_debtor": "related_group_max", "ip_label": "label_min"}


def _remedy(check: dict) -> str:
    field = RULE_LIMITS.get(check["id"])
    if field is None:
        return ""
    return f"; select for it with [selection.limits] {field} = {check['limit']:g}"


def enforce_rules(block: dict, source: Path) -> None:
    """Raise naming every exchange rule the selected pool fails (``--enforce-rules``)."""
    from securitize.selection.errors import SelectionError

    failed = [c for c in block["checks"] if c["status"] == "fail"]
    if failed:
        listed = "; ".join(c["message"] + _remedy(c) for c in failed)
        raise SelectionError(
            f"{source}: --enforce-rules: the selected pool fails {len(failed)} exchange "
            f"rule(s): {listed}"
        )


def format_selection(summary: dict) -> str:
    """A few lines for the terminal."""
    counts = summary["counts"]
    pool = summary["pool"]
    solver = summary["solver"]
    greedy = summary["greedy"]
    lines = [
        f"candidates {counts['candidates']}: eligible {counts['eligible']}, "
        f"ineligible {counts['ineligible']}; selected {counts['selected']} loans, "
        f"CNY {pool['balance'] / 1e6:,.2f}m ({pool['enterprises']} enterprises)",
        f"objective {summary['objective']['name']}: best {solver['best_found']:,.2f} "
        f"{summary['objective']['unit']}, solver {solver['status']}"
        + (" (proven)" if solver["proven_optimal"] else " (NOT proven optimal)")
        + f" in {solver['seconds']:.2f} s",
    ]
    tie_break = summary["tie_break"]
    if tie_break["status"] is not None:
        lines.append(
            f"selected {summary['objective']['value']:,.2f}: the lowest expected loss "
            f"(CNY {tie_break['expected_annual_loss']:,.0f} a year) among pools within "
            f"{tie_break['tolerance']:.2%} of the best"
        )
    if greedy["feasible"]:
        relative = greedy["gap_to_optimum"]["relative"]
        lines.append(
            f"greedy largest-first: {greedy['objective']:,.2f}"
            + (f" ({relative:.2%} below the optimum)" if relative is not None else "")
        )
    else:
        lines.append("greedy largest-first: no pool meeting every limit")
    lines += [f"warning: {w}" for w in summary["warnings"]]
    block = summary["exchange_rules"]
    lines += [
        f"warning: exchange rule {c['message']}{_remedy(c)}"
        for c in block["checks"]
        if c["status"] == "fail"
    ]
    lines += [
        f"note: exchange rule {c['message']}"
        for c in block["checks"]
        if c["status"] in ("triggered", "cannot_check", "not_applicable")
    ]
    return "\n".join(lines)


def format_programme(summary: dict) -> str:
    lines = []
    for deal in summary["deals"]:
        if deal["issued"]:
            lines.append(
                f"deal {deal['deal']} at {deal['cut_off_date']}: {deal['loans']} loans, "
                f"CNY {deal['balance'] / 1e6:,.2f}m"
            )
        else:
            lines.append(f"deal {deal['deal']} at {deal['cut_off_date']}: none ({deal['reason']})")
    for year in summary["years"]:
        target = year["target"]
        lines.append(
            f"{year['year']}: {year['enterprises_served']} enterprises served"
            + ("" if target is None else f" (target {target})")
        )
    return "\n".join(lines)
