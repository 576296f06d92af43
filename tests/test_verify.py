"""``securitize verify``: a fresh memo verifies; an edited one, or one with changed figures, does
not, and the report names what changed; unreadable input is a one-line error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy
import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.errors import SecuritizeError
from securitize.jsonsafe import json_safe
from securitize.memo import seal
from securitize.verify import PROVENANCE, TIMINGS
from tests.conftest import INTERBANK, INTERBANK_TAPE

PATHS = 3000


@pytest.fixture(scope="module")
def pilot_run():
    return run_scenario(INTERBANK, paths=PATHS)


@pytest.fixture(scope="module")
def memo_text(pilot_run) -> str:
    return seal.memo_html(pilot_run)


@pytest.fixture
def memo(tmp_path: Path, memo_text: str) -> Path:
    path = tmp_path / "memo.html"
    path.write_text(memo_text, encoding="utf-8")
    return path


def verify(path: Path, capsys, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["verify", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def numbers(value, where: tuple[str, ...] = ()) -> int:
    """Numeric leaves of a results document outside its provenance fields."""
    if where in PROVENANCE or (where and where[-1] in TIMINGS):
        return 0
    if isinstance(value, dict):
        return sum(numbers(v, (*where, k)) for k, v in value.items())
    if isinstance(value, list):
        return sum(numbers(v, where) for v in value)
    return int(isinstance(value, int | float) and not isinstance(value, bool))


def reseal(memo: Path, edit) -> None:
    """Change the embedded document with ``edit`` and recompute the digest, as a forger would."""
    document, before, after = seal.unseal(memo.read_text(encoding="utf-8"), str(memo))
    document.pop("digest")
    edit(document)
    memo.write_text(seal.seal(before + seal.MARKER + after, document), encoding="utf-8")


def test_a_fresh_memo_verifies_every_figure(memo: Path, pilot_run, capsys) -> None:
    code, out, err = verify(memo, capsys)
    expected = numbers(json_safe(pilot_run.results.to_dict()))
    assert expected > 1000
    assert (code, out.strip(), err) == (0, f"verified: {expected} figures reproduced", "")


def test_rendering_is_deterministic(pilot_run, memo_text: str) -> None:
    assert seal.memo_html(pilot_run) == memo_text


def test_the_block_holds_the_manifest_and_the_results(memo_text: str, pilot_run) -> None:
    document, _, _ = seal.unseal(memo_text, "memo")
    manifest = document["manifest"]
    assert (manifest["seed"], manifest["paths"]) == (pilot_run.results.simulation["seed"], PATHS)
    assert manifest["language"] == "en"
    assert manifest["software"]["libraries"]["numpy"]
    tape = manifest["inputs"]["tape"]
    assert tape["sha256"] == pilot_run.results.manifest["tape_sha256"]
    assert tape["content"] is not None  # small: embedded, so the memo verifies on its own
    assert document["results"]["tranches"][0]["name"] == "senior"


def test_an_edited_figure_in_the_text_is_found(memo: Path, capsys) -> None:
    text = memo.read_text(encoding="utf-8")
    # The first Monte Carlo estimate shown in the body (value ± SE), changed by one digit.
    start = text.index("±", text.index("<body"))
    digit = next(i for i in range(start - 1, 0, -1) if text[i].isdigit())
    edited = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1 :]
    memo.write_text(edited, encoding="utf-8")
    code, out, _ = verify(memo, capsys)
    assert code == 1
    assert "digest: the memo's text or embedded figures changed" in out
    assert "text: line" in out
    assert out.strip().splitlines()[-1].startswith("not verified: 2 difference(s)")


def test_a_text_edit_is_found_even_with_a_recomputed_digest(memo: Path, capsys) -> None:
    text = memo.read_text(encoding="utf-8")
    memo.write_text(text.replace("<h1>", "<h1>(approved) ", 1), encoding="utf-8")
    reseal(memo, lambda document: None)
    code, out, _ = verify(memo, capsys)
    assert code == 1
    assert "digest" not in out
    assert "(approved)" in out and "text: line" in out


def test_a_changed_embedded_figure_is_named(memo: Path, capsys, pilot_run) -> None:
    true = pilot_run.results.tranches[0].wrapped["expected_loss"].value

    def edit(document: dict) -> None:
        document["results"]["tranches"][0]["wrapped"]["expected_loss"]["value"] = 0.5

    reseal(memo, edit)
    code, out, _ = verify(memo, capsys)
    assert code == 1
    assert f"tranches[senior].wrapped.expected_loss.value: memo 0.5, rerun {true!r}" in out


def test_a_changed_seed_in_the_manifest_changes_the_figures(memo: Path, capsys) -> None:
    reseal(memo, lambda document: document["manifest"].update(seed=1))
    code, out, _ = verify(memo, capsys)
    assert code == 1
    assert "pool.loss.expected_loss.value: memo" in out
    assert "simulation.seed: memo 20210115, rerun 1" in out


def test_other_library_versions_are_warnings_not_failures(memo: Path, capsys, monkeypatch) -> None:
    rendered_with = numpy.__version__
    monkeypatch.setattr(numpy, "__version__", "0.0.1")  # verifying where numpy is another version
    code, out, _ = verify(memo, capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        f"warning: numpy 0.0.1 here, {rendered_with} when the memo was rendered"
    )
    assert out.splitlines()[-1].startswith("verified: ")


def test_a_memo_verifies_after_its_input_files_are_gone(tmp_path: Path, capsys) -> None:
    deal = tmp_path / "deal"
    (deal / "data").mkdir(parents=True)
    shutil.copy(INTERBANK, deal / "pilot.toml")
    shutil.copy(INTERBANK_TAPE, deal / "data" / INTERBANK_TAPE.name)
    out = tmp_path / "out"
    args = ["run", str(deal / "pilot.toml"), "--paths", "2000", "--out", str(out), "--quiet"]
    assert main(args) == 0
    shutil.rmtree(deal)
    code, out_text, _ = verify(out / "memo.html", capsys, "--workers", "2")
    assert (code, out_text.split(":")[0]) == (0, "verified")


def test_a_large_input_is_found_by_its_path_and_hash(
    tmp_path: Path, capsys, monkeypatch, pilot_run
) -> None:
    monkeypatch.setattr(seal, "EMBED_LIMIT", 0)
    tape = tmp_path / "tape.csv"
    shutil.copy(INTERBANK_TAPE, tape)
    scenario = tmp_path / "pilot.toml"
    text = INTERBANK.read_text(encoding="utf-8")
    scenario.write_text(text.replace("data/wenzhou_interbank_tape.csv", "tape.csv"), "utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--paths", "2000", "--out", str(out), "--quiet"]) == 0
    document, _, _ = seal.unseal((out / "memo.html").read_text("utf-8"), "memo")
    assert document["manifest"]["inputs"]["tape"]["content"] is None
    assert verify(out / "memo.html", capsys)[0] == 0
    tape.write_bytes(tape.read_bytes() + b"# edited\n")
    code, _, err = verify(out / "memo.html", capsys)
    assert code == 2 and "differs from the memo's manifest" in err
    tape.unlink()
    code, _, err = verify(out / "memo.html", capsys)
    assert code == 2
    assert "not embedded in the memo" in err and "not found" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<!DOCTYPE html><html><body>a memo?</body></html>", "not a securitize memo"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (
            b'<script type="application/json" id="securitize-verification">{"format": </script>',
            "not valid JSON",
        ),
        (
            b'<script type="application/json" id="securitize-verification">[]</script>',
            "'format' must be",
        ),
    ],
)
def test_input_that_is_not_a_memo_is_a_one_line_error(
    tmp_path: Path, capsys, content: bytes, message: str
) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(content)
    code, out, err = verify(path, capsys)
    assert (code, out) == (2, "")
    assert message in err and str(path) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_memo_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    code, _, err = verify(tmp_path / "nowhere.html", capsys)
    assert (
        code == 2
        and err.strip() == f"securitize: error: {tmp_path / 'nowhere.html'}: memo not found"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("inputs"), "field 'manifest.inputs' is missing or not dict"),
        (lambda m: m.update(seed="7"), "field 'manifest.seed' is missing or not int"),
        (lambda m: m.update(language="fr"), "unknown language 'fr'"),
        (
            lambda m: m["inputs"]["tape"].update(content=None, path=None),
            "field 'manifest.inputs.tape.path' is missing or not str",
        ),
    ],
)
def test_a_damaged_manifest_is_a_one_line_error(memo: Path, capsys, edit, message) -> None:
    reseal(memo, lambda document: edit(document["manifest"]))
    code, _, err = verify(memo, capsys)
    assert code == 2 and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_memo_whose_pool_was_selected_from_a_pipeline_verifies(tmp_path: Path, capsys) -> None:
    # The selection report's per-loan checks stop at a time limit (2 s by default), so on a busy
    # machine a rerun may settle fewer of them: reproducible runs skip those checks, and give
    # the solver a limit it does not reach.
    text = (INTERBANK.parent / "wenzhou_programme_select.toml").read_text(encoding="utf-8")
    tape = (INTERBANK.parent / "data" / "wenzhou_pipeline_candidates.csv").as_posix()
    text = text.replace('"data/wenzhou_pipeline_candidates.csv"', f'"{tape}"')
    text = text.replace("time_limit_seconds = 60\n", "time_limit_seconds = 600\n")
    text = text.replace("[selection]\n", "[selection]\nexplain_solves_max = 0\n")
    scenario = tmp_path / "select.toml"
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--paths", "2000", "--out", str(out), "--quiet"]) == 0
    code, text, _ = verify(out / "memo.html", capsys)
    assert (code, text.split(":")[0]) == (0, "verified")


def test_a_chinese_memo_is_checked_against_a_chinese_rendering(
    tmp_path: Path, pilot_run, capsys
) -> None:
    path = tmp_path / "memo.html"
    path.write_text(seal.memo_html(pilot_run, language="zh"), encoding="utf-8")
    assert seal.unseal(path.read_text("utf-8"), "memo")[0]["manifest"]["language"] == "zh"
    code, out, _ = verify(path, capsys)
    assert (code, out.split(":")[0]) == (0, "verified")
    text = path.read_text(encoding="utf-8")
    assert "19,000.00万元" in text
    path.write_text(text.replace("19,000.00万元", "19,100.00万元", 1), encoding="utf-8")
    code, out, _ = verify(path, capsys)
    assert code == 1 and "万元" in out


def test_rounding_differences_are_a_warning_unless_exact(memo: Path, capsys, pilot_run) -> None:
    true = pilot_run.results.pool_loss["expected_loss"].value
    nudged = true * (1 + 4e-15)  # what another BLAS summing in another order might give
    assert nudged != true

    def edit(document: dict) -> None:
        document["results"]["pool"]["loss"]["expected_loss"]["value"] = nudged

    reseal(memo, edit)
    code, out, _ = verify(memo, capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(
        "warning: 1 figure(s) differ by floating-point rounding only"
    )
    assert f"pool.loss.expected_loss.value: memo {nudged!r}, rerun {true!r}" in out
    code, out, _ = verify(memo, capsys, "--exact")
    assert code == 1
    assert f"pool.loss.expected_loss.value: memo {nudged!r}, rerun {true!r}" in out
    assert "not verified: 1 difference(s)" in out


def test_an_input_changed_after_the_run_is_not_embedded(tmp_path: Path) -> None:
    shutil.copy(INTERBANK_TAPE, tmp_path / "tape.csv")
    scenario = tmp_path / "pilot.toml"
    text = INTERBANK.read_text(encoding="utf-8")
    scenario.write_text(text.replace("data/wenzhou_interbank_tape.csv", "tape.csv"), "utf-8")
    run = run_scenario(scenario, paths=2000)
    with (tmp_path / "tape.csv").open("a", encoding="utf-8") as tape:
        tape.write("# edited after the run\n")
    with pytest.raises(SecuritizeError, match=r"tape\.csv: changed while the memo was being"):
        seal.memo_html(run)


def test_both_languages_from_one_run_verify(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = [
        "run",
        str(INTERBANK),
        "--paths",
        "2000",
        "--out",
        str(out),
        "--quiet",
        "--lang",
        "both",
    ]
    assert main(args) == 0
    for language in ("en", "zh"):
        memo = out / f"memo.{language}.html"
        assert seal.unseal(memo.read_text("utf-8"), "memo")[0]["manifest"]["language"] == language
        code, text, _ = verify(memo, capsys)
        assert (code, text.split(":")[0]) == (0, "verified")


def test_line_endings_changed_in_transit_do_not_fail_verification(memo, capsys) -> None:
    """A memo saved through Windows tools comes back with CRLF endings: same words, same figures."""
    memo.write_bytes(memo.read_bytes().replace(b"\n", b"\r\n"))
    status, out, _ = verify(memo, capsys)
    assert status == 0, out
    assert "line endings were CRLF" in out
