"""The Dask backend: the same seed gives the same numbers as the local engine."""

from __future__ import annotations

import time
from pathlib import Path

from securitize import designs, run_scenario
from securitize.cli import main
from securitize.scenario import load_scenario
from tests.conftest import INTERBANK


def comparable(run) -> dict:
    document = run.results.to_dict()
    document.pop("timings")
    for key in ("workers", "scheduler"):
        document["simulation"].pop(key)
    return document


def test_a_local_cluster_reproduces_the_local_engine() -> None:
    local = run_scenario(INTERBANK, paths=4000)
    cluster = run_scenario(INTERBANK, paths=4000, scheduler="local:2")
    assert comparable(cluster) == comparable(local)
    assert cluster.results.simulation["scheduler"] == "local:2"


def test_a_sweep_on_the_cluster_matches_the_local_sweep() -> None:
    loaded = designs.with_field(load_scenario(INTERBANK), "simulation.paths", 3000)
    vary = {("enhancers[0].fee_bp",): [(80.0,), (90.0,)]}
    local = designs.sweep(loaded, vary)
    cluster = designs.sweep(loaded, vary, scheduler="local:2")
    assert local.equals(cluster)


def run_on(scheduler: str, out: Path) -> int:
    return main(
        ["run", str(INTERBANK), "--paths", "1000", "--scheduler", scheduler, "--out", str(out)]
    )


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    started = time.perf_counter()
    code = run_on("tcp://127.0.0.1:9", out)
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the Dask scheduler" in err and "tcp://127.0.0.1:9" in err
    assert err.count("\n") == 1
    assert not out.exists()
    assert time.perf_counter() - started < 60


def test_a_malformed_scheduler_is_named(tmp_path: Path, capsys) -> None:
    code = run_on("local:two", tmp_path / "o")
    assert code == 2 and "local:two" in capsys.readouterr().err
