"""``securitize run --lang``: one memo in the language asked for, or both side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from securitize.cli import main

INTERBANK = Path(__file__).resolve().parents[1] / "scenarios" / "wenzhou_interbank_note.toml"


def _run(out: Path, *extra: str) -> int:
    return main(["run", str(INTERBANK), "--paths", "500", "--out", str(out), "--quiet", *extra])


def test_lang_both_writes_an_english_and_a_chinese_memo(tmp_path: Path) -> None:
    assert _run(tmp_path, "--lang", "both") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "memo.en.html",
        "memo.zh.html",
        "repayment_schedule.csv",
        "results.json",
    ]
    english = (tmp_path / "memo.en.html").read_text(encoding="utf-8")
    chinese = (tmp_path / "memo.zh.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in english and "19,000.00万元" not in english
    assert '<html lang="zh-CN">' in chinese and "19,000.00万元" in chinese
    assert "优先级资产支持证券" in chinese and "浙江省融资担保有限公司" in chinese


def test_lang_zh_writes_memo_html_in_chinese(tmp_path: Path) -> None:
    assert _run(tmp_path, "--lang", "zh") == 0
    html = (tmp_path / "memo.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html
    assert "--lang zh" in html  # the reproduce command renders the same language


def test_an_unknown_language_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stopped:
        _run(tmp_path, "--lang", "fr")
    assert stopped.value.code == 2
    assert "invalid choice: 'fr'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
