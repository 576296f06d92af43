"""A name carrying bidirectional overrides cannot reorder the memo around it."""

from __future__ import annotations

from pathlib import Path

from securitize.cli import main
from tests.conftest import GOOD_ROW, GOOD_ROW_2, tape_rows, tape_scenario

RLO, FSI, PDI = "\u202e", "\u2068", "\u2069"


def test_every_printed_value_with_an_override_is_isolated(write_scenario, tmp_path: Path):
    scenario = tape_scenario().replace(
        'name = "tiny"', f'name = "tiny"\ntitle = "Plan {RLO}0.5% loss"'
    )
    row = GOOD_ROW.replace("Alpha Tech", f"Alpha {RLO}Tech")
    path = write_scenario(scenario, tape_rows(row, GOOD_ROW_2))
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    memo = (tmp_path / "out" / "memo.html").read_text(encoding="utf-8")
    body = memo.split('<script type="application/json"', 1)[0]
    assert body.count(RLO) >= 1
    # Every override sits inside an isolate that closes after it.
    depth, isolated = 0, True
    for character in body:
        if character == FSI:
            depth += 1
        elif character == PDI:
            depth -= 1
        elif character == RLO and depth == 0:
            isolated = False
    assert isolated and depth == 0
