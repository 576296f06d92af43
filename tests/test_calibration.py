"""Static-pool calibration: the life table, band PDs with their intervals, the history tables,
bad loan histories and ``securitize calibrate`` end to end."""

from __future__ import annotations

import importlib.util
import json
import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from securitize.calibration import calibrate, life_table, load_history, validate_history
from securitize.calibration.synthetic import simulate_history
from securitize.cli import main
from securitize.scoring import load_score_bands
from tests.conftest import ROOT

HISTORY = ROOT / "scenarios" / "data" / "lender_history.csv"
BAND_TABLE = ROOT / "scenarios" / "data" / "lender_history_band_table.csv"
CALIBRATED = ROOT / "scenarios" / "wenzhou_calibrated.toml"
AS_OF = date(2021, 12, 31)
HEADER = "loan_id,origination_date,band,balance,tenor_months,default_date,prepayment_date"


def write(tmp_path: Path, text: str, name: str = "history.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def generator():
    """The script that made the bundled history (its seed and the PDs it used)."""
    script = ROOT / "scenarios" / "data" / "make_lender_history.py"
    spec = importlib.util.spec_from_file_location("make_lender_history", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- hand-computed histories -----------------------------------------------------------------

# Ten band A loans made on 2020-01-15 for 36 months, observed to 2021-01-15 (12 months exactly):
# defaults in months 3, 6 and 6, a prepayment in month 4, six loans on book at the as-of date.
TEN_LOANS = "\n".join(
    [
        HEADER,
        "L01,2020-01-15,A,1000000,36,2020-04-15,",
        "L02,2020-01-15,A,1000000,36,2020-07-15,",
        "L03,2020-01-15,A,1000000,36,,2020-05-15",
        "L04,2020-01-15,A,1000000,36,2020-07-15,",
        *(f"L{i:02d},2020-01-15,A,1000000,36,," for i in range(5, 11)),
    ]
)


def test_ten_loans_life_table_pd_and_interval_match_the_hand_computation(tmp_path) -> None:
    history = load_history(write(tmp_path, TEN_LOANS), date(2021, 1, 15))
    result = calibrate(history)
    band = result.band_pds.set_index("band").loc["A"]
    # Exposure: 3 + 6 + 4 + 6 months and six loans for 12 months = 91 months.
    exposure = 91 / 12
    assert band["defaults"] == 3
    assert band["exposure_years"] == pytest.approx(exposure)
    assert band["annual_pd"] == pytest.approx(1 - math.exp(-3 / exposure))
    # Exact Poisson 95% limits for 3 events (tables: 0.6187 and 8.7673 events).
    assert band["pd_lower"] == pytest.approx(1 - math.exp(-0.61867 / exposure), rel=1e-4)
    assert band["pd_upper"] == pytest.approx(1 - math.exp(-8.76727 / exposure), rel=1e-4)
    # Life table: month 3, 1 of 10 defaults; month 4, the prepayment leaves 8; month 6, 2 of 8.
    survival = (1 - 1 / 10) * (1 - 2 / 8)
    assert band["km_pd_12m"] == pytest.approx(1 - survival)
    greenwood = survival * math.sqrt(1 / (10 * 9) + 2 / (8 * 6))
    assert band["km_pd_12m_se"] == pytest.approx(greenwood)
    # The static pool: cumulative incidence 1/10 + (8/10)(2/8) = 3/10 of the balance defaulted,
    # 1/10 prepaid; 24 months are not yet observed for the six loans still on book.
    pool = result.static_pool.set_index("vintage").loc["2020"]
    assert pool["cdr_12m"] == pytest.approx(0.3)
    assert pool["cpr_12m"] == pytest.approx(0.1)
    assert math.isnan(pool["cdr_24m"]) and math.isnan(pool["cdr_36m"])
    assert (pool["loans"], pool["defaults"], pool["still_on_book"]) == (10, 3, 6)


def test_a_loan_observed_for_part_of_a_month_counts_half_there() -> None:
    # Four loans; month 1: 1 of 4 defaults; month 2: one default while two loans are censored
    # inside the month, so 3 - 2/2 = 2 are at risk and the hazard is 1/2, not 1/3.
    table = life_table(
        exit_month=np.array([1, 2, 1, 1]),
        exit_kind=np.array(["default", "default", "censored", "censored"]),
        partial=np.array([False, False, True, True]),
        horizon=3,
        maturity_month=np.array([36, 36, 36, 36]),
    )
    assert table["at_risk"].tolist()[:2] == [4, 3]
    assert table["default_hazard"].tolist()[:2] == pytest.approx([1 / 4, 1 / 2])
    assert table["net_default_rate"].loc[2] == pytest.approx(1 - (3 / 4) * (1 / 2))
    assert math.isnan(table["net_default_rate"].loc[3])  # nobody left: month 3 unobserved


def test_partial_month_exposure_comes_from_the_calendar(tmp_path) -> None:
    text = "\n".join(
        [
            HEADER,
            "P1,2020-01-01,B,1000000,36,2020-01-20,",
            "P2,2020-01-01,B,1000000,36,2020-02-10,",
            "P3,2020-01-01,B,1000000,36,,",
        ]
    )
    result = calibrate(load_history(write(tmp_path, text), date(2020, 2, 15)))
    # Jan 1 to Jan 20 is 19/31 of month 1; to Feb 10 one month and 9/29; to Feb 15 1 + 14/29.
    months = 19 / 31 + (1 + 9 / 29) + (1 + 14 / 29)
    band = result.band_pds.set_index("band").loc["B"]
    assert band["exposure_years"] == pytest.approx(months / 12)


def test_curves_stay_flat_after_every_loan_has_matured(tmp_path) -> None:
    # Twelve-month loans, all matured by the as-of date: the 24-month rate is the 12-month one,
    # not unknown — no loan could still be on book.
    rows = [HEADER, "M1,2018-03-01,C,2000000,12,2018-09-01,"]
    rows += [f"M{i},2018-03-01,C,1000000,12,," for i in range(2, 6)]
    pool = calibrate(load_history(write(tmp_path, "\n".join(rows)), AS_OF)).static_pool
    first = pool.iloc[0]
    assert first["cdr_12m"] == pytest.approx(2 / 6)  # balance-weighted: 2m of 6m
    assert first["cdr_24m"] == pytest.approx(first["cdr_12m"])
    assert first["still_on_book"] == 0


# -- simulated histories ---------------------------------------------------------------------

TRUE_PDS = {"A": 0.01, "C": 0.03, "E": 0.06}


def simulated(seed: int, loans: int = 300, **options) -> pd.DataFrame:
    options = {"start": date(2016, 1, 1), "end": date(2020, 12, 31), "as_of": AS_OF} | options
    return simulate_history(load_score_bands(), TRUE_PDS, loans=loans, seed=seed, **options)


def test_intervals_cover_the_pds_the_histories_were_simulated_from() -> None:
    covered, hazards = [], {band: [] for band in TRUE_PDS}
    for seed in range(150):
        history = validate_history(simulated(seed, prepayment_rate=0.05), Path("sim.csv"), AS_OF)
        fitted = calibrate(history).band_pds.set_index("band")
        for band, pd_true in TRUE_PDS.items():
            row = fitted.loc[band]
            covered.append(row["pd_lower"] <= pd_true <= row["pd_upper"])
            hazards[band].append(row["hazard_rate"])
    # The exact Poisson interval is conservative: at least 95% in theory; 450 intervals put the
    # observed share within about 1 point of it, and far below 100% if it is not absurdly wide.
    coverage = np.mean(covered)
    assert 0.92 <= coverage <= 0.995, coverage
    for band, pd_true in TRUE_PDS.items():
        values = np.array(hazards[band])
        se = values.std(ddof=1) / math.sqrt(values.size)
        assert abs(values.mean() - (-math.log1p(-pd_true))) < 4 * se, band


def test_life_table_removes_the_bias_a_plain_ratio_has_under_censoring() -> None:
    # 20,000 band E loans made over 2019-2020, observed to mid-2021: most are not yet 24 months on
    # book, so "defaults within 24 months / loans made" undercounts; the life table does not.
    frame = simulated(
        1,
        loans=20_000,
        start=date(2019, 1, 1),
        end=date(2020, 12, 31),
        as_of=date(2021, 6, 30),
        band_mix={"A": 0.0, "C": 0.0, "E": 1.0},
    )
    history = validate_history(frame, Path("sim.csv"), date(2021, 6, 30))
    loans = history.loans[history.loans["band"] == "E"]
    table = life_table(loans["exit_month"], loans["exit_kind"], loans["partial"], horizon=24).loc[
        24
    ]
    truth = 1 - (1 - TRUE_PDS["E"]) ** 2
    within_24 = (loans["exit_kind"] == "default") & (loans["exit_month"] <= 24)
    naive = within_24.sum() / len(loans)
    se = table["greenwood_se"]
    assert abs(table["net_default_rate"] - truth) < 3.5 * se
    assert naive < truth - 6 * se
    # The constant-hazard fit uses the exposure, so it is unbiased too.
    fitted = calibrate(history).band_pds.set_index("band").loc["E"]
    assert fitted["pd_lower"] <= TRUE_PDS["E"] <= fitted["pd_upper"]


def test_quarterly_vintages_and_the_recovery_lag_of_pending_recoveries() -> None:
    frame = simulated(3, loans=2_000, prepayment_rate=0.05)
    result = calibrate(validate_history(frame, Path("sim.csv"), AS_OF), vintage="quarter")
    assert list(result.static_pool["vintage"])[:2] == ["2016Q1", "2016Q2"]
    assert result.static_pool["loans"].sum() == 2_000
    pooled = result.recovery.loc["all"]
    # Recoveries were drawn with mean 30% (sd 12%) and lags uniform on 12-24 months.
    assert abs(pooled["recovery_rate"] - 0.30) < 4 * pooled["recovery_rate_se"]
    assert 12 <= pooled["recovery_lag_months"] <= 24
    assert pooled["recoveries_pending"] > 0
    # A vintage less than 36 months old has no 36-month rate yet; an old one has.
    assert math.isnan(result.static_pool.iloc[-1]["cdr_36m"])
    assert not math.isnan(result.static_pool.iloc[0]["cdr_36m"])


# -- bad input -------------------------------------------------------------------------------

FULL = (
    "loan_id,origination_date,band,score,balance,tenor_months,maturity_date,default_date,"
    "default_balance,prepayment_date,recovery_amount,recovery_date"
)
GOOD = "G1,2018-01-10,C,,5000000,36,,2019-03-01,,,1500000,2020-06-01"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            "B1,2018-01-10,C,,5000000,36,,2017-12-01,,,,",
            "row 2 (loan B1), column 'default_date': value '2017-12-01': is not after "
            "origination_date 2018-01-10",
        ),
        (
            "B1,2018-01-10,C,,5000000,36,,,,,100000,2019-01-01",
            "column 'recovery_amount': value '100000': is a recovery on a loan that has no",
        ),
        ("B1,2018-01-10,Z,,5000000,36,,,,,,", "column 'band': value 'Z': is not a band of"),
        ("B1,2018-01-10,,100.5,5000000,36,,,,,,", "value '100.5': must be from 0 to 100"),
        ("B1,2018-01-10,A,70,5000000,36,,,,,,", "disagrees with the row's score 70 (band C)"),
        ("B1,2018-01-10,,,5000000,36,,,,,,", "gives neither a 'band' nor a 'score'"),
        ("B1,2018-01-10,C,,5000000,,,,,,,", "gives neither 'tenor_months' nor 'maturity_date'"),
        ("B1,2018-01-10,C,,5000000,36,2021-02-10,,,,,", "disagrees with tenor_months 36"),
        ("B1,2018-01-10,C,,5000000,36,,2022-03-01,,,,", "is after the history's as-of date"),
        ("B1,2018-01-10,C,,5000000,12,,2019-03-01,,,,", "is after the loan's maturity 2019-01-10"),
        ("B1,2018-01-10,C,,5000000,36,,2019-03-01,,2019-01-01,,", "a loan leaves the book once"),
        ("B1,2018-01-10,C,,5000000,36,,2019-03-01,,,100000,", "give both or neither"),
        ("B1,2018-01-10,C,,5000000,36,,2019-03-01,,,100,2019-02-01", "is before the default_date"),
        ("B1,2018-01-10,C,,5000000,36,,2019-03-01,,,6000000,2020-01-01", "above the balance at"),
        (
            "B1,2018-01-10,C,,5000000,36,,,4000000,,,",
            "is a balance at default on a loan that has no",
        ),
        ("B1,2018-01-10,C,,5000000,36,,,,2021-01-10,,", "repayment at maturity is not a prepay"),
        ("B1,2018-02-30,C,,5000000,36,,,,,,", "column 'origination_date': value '2018-02-30'"),
        ("B1,2022-01-10,C,,5000000,36,,,,,,", "is after the history's as-of date 2021-12-31"),
        ("G1,2018-01-10,C,,5000000,36,,,,,,", "column 'loan_id': value 'G1': is used twice"),
        ("B1,2018-01-10,C,,-5,36,,,,,,", "column 'balance': value '-5': must be above 0"),
    ],
)
def test_a_bad_history_row_is_one_line_naming_file_row_column_value_and_rule(
    tmp_path, capsys, row: str, expected: str
) -> None:
    path = write(tmp_path, f"{FULL}\n{GOOD}\n{row}\n")
    out = tmp_path / "out"
    code = main(["calibrate", str(path), "--as-of", "2021-12-31", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert str(path) in err and expected in err, err
    assert not out.exists()


def test_a_score_in_a_gap_of_the_band_table_is_refused(tmp_path, capsys) -> None:
    bands = write(tmp_path, "band,score_min,score_max,annual_pd,shadow_rating\nH,60,101,0.02,A\n")
    bands = bands.rename(tmp_path / "bands.csv")
    path = write(tmp_path, f"{FULL}\nB1,2018-01-10,,54.5,5000000,36,,,,,,\n")
    args = ["calibrate", str(path), "--as-of", "2021-12-31", "--score-bands", str(bands)]
    assert main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"row 1 (loan B1), column 'score': value '54.5': falls in no band of {bands}" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loan_id,origination_date,band,balance,tenor_months,default_dat\n", "looks like"),
        ("loan_id,band,balance,tenor_months\nX,A,1,36\n", "missing required column(s)"),
        ("loan_id,origination_date,balance,tenor_months\nX,2018-01-01,1,36\n", "'band' or"),
        (f"{HEADER}\n", "the history has no loan rows"),
        ("loan_id,loan_id\n", "appears twice"),
    ],
)
def test_a_bad_history_header_is_refused(tmp_path, text: str, expected: str) -> None:
    from securitize.errors import TapeError

    with pytest.raises(TapeError, match=None) as error:
        load_history(write(tmp_path, text), AS_OF)
    assert expected in str(error.value)


def test_a_semicolon_separated_gbk_history_is_read_like_a_tape(tmp_path) -> None:
    text = "# 示例数据\n" + TEN_LOANS.replace(",", ";")
    path = tmp_path / "history.csv"
    path.write_bytes(text.encode("gb18030"))
    history = load_history(path, date(2021, 1, 15))
    assert len(history.loans) == 10
    assert any("GB18030" in note for note in history.notes)
    assert "示例数据" in history.notes


def test_as_of_and_confidence_are_checked_before_the_history_is_read(tmp_path, capsys) -> None:
    missing = str(tmp_path / "missing.csv")
    assert main(["calibrate", missing, "--as-of", "2021-13-01"]) == 2
    assert "--as-of: value '2021-13-01'" in capsys.readouterr().err
    assert main(["calibrate", missing, "--as-of", "2021-12-31", "--confidence", "1.5"]) == 2
    assert "--confidence: value 1.5" in capsys.readouterr().err


# -- the command end to end ------------------------------------------------------------------


def test_bundled_history_regenerates_from_its_script(tmp_path) -> None:
    out = tmp_path / "lender_history.csv"
    generator().main(out)
    assert out.read_bytes() == HISTORY.read_bytes()


def test_calibrate_the_bundled_history_then_run_the_scenario_on_its_band_table(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.chdir(ROOT)  # the band table's notes name the history relative to here
    out = tmp_path / "calibration"
    assert main(["calibrate", str(HISTORY), "--as-of", "2021-12-31", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "band PDs (constant hazard, exact Poisson 95% interval)" in printed
    assert "static pool by year" in printed
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "band_table.csv",
            "static_pool.csv",
            "vintage_curves.csv",
            "recovery.csv",
            "calibration.json",
        ]
    )
    # The committed band table is what calibrate writes from the committed history.
    assert (out / "band_table.csv").read_bytes() == BAND_TABLE.read_bytes()
    bands = load_score_bands(out / "band_table.csv")
    fitted = pd.read_csv(out / "band_table.csv", comment="#").set_index("band")
    for band, pd_true in generator().BAND_PDS.items():
        row = fitted.loc[band]
        assert row["pd_lower"] <= row["annual_pd"] <= row["pd_upper"]
        assert row["pd_lower"] <= pd_true <= row["pd_upper"], band
    assert any("ILLUSTRATIVE" in note for note in bands.notes)
    pool = pd.read_csv(out / "static_pool.csv")
    assert list(pool["vintage"]) == [2016, 2017, 2018, 2019, 2020]
    assert pool["loans"].sum() == 800
    summary = json.loads((out / "calibration.json").read_text())
    assert summary["loans"] == 800 and summary["as_of"] == "2021-12-31"

    # Refused a second time without --force, before the history is read.
    assert main(["calibrate", "nope.csv", "--as-of", "2021-12-31", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err

    # The calibrated scenario, pointed at the freshly written table, runs on it.
    text = CALIBRATED.read_text("utf-8")
    text = text.replace(
        '"data/wenzhou_interbank_tape.csv"',
        repr(str(ROOT / "scenarios" / "data" / "wenzhou_interbank_tape.csv")).replace("'", '"'),
    )
    text = text.replace('"data/lender_history_band_table.csv"', f'"{out / "band_table.csv"}"')
    scenario = write(tmp_path, text, "calibrated.toml")
    report = tmp_path / "report"
    code = main(["run", str(scenario), "--paths", "2000", "--out", str(report), "--quiet"])
    assert code == 0
    results = json.loads((report / "results.json").read_text())
    used = {b["band"]: b["annual_pd"] for b in results["assumptions"]["score_bands"]}
    assert used == pytest.approx(fitted["annual_pd"].to_dict(), rel=1e-9)
    assert results["assumptions"]["recovery_lag_months"] == 17


def test_the_calibration_page_examples_run(monkeypatch) -> None:
    from tests.test_api_docs import python_blocks

    monkeypatch.chdir(ROOT)
    page = ROOT / "docs" / "calibration.md"
    namespace: dict[str, object] = {"__name__": "calibration_docs"}
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    assert blocks
    for line, code in blocks:
        exec(compile("\n" * line + code, str(page), "exec"), namespace)
    assert set(namespace["result"].band_pds["band"]) == {"A", "B", "C", "D", "E"}


def test_the_calibration_page_table_is_the_bundled_fit() -> None:
    page = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    fitted = pd.read_csv(BAND_TABLE, comment="#")
    for row in fitted.itertuples(index=False):
        shown = (
            f"| {row.band} | {generator().BAND_PDS[row.band]:.2%} | {row.annual_pd:.2%} | "
            f"{row.pd_lower:.2%} – {row.pd_upper:.2%} | {row.defaults} / {row.exposure_years:.1f} |"
        )
        assert shown.replace("%", " %") in page, shown


def test_an_excel_history_with_date_cells_reads_like_the_csv(tmp_path) -> None:
    csv = load_history(write(tmp_path, TEN_LOANS), date(2021, 1, 15))
    frame = pd.read_csv(tmp_path / "history.csv", dtype=str, keep_default_na=False)
    for name in ("origination_date", "default_date", "prepayment_date"):
        frame[name] = pd.to_datetime(frame[name].replace("", None))
    frame["balance"] = frame["balance"].astype(float)
    frame.to_excel(tmp_path / "history.xlsx", index=False)
    excel = load_history(tmp_path / "history.xlsx", date(2021, 1, 15))
    columns = ["exit_kind", "exit_month", "exposure_months"]
    pd.testing.assert_frame_equal(excel.loans[columns], csv.loans[columns])
    frame.to_parquet(tmp_path / "history.parquet")  # blank dates are NaT there
    parquet = load_history(tmp_path / "history.parquet", date(2021, 1, 15))
    pd.testing.assert_frame_equal(parquet.loans[columns], csv.loans[columns])
