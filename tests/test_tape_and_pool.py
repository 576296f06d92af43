"""Loan tapes load from CSV, Excel and Parquet; PD and recovery are derived as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from securitize.errors import TapeError
from securitize.pool import build_pool
from securitize.scenario import load_scenario
from securitize.scoring import load_score_bands
from securitize.tape import load_tape
from tests.conftest import (
    GOOD_ROW,
    GOOD_ROW_2,
    INTERBANK_TAPE,
    TAPE_HEADER,
    tape_rows,
    tape_scenario,
)


def test_comment_lines_become_notes_not_rows() -> None:
    tape = load_tape(INTERBANK_TAPE)
    assert tape.notes and "ILLUSTRATIVE" in tape.notes[0]
    assert not tape.loans["loan_id"].str.startswith("#").any()


@pytest.mark.parametrize("suffix", [".parquet", ".xlsx"])
def test_excel_and_parquet_tapes_load_like_csv(tmp_path: Path, suffix: str) -> None:
    csv = load_tape(INTERBANK_TAPE).loans
    frame = pd.read_csv(INTERBANK_TAPE, comment=None, skiprows=len(load_tape(INTERBANK_TAPE).notes))
    path = tmp_path / f"tape{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_excel(path, index=False)
    other = load_tape(path).loans
    for column in ["balance", "coupon", "tenor_months", "score", "ip_appraised_value"]:
        np.testing.assert_allclose(other[column].to_numpy(float), csv[column].to_numpy(float))
    assert list(other["loan_id"]) == list(csv["loan_id"])


def test_unsupported_tape_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "tape.json"
    path.write_text("{}")
    with pytest.raises(TapeError, match=r"tape\.json.*unsupported file type '\.json'"):
        load_tape(path)


def test_duplicate_loan_id_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tape.csv"
    path.write_text(tape_rows(GOOD_ROW, GOOD_ROW))
    with pytest.raises(TapeError, match=r"row 2 \(loan A1\), column 'loan_id'.*used twice"):
        load_tape(path)


def test_pd_comes_from_the_score_band_unless_the_tape_gives_one(write_scenario) -> None:
    tape = TAPE_HEADER + ",pd\n" + GOOD_ROW + ",\n" + GOOD_ROW_2 + ",0.07\n"
    pool = build_pool(load_scenario(write_scenario(tape_scenario(), tape)))
    bands = load_score_bands().table
    band_80 = bands[(bands.score_min <= 80) & (bands.score_max > 80)].iloc[0]
    assert pool.annual_pd[0] == band_80.annual_pd
    assert pool.loans["band"].iloc[0] == band_80.band
    assert pool.annual_pd[1] == 0.07
    assert list(pool.loans["pd_source"]) == ["score band table", "tape column 'pd'"]


def test_recovery_is_appraised_value_after_haircut_capped_at_one(write_scenario) -> None:
    rich = "A3,Rich IP,Biomedicine,Lucheng,1000000,0.05,36,bullet,80,50000000"
    text = tape_scenario().replace('tape = "tape.csv"', 'tape = "tape.csv"\nip_haircut = 0.8')
    pool = build_pool(load_scenario(write_scenario(text, tape_rows(GOOD_ROW, rich))))
    assert pool.recovery_rate[0] == pytest.approx(10_000_000 * 0.2 / 5_000_000)
    assert pool.recovery_rate[1] == 1.0


def test_score_outside_every_band_without_pd_is_an_error(tmp_path: Path, write_scenario) -> None:
    bands = tmp_path / "bands.csv"
    bands.write_text("band,score_min,score_max,annual_pd,shadow_rating\nA,60,101,0.02,A\n")
    text = tape_scenario().replace(
        'tape = "tape.csv"', 'tape = "tape.csv"\nscore_bands = "bands.csv"'
    )
    loaded = load_scenario(
        write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2.replace(",70,", ",50,")))
    )
    with pytest.raises(TapeError, match=r"row 2 \(loan A2\), column 'score': value 50.*no band"):
        build_pool(loaded)


def test_overlapping_score_bands_are_rejected(tmp_path: Path) -> None:
    bands = tmp_path / "bands.csv"
    bands.write_text(
        "band,score_min,score_max,annual_pd,shadow_rating\nA,60,101,0.02,A\nB,0,70,0.05,B\n"
    )
    with pytest.raises(TapeError, match="overlap"):
        load_score_bands(bands)


def test_inline_pool_builds_identical_loans(write_scenario) -> None:
    text = (
        '[deal]\nname = "textbook"\nclosing_date = 2024-01-01\n'
        "[pool.inline]\ncount = 50\nbalance = 1000000\nannual_pd = 0.02\n"
        'recovery_rate = 0.4\ntenor_months = 24\namortisation = "equal_principal"\n'
        '[[tranches]]\nname = "a"\nshare = 0.8\n[[tranches]]\nname = "b"\nshare = 0.2\n'
    )
    pool = build_pool(load_scenario(write_scenario(text)))
    assert pool.size == 50 and pool.total_balance == 50_000_000
    assert np.all(pool.annual_pd == 0.02) and np.all(pool.recovery_rate == 0.4)
    assert np.allclose(pool.schedule.principal.sum(axis=1), 1_000_000)


def test_pool_needs_exactly_one_source(write_scenario) -> None:
    from securitize.errors import ScenarioError

    text = tape_scenario().replace('tape = "tape.csv"', "")
    with pytest.raises(ScenarioError, match="exactly one of 'tape' or 'inline'"):
        load_scenario(write_scenario(text, tape_rows(GOOD_ROW, GOOD_ROW_2)))
