"""A memo rendered with ``run --templates DIR`` (issue 13, defect 7): the manifest hashes every
template file, sub-folders too; ``verify`` loads no template folder the user did not name, says
when a memo was made with non-package templates and fails when they were not supplied or differ;
templates run sandboxed, so one that reaches for Python internals is a one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.memo import render, seal
from securitize.memo.render import TEMPLATES
from tests.conftest import INTERBANK

PATHS = "2000"
ALTERED = "sections/credit.j2"
# The implied-ratings table, forged: a tranche rated below CCCsf is shown as AAAsf.
TRUE_CELLS = "<td>{{ r.standalone }}</td><td>{{ r.wrapped }}</td>"
FORGED_CELLS = (
    '<td>{{ r.standalone | replace("below CCCsf", "AAAsf") }}</td>'
    '<td>{{ r.wrapped | replace("below CCCsf", "AAAsf") }}</td>'
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A copy of the package templates (``original``), and a copy with one file in a sub-folder
    forged (``forged``)."""
    root = tmp_path_factory.mktemp("templates")
    original, forged = root / "original", root / "forged"
    shutil.copytree(TEMPLATES, original)
    shutil.copytree(TEMPLATES, forged)
    credit = forged / ALTERED
    text = credit.read_text(encoding="utf-8")
    assert TRUE_CELLS in text
    credit.write_text(text.replace(TRUE_CELLS, FORGED_CELLS), encoding="utf-8")
    return {"original": original, "forged": forged}


@pytest.fixture(scope="module")
def forged_memo(tmp_path_factory, folders: dict[str, Path]) -> Path:
    """The pilot's memo rendered by ``securitize run --templates <forged copy>``."""
    out = tmp_path_factory.mktemp("forged") / "out"
    args = ["run", str(INTERBANK), "--paths", PATHS, "--out", str(out), "--quiet"]
    assert main([*args, "--templates", str(folders["forged"])]) == 0
    return out / "memo.html"


@pytest.fixture(scope="module")
def pilot_run():
    return run_scenario(INTERBANK, paths=int(PATHS))


def verify(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def reseal(memo: Path, edit) -> None:
    """Change the embedded document with ``edit`` and recompute the digest, as a forger would."""
    document, before, after = seal.unseal(memo.read_text(encoding="utf-8"), str(memo))
    document.pop("digest")
    edit(document)
    memo.write_text(seal.seal(before + seal.MARKER + after, document), encoding="utf-8")


def test_template_hashes_cover_every_file_in_sub_folders(folders: dict[str, Path]) -> None:
    original = seal.template_hashes(folders["original"])
    package = sorted(p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*"))
    assert list(original) == [name for name in package if (TEMPLATES / name).is_file()]
    assert ALTERED in original and "memo.html.j2" in original
    forged = seal.template_hashes(folders["forged"])
    assert {name for name in original if original[name] != forged[name]} == {ALTERED}


def test_the_forged_memo_shows_aaasf_for_a_tranche_below_cccsf(
    forged_memo: Path, pilot_run
) -> None:
    ratings = pilot_run.results.ratings["subordinated"]
    assert ratings["standalone"]["rating"] == "below CCCsf"
    html = forged_memo.read_text(encoding="utf-8")
    assert "<td>Subordinated notes</td><td>AAAsf (AAAsf to AAAsf at ±2 SE)</td>" in html
    recorded = seal.unseal(html, "memo")[0]["manifest"]["templates"]
    assert recorded["files"][ALTERED] == seal.template_hashes(Path(recorded["path"]))[ALTERED]


def test_verify_without_templates_does_not_pass_and_loads_no_folder(
    forged_memo: Path, capsys, monkeypatch
) -> None:
    loaded: list[Path | None] = []
    environment = render.environment

    def spy(templates: Path | None = None, lang: str = "en"):
        loaded.append(templates)
        return environment(templates, lang)

    monkeypatch.setattr(render, "environment", spy)
    code, out, err = verify(forged_memo, capsys)
    assert (code, err) == (1, "")
    lines = out.strip().splitlines()
    flagged = [line for line in lines if "non-package templates" in line]
    assert len(flagged) == 1 and flagged[0].startswith("templates: ")
    assert "not supplied" in flagged[0] and "could not be reproduced" in flagged[0]
    assert "pass --templates DIR" in flagged[0]
    assert lines[-1].startswith("not verified: 1 difference(s)")
    assert loaded == []  # the recorded folder was not rendered with (nor was any other)


def test_verify_with_the_original_templates_names_the_forged_file(
    forged_memo: Path, folders: dict[str, Path], capsys
) -> None:
    original = folders["original"]
    code, out, err = verify(forged_memo, capsys, "--templates", str(original))
    assert (code, err) == (1, "")
    lines = out.strip().splitlines()
    assert f"templates: {original / ALTERED} differs from the memo's" in lines
    assert [line for line in lines if line.startswith("templates: ")] == [
        f"templates: {original / ALTERED} differs from the memo's"
    ]
    assert any(line.startswith("warning: ") and "non-package templates" in line for line in lines)
    assert lines[-1].startswith("not verified: 1 difference(s)")


def test_verify_with_the_templates_it_was_made_with_passes_and_says_so(
    forged_memo: Path, folders: dict[str, Path], capsys
) -> None:
    code, out, err = verify(forged_memo, capsys, "--templates", str(folders["forged"]))
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert lines[0].startswith("warning: the memo was rendered with non-package templates")
    assert f"--templates {folders['forged']}" in lines[0]
    assert lines[-1].startswith("verified: ")


def test_a_file_added_to_or_missing_from_the_folder_is_named(
    forged_memo: Path, folders: dict[str, Path], tmp_path: Path, capsys
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(folders["forged"], copy)
    (copy / "sections" / "extra.j2").write_text("planted", encoding="utf-8")
    (copy / "print.css").unlink()
    code, out, _ = verify(forged_memo, capsys, "--templates", str(copy))
    assert code == 1
    assert f"templates: {copy / 'print.css'}: missing (the memo's templates had it)" in out
    assert f"templates: {copy / 'sections' / 'extra.j2'}: not among the memo's templates" in out


@pytest.mark.parametrize(
    ("template", "refused"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "'__class__' of 'str' object"),
        ("{{ cycler.__init__.__globals__ }}", "'__init__'"),
        ("{{ results.loans.to_csv(PLANTED) }}", "to_csv"),
        ("{% set names = tranche_names %}{{ names.append('x') }}", "'append' of 'list'"),
    ],
)
def test_a_template_reaching_python_internals_is_a_one_line_error(
    tmp_path: Path, capsys, template: str, refused: str
) -> None:
    planted = tmp_path / "planted.csv"
    folder = tmp_path / "templates"
    (folder / "sections").mkdir(parents=True)
    text = (TEMPLATES / "sections" / "cover.j2").read_text(encoding="utf-8")
    attack = template.replace("PLANTED", repr(str(planted)))
    (folder / "sections" / "cover.j2").write_text(attack + "\n" + text, encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", str(INTERBANK), "--paths", PATHS, "--out", str(out), "--quiet"]
    capsys.readouterr()
    assert main([*args, "--templates", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"securitize: error: --templates {folder}: sections/cover.j2, line 1: ")
    assert refused in err and "unsafe" in err and "sandbox" in err
    assert "subclasses" not in err.split(": ", 3)[-1].replace(refused, "")
    assert not out.exists() and not planted.exists()


def test_verify_renders_sandboxed_too(
    tmp_path: Path, pilot_run, folders: dict[str, Path], capsys
) -> None:
    """A memo whose manifest was forged to name hostile templates: verify with them refuses to
    run what they reach for, in one line."""
    memo = tmp_path / "memo.html"
    memo.write_text(seal.memo_html(pilot_run), encoding="utf-8")
    hostile = tmp_path / "hostile"
    shutil.copytree(folders["original"], hostile)
    cover = hostile / "sections" / "cover.j2"
    cover.write_text("{{ cycler.__init__.__globals__ }}\n" + cover.read_text("utf-8"), "utf-8")
    files = seal.template_hashes(hostile)
    reseal(memo, lambda d: d["manifest"].update(templates={"path": "x", "files": files}))
    code, out, err = verify(memo, capsys, "--templates", str(hostile))
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "sections/cover.j2, line 1" in err and "unsafe" in err


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_package_templates_still_verify_cleanly(
    tmp_path: Path, pilot_run, language: str, capsys
) -> None:
    memo = tmp_path / "memo.html"
    memo.write_text(seal.memo_html(pilot_run, language=language), encoding="utf-8")
    assert seal.unseal(memo.read_text("utf-8"), "memo")[0]["manifest"]["templates"] is None
    code, out, err = verify(memo, capsys)
    assert (code, err) == (0, "")
    assert out.strip().splitlines() == [out.strip()] and out.startswith("verified: ")
    assert "templates" not in out


def test_templates_for_a_memo_made_with_the_package_s_are_a_one_line_error(
    tmp_path: Path, pilot_run, folders: dict[str, Path], capsys
) -> None:
    memo = tmp_path / "memo.html"
    memo.write_text(seal.memo_html(pilot_run), encoding="utf-8")
    code, out, err = verify(memo, capsys, "--templates", str(folders["original"]))
    assert (code, out) == (2, "")
    assert err.strip() == (
        f"securitize: error: --templates {folders['original']}: the memo was rendered with the "
        "package's templates (its manifest records no others); verify it without --templates"
    )


def test_a_missing_template_folder_is_a_one_line_error(forged_memo: Path, capsys) -> None:
    code, out, err = verify(forged_memo, capsys, "--templates", "nowhere")
    assert (code, out) == (2, "")
    assert err == "securitize: error: --templates nowhere: not a folder\n"


def test_a_damaged_template_hash_is_a_one_line_error(
    forged_memo: Path, tmp_path: Path, capsys
) -> None:
    memo = tmp_path / "memo.html"
    shutil.copy(forged_memo, memo)
    reseal(memo, lambda d: d["manifest"]["templates"]["files"].update({ALTERED: 7}))
    code, _, err = verify(memo, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"field 'manifest.templates.files.{ALTERED}' is missing or not str" in err
