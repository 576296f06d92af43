"""Every phase longer than a second shows progress; simulating commands share their options."""

from __future__ import annotations

from pathlib import Path

import pytest

import securitize.progress
from securitize.cli import _parser, main
from tests.conftest import INTERBANK


@pytest.fixture
def bars(monkeypatch) -> list[str]:
    labels: list[str] = []

    def fake_tqdm(items, desc, **options):
        labels.append(desc)
        return items

    monkeypatch.setattr(securitize.progress, "tqdm", fake_tqdm)
    return labels


def test_run_shows_progress_for_its_stresses_and_memo(tmp_path: Path, bars, capsys) -> None:
    assert main(["run", str(INTERBANK), "--paths", "2000", "--out", str(tmp_path / "o")]) == 0
    assert {"stresses", "memo"} <= set(bars)
    bars.clear()
    assert (
        main(["run", str(INTERBANK), "--paths", "2000", "--out", str(tmp_path / "q"), "--quiet"])
        == 0
    )
    assert bars == []


def test_compare_shows_progress_and_takes_seed_and_workers(tmp_path: Path, bars, capsys) -> None:
    other = tmp_path / "other.toml"
    other.write_text(
        INTERBANK.read_text(encoding="utf-8").replace(
            'tape = "data/', f'tape = "{INTERBANK.parent}/data/'
        ),
        encoding="utf-8",
    )
    args = [
        "compare",
        str(INTERBANK),
        str(other),
        "--paths",
        "2000",
        "--seed",
        "3",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    assert "designs on shared paths" in bars


@pytest.mark.parametrize("command", ["run", "statement", "compare", "sweep"])
def test_simulating_commands_share_seed_workers_paths_and_quiet(command: str) -> None:
    extra = {"compare": ["a.toml", "b.toml"], "sweep": ["s.toml", "--vary", "x=1"]}
    args = [command, *extra.get(command, [])]
    parsed = _parser().parse_args(
        [*args, "--seed", "5", "--workers", "2", "--paths", "100", "--quiet"]
    )
    assert (parsed.seed, parsed.workers, parsed.paths, parsed.quiet) == (5, 2, 100, True)
