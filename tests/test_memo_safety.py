"""Safety of the memo: text from a loan tape is shown as text (in the HTML, in the embedded JSON
and in a real browser), templates come from the package unless the user names a folder, and an
existing memo is never overwritten without --force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.memo import seal
from securitize.memo.render import TEMPLATES
from tests.browser_support import browser, open_page  # noqa: F401 (fixture)
from tests.conftest import GOOD_ROW_2, INTERBANK, tape_rows, tape_scenario

SCRIPT = "<script>alert(1)</script>"
IMAGE = "</script><img src=x onerror=alert(2)>"
HOSTILE_TAPE = tape_rows(
    f"A1,{SCRIPT},Electrical equipment,Lucheng,5000000,0.05,36,bullet,80,10000000",
    f"A3,{IMAGE},New materials,Ruian,3000000,0.05,36,bullet,75,8000000",
    GOOD_ROW_2,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A sealed memo of a deal whose enterprise names are markup."""
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "tape.csv").write_text(HOSTILE_TAPE, encoding="utf-8")
    (folder / "deal.toml").write_text(tape_scenario(), encoding="utf-8")
    memo = folder / "memo.html"
    memo.write_text(seal.memo_html(run_scenario(folder / "deal.toml")), encoding="utf-8")
    return memo


def test_markup_in_a_tape_is_escaped_in_the_html(hostile: Path) -> None:
    html = hostile.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "alert(1)</script>" not in html and "<img src=x" not in html
    # One script element: the JSON verification block, whose text cannot close it early.
    assert html.count("<script") == 1
    block = html[html.index(seal.OPEN) + len(seal.OPEN) :]
    assert block.index("</") == block.index(seal.CLOSE)


def test_markup_survives_the_embedded_json_unchanged(hostile: Path) -> None:
    document, _, _ = seal.unseal(hostile.read_text(encoding="utf-8"), "memo")
    names = {row["enterprise"] for row in document["results"]["pool"]["largest_obligors"]}
    assert {SCRIPT, IMAGE} <= names


def test_a_memo_of_markup_names_still_verifies(hostile: Path, capsys) -> None:
    assert main(["verify", str(hostile)]) == 0
    assert capsys.readouterr().out.startswith("verified: ")


def test_markup_in_a_tape_is_text_in_the_browser(browser, hostile: Path) -> None:  # noqa: F811
    visit = open_page(browser, hostile)
    try:
        text = visit.page.evaluate("document.body.innerText")
        scripts = visit.page.evaluate("document.scripts.length")
        images = visit.page.evaluate("Array.from(document.images, i => i.getAttribute('src'))")
    finally:
        visit.page.close()
    assert SCRIPT in text and IMAGE in text
    assert visit.dialogs == []
    assert scripts == 1
    assert "x" not in images


def test_templates_in_the_working_folder_are_not_used(tmp_path: Path, monkeypatch, capsys) -> None:
    for folder in (tmp_path, tmp_path / "templates"):
        folder.mkdir(exist_ok=True)
        (folder / "memo.html.j2").write_text("planted", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(INTERBANK), "--paths", "2000", "--out", "out", "--quiet"]) == 0
    html = (tmp_path / "out" / "memo.html").read_text(encoding="utf-8")
    assert "planted" not in html and html.startswith("<!DOCTYPE html>")
    document, _, _ = seal.unseal(html, "memo")
    assert document["manifest"]["templates"] is None


@pytest.fixture
def user_templates(tmp_path: Path) -> Path:
    """A template folder that replaces the package's print stylesheet."""
    folder = tmp_path / "templates"
    folder.mkdir()
    css = (TEMPLATES / "print.css").read_text(encoding="utf-8")
    (folder / "print.css").write_text("/* house style */\n" + css, encoding="utf-8")
    return folder


def test_a_template_folder_the_user_names_is_used_and_recorded(
    tmp_path: Path, user_templates: Path, capsys
) -> None:
    out = tmp_path / "out"
    args = ["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--quiet"]
    assert main([*args, "--templates", str(user_templates)]) == 0
    memo = out / "memo.html"
    assert "/* house style */" in memo.read_text(encoding="utf-8")
    named = ["verify", str(memo), "--templates", str(user_templates)]
    assert main(named) == 0
    capsys.readouterr()
    # Without the folder named, verify loads no templates and cannot pass the memo's text.
    assert main(["verify", str(memo)]) == 1
    assert "pass --templates DIR" in capsys.readouterr().out
    (user_templates / "print.css").write_text("/* changed */", encoding="utf-8")
    assert main(named) == 1
    assert "print.css" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ no_such_figure }}<!--securitize-verification-->", "'no_such_figure' is undefined"),
        ("{% if %}", "memo.html.j2, line 1"),
        ("<html>no marker</html>", "must contain the marker"),
    ],
)
def test_a_broken_user_template_is_a_one_line_error(
    tmp_path: Path, capsys, template: str, message: str
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "memo.html.j2").write_text(template, encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--quiet"]
    assert main([*args, "--templates", str(folder)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_user_templates_are_autoescaped_too(tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "memo.html.j2").write_text(
        "<!--securitize-verification-->{{ '<b>' }}", encoding="utf-8"
    )
    html = seal.memo_html(run_scenario(INTERBANK, paths=2000), templates=folder)
    assert html.endswith("&lt;b&gt;")


def test_a_missing_template_folder_is_an_error(tmp_path: Path, capsys) -> None:
    args = ["run", str(INTERBANK), "--out", str(tmp_path / "out"), "--templates", "nowhere"]
    assert main(args) == 2
    assert capsys.readouterr().err == "securitize: error: --templates nowhere: not a folder\n"


def test_an_existing_memo_is_not_overwritten_without_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "memo.html").write_text("the reviewed memo", encoding="utf-8")
    args = ["run", str(INTERBANK), "--paths", "2000", "--out", str(out), "--quiet"]
    assert main(args) == 2
    assert "memo.html: already exists; pass --force" in capsys.readouterr().err
    assert os.listdir(out) == ["memo.html"]  # nothing else written either, no temporary files
    assert (out / "memo.html").read_text(encoding="utf-8") == "the reviewed memo"
    assert main([*args, "--force"]) == 0
    assert sorted(os.listdir(out)) == ["memo.html", "repayment_schedule.csv", "results.json"]
    assert (out / "memo.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
