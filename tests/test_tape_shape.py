"""A tape's shape is checked before its values: one line naming the file, the row and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from securitize.errors import TapeError
from securitize.tape import load_tape
from tests.conftest import GOOD_ROW, GOOD_ROW_2, TAPE_HEADER, tape_rows


def _write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "tape.csv"
    path.write_bytes(text.encode(encoding))
    return path


def _error(path: Path) -> str:
    with pytest.raises(TapeError) as caught:
        load_tape(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_a_repeated_column_name_is_refused(tmp_path: Path) -> None:
    text = tape_rows(GOOD_ROW + ",1", GOOD_ROW_2 + ",2").replace(
        TAPE_HEADER, TAPE_HEADER + ",balance"
    )
    message = _error(_write(tmp_path, text))
    assert "'balance' appears twice (columns 5 and 11)" in message


def test_an_unquoted_thousands_separator_names_the_row_not_a_shifted_column(
    tmp_path: Path,
) -> None:
    shifted = GOOD_ROW_2.replace("4000000", "4,000,000")
    message = _error(_write(tmp_path, tape_rows(GOOD_ROW, shifted)))
    assert "row 2: 12 fields where the header has 10 columns" in message
    assert "20,000,000" in message  # says how to write such a number


def test_an_extra_field_is_one_line_naming_the_row(tmp_path: Path) -> None:
    message = _error(_write(tmp_path, tape_rows(GOOD_ROW + ",extra", GOOD_ROW_2)))
    assert "row 1: 11 fields where the header has 10 columns" in message


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    short = GOOD_ROW_2.rsplit(",", 1)[0]
    message = _error(_write(tmp_path, tape_rows(GOOD_ROW, short)))
    assert "row 2: 9 fields where the header has 10 columns" in message


def test_a_semicolon_separated_tape_is_read_and_noted(tmp_path: Path) -> None:
    text = tape_rows(GOOD_ROW, GOOD_ROW_2).replace(",", ";")
    tape = load_tape(_write(tmp_path, text))
    assert tape.loans["balance"].tolist() == [5_000_000.0, 4_000_000.0]
    assert "columns separated by ';'" in tape.notes


def test_a_gbk_tape_is_read_and_noted(tmp_path: Path) -> None:
    text = tape_rows(GOOD_ROW.replace("Alpha Tech", "温州科技"), GOOD_ROW_2)
    tape = load_tape(_write(tmp_path, text, encoding="gbk"))
    assert tape.loans["enterprise"].iloc[0] == "温州科技"
    assert any("GB18030" in note for note in tape.notes)


def test_text_that_is_neither_utf8_nor_gbk_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tape.csv"
    path.write_bytes(TAPE_HEADER.encode() + b"\n\xff\xfe\xff\n")
    assert "neither UTF-8 nor GBK" in _error(path)


def test_a_folder_given_as_a_tape_is_called_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "tape.csv"
    folder.mkdir()
    assert "is a folder, not a table file" in _error(folder)


def test_an_absurd_balance_is_refused_at_validation(tmp_path: Path) -> None:
    huge = GOOD_ROW_2.replace("4000000", "1e308")
    message = _error(_write(tmp_path, tape_rows(GOOD_ROW, huge)))
    assert "row 2 (loan A2), column 'balance': value '1e308'" in message
    assert "at most 1e+12 CNY" in message


def test_a_broken_quote_names_its_file_line_in_a_semicolon_tape(tmp_path: Path) -> None:
    # Two comment lines, the header, then the broken row: file line 4, whatever the separator.
    rows = tape_rows(GOOD_ROW.replace("Alpha Tech", '"Alpha" Tech'), GOOD_ROW_2).replace(",", ";")
    message = _error(_write(tmp_path, "# one\n# two\n" + rows))
    assert ": line 4:" in message
