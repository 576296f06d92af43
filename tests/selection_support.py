"""Helpers for the selection tests: small candidate tapes built in code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd

from securitize.scoring import load_score_bands
from securitize.selection.api import Selection, select
from securitize.selection.candidates import Candidates, prepare_candidates
from securitize.selection.spec import SelectionSpec
from securitize.tape import validate_tape

CUT_OFF = dt.date(2024, 6, 30)
SOURCE = Path("deal.toml")


def loan(loan_id: str, **fields: Any) -> dict[str, Any]:
    """One candidate row: a plain eligible loan unless ``fields`` say otherwise."""
    row = {
        "loan_id": loan_id,
        "enterprise": f"Enterprise {loan_id}",
        "industry": "Smart equipment",
        "region": "Lucheng",
        "balance": 10_000_000.0,
        "coupon": 0.05,
        "tenor_months": 36,
        "amortisation": "bullet",
        "score": 80.0,
        "ip_appraised_value": 25_000_000.0,
        "patents": 2,
    }
    row.update(fields)
    return row


def candidates(rows: list[dict[str, Any]], cut_off: dt.date = CUT_OFF) -> Candidates:
    """Validated candidates from rows (as a tape would give them), stated at ``cut_off``."""
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        frame[column] = frame[column].map(lambda v: "" if v is None or v != v else str(v))
    tape = validate_tape(frame, Path("candidates.csv"))
    return prepare_candidates(tape, cut_off, load_score_bands(), 0.85)


def spec(**fields: Any) -> SelectionSpec:
    """A selection spec; tests solve exactly (no gap) unless they say otherwise."""
    fields.setdefault("mip_rel_gap", 0.0)
    fields.setdefault("explain_mip_rel_gap", 0.0)
    return SelectionSpec.model_validate(fields)


def choose(rows: list[dict[str, Any]], **fields: Any) -> Selection:
    return select(candidates(rows), spec(**fields), SOURCE)


def chosen_ids(selection: Selection) -> set[str]:
    return set(selection.loans["loan_id"])


def write_candidate_deal(
    folder: Path,
    name: str,
    tape_name: str,
    tape: str,
    sections: str,
    senior_coupon: float | None = None,
) -> Path:
    """Write a candidate tape and ``<name>.toml``, a deal closing 2024-06-30 over it with
    ``sections`` (selection, simulation, ...) and 90/10 senior/subordinated notes."""
    (folder / tape_name).write_text(tape, encoding="utf-8")
    coupon = "" if senior_coupon is None else f"coupon = {senior_coupon}\n"
    text = (
        f'[deal]\nname = "{name}"\nclosing_date = 2024-06-30\n\n'
        f'[pool]\ntape = "{tape_name}"\n\n' + sections + "\n"
        '[[tranches]]\nname = "senior"\nshare = 0.9\n' + coupon + "\n"
        '[[tranches]]\nname = "subordinated"\nshare = 0.1\n'
    )
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path
