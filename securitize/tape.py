"""Loan tapes: one row per enterprise loan, validated row by row.

A tape is rejected as a whole when any row breaks a rule: nothing is dropped, clipped or
defaulted. The error names the file, the row (1-based, counting data rows after the header),
the loan, the column, the value and the rule. ``docs/tape.md`` lists the columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from securitize.errors import TapeError
from securitize.money import LARGEST_AMOUNT
from securitize.names import quoted
from securitize.schedules import AMORTISATION_TYPES
from securitize.tabular import read_table

# The most patents one loan may pledge: an enterprise's whole portfolio rarely reaches tens of
# thousands, so a larger count is a typing error (and 1e300 would be summed into the totals).
MOST_PATENTS = 100_000
# Names and labels are printed in tables, charts and the memo's diagram: longer text is not a
# name (an 8,000-character one made the memo page 73,000 px wide).
LONGEST_TEXT = 120
# The spellings of true and false a flag column accepts (lower-cased, trimmed).
TRUE_TEXT = ("true", "yes", "1", "y")
FALSE_TEXT = ("false", "no", "0", "n")
FLAG_RULE = "must be true or false (also yes/no, 1/0)"


def _is_iso_date(values: pd.Series) -> pd.Series:
    """Whether each text is a real calendar date written YYYY-MM-DD."""
    shaped = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    parsed = pd.to_datetime(values.where(shaped), format="%Y-%m-%d", errors="coerce")
    return shaped & parsed.notna()


@dataclass(frozen=True)
class Column:
    """A tape column: its type and the rule its values must meet."""

    name: str
    kind: type
    rule: str
    check: Callable[[pd.Series], pd.Series] | None = None
    required: bool = True


COLUMNS: tuple[Column, ...] = (
    Column("loan_id", str, "must be non-empty and unique"),
    Column("enterprise", str, "must be non-empty"),
    Column("industry", str, "must be non-empty"),
    Column("region", str, "must be non-empty"),
    Column(
        "balance",
        float,
        f"must be above 0 and at most {LARGEST_AMOUNT:.0e} CNY",
        lambda v: (v > 0) & (v <= LARGEST_AMOUNT),
    ),
    Column(
        "coupon",
        float,
        "must be at least 0 and below 1 (annual, fraction)",
        lambda v: (v >= 0) & (v < 1),
    ),
    Column(
        "tenor_months",
        int,
        "must be a whole number of months from 1 to 360",
        lambda v: (v >= 1) & (v <= 360),
    ),
    Column(
        "amortisation",
        str,
        f"must be one of {', '.join(AMORTISATION_TYPES)}",
        lambda v: v.isin(AMORTISATION_TYPES),
    ),
    Column("score", float, "must be from 0 to 100 (科创指数)", lambda v: (v >= 0) & (v <= 100)),
    Column(
        "ip_appraised_value",
        float,
        f"must be at least 0 and at most {LARGEST_AMOUNT:.0e} CNY",
        lambda v: (v >= 0) & (v <= LARGEST_AMOUNT),
    ),
    Column(
        "patents",
        int,
        f"must be a whole number from 0 to {MOST_PATENTS:,}",
        lambda v: (v >= 0) & (v <= MOST_PATENTS),
        False,
    ),
    Column(
        "pd",
        float,
        "must be at least 0 and below 1 (annual probability of default)",
        lambda v: (v >= 0) & (v < 1),
        False,
    ),
    Column(
        "hazard_rate",
        float,
        "must be at least 0 (annual hazard rate of default)",
        lambda v: v >= 0,
        False,
    ),
    Column(
        "recovery_rate",
        float,
        "must be from 0 to 1 (fraction of defaulted balance)",
        lambda v: (v >= 0) & (v <= 1),
        False,
    ),
    Column("related_group", str, "", None, False),
    Column("ip_registration", str, "", None, False),
    Column(
        "ip_expiry",
        str,
        "must be a date written YYYY-MM-DD (end of the pledged IP's protection period)",
        lambda v: _is_iso_date(v),
        False,
    ),
    # A flag: blank is refused too, since a blank would have to be read as "not related" to pass
    # the related-party test (securitize/rules.py) — a default the tape did not state.
    Column(
        "related_party",
        bool,
        f"{FLAG_RULE}: whether the loan's cash flows come from the originator or its related "
        "parties (原始权益人及其关联方); once the column is given, every row must say",
        None,
        False,
    ),
)


@dataclass(frozen=True)
class Tape:
    """A validated loan tape: typed columns, its notes and where it came from."""

    loans: pd.DataFrame
    path: Path | None
    notes: tuple[str, ...]


def _fail(path: Path, frame: pd.DataFrame, row: int, column: str, rule: str) -> TapeError:
    value = frame[column].iloc[row] if column in frame else None
    loan = frame["loan_id"].iloc[row] if "loan_id" in frame else ""
    where = f"row {row + 1}" + (f" (loan {str(loan)[:40]})" if str(loan).strip() else "")
    return TapeError(f"{path}: {where}, column '{column}': value {quoted(value)}: {rule}")


def typed_columns(path: Path, frame: pd.DataFrame, columns: tuple[Column, ...]) -> pd.DataFrame:
    """``frame`` with each of ``columns`` it has typed and checked: the first cell that breaks
    its column's rule is an error naming file, row, column, value and rule (tapes and loan
    histories share this)."""
    typed = frame.copy()
    for column in columns:
        if column.name not in frame.columns:
            continue
        values = _typed(path, frame, column)
        if column.check is not None:
            present = values.notna() & (values != "")
            broken = present & ~column.check(values).fillna(False).astype(bool)
            if broken.any():
                raise _fail(path, frame, int(np.flatnonzero(broken)[0]), column.name, column.rule)
        typed[column.name] = values
    return typed


def _typed(path: Path, frame: pd.DataFrame, column: Column) -> pd.Series:
    """The column converted to its type; blanks in optional columns become NaN / ''."""
    raw = frame[column.name]
    if column.kind is bool:
        text = raw.astype(str).str.strip().str.lower().where(raw.notna(), "")
        known = text.isin(TRUE_TEXT + FALSE_TEXT)
        if not known.all():
            raise _fail(path, frame, int(np.flatnonzero(~known)[0]), column.name, column.rule)
        return text.isin(TRUE_TEXT)
    if column.kind is str:
        text = raw.astype(str).str.strip()
        text = text.where(raw.notna(), "")
        long = text.str.len() > LONGEST_TEXT
        if long.any():
            row = int(np.flatnonzero(long)[0])
            rule = f"is {len(text.iloc[row])} characters long; at most {LONGEST_TEXT}"
            raise _fail(path, frame, row, column.name, rule)
        if column.required:
            blank = text == ""
            if blank.any():
                raise _fail(path, frame, int(np.flatnonzero(blank)[0]), column.name, column.rule)
        return text
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    numbers = pd.to_numeric(raw.where(~blank, None), errors="coerce")
    not_number = (numbers.isna() | np.isinf(numbers)) & ~blank
    if column.required:
        not_number |= blank
    if not_number.any():
        rule = f"is not a finite number; {column.rule}"
        raise _fail(path, frame, int(np.flatnonzero(not_number)[0]), column.name, rule)
    if column.kind is int:
        fractional = numbers.notna() & (numbers != np.round(numbers))
        if fractional.any():
            raise _fail(path, frame, int(np.flatnonzero(fractional)[0]), column.name, column.rule)
    return numbers.astype(float)


def validate_tape(frame: pd.DataFrame, path: Path, notes: tuple[str, ...] = ()) -> Tape:
    """Check columns and every row; return typed loans or raise naming the first broken rule."""
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    known = {c.name for c in COLUMNS}
    for name in frame.columns:
        if name not in known and name.lower() in known:
            raise TapeError(
                f"{path}: column '{name}' looks like '{name.lower()}'; "
                "tape column names are lower case (see docs/tape.md)"
            )
    missing = [c.name for c in COLUMNS if c.required and c.name not in frame.columns]
    if missing:
        raise TapeError(
            f"{path}: missing required column(s) {', '.join(repr(m) for m in missing)} "
            "(see docs/tape.md)"
        )
    if frame.empty:
        raise TapeError(f"{path}: the tape has no loan rows")
    loans = typed_columns(path, frame, COLUMNS)
    duplicated = loans["loan_id"].duplicated()
    if duplicated.any():
        raise _fail(path, frame, int(np.flatnonzero(duplicated)[0]), "loan_id", "is used twice")
    loans["tenor_months"] = loans["tenor_months"].astype(int)
    return Tape(loans, path, notes)


def flags(loans: pd.DataFrame, path: Path | None, column: str) -> np.ndarray:
    """A true/false column as booleans; a cell that is neither (blank included) is a tape error
    naming the row, the loan and the value."""
    values = loans[column]
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=bool)
    text = values.astype(str).str.strip().str.lower().where(values.notna(), "")
    known = text.isin(TRUE_TEXT + FALSE_TEXT)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise TapeError(
            f"{path}: row {row + 1} (loan {loans['loan_id'].iloc[row]}), column '{column}': "
            f"value {quoted(values.iloc[row])}: {FLAG_RULE}"
        )
    return text.isin(TRUE_TEXT).to_numpy()


def ip_labels(
    loans: pd.DataFrame, path: Path | None, column: str = "ip_label"
) -> tuple[np.ndarray | None, str]:
    """Which loans count towards the sci-tech / IP label (知识产权) test, and how that was read.

    The tape's ``column`` (true/false) when it has one; else a loan counts when it pledges at
    least one patent (``patents > 0``); with neither column the labels are unknown (``None``).
    The same reading serves the selection's ``label_min`` limit and the exchange rule block.
    """
    if column in loans:
        return flags(loans, path, column), f"tape column '{column}'"
    if "patents" in loans:
        return (
            loans["patents"].fillna(0).to_numpy() > 0,
            f"patents > 0: the tape has no '{column}' column",
        )
    return None, f"none: the tape has neither '{column}' nor 'patents'"


def load_tape(path: Path) -> Tape:
    """Read a CSV, Excel or Parquet tape and validate it."""
    frame, notes = read_table(path)
    return validate_tape(frame, path, tuple(notes))
