"""Reading small tables (loan tapes, data files) with row-level error reporting.

CSV files may open with ``#`` comment lines (provenance notes, "illustrative data"); those
are kept as the table's notes rather than parsed as rows. Excel and Parquet are read through
pandas when its optional engines are installed.

The table's shape is checked before any value is: a repeated column name, a row with more or
fewer fields than the header (an unquoted ``20,000,000`` splits into three), a separator other
than the comma (detected from the header and noted) and text that is not UTF-8 (GBK / GB18030,
as spreadsheets on Chinese-language Windows export it, is read and noted) each get one line
naming the file and the row.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from securitize.errors import TapeError

# Separators a tape exported by a spreadsheet may use; the header decides which one it is.
SEPARATORS = (",", ";", "\t")
# Encodings tried in order: UTF-8 (with or without a byte-order mark), then GB18030, the superset
# of GBK in which spreadsheets on Chinese-language Windows export CSV.
ENCODINGS = ("utf-8-sig", "gb18030")


def _decoded(path: Path) -> tuple[str, list[str]]:
    """The file's text and, when it was not UTF-8, a note saying how it was read."""
    data = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == ENCODINGS[0]:
            return text, []
        return text, [f"read as {encoding.upper()} (GBK) text: the file is not UTF-8"]
    raise TapeError(f"{path}: neither UTF-8 nor GBK/GB18030 text; save the file as UTF-8 CSV")


def _separator(header: str) -> str:
    """The separator that splits the header into the most columns; a header none of them
    splits (one column) keeps the comma, and later checks name the missing columns."""
    counts = {sep: len(next(csv.reader([header], delimiter=sep))) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])
    return best if counts[best] > 1 else ","


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, data rows and notes of a CSV text, with the table's shape checked."""
    lines = text.splitlines()
    notes = []
    for line in lines:
        if not line.startswith("#"):
            break
        notes.append(line.lstrip("#").strip())
    comments = len(notes)
    body = lines[comments:]
    if not body:
        raise TapeError(f"{path}: no header row")
    separator = _separator(body[0])
    if separator != ",":
        notes.append(f"columns separated by {separator!r}")
    reader = csv.reader(body, delimiter=separator, skipinitialspace=True, strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise TapeError(f"{path}: line {reader.line_num + comments}: {exc}") from None
    _check_header(path, header)
    for number, row in enumerate(rows, start=1):
        if len(row) != len(header):
            raise TapeError(f"{path}: row {number}: {_shape_rule(row, header, separator)}")
    return header, rows, notes


def _check_header(path: Path, header: list[str]) -> None:
    """Every column named, and named once: a repeated name would hide one of the two."""
    for position, name in enumerate(header, start=1):
        if not name:
            raise TapeError(f"{path}: header column {position} has no name")
        first = header.index(name) + 1
        if first != position:
            raise TapeError(
                f"{path}: header: column {name!r} appears twice (columns {first} and {position}); "
                "each column must be named once"
            )


def _shape_rule(row: list[str], header: list[str], separator: str) -> str:
    """Why a row's field count differs from the header's, in words a tape's author can act on."""
    said = f"{len(row)} fields where the header has {len(header)} columns"
    if len(row) > len(header) and separator == ",":
        return (
            f"{said}; a value with a comma in it (such as 20,000,000) must be quoted or written "
            "without thousands separators"
        )
    return said


def read_table(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The table at ``path`` as strings-or-native columns, and its leading comment lines."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise TapeError(f"{path}: is a folder, not a table file")
    if not path.is_file():
        raise TapeError(f"{path}: file not found")
    try:
        if suffix == ".csv":
            text, notes = _decoded(path)
            header, rows, more = _csv_rows(path, text)
            return pd.DataFrame(rows, columns=header, dtype=str), notes + more
        if suffix == ".xlsx":
            # Read the header as a row: pandas would rename a repeated name ('balance.1').
            sheet = pd.read_excel(path, header=None)
            header = [str(name).strip() for name in sheet.iloc[0]] if len(sheet) else []
            frame = sheet.iloc[1:].reset_index(drop=True)
            frame.columns = header
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise TapeError(
                f"{path}: unsupported file type '{suffix}' (use .csv, .xlsx or .parquet)"
            )
    except ImportError as exc:
        raise TapeError(
            f"{path}: reading {suffix} files needs an optional package ({exc.name}); "
            "install it with: pip install 'securitize[excel,parquet]'"
        ) from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise TapeError(f"{path}: cannot be parsed as a table ({exc})") from None
    _check_header(path, [str(c).strip() for c in frame.columns])
    return frame, []
