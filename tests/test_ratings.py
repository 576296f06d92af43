"""Implied ratings read off the idealised tables: values, interpolation, clamping, the sf
mapping, vectorisation, Monte Carlo ranges and bad input."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from securitize import ratings
from securitize.errors import SecuritizeError
from securitize.ratings import RatingError
from securitize.stats import Estimate

DATA = Path(ratings.__file__).resolve().parents[1] / "data"


def _read(name: str) -> dict[str, list[float]]:
    """A rating table read with the csv module alone: rating → ten rates as fractions."""
    lines = [
        line for line in (DATA / name).read_text("utf-8").splitlines() if not line.startswith("#")
    ]
    rows = list(csv.DictReader(lines))
    return {r["rating"]: [float(r[f"y{k}"]) / 100 for k in range(1, 11)] for r in rows}


EL = _read("rating_expected_loss.csv")
PD = _read("rating_default_probability.csv")


def test_ceilings_at_whole_years_are_the_table_values() -> None:
    for rating, values in EL.items():
        for year, value in enumerate(values, start=1):
            got = ratings.ceiling(rating, float(year), "idealised", "expected_loss")
            assert got == pytest.approx(value, rel=1e-12)
    assert ratings.expected_loss_ceiling("AAAsf", 10.0) == pytest.approx(0.000055)


def test_between_whole_years_the_ceiling_is_log_linear() -> None:
    a, b = EL["Baa2"][1], EL["Baa2"][2]
    assert ratings.ceiling("Baa2", 2.5, "idealised") == pytest.approx(math.sqrt(a * b))
    quarter = math.exp(0.75 * math.log(a) + 0.25 * math.log(b))
    assert ratings.ceiling("Baa2", 2.25, "idealised") == pytest.approx(quarter)


def test_wal_outside_one_to_ten_years_is_clamped() -> None:
    assert ratings.expected_loss_ceiling("AAsf", 0.25) == ratings.expected_loss_ceiling("AAsf", 1)
    assert ratings.expected_loss_ceiling("AAsf", 30.0) == ratings.expected_loss_ceiling("AAsf", 10)


def test_each_sf_notch_reads_the_idealised_row_of_the_same_position() -> None:
    sf = ratings.scale_ratings("sf")
    idealised = ratings.scale_ratings("idealised")
    assert sf[0] == "AAAsf" and sf[-1] == "CCCsf" and len(sf) == len(idealised)
    for symbol, row in zip(sf, idealised, strict=True):
        assert ratings.expected_loss_ceiling(symbol, 3.3) == ratings.ceiling(row, 3.3, "idealised")


def test_default_probability_table_is_expected_loss_over_the_55_percent_severity() -> None:
    for rating, values in PD.items():
        assert np.allclose(values, np.array(EL[rating]) / 0.55, rtol=1e-6)
    assert ratings.default_probability_ceiling("AAAsf", 10.0) == pytest.approx(0.0001)


def test_a_figure_equal_to_a_ceiling_earns_that_rating_and_above_it_the_next() -> None:
    at = ratings.expected_loss_ceiling("AA-sf", 3.0)
    assert ratings.implied_rating(at, 3.0) == "AA-sf"
    assert ratings.implied_rating(at * 1.0001, 3.0) == "A+sf"
    assert ratings.implied_rating(0.0, 3.0) == "AAAsf"
    worst = ratings.expected_loss_ceiling("CCCsf", 3.0)
    assert ratings.implied_rating(worst * 1.01, 3.0) == "below CCCsf"
    assert ratings.implied_rating(0.0001, 3.0, scale="idealised") == "Aa3"


def test_default_probability_measure_reads_the_default_table() -> None:
    at = ratings.default_probability_ceiling("BBBsf", 4.0)
    assert ratings.implied_rating(at, 4.0, measure="default_probability") == "BBBsf"
    assert ratings.implied_rating(at, 4.0, measure="expected_loss") != "BBBsf"


def test_vectorised_ratings_match_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    values = 10 ** rng.uniform(-8, -0.5, size=200)
    wals = rng.uniform(0.5, 12.0, size=200)
    together = ratings.implied_ratings(values, wals)
    one_by_one = [ratings.implied_rating(v, w) for v, w in zip(values, wals, strict=True)]
    assert list(together) == one_by_one
    ceilings = ratings.expected_loss_ceiling("Asf", wals)
    assert ceilings.shape == (200,)
    assert np.allclose(ceilings, [ratings.expected_loss_ceiling("Asf", w) for w in wals])


def test_ratings_worsen_with_loss_and_improve_with_longer_life() -> None:
    losses = np.geomspace(1e-8, 0.3, 60)
    ranks = ratings.implied_rank(losses, 3.0)
    assert np.all(np.diff(ranks) >= 0)
    by_life = ratings.implied_rank(0.002, np.linspace(1, 10, 40))
    assert np.all(np.diff(by_life) <= 0)


def test_rating_range_at_two_standard_errors() -> None:
    wal = 3.0
    aaa = ratings.expected_loss_ceiling("AAAsf", wal)
    exact = ratings.implied_rating_range(Estimate(aaa / 2, 0.0), wal)
    assert (exact.rating, exact.best, exact.worst) == ("AAAsf", "AAAsf", "AAAsf")
    # +2 SE crosses the AAAsf ceiling but not the AA+sf one.
    se = aaa / 2
    spread = ratings.implied_rating_range(Estimate(aaa * 0.9, se), wal)
    assert (spread.rating, spread.best, spread.worst) == ("AAAsf", "AAAsf", "AA+sf")
    assert spread.text == "AAAsf (AAAsf–AA+sf at ±2 SE)"
    wide = ratings.implied_rating_range(Estimate(0.01, 0.01), wal, sigmas=3)
    assert wide.best == "AAAsf" and ratings.rating_rank(wide.worst) > ratings.rating_rank("BBsf")


def test_rating_order_helpers() -> None:
    assert ratings.notches("AAAsf", "AA-sf") == 3
    assert ratings.notches("AA-sf", "AAAsf") == -3
    assert ratings.compare_ratings("AAAsf", "AAsf") == 1
    assert ratings.compare_ratings("Bsf", "Bsf") == 0
    assert ratings.meets("AA+sf", "AAsf") and not ratings.meets("AA-sf", "AAsf")
    assert ratings.meets("below CCCsf", "below CCCsf")
    assert ratings.shift_rating("AAAsf", -2) == "AAAsf"
    assert ratings.shift_rating("AAsf", 2) == "A+sf"
    assert ratings.shift_rating("B-sf", 5) == "below CCCsf"
    assert ratings.notches("Aaa", "Baa3", "idealised") == 9


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ratings.expected_loss_ceiling("AAA", 3.0), "rating 'AAA': is not on the sf scale"),
        (lambda: ratings.implied_rating(0.001, 0.0), "wal_years: value 0.0: must be a finite"),
        (lambda: ratings.implied_rating(0.001, math.nan), "wal_years: value nan"),
        (lambda: ratings.implied_rating(-0.1, 3.0), "expected_loss: value -0.1: must be a frac"),
        (lambda: ratings.implied_rating(1.5, 3.0), "expected_loss: value 1.5"),
        (lambda: ratings.implied_rating(0.01, 3.0, scale="moodys"), "scale 'moodys': must be"),
        (lambda: ratings.implied_rating(0.01, 3.0, measure="pd"), "measure 'pd': must be one"),
        (lambda: ratings.ceiling("below CCCsf", 3.0), "has no ceiling"),
        (
            lambda: ratings.implied_rating_range(Estimate(0.01, math.inf), 3.0),
            "standard error: value inf",
        ),
        (
            lambda: ratings.implied_rating_range(Estimate(0.01, 0.0), 3.0, sigmas=-1),
            "sigmas: value -1",
        ),
    ],
)
def test_bad_input_is_a_one_line_error_naming_the_value_and_rule(call, message) -> None:
    with pytest.raises(RatingError) as caught:
        call()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, SecuritizeError)


TABLE_HEADER = "rating,y1,y2,y3,y4,y5,y6,y7,y8,y9,y10\n"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("A,1,2,3,4,5,6,7,8,9,10\nB,2,3,2,5,6,7,8,9,10,11\n", "row 2 (B), column 'y3': a cumul"),
        ("A,1,2,3,4,5,6,7,8,9,10\nB,0.5,3,4,5,6,7,8,9,10,11\n", "row 2 (B), column 'y1': a worse"),
        ("A,1,2,x,4,5,6,7,8,9,10\n", "row 1 (A), column 'y3': value 'x': must be a number"),
        ("A,0,2,3,4,5,6,7,8,9,10\n", "row 1 (A), column 'y1': value '0'"),
        ("A,1,2,3,4,5,6,7,8,9,10\nA,2,3,4,5,6,7,8,9,10,11\n", "column 'rating': value 'A'"),
    ],
)
def test_a_broken_table_file_is_refused_naming_row_and_column(
    tmp_path: Path, rows: str, message: str
) -> None:
    path = tmp_path / "table.csv"
    path.write_text("# a test table\n" + TABLE_HEADER + rows, encoding="utf-8")
    with pytest.raises(RatingError, match=str(path).replace("\\", "\\\\")) as caught:
        ratings.load_rating_table(path, "expected_loss")
    assert message in str(caught.value)


def test_the_bundled_tables_cite_their_sources() -> None:
    for measure in ratings.MEASURES:
        notes = " ".join(ratings.rating_table(measure).notes)
        assert "Moody's" in notes
    sf_notes = (DATA / "rating_scale_sf.csv").read_text("utf-8")
    assert "CONVENTION OF THIS PROJECT" in sf_notes


def test_the_examples_of_docs_ratings_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import ROOT
    from tests.test_api_docs import python_blocks

    monkeypatch.chdir(ROOT)
    page = ROOT / "docs" / "ratings.md"
    namespace: dict[str, object] = {"__name__": "ratings_docs"}
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert len(blocks) == 2
    for line, code in blocks:
        exec(compile("\n" * line + code, str(page), "exec"), namespace)
    table = namespace["test"]
    senior = table[table["tranche"] == "senior"]
    # As the page says: the pilot's senior fails stand-alone and passes with its guarantee.
    assert not senior["passes"].any() and senior["passes_with_enhancers"].all()
    assert senior["loss"].iloc[0] == pytest.approx(22_950_000)
