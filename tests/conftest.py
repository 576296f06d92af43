"""Shared fixtures: paths to the bundled deals and a writer for small scenario files."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The first Wenzhou deal as published (the default scenario): loan-level municipal guarantee.
PILOT = ROOT / "scenarios" / "wenzhou_pilot.toml"
PILOT_TAPE = ROOT / "scenarios" / "data" / "wenzhou_pilot_tape.csv"
# The inter-bank note with the provincial guarantor's wrap of the senior notes.
INTERBANK = ROOT / "scenarios" / "wenzhou_interbank_note.toml"
INTERBANK_TAPE = ROOT / "scenarios" / "data" / "wenzhou_interbank_tape.csv"

TAPE_HEADER = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value"
)


@pytest.fixture
def write_scenario(tmp_path: Path):
    """Write a scenario TOML (and optionally a tape CSV beside it); return the scenario path."""

    def write(toml: str, tape: str | None = None, name: str = "deal.toml") -> Path:
        if tape is not None:
            (tmp_path / "tape.csv").write_text(tape, encoding="utf-8")
        path = tmp_path / name
        path.write_text(toml, encoding="utf-8")
        return path

    return write


TWO_TRANCHES = """
[[tranches]]
name = "senior"
share = 0.9
coupon = 0.04

[[tranches]]
name = "subordinated"
share = 0.1
"""


def tape_scenario(extra: str = "", tranches: str = TWO_TRANCHES) -> str:
    """A small valid scenario over ``tape.csv``; ``extra`` is appended (more sections)."""
    return (
        '[deal]\nname = "tiny"\nclosing_date = 2024-01-01\n\n'
        '[pool]\ntape = "tape.csv"\n\n'
        "[simulation]\npaths = 2000\nchunk_size = 500\n" + tranches + extra
    )


def tape_rows(*rows: str) -> str:
    return "\n".join([TAPE_HEADER, *rows]) + "\n"


GOOD_ROW = "A1,Alpha Tech,Electrical equipment,Lucheng,5000000,0.05,36,bullet,80,10000000"
GOOD_ROW_2 = "A2,Beta Tech,New materials,Ruian,4000000,0.05,36,equal_principal,70,9000000"
