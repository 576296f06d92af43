"""Comparing and sweeping designs: shared paths, paired errors, and bad --vary input."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from securitize import designs
from securitize.cli import main
from securitize.errors import ScenarioError
from securitize.scenario import load_scenario
from tests.conftest import INTERBANK


@pytest.fixture
def count_simulations(monkeypatch):
    calls = []
    real = designs.simulate_defaults

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(designs, "simulate_defaults", counted)
    return calls


def small_pilot():
    return designs.with_field(load_scenario(INTERBANK), "simulation.paths", 4000)


def test_a_dotted_field_is_set_and_revalidated() -> None:
    changed = designs.with_field(small_pilot(), "enhancers[0].fee_bp", 80.0)
    assert changed.scenario.enhancers[0].fee_bp == 80.0
    with pytest.raises(ScenarioError, match=r"enhancers\[0\]\.fee_bpp.*unknown field"):
        designs.with_field(small_pilot(), "enhancers[0].fee_bpp", 80.0)
    with pytest.raises(ScenarioError, match=r"'tranches' has 2 entries, no \[5\]"):
        designs.with_field(small_pilot(), "tranches[5].share", 0.1)


def test_structure_changes_share_paths_and_credit_changes_do_not(count_simulations) -> None:
    vary = {("enhancers[0].fee_bp",): [(80.0,), (90.0,)]}
    table = designs.sweep(small_pilot(), vary)
    assert len(count_simulations) == 1
    assert set(table["design"]) == {"design_1", "design_2"}
    count_simulations.clear()
    designs.sweep(small_pilot(), {("credit.asset_correlation",): [(0.15,), (0.25,)]})
    assert len(count_simulations) == 2


def test_a_design_compared_with_itself_differs_by_exactly_nothing() -> None:
    base = small_pilot()
    evaluated = designs.evaluate_designs([("a", {}, base), ("b", {}, base)])
    table = designs.comparison(evaluated)
    assert (table["b.difference"] == 0).all()
    assert not table["b.significant"].any()


def test_paired_error_of_a_difference_is_smaller_than_the_independent_one() -> None:
    base = small_pilot()
    other = designs.with_field(
        designs.with_field(base, "tranches[0].share", 0.90), "tranches[1].share", 0.10
    )
    table = designs.comparison(designs.evaluate_designs([("a", {}, base), ("b", {}, other)]))
    row = table[table["metric"] == "senior.standalone.expected_loss"].iloc[0]
    independent = math.hypot(row["a.se"], row["b.se"])
    assert row["b.difference_se"] < independent / 2
    assert row["b.significant"] and row["b.difference"] < 0


def test_sweep_command_writes_a_tidy_table(tmp_path: Path) -> None:
    out = tmp_path / "sweep.csv"
    code = main(
        [
            "sweep",
            str(INTERBANK),
            "--paths",
            "3000",
            "--vary",
            "tranches[0].share+tranches[1].share=0.90:0.10,0.92:0.08",
            "--vary",
            "enhancers[0].fee_bp=80,90",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert table["design"].nunique() == 4
    assert {"metric", "value", "se", "vary.enhancers[0].fee_bp"} <= set(table.columns)


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ("tranches[0].sharee=0.9", "unknown field"),
        ("enhancers[0].fee_bp=eighty", "not a TOML value"),
        ("tranches[0].share+tranches[1].share=0.9", "link fields with '+'"),
        ("credit.asset_correlation=1.5", "credit.asset_correlation"),
        ("novalue", "FIELD=VALUE1,VALUE2"),
    ],
)
def test_bad_vary_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys, vary: str, expected: str
) -> None:
    out = tmp_path / "sweep.csv"
    code = main(["sweep", str(INTERBANK), "--paths", "1000", "--vary", vary, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and expected in err
    assert not out.exists()


def test_sweep_chart_is_a_png(tmp_path: Path) -> None:
    chart = tmp_path / "sweep.png"
    code = main(
        [
            "sweep",
            str(INTERBANK),
            "--paths",
            "2000",
            "--vary",
            "enhancers[0].fee_bp=80,90",
            "--chart",
            str(chart),
            "--out",
            str(tmp_path / "sweep.parquet"),
        ]
    )
    assert code == 0
    assert chart.read_bytes().startswith(b"\x89PNG")
    assert pd.read_parquet(tmp_path / "sweep.parquet")["design"].nunique() == 2


def test_ctrl_c_stops_a_run_without_leaving_output(tmp_path: Path, monkeypatch, capsys) -> None:
    import securitize.run as run_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "evaluate", interrupted)
    out = tmp_path / "out"
    assert main(["run", str(INTERBANK), "--paths", "1000", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists()
