"""Eligibility criteria (入池标准): each loan against each criterion, with the value it showed.

The result is a loans × criteria table of pass / fail. A criterion is named after the scenario
field that states it (``eligibility.score_min``, ``rules[2]``), so the exclusion report points a
reader at the line of the scenario that excluded a loan, and shows the loan's value beside the
threshold. A blank cell never meets a criterion that needs it: a loan must show that it is
eligible. User rules (``[[selection.rules]]``) are evaluated by comparison, never by ``eval``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from securitize.errors import ScenarioError
from securitize.selection.candidates import Candidates
from securitize.selection.spec import Rule, SelectionSpec, show_value
from securitize.tape import FALSE_TEXT, TRUE_TEXT


@dataclass(frozen=True)
class Criterion:
    """One criterion evaluated on every loan: did it pass, and what value did the loan show."""

    name: str
    label: str
    passed: np.ndarray
    shown: np.ndarray

    def describe(self, row: int) -> str:
        return f"{self.name} ({self.label}): {self.shown[row]}"


@dataclass(frozen=True)
class Eligibility:
    """Every candidate against every criterion."""

    loan_ids: np.ndarray
    criteria: tuple[Criterion, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def eligible(self) -> np.ndarray:
        passed = np.ones(len(self.loan_ids), dtype=bool)
        for criterion in self.criteria:
            passed &= criterion.passed
        return passed

    def table(self) -> pd.DataFrame:
        """Loans × criteria: True where the loan meets the criterion."""
        return pd.DataFrame(
            {c.name: c.passed for c in self.criteria},
            index=pd.Index(self.loan_ids, name="loan_id"),
            dtype=bool,
        )

    def broken(self, row: int) -> list[str]:
        return [c.describe(row) for c in self.criteria if not c.passed[row]]

    def met(self, row: int) -> list[str]:
        return [c.describe(row) for c in self.criteria if c.passed[row]]

    def failures(self) -> dict[str, int]:
        return {c.name: int((~c.passed).sum()) for c in self.criteria}


def _fmt_money(value: float) -> str:
    return f"CNY {value / 1e6:,.2f}m"


def _fmt_pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def _shown(values: pd.Series | np.ndarray, fmt: Callable[[float], str], what: str) -> np.ndarray:
    return np.array(
        [
            f"{what} blank" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt(v)
            for v in values
        ],
        dtype=object,
    )


def _numeric(loans: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(loans[column], errors="coerce").to_numpy(dtype=float)


def _needs(loans: pd.DataFrame, column: str, field: str, value: object, source: Path) -> None:
    if column not in loans:
        raise ScenarioError(
            f"{source}: field 'selection.eligibility.{field}': value {value!r}: needs the "
            f"candidate tape column '{column}', which the tape does not have"
        )


def _bound(
    loans: pd.DataFrame, column: str, field: str, limit: float, sense: str, what: str, fmt
) -> Criterion:
    values = _numeric(loans, column)
    with np.errstate(invalid="ignore"):
        passed = values >= limit if sense == "min" else values <= limit
    sign = "≥" if sense == "min" else "≤"
    return Criterion(
        f"eligibility.{field}",
        f"{what} {sign} {fmt(limit)}",
        passed & ~np.isnan(values),
        _shown(values, lambda v: f"{what} {fmt(v)}", what),
    )


def _member(loans: pd.DataFrame, column: str, field: str, allowed: list[str]) -> Criterion:
    values = loans[column].astype(str).str.strip()
    shown = ", ".join(allowed) if len(allowed) <= 6 else f"{len(allowed)} listed values"
    return Criterion(
        f"eligibility.{field}",
        f"{column} in {shown}",
        values.isin([a.strip() for a in allowed]).to_numpy(),
        np.array([f"{column} '{v}'" for v in values], dtype=object),
    )


def _availability(candidates: Candidates) -> Criterion:
    loans = candidates.loans
    cut = pd.Timestamp(candidates.cut_off)
    shown = []
    for row in loans.itertuples(index=False):
        origination = getattr(row, "origination_date", pd.NaT)
        if pd.notna(origination) and origination > cut:
            shown.append(f"originated {origination.date().isoformat()}")
        elif not row.available:
            shown.append(f"matured {row.maturity_date.date().isoformat()}")
        else:
            shown.append(f"{int(row.tenor_months)} months remaining")
    return Criterion(
        "cut_off",
        f"originated by the cut-off {candidates.cut_off.isoformat()} and not yet matured",
        loans["available"].to_numpy(dtype=bool),
        np.array(shown, dtype=object),
    )


def _criteria_from_spec(
    candidates: Candidates, spec: SelectionSpec, source: Path
) -> list[Criterion]:
    loans = candidates.loans
    rules = spec.eligibility
    out: list[Criterion] = []
    if any(c in loans for c in ("origination_date", "balance_date")):
        out.append(_availability(candidates))
    if rules.score_min is not None:
        out.append(
            _bound(loans, "score", "score_min", rules.score_min, "min", "score", "{:g}".format)
        )
    if rules.pd_max is not None:
        out.append(_bound(loans, "annual_pd", "pd_max", rules.pd_max, "max", "annual PD", _fmt_pct))
    if rules.bands is not None:
        out.append(_member(loans, "band", "bands", rules.bands))
    if rules.tenor_months_min is not None:
        out.append(
            _bound(
                loans,
                "tenor_months",
                "tenor_months_min",
                rules.tenor_months_min,
                "min",
                "remaining tenor",
                lambda v: f"{v:g} months",
            )
        )
    if rules.tenor_months_max is not None:
        out.append(
            _bound(
                loans,
                "tenor_months",
                "tenor_months_max",
                rules.tenor_months_max,
                "max",
                "remaining tenor",
                lambda v: f"{v:g} months",
            )
        )
    if rules.balance_min is not None:
        out.append(
            _bound(loans, "balance", "balance_min", rules.balance_min, "min", "balance", _fmt_money)
        )
    if rules.balance_max is not None:
        out.append(
            _bound(loans, "balance", "balance_max", rules.balance_max, "max", "balance", _fmt_money)
        )
    if rules.ltv_max is not None:
        out.append(
            _bound(
                loans, "ltv", "ltv_max", rules.ltv_max, "max", "loan-to-IP-value", "{:.2f}".format
            )
        )
    if rules.ip_protection_months_min is not None:
        _needs(
            loans,
            "ip_protection_end",
            "ip_protection_months_min",
            rules.ip_protection_months_min,
            source,
        )
        out.append(
            _bound(
                loans,
                "ip_protection_months",
                "ip_protection_months_min",
                rules.ip_protection_months_min,
                "min",
                "IP protection beyond maturity",
                lambda v: f"{v:g} months",
            )
        )
    if rules.industries is not None:
        out.append(_member(loans, "industry", "industries", rules.industries))
    if rules.regions is not None:
        out.append(_member(loans, "region", "regions", rules.regions))
    if rules.related_party_balance_max is not None:
        related = loans.get("related_group", pd.Series("", index=loans.index)).fillna("")
        related = related.astype(str).str.strip()
        balance = loans["balance"].to_numpy(dtype=float)
        limit = rules.related_party_balance_max
        out.append(
            Criterion(
                "eligibility.related_party_balance_max",
                f"a related-party loan (related_group given) is at most {_fmt_money(limit)}",
                (related == "").to_numpy() | (balance <= limit),
                np.array(
                    [
                        f"related group '{g}', balance {_fmt_money(b)}" if g else "no related group"
                        for g, b in zip(related, balance, strict=True)
                    ],
                    dtype=object,
                ),
            )
        )
    if rules.seasoning_months_max is not None:
        _needs(
            loans, "origination_date", "seasoning_months_max", rules.seasoning_months_max, source
        )
        out.append(
            _bound(
                loans,
                "seasoning_months",
                "seasoning_months_max",
                rules.seasoning_months_max,
                "max",
                "seasoning",
                lambda v: f"{v:g} months",
            )
        )
    return out


# --- user rules ----------------------------------------------------------------------------

_COMPARE: dict[str, Callable[[np.ndarray, object], np.ndarray]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _rule_error(source: Path, index: int, field: str, value: object, message: str) -> ScenarioError:
    return ScenarioError(
        f"{source}: field 'selection.rules[{index}].{field}': value {value!r}: {message}"
    )


def _value_error(source: Path, index: int, rule: Rule, message: str) -> ScenarioError:
    """The rule's value does not suit its column: the error names the value, not the column."""
    return _rule_error(source, index, "value", rule.value, message)


def _reject_unreadable(
    bad: np.ndarray,
    text: pd.Series,
    rule: Rule,
    index: int,
    source: Path,
    tape_path: object,
    problem: str,
    advice: str = "",
) -> None:
    """Stop at the first non-blank cell (``bad``) that is not of the rule's value type, quoting
    its row so the tape can be fixed; ``problem`` says what is wrong with the column."""
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _value_error(
            source,
            index,
            rule,
            f"column '{rule.column}' of {tape_path} {problem} (row {row + 1}: "
            f"{text.iloc[row]!r}){advice}",
        )


def _column_values(
    loans: pd.DataFrame, rule: Rule, index: int, source: Path, tape_path: object
) -> tuple[np.ndarray, np.ndarray, str]:
    """The column in the type the rule's value has: (values, blank mask, kind)."""
    raw = loans[rule.column]
    sample = rule.value[0] if isinstance(rule.value, list) else rule.value
    if isinstance(raw.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(raw):
        blank = raw.isna().to_numpy()
        if not isinstance(sample, dt.date):
            raise _value_error(
                source,
                index,
                rule,
                f"column '{rule.column}' holds dates; compare it with a date (e.g. 2024-06-30)",
            )
        return raw.dt.date.to_numpy(dtype=object), blank, "date"
    if raw.dtype == bool or pd.api.types.is_bool_dtype(raw):
        if not isinstance(sample, bool):
            raise _value_error(
                source,
                index,
                rule,
                f"column '{rule.column}' holds true/false; compare it with true or false",
            )
        return raw.to_numpy(dtype=bool), np.zeros(len(raw), dtype=bool), "bool"
    text = raw.astype(str).str.strip().where(raw.notna(), "")
    blank = (text == "").to_numpy() | (raw.isna().to_numpy() if raw.dtype != object else False)
    if isinstance(sample, bool):
        lower = text.str.lower()
        bad = ~lower.isin(TRUE_TEXT + FALSE_TEXT) & ~blank
        _reject_unreadable(bad, text, rule, index, source, tape_path, "is not true/false")
        return lower.isin(TRUE_TEXT).to_numpy(), blank, "bool"
    if isinstance(sample, int | float):
        numbers = pd.to_numeric(raw.where(~blank, None), errors="coerce")
        bad = numbers.isna().to_numpy() & ~blank
        advice = "; compare it with text"
        _reject_unreadable(bad, text, rule, index, source, tape_path, "holds text", advice)
        return numbers.to_numpy(dtype=float), blank, "number"
    if isinstance(sample, dt.date):
        parsed = pd.to_datetime(
            text.where(~pd.Series(blank, index=text.index), None),
            format="%Y-%m-%d",
            errors="coerce",
        )
        bad = parsed.isna().to_numpy() & ~blank
        _reject_unreadable(bad, text, rule, index, source, tape_path, "is not a date")
        return parsed.dt.date.to_numpy(dtype=object), blank, "date"
    if pd.api.types.is_numeric_dtype(raw):
        raise _value_error(
            source, index, rule, f"column '{rule.column}' holds numbers; compare it with a number"
        )
    return text.to_numpy(dtype=object), blank, "text"


def _rule_criterion(
    loans: pd.DataFrame, rule: Rule, index: int, source: Path, tape_path: object
) -> Criterion:
    if rule.column not in loans:
        columns = ", ".join(str(c) for c in loans.columns)
        raise _rule_error(
            source,
            index,
            "column",
            rule.column,
            f"not a column of the candidate tape {tape_path} or a derived column "
            f"(available: {columns})",
        )
    values, blank, kind = _column_values(loans, rule, index, source, tape_path)
    present = ~blank
    passed = np.zeros(len(values), dtype=bool)
    if rule.operator in ("in", "not in"):
        wanted = [v.strip() if isinstance(v, str) else v for v in rule.value]
        if kind == "number":
            wanted = [float(v) for v in wanted]
        inside = np.array([v in wanted for v in values], dtype=bool)
        passed = inside if rule.operator == "in" else ~inside
    else:
        target = rule.value
        if kind == "number":
            target = float(target)
        elif kind == "text":
            target = str(target).strip()
        passed = np.array(
            [
                bool(_COMPARE[rule.operator](v, target)) if p else False
                for v, p in zip(values, present, strict=True)
            ],
            dtype=bool,
        )
    passed &= present
    shown = np.array(
        [
            f"{rule.column} blank" if not p else f"{rule.column} {show_value(v)}"
            for v, p in zip(values, present, strict=True)
        ],
        dtype=object,
    )
    return Criterion(f"rules[{index}]", rule.label, passed, shown)


def _unmatched(
    loans: pd.DataFrame, column: str, field: str, allowed: list[str] | None
) -> list[str]:
    if allowed is None or column not in loans:
        return []
    present = set(loans[column].astype(str).str.strip())
    return [
        f"eligibility.{field}: '{value}' matches no candidate (check the spelling)"
        for value in allowed
        if value.strip() not in present
    ]


def evaluate_eligibility(candidates: Candidates, spec: SelectionSpec, source: Path) -> Eligibility:
    """Every candidate against every criterion and rule of ``spec``."""
    loans = candidates.loans
    criteria = _criteria_from_spec(candidates, spec, source)
    for index, rule in enumerate(spec.rules):
        criteria.append(_rule_criterion(loans, rule, index, source, candidates.tape.path))
    warnings = (
        _unmatched(loans, "industry", "industries", spec.eligibility.industries)
        + _unmatched(loans, "region", "regions", spec.eligibility.regions)
        + _unmatched(loans, "band", "bands", spec.eligibility.bands)
    )
    return Eligibility(loans["loan_id"].to_numpy(dtype=object), tuple(criteria), tuple(warnings))
