"""Two runs of the same inputs differ only in their timings, which sit in one marked block."""

from __future__ import annotations

import json
import re
from pathlib import Path

from securitize.cli import main
from tests.conftest import INTERBANK

TIMINGS_ROW = re.compile(r"<!-- timings:.*?<!-- end of timings -->", re.S)
EMBEDDED = re.compile(
    r'<script type="application/json" id="securitize-verification">.*?</script>', re.S
)


def test_results_and_memo_differ_run_to_run_only_in_their_timings(tmp_path: Path) -> None:
    outputs = []
    for name in ("first", "second"):
        out = tmp_path / name
        assert main(["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--quiet"]) == 0
        outputs.append(out)
    documents = [json.loads((o / "results.json").read_text(encoding="utf-8")) for o in outputs]
    assert list(documents[0])[-1] == "timings"
    for document in documents:
        assert document["timings"]["run_seconds"] >= document["timings"]["simulation_seconds"] > 0
        document.pop("timings")
    assert documents[0] == documents[1]
    memos = [(o / "memo.html").read_text(encoding="utf-8") for o in outputs]
    assert all(len(TIMINGS_ROW.findall(m)) == 1 for m in memos)
    stripped = [EMBEDDED.sub("", TIMINGS_ROW.sub("", m)) for m in memos]
    assert stripped[0] == stripped[1]
