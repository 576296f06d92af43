"""``securitize size`` (sizing solvers) and ``securitize book`` (an enhancer's programme book).

``size SCENARIO`` answers, on one set of simulated paths: how much guarantee coverage the
tranche needs for a target rating, what subordination would do without a guarantee, what fee
breaks even for a target return on capital, and how large a pool the guarantor's limits allow.
``book PROGRAMME`` runs every deal of a programme on common paths and reports each enhancer's
aggregate claims and capacity use. Both print a report and can write JSON (atomically, never over
an existing file without ``--force``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

SOLVERS = ("coverage", "subordination", "fee", "capacity")


def add_enhancer_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``size`` and ``book`` on the top-level subparsers."""
    size = commands.add_parser(
        "size", help="size coverage, subordination, fee and capacity on shared paths"
    )
    size.add_argument("scenario", help="scenario TOML file")
    size.add_argument(
        "--solve",
        action="append",
        choices=SOLVERS,
        help="which question (repeatable; default: every one the scenario allows)",
    )
    size.add_argument("--target", default="AAAsf", help="target rating (default AAAsf)")
    size.add_argument("--scale", default="sf", choices=("sf", "idealised"), help="rating scale")
    size.add_argument(
        "--method",
        default="loss_table",
        choices=("loss_table", "domestic"),
        help=(
            "how subordination earns the target: loss_table (expected loss against the idealised "
            "table, the default) or domestic (break-even against target default rate by level, "
            "capped by the large-obligor test; stand-alone, so it sizes subordination only)"
        ),
    )
    size.add_argument("--tranche", help="tranche to size subordination for (default: senior)")
    size.add_argument("--enhancer", help="guarantee to size (default: the first guarantee)")
    size.add_argument(
        "--target-return",
        type=float,
        default=0.10,
        help="annual return on 99.9%% economic capital the fee must earn (default 0.10)",
    )
    size.add_argument("--paths", type=int, help="Monte Carlo paths (overrides the scenario)")
    size.add_argument("--seed", type=int, help="random seed (overrides the scenario)")
    size.add_argument("--workers", type=int, default=1, help="worker processes")
    size.add_argument("--out", help="write the answers as JSON to this file")
    size.add_argument("--force", action="store_true", help="overwrite an existing file")
    size.set_defaults(handler=_size)
    book = commands.add_parser(
        "book", help="an enhancer programme: aggregate claims and capacity across deals"
    )
    book.add_argument("programme", help="programme TOML file listing the deals")
    book.add_argument("--paths", type=int, help="Monte Carlo paths (overrides the programme)")
    book.add_argument("--workers", type=int, default=1, help="worker processes")
    book.add_argument("--out", help="write the book as JSON to this file")
    book.add_argument("--force", action="store_true", help="overwrite an existing file")
    book.set_defaults(handler=_book)


def _check_json(path: str | None, force: bool) -> None:
    """Refuse a JSON destination before the work that fills it."""
    from securitize.errors import SecuritizeError
    from securitize.output import check_destination, output_option

    out = output_option(path)
    if out is None:
        return
    if out.suffix.lower() != ".json":
        raise SecuritizeError(f"--out {out}: must end in .json")
    check_destination(out.parent, [out.name], force=force)


def _write_json(path: str, document: dict[str, Any], force: bool) -> None:
    from securitize.cli import results_json
    from securitize.output import write_outputs

    out = Path(path)
    write_outputs(out.parent, {out.name: results_json(document)}, force=force)
    print(f"wrote {out}")


def _share(value: float | None) -> str:
    return "not reachable" if value is None else f"{value:.2%}"


def _format_answer(answer) -> str:
    if answer.unit.startswith("bp"):
        show = "not reachable" if answer.answer is None else f"{answer.answer:.1f} bp"
        band = [("—" if b is None else f"{b:.1f} bp") for b in answer.band]
    elif answer.unit.startswith("CNY"):
        show = f"CNY {answer.answer:,.0f}"
        band = [show, show]
    else:
        show = _share(answer.answer)
        band = [_share(b) for b in answer.band]
    lines = [answer.question, f"  answer: {show} ({answer.unit})"]
    if not answer.unit.startswith("CNY"):
        lines.append(f"  ±2 SE band: {band[0]} (optimistic) to {band[1]} (prudent)")
    for key, value in answer.detail.items():
        if isinstance(value, dict) and set(value) == {"value", "se"}:
            value = f"{value['value']:.4g} ± {value['se']:.2g}"
        elif isinstance(value, float):
            value = f"{value:,.4g}"
        lines.append(f"  {key}: {value}")
    lines.append(f"  {answer.evaluations} design(s) evaluated, {answer.seconds:.1f} s")
    return "\n".join(lines)


def _size(args: argparse.Namespace) -> int:
    from securitize.enhancers import sizing
    from securitize.run import with_overrides
    from securitize.scenario import load_scenario

    _check_json(args.out, args.force)
    loaded = with_overrides(load_scenario(args.scenario), paths=args.paths, seed=args.seed)
    guarantees = [
        e for e in loaded.scenario.enhancers if e.type in ("full_guarantee", "partial_guarantee")
    ]
    allowed = {
        "coverage": bool(guarantees),
        "subordination": True,
        "fee": bool(guarantees),
        "capacity": any(e.net_assets is not None for e in guarantees),
    }
    if args.method == "domestic":
        # The domestic method is stand-alone (a guarantee does not move the break-even rate):
        # it answers the subordination question only.
        asked = [s for s in (args.solve or []) if s != "subordination"]
        if asked:
            from securitize.errors import SecuritizeError

            raise SecuritizeError(
                f"--method domestic sizes subordination only, not {', '.join(asked)} "
                "(its break-even default rate is stand-alone); use --method loss_table"
            )
        allowed = {s: s == "subordination" for s in SOLVERS}
    solve = args.solve or [s for s in SOLVERS if allowed[s]]
    if "fee" in solve:
        sizing.check_target_return(args.target_return)
    shared = sizing.SharedPaths(loaded, args.workers)
    answers = []
    for question in solve:
        if question == "coverage":
            answer = sizing.minimum_coverage(shared, args.target, args.enhancer, args.scale)
        elif question == "subordination":
            answer = sizing.minimum_subordination(
                shared, args.target, args.tranche, args.scale, args.method
            )
        elif question == "fee":
            answer = sizing.break_even_fee(shared, args.target_return, args.enhancer)
        else:
            answer = sizing.largest_pool(shared, args.enhancer)
        answers.append(answer)
        print(_format_answer(answer))
    if args.out is not None:
        document = {
            "scenario": str(args.scenario),
            "paths": loaded.scenario.simulation.paths,
            "seed": loaded.scenario.simulation.seed,
            "method": args.method,
            "answers": [a.to_dict() for a in answers],
        }
        _write_json(args.out, document, args.force)
    return 0


def _book(args: argparse.Namespace) -> int:
    from securitize.enhancers.book import format_book, load_programme, run_book

    _check_json(args.out, args.force)
    programme = load_programme(args.programme)
    book = run_book(programme, paths=args.paths, workers=args.workers)
    print(format_book(book))
    if args.out is not None:
        _write_json(args.out, book.to_dict(), args.force)
    return 0
