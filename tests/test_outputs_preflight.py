"""Outputs: refused before any simulation when they cannot be written, never left half written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import securitize.designs
import securitize.output
import securitize.run
from securitize.cli import main
from securitize.errors import SecuritizeError
from securitize.output import write_outputs
from tests.conftest import INTERBANK

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_simulation(monkeypatch):
    """Any simulation started is a test failure: the checks must come first."""

    def refuse(*args, **kwargs):
        raise AssertionError("the simulation ran before the output was checked")

    monkeypatch.setattr(securitize.run, "run_scenario", refuse)
    monkeypatch.setattr(securitize.designs, "sweep", refuse)


def test_a_full_disk_leaves_no_partial_file(tmp_path: Path, monkeypatch) -> None:
    class FullDisk:
        def __init__(self, handle, mode):
            os.close(handle)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, content):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(securitize.output.os, "fdopen", FullDisk)
    with pytest.raises(SecuritizeError, match="No space left on device"):
        write_outputs(tmp_path, {"memo.html": b"<html>", "results.json": b"{}"})
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_is_refused_before_the_run(tmp_path: Path, no_simulation, capsys):
    (tmp_path / "memo.html").write_text("keep me", encoding="utf-8")
    assert main(["run", str(INTERBANK), "--out", str(tmp_path), "--quiet"]) == 2
    assert "memo.html: already exists" in capsys.readouterr().err
    assert (tmp_path / "memo.html").read_text(encoding="utf-8") == "keep me"


def test_an_empty_out_is_refused_not_read_as_the_default_folder(
    tmp_path: Path, monkeypatch, no_simulation, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(INTERBANK), "--out", "", "--quiet"]) == 2
    assert "--out: empty value" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()


def test_an_output_folder_below_a_file_is_refused_before_the_run(
    tmp_path: Path, no_simulation, capsys
) -> None:
    (tmp_path / "plain").write_text("", encoding="utf-8")
    assert main(["run", str(INTERBANK), "--out", str(tmp_path / "plain" / "memo"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and len(err.splitlines()) == 1


def test_sweep_refuses_its_table_before_simulating_or_writing_the_chart(
    tmp_path: Path, no_simulation, capsys
) -> None:
    (tmp_path / "table.csv").write_text("old", encoding="utf-8")
    chart, table = tmp_path / "chart.png", tmp_path / "table.csv"
    args = ["sweep", str(INTERBANK), "--vary", "credit.asset_correlation=0.1,0.2"]
    assert main([*args, "--chart", str(chart), "--out", str(table)]) == 2
    assert "table.csv: already exists" in capsys.readouterr().err
    assert not chart.exists()
    assert main([*args, "--out", str(tmp_path / "table.txt")]) == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err


def test_statement_checks_its_path_and_out_before_simulating(
    tmp_path: Path, no_simulation, capsys
) -> None:
    assert main(["statement", str(INTERBANK), "--paths", "100", "--path", "100"]) == 2
    assert "--path 100: no such path; this run has paths 0 to 99" in capsys.readouterr().err
    assert main(["statement", str(INTERBANK), "--path", "1", "--out", str(tmp_path / "s.txt")]) == 2
    assert "must end in .csv" in capsys.readouterr().err


def test_run_on_a_programme_file_points_to_book(tmp_path: Path, capsys) -> None:
    programme = ROOT / "scenarios" / "wenzhou_programme_book.toml"
    assert main(["run", str(programme), "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is a programme file" in err and "securitize book" in err
    assert len(err.splitlines()) == 1
