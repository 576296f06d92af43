"""``securitize calibrate HISTORY --as-of DATE``: band PDs and static-pool tables from a lender's
loan history.

Writes, under ``reports/<history name>_calibration/`` unless ``--out`` says otherwise,
``band_table.csv`` (the score-band table with calibrated PDs: a scenario's ``[pool] score_bands``
can name it), ``static_pool.csv`` (the per-vintage history table of an exchange filing),
``vintage_curves.csv`` (every vintage's life table by month on book), ``recovery.csv`` (recovery
rate and lag by band) and ``calibration.json`` (the summary). The destination is checked before
the history is read; nothing is written over an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

OUTPUTS = (
    "band_table.csv",
    "static_pool.csv",
    "vintage_curves.csv",
    "recovery.csv",
    "calibration.json",
)


def add_calibration_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``calibrate`` on the top-level subparsers."""
    calibrate = commands.add_parser(
        "calibrate",
        help="fit band PDs (with confidence intervals) and static-pool tables to a loan history",
    )
    calibrate.add_argument("history", help="loan history file (.csv, .xlsx or .parquet)")
    calibrate.add_argument(
        "--as-of",
        required=True,
        help="date the history was extracted (YYYY-MM-DD): loans still on book are censored there",
    )
    calibrate.add_argument(
        "--score-bands",
        help="score-band table mapping scores to bands (default: the packaged table)",
    )
    calibrate.add_argument(
        "--vintage", choices=("year", "quarter"), default="year", help="vintage grouping"
    )
    calibrate.add_argument(
        "--confidence", type=float, default=0.95, help="confidence level of the PD intervals"
    )
    calibrate.add_argument(
        "--out", help="output folder (default: reports/<history name>_calibration/)"
    )
    calibrate.add_argument("--force", action="store_true", help="overwrite existing outputs")
    calibrate.add_argument("--quiet", action="store_true", help="print only the files written")
    calibrate.set_defaults(handler=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from securitize.calibration.fit import calibrate
    from securitize.calibration.history import load_history, parse_as_of
    from securitize.cli import results_json
    from securitize.errors import SecuritizeError
    from securitize.output import check_destination, output_option, write_outputs

    history_path = Path(args.history)
    as_of = parse_as_of(args.as_of)
    if not 0.5 <= args.confidence < 1.0:
        raise SecuritizeError(f"--confidence: value {args.confidence}: must be from 0.5 to below 1")
    out = output_option(args.out)
    folder = out if out is not None else Path("reports") / f"{history_path.stem}_calibration"
    check_destination(folder, list(OUTPUTS), force=args.force)
    bands = Path(args.score_bands) if args.score_bands else None
    history = load_history(history_path, as_of, bands)
    result = calibrate(history, confidence=args.confidence, vintage=args.vintage)
    files = {
        "band_table.csv": result.band_table_csv(),
        "static_pool.csv": _csv(result.static_pool),
        "vintage_curves.csv": _csv(result.vintage_curves),
        "recovery.csv": _csv(result.recovery.reset_index()),
        "calibration.json": results_json(result.summary()),
    }
    written = write_outputs(folder, files, force=args.force)
    if not args.quiet:
        print(format_calibration(result))
    for path in written:
        print(f"wrote {path}")
    return 0


def _csv(frame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", float_format="%.6g").encode()


def _pct(value: Any, digits: int = 2) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.{digits}%}"


def _number(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.1f}"


def format_calibration(result) -> str:
    """The terminal summary: band PDs with their intervals, the static-pool table, recoveries."""
    summary = result.summary()
    level = f"{result.confidence:.0%}"
    lines = [
        f"loan history {summary['history']} as of {summary['as_of']}: {summary['loans']} loans, "
        f"CNY {summary['balance'] / 1e6:,.1f}m; {summary['defaults']} defaults, "
        f"{summary['prepayments']} prepayments, {summary['censored']} still on book (censored)",
        "",
        f"band PDs (constant hazard, exact Poisson {level} interval):",
        f"  {'band':<6}{'loans':>7}{'defaults':>10}{'exp.-yrs':>10}{'annual PD':>11}"
        f"{level + ' interval':>22}{'KM 12m PD':>11}",
    ]
    for row in result.band_pds.itertuples(index=False):
        interval = f"{_pct(row.pd_lower)} – {_pct(row.pd_upper)}"
        lines.append(
            f"  {row.band!s:<6}{row.loans:>7}{row.defaults:>10}{row.exposure_years:>10.1f}"
            f"{_pct(row.annual_pd):>11}{interval:>22}{_pct(row.km_pd_12m):>11}"
        )
    if result.missing_bands:
        lines.append(f"  no loans in band(s) {', '.join(result.missing_bands)}: left out")
    pool = result.static_pool
    horizons = [c for c in pool.columns if c.startswith("cdr_")]
    header = "".join(f"{'CDR ' + c[4:]:>9}" for c in horizons)
    lines += [
        "",
        f"static pool by {result.vintage} (balance-weighted cumulative rates; — not yet observed):",
        f"  {'vintage':<8}{'loans':>6}{'CNY m':>9}{header}{'CPR ' + horizons[-1][4:]:>10}"
        f"{'recovery':>10}{'lag m':>7}",
    ]
    for row in pool.to_dict(orient="records"):
        rates = "".join(f"{_pct(row[c]):>9}" for c in horizons)
        lines.append(
            f"  {row['vintage']:<8}{row['loans']:>6}{row['balance'] / 1e6:>9.1f}{rates}"
            f"{_pct(row['cpr_' + horizons[-1][4:]]):>10}{_pct(row['recovery_rate'], 1):>10}"
            f"{_number(row['recovery_lag_months']):>7}"
        )
    se = summary["recovery_rate_se"]
    lines += [
        "",
        f"recovery of defaulted loans: {_pct(summary['recovery_rate'], 1)} of the balance at "
        f"default (SE {_pct(se, 1)}), mean lag {_number(summary['recovery_lag_months'])} months; "
        f"{summary['recoveries_pending']} recoveries pending",
    ]
    return "\n".join(lines)
