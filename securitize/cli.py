"""The ``securitize`` command.

``securitize run [SCENARIO]`` runs a scenario (the bundled Wenzhou pilot deal by default) and
writes ``memo.html`` and ``results.json`` under ``reports/<scenario name>/``. User errors are
one line on standard error and exit status 2; nothing is written when a run fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from securitize import __version__
from securitize.errors import SecuritizeError
from securitize.heap import keep_freed_memory
from securitize.terminal import PrintableStream, printable

if TYPE_CHECKING:  # pandas and numpy load only when a command needs them
    import pandas as pd

DEFAULT_SCENARIO = Path("scenarios") / "wenzhou_pilot.toml"
EXIT_USER_ERROR = 2
SCHEDULER_HELP = (
    "run chunks on Dask: local, local:N (a local cluster of N workers) or tcp://host:port; "
    "the same seed gives the same numbers"
)
EXIT_INTERRUPTED = 130


def default_scenario() -> Path:
    """The bundled pilot deal: in the current folder, else next to the installed package."""
    candidates = [Path.cwd() / DEFAULT_SCENARIO, Path(__file__).parents[1] / DEFAULT_SCENARIO]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SecuritizeError(
        f"no scenario given and {DEFAULT_SCENARIO} was not found in the current folder; "
        "run from the repository root or name a scenario file"
    )


def results_json(document: dict[str, Any]) -> bytes:
    from securitize.jsonsafe import json_safe

    return (
        json.dumps(json_safe(document), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode()


def schedule_csv(records: list[dict[str, Any]]) -> bytes:
    """The repayment schedule (兑付计划) as CSV: one row per tranche and payment date."""
    import pandas as pd

    frame = pd.DataFrame(records)
    amounts = ["opening_balance", "interest", "principal", "payment", "closing_balance"]
    frame[amounts] = frame[amounts].round(2)  # CNY to the fen
    return frame.to_csv(index=False).encode("utf-8")


def _memo_names(languages: list[str], pdf: bool, selection: bool) -> list[str]:
    """The files a run writes: memo.html (or memo.en.html and memo.zh.html), PDFs alike."""
    stems = ["memo"] if len(languages) == 1 else [f"memo.{language}" for language in languages]
    suffixes = ["html", "pdf"] if pdf else ["html"]
    names = [f"{stem}.{suffix}" for stem in stems for suffix in suffixes]
    return [
        *names,
        "results.json",
        "repayment_schedule.csv",
        *(["selection_report.csv"] if selection else []),
    ]


def _run(args: argparse.Namespace) -> int:
    from securitize.output import check_destination, output_option, write_outputs
    from securitize.progress import steps
    from securitize.run import run_scenario
    from securitize.scenario import load_scenario
    from securitize.summary import format_summary

    scenario = Path(args.scenario) if args.scenario else default_scenario()
    templates = Path(args.templates) if args.templates else None
    from securitize.memo.seal import check_templates, memo_html

    out = output_option(args.out)
    check_templates(templates)
    if args.pdf:
        from securitize.memo.pdf import load_weasyprint

        load_weasyprint()  # fail before the simulation, not after it
    loaded = load_scenario(scenario)
    folder = out if out is not None else Path("reports") / loaded.scenario.deal.name
    # One language: memo.html; --lang both: memo.en.html and memo.zh.html (and PDFs alike).
    languages = ["en", "zh"] if args.lang == "both" else [args.lang]
    selection = loaded.scenario.selection is not None
    check_destination(folder, _memo_names(languages, args.pdf, selection), force=args.force)
    run = run_scenario(
        loaded,
        paths=args.paths,
        seed=args.seed,
        workers=args.workers,
        progress=not args.quiet,
        scheduler=args.scheduler,
    )
    results = run.results
    files = {}
    label = "memo and PDF" if args.pdf else "memo"
    for language in steps(languages, label, not args.quiet, unit="language"):
        stem = "memo" if len(languages) == 1 else f"memo.{language}"
        html = memo_html(run, language=language, templates=templates)
        files[f"{stem}.html"] = html.encode("utf-8")
        if args.pdf:
            from securitize.memo.pdf import html_to_pdf

            files[f"{stem}.pdf"] = html_to_pdf(html)
    files["results.json"] = results_json(results.to_dict())
    files["repayment_schedule.csv"] = schedule_csv(results.repayment_schedule)
    if run.selection is not None:
        from securitize.selection.report import report_csv

        files["selection_report.csv"] = report_csv(run.selection.report)
    written = write_outputs(folder, files, force=args.force)
    if not args.quiet:
        print(format_summary(results))
    for path in written:
        print(f"wrote {path}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    """Exit 0 when every figure and the text reproduce, 1 listing what differs."""
    from securitize.verify import format_report, verify_memo

    templates = Path(args.templates) if args.templates else None
    report = verify_memo(
        Path(args.memo), workers=args.workers, templates=templates, exact=args.exact
    )
    print(format_report(report))
    return 0 if report.verified else 1


def _statement(args: argparse.Namespace) -> int:
    from securitize.output import check_destination, output_option, write_outputs
    from securitize.run import run_scenario, with_overrides
    from securitize.scenario import load_scenario
    from securitize.statement import path_statement

    scenario = Path(args.scenario) if args.scenario else default_scenario()
    path: int | str = args.path
    if path != "worst":
        try:
            path = int(path)
        except ValueError:
            raise SecuritizeError(
                f"--path: value {args.path!r}: must be 'worst' or a path number"
            ) from None
    out = output_option(args.out)
    if out is not None:
        if out.suffix.lower() != ".csv":
            raise SecuritizeError(f"--out {out}: must end in .csv")
        check_destination(out.parent, [out.name], force=args.force)
    loaded = with_overrides(load_scenario(scenario), paths=args.paths, seed=args.seed)
    paths = loaded.scenario.simulation.paths
    if isinstance(path, int) and not 0 <= path < paths:
        raise SecuritizeError(f"--path {path}: no such path; this run has paths 0 to {paths - 1}")
    # Local only: a statement reads one simulated path back, which a cluster does not keep.
    run = run_scenario(loaded, workers=args.workers, progress=not args.quiet)
    statement = path_statement(run, path)
    if out is not None:
        write_outputs(
            out.parent, {out.name: statement.to_csv(index=False).encode()}, force=args.force
        )
        print(f"wrote {out}")
    else:
        import pandas as pd

        print(f"path {statement.attrs['path']}: defaults {statement.attrs['defaults']}")
        with pd.option_context("display.width", 200, "display.max_columns", 12):
            print(statement.round(2).T.to_string())
    return 0


def _table_bytes(frame: pd.DataFrame, out: Path) -> bytes:
    if out.suffix.lower() == ".parquet":
        import io

        buffer = io.BytesIO()
        try:
            frame.to_parquet(buffer, index=False)
        except ImportError:
            raise SecuritizeError(
                f"{out}: writing Parquet needs pyarrow (pip install 'securitize[parquet]')"
            ) from None
        return buffer.getvalue()
    if out.suffix.lower() != ".csv":
        raise SecuritizeError(f"--out {out}: must end in .csv or .parquet")
    return frame.to_csv(index=False, lineterminator="\n").encode()


def _check_table(out: str | None, force: bool) -> None:
    """Refuse a table destination before the work that fills it: suffix, existing file."""
    from securitize.output import check_destination, output_option

    path = output_option(out)
    if path is None:
        return
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise SecuritizeError(f"--out {path}: must end in .csv or .parquet")
    check_destination(path.parent, [path.name], force=force)


def _write_table(frame: pd.DataFrame, out: str | None, force: bool) -> None:
    from securitize.output import write_outputs

    if out is None:
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(frame.to_string(index=False))
        return
    path = Path(out)
    write_outputs(path.parent, {path.name: _table_bytes(frame, path)}, force=force)
    print(f"wrote {path}")


def _compare(args: argparse.Namespace) -> int:
    from securitize.designs import compare_scenarios

    if len(args.scenarios) < 2:
        raise SecuritizeError("compare: give at least two scenario files")
    _check_table(args.out, args.force)
    frame = compare_scenarios(
        [Path(p) for p in args.scenarios],
        paths_count=args.paths,
        seed=args.seed,
        workers=args.workers or 1,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    _write_table(frame, args.out, args.force)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from securitize.designs import parse_value, sweep
    from securitize.run import with_overrides
    from securitize.scenario import load_scenario

    vary: dict[tuple[str, ...], list[tuple]] = {}
    for item in args.vary:
        fields, sep, values = item.partition("=")
        if not sep or not fields or not values:
            raise SecuritizeError(f"--vary {item!r}: write FIELD=VALUE1,VALUE2,...")
        group = tuple(fields.split("+"))
        settings = []
        for setting in values.split(","):
            parts = setting.split(":")
            if len(parts) != len(group):
                raise SecuritizeError(
                    f"--vary {item!r}: value {setting!r} gives {len(parts)} value(s) for "
                    f"{len(group)} field(s); link fields with '+' and their values with ':'"
                )
            settings.append(tuple(parse_value(v, f) for v, f in zip(parts, group, strict=True)))
        vary[group] = settings
    from securitize.output import check_destination, output_option, write_outputs

    chart = output_option(args.chart, "--chart")
    if chart is not None:
        if chart.suffix.lower() != ".png":
            raise SecuritizeError(f"--chart {chart}: must end in .png")
        check_destination(chart.parent, [chart.name], force=args.force)
    _check_table(args.out, args.force)
    loaded = with_overrides(load_scenario(args.scenario), paths=args.paths, seed=args.seed)
    frame = sweep(
        loaded,
        vary,
        workers=args.workers or 1,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    # Both outputs are made before either is written: a failure leaves nothing half done.
    image = None
    if chart is not None:
        from securitize.designs import sweep_chart

        image = sweep_chart(frame)
    _write_table(frame, args.out, args.force)
    if chart is not None and image is not None:
        write_outputs(chart.parent, {chart.name: image}, force=args.force)
        print(f"wrote {chart}")
    return 0


def simulation_options(parser: argparse.ArgumentParser, scheduler: bool = True) -> None:
    """The options every simulating command takes, with one spelling and one meaning."""
    parser.add_argument("--paths", type=int, help="Monte Carlo paths (overrides the scenario)")
    parser.add_argument("--seed", type=int, help="random seed (overrides the scenario)")
    parser.add_argument("--workers", type=int, help="worker processes (same numbers for any count)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    if scheduler:
        parser.add_argument("--scheduler", help=SCHEDULER_HELP)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="securitize",
        description="Model technology property securitisations and render issuance memos.",
    )
    parser.add_argument("--version", action="version", version=f"securitize {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="simulate a scenario and write its memo and results")
    run.add_argument(
        "scenario", nargs="?", help=f"scenario TOML file (default: {DEFAULT_SCENARIO})"
    )
    simulation_options(run)
    run.add_argument("--out", help="output folder (default: reports/<scenario name>/)")
    run.add_argument("--force", action="store_true", help="overwrite existing outputs")
    run.add_argument(
        "--lang",
        choices=["en", "zh", "both"],
        default="en",
        help="memo language: en, zh, or both (writes memo.en.html and memo.zh.html)",
    )
    run.add_argument(
        "--pdf", action="store_true", help="also write memo.pdf (needs securitize[pdf])"
    )
    run.add_argument(
        "--templates",
        help=(
            "render the memo from templates in this folder (its files, in sub-folders too, "
            "replace the package's; they run sandboxed)"
        ),
    )
    run.set_defaults(handler=_run)
    verify = commands.add_parser(
        "verify", help="rerun a memo from its embedded manifest and report every difference"
    )
    verify.add_argument("memo", help="memo.html written by 'securitize run'")
    verify.add_argument("--workers", type=int, help="worker processes for the rerun")
    verify.add_argument(
        "--templates",
        help=(
            "a copy of the template folder the memo was rendered with (every file must match "
            "the memo's manifest); without it verify uses only the package's templates"
        ),
    )
    verify.add_argument(
        "--exact",
        action="store_true",
        help="count figures that differ by floating-point rounding only as differences",
    )
    verify.set_defaults(handler=_verify)
    statement = commands.add_parser(
        "statement", help="per-date statement of one simulated path (the worst, or path N)"
    )
    statement.add_argument("scenario", nargs="?", help=f"scenario (default: {DEFAULT_SCENARIO})")
    statement.add_argument("--path", default="worst", help="'worst' (largest pool loss) or N")
    simulation_options(statement, scheduler=False)
    statement.add_argument("--out", help="write the statement as CSV to this file")
    statement.add_argument("--force", action="store_true", help="overwrite an existing file")
    statement.set_defaults(handler=_statement)
    compare = commands.add_parser(
        "compare", help="side-by-side metrics of scenarios, differences with their errors"
    )
    compare.add_argument("scenarios", nargs="+", help="two or more scenario files")
    simulation_options(compare)
    compare.add_argument("--out", help="write the table (.csv or .parquet)")
    compare.add_argument("--force", action="store_true", help="overwrite an existing file")
    compare.set_defaults(handler=_compare)
    sweep = commands.add_parser(
        "sweep", help="evaluate every combination of varied fields on shared paths"
    )
    sweep.add_argument("scenario", help="scenario file")
    sweep.add_argument(
        "--vary",
        action="append",
        required=True,
        help=(
            "FIELD=V1,V2,... (dotted field, e.g. credit.asset_correlation=0.15,0.2); fields that "
            "move together: F1+F2=A1:A2,B1:B2; repeatable (every combination is run)"
        ),
    )
    simulation_options(sweep)
    sweep.add_argument("--out", help="write the tidy table (.csv or .parquet)")
    sweep.add_argument("--force", action="store_true", help="overwrite an existing file")
    sweep.add_argument("--chart", help="also draw each expected loss by design (.png)")
    sweep.set_defaults(handler=_sweep)
    from securitize.selection.commands import add_pool_commands

    add_pool_commands(commands)
    from securitize.enhancers.commands import add_enhancer_commands

    add_enhancer_commands(commands)
    from securitize.calibration.commands import add_calibration_commands

    add_calibration_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``securitize`` console command."""
    stdout = sys.stdout
    sys.stdout = PrintableStream(stdout)
    keep_freed_memory()
    try:
        args = _parser().parse_args(argv)
        if getattr(args, "scheduler", None) is not None:
            from securitize.parallel import check_scheduler

            check_scheduler(args.scheduler)  # before anything is simulated
        return args.handler(args)
    except SecuritizeError as exc:
        print(f"securitize: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("securitize: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
