"""Reading small tables (loan tapes, data files) with row-level error reporting.

CSV files may open with ``#`` comment lines (provenance notes, "illustrative data"); those
are kept as the table's notes rather than parsed as rows. Excel and Parquet are read through
pandas when its optional engines are installed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from securitize.errors import TapeError


def read_table(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The table at ``path`` as strings-or-native columns, and its leading comment lines."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise TapeError(f"{path}: file not found")
    try:
        if suffix == ".csv":
            text = path.read_text("utf-8-sig")
            lines = text.splitlines()
            notes = []
            for line in lines:
                if not line.startswith("#"):
                    break
                notes.append(line.lstrip("#").strip())
            frame = pd.read_csv(
                path,
                skiprows=len(notes),
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                encoding="utf-8-sig",
            )
            return frame, notes
        if suffix == ".xlsx":
            return pd.read_excel(path), []
        if suffix == ".parquet":
            return pd.read_parquet(path), []
    except ImportError as exc:
        raise TapeError(
            f"{path}: reading {suffix} files needs an optional package ({exc.name}); "
            "install it with: pip install 'securitize[excel,parquet]'"
        ) from None
    except UnicodeDecodeError:
        raise TapeError(f"{path}: not UTF-8 text") from None
    except (ValueError, pd.errors.ParserError) as exc:
        raise TapeError(f"{path}: cannot be parsed as a table ({exc})") from None
    raise TapeError(f"{path}: unsupported file type '{suffix}' (use .csv, .xlsx or .parquet)")
