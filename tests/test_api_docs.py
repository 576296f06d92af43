"""The examples of docs/api.md run: every ```python block, in order, in one namespace.

The page promises that its examples can be pasted into one session started at the repository
root; this test is that session, so an example that stops working fails here.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

API_PAGE = ROOT / "docs" / "api.md"
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[tuple[int, str]]:
    """Each ```python block with the line number of its opening fence."""
    return [
        (text.count("\n", 0, match.start()) + 1, match.group(1))
        for match in PYTHON_BLOCK.finditer(text)
    ]


def test_the_page_has_examples() -> None:
    blocks = python_blocks(API_PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    assert all(code.strip() for _, code in blocks)


def test_every_example_runs_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {"__name__": "api_docs"}
    for line, code in python_blocks(API_PAGE.read_text(encoding="utf-8")):
        # Padded so a traceback names the page's own line numbers.
        exec(compile("\n" * line + code, str(API_PAGE), "exec"), namespace)
