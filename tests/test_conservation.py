"""Properties every waterfall run must keep, over random small deals built through the scenario API.

Each example is a scenario (an inline pool or a small tape, 2–3 tranches, a random priority of
payments drawn from every step type, an optional reserve account, triggers, guarantee and
clean-up call) run on sparse random defaults and prepayments. The accounting identities below
are read off ``securitize/waterfall/ledger.py`` and the kernel:

* On a payment date the cash in is ``available`` (this period's collections, the cash carried
  from the last date and the clean-up call proceeds) plus what the reserve accounts pay into the
  pot during the date (``draws``: draw steps, releases of excess over target and, at the legal
  final month, the release of every account's balance):

      available + draws
          = fees + interest + guarantor reimbursements + principal + residual + deposits + carried

* Over the deal: collections received (before any clean-up call) + call proceeds + opening
  reserve balances = everything paid out + what the accounts hold at the end.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from securitize.collections import PeriodCollections
from securitize.credit.paths import DefaultChunk
from securitize.enhancers.pool_cover import pool_cover_claims
from securitize.period_cash import collect
from securitize.pool import build_pool
from securitize.scenario import LoadedScenario, parse_scenario
from securitize.schedules import AMORTISATION_TYPES
from securitize.structure import Structure, build_structure
from securitize.waterfall.ledger import TRANCHE_SERIES, TRANCHE_TOTALS, Ledger, run_waterfall

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RELATIVE = 1e-6
TINY = 1e-6
CENT = 0.01

TAPE_HEADER = (
    "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
    "ip_appraised_value,pd,recovery_rate"
)


@dataclass(frozen=True)
class Spec:
    """A drawn deal: the scenario mapping, its tape (or none), and the events on each path."""

    data: dict[str, Any]
    tape: str | None
    paths: int
    defaults: tuple[tuple[int, int, int], ...]
    prepayments: tuple[tuple[int, int, int], ...]
    guarantor_months: tuple[int, ...]
    sequential_only: bool = False


@dataclass(frozen=True)
class Case:
    spec: Spec
    structure: Structure
    period: PeriodCollections
    monthly_cash: np.ndarray
    ledger: Ledger


# -- drawing deals ---------------------------------------------------------------------------


def _fraction(draw, low: float, high: float, places: int = 4) -> float:
    return round(draw(st.floats(low, high, allow_nan=False)), places)


@st.composite
def _pool(draw) -> tuple[dict[str, Any], str | None, list[int]]:
    loans = draw(st.integers(2, 6))
    if draw(st.booleans()):
        tenor = draw(st.integers(1, 36))
        inline = {
            "count": loans,
            "balance": float(draw(st.integers(100_000, 3_000_000))),
            "annual_pd": 0.02,
            "recovery_rate": _fraction(draw, 0.0, 1.0),
            "tenor_months": tenor,
            "coupon": _fraction(draw, 0.0, 0.12),
            "amortisation": draw(st.sampled_from(AMORTISATION_TYPES)),
        }
        return {"inline": inline}, None, [tenor] * loans
    rows, tenors = [TAPE_HEADER], []
    for i in range(loans):
        tenor = draw(st.integers(1, 36))
        tenors.append(tenor)
        balance = draw(st.integers(100_000, 5_000_000))
        coupon = _fraction(draw, 0.0, 0.12)
        kind = draw(st.sampled_from(AMORTISATION_TYPES))
        recovery = _fraction(draw, 0.0, 1.0)
        rows.append(
            f"L{i},Firm {i},Software,Lucheng,{balance},{coupon},{tenor},{kind},70,0,0.02,{recovery}"
        )
    return {"tape": "tape.csv"}, "\n".join(rows) + "\n", tenors


def _target(draw, tranches: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["amount", "pool", "notes", "tranche"]))
    if kind == "amount":
        return {"amount": float(draw(st.integers(0, 200_000)))}
    share_of = tranches[0] if kind == "tranche" else kind
    return {
        "share_of": share_of,
        "share": _fraction(draw, 0.0, 0.05),
        "floor": float(draw(st.sampled_from([0, 0, 5_000, 50_000]))),
    }


def _principal_steps(draw, tranches: list[str], sequential_only: bool) -> list[dict[str, Any]]:
    """Principal steps that pay every tranche. Under ``sequential_only`` every step is
    sequential, pays down to zero (no ``to_target``) and lists a run of tranches from the top."""
    everyone = {"pay": "principal", "tranches": tranches}
    amount = draw(st.sampled_from(["principal_due", "principal_due", "all"]))
    if sequential_only:
        shape = draw(st.sampled_from(["one", "prefix"]))
        if shape == "one":
            return [{**everyone, "amount": amount}]
        k = draw(st.integers(1, len(tranches) - 1))
        return [
            {"pay": "principal", "tranches": tranches[:k]},
            {**everyone, "amount": draw(st.sampled_from(["principal_due", "all"]))},
        ]
    shape = draw(st.sampled_from(["sequential", "pro_rata", "pro_rata_top", "to_target"]))
    if shape == "sequential":
        return [{**everyone, "amount": amount}]
    if shape == "pro_rata":
        return [{**everyone, "mode": "pro_rata", "amount": amount}]
    if shape == "pro_rata_top":
        return [
            {"pay": "principal", "tranches": tranches[:2], "mode": "pro_rata"},
            {"pay": "principal", "tranches": tranches, "amount": amount},
        ]
    return [
        {
            "pay": "principal",
            "tranches": [tranches[0]],
            "amount": "to_target",
            "target": _target(draw, tranches),
            "mode": draw(st.sampled_from(["sequential", "pro_rata"])),
        },
        {**everyone, "amount": amount},
    ]


@st.composite
def specs(draw, sequential_only: bool = False) -> Spec:
    pool, tape, tenors = draw(_pool())
    longest = max(tenors)
    interval = draw(st.integers(1, 6))
    lag = draw(st.integers(0, 12))
    deal: dict[str, Any] = {
        "name": "prop",
        "closing_date": dt.date(2024, 1, 1),
        "payment_interval_months": interval,
    }
    if draw(st.booleans()):
        deal["legal_final_months"] = longest + draw(st.integers(0, 15))
    if draw(st.integers(0, 2)) == 0:
        deal["clean_up_call"] = _fraction(draw, 0.05, 0.3)
    floating = draw(st.booleans())
    if floating:
        deal["index_rate"] = _fraction(draw, 0.0, 0.05)

    count = draw(st.integers(2, 3))
    names = ["senior", "mezzanine", "junior"][:count]
    weights = draw(st.lists(st.integers(1, 20), min_size=count, max_size=count))
    shares = [w / sum(weights) for w in weights[:-1]]
    shares.append(1.0 - sum(shares))
    tranches = []
    for j, (name, share) in enumerate(zip(names, shares, strict=True)):
        tranche: dict[str, Any] = {"name": name, "share": share}
        if floating and j < count - 1:
            tranche["margin"] = _fraction(draw, 0.0, 0.05)
        else:
            tranche["coupon"] = _fraction(draw, 0.0, 0.12)
        if j > 0 and draw(st.booleans()):
            tranche["deferrable"] = True
        tranches.append(tranche)
    deferrable = [t["name"] for t in tranches if t.get("deferrable")]

    data: dict[str, Any] = {
        "deal": deal,
        "pool": pool,
        "credit": {"recovery_lag_months": lag},
        "tranches": tranches,
    }
    guaranteed = draw(st.booleans())
    if guaranteed:
        fee_bp = float(draw(st.integers(0, 150)))
        kind = draw(st.sampled_from(["full_guarantee", "partial_guarantee", "crmw"]))
        guarantor: dict[str, Any] = {
            "name": "guarantor",
            "type": kind,
            "covers": "senior",
            "fee_bp": fee_bp,
            "policy_discount_bp": min(fee_bp, 20.0),
            "annual_pd": 0.01,
            "asset_correlation": 0.2,
            "recovery_rate": _fraction(draw, 0.0, 1.0),
        }
        if kind != "full_guarantee":
            guarantor["share"] = _fraction(draw, 0.1, 1.0)
            guarantor["cap"] = float(draw(st.sampled_from([1e4, 1e5, 1e6, 1e9])))
        data["enhancers"] = [guarantor]
        if draw(st.booleans()):
            # The originator's undertaking is called first, on every tranche it names.
            data["enhancers"].append(
                {
                    "name": "originator",
                    "type": "shortfall_undertaking",
                    "covers": draw(st.sampled_from(names[:-1])),
                    "annual_pd": 0.02,
                    "asset_correlation": 0.3,
                    "recovery_rate": _fraction(draw, 0.0, 1.0),
                }
            )
    for k in range(draw(st.integers(0, 2))):
        # Pool covers: a share of each loss, within a per-borrower and an overall cap.
        cover: dict[str, Any] = {
            "name": f"cover{k}",
            "annual_pd": 0.01,
            "asset_correlation": 0.2,
            "recovery_rate": _fraction(draw, 0.0, 1.0),
        }
        kind = draw(st.sampled_from(["first_loss", "loan_guarantee", "risk_pool"]))
        cover["type"] = kind
        if kind == "loan_guarantee":
            bank = _fraction(draw, 0.2, 0.9)
            cover["risk_split"] = {"bank": bank, "city": 1.0 - bank}
            cover["per_borrower_cap"] = float(draw(st.sampled_from([1e4, 1e5, 1e6])))
        else:
            cover["cap"] = float(draw(st.sampled_from([1e4, 1e5, 1e6])))
            if kind == "risk_pool":
                cover["share"] = _fraction(draw, 0.1, 1.0)
        data.setdefault("enhancers", []).append(cover)

    reserve = draw(st.booleans())
    if reserve:
        data["accounts"] = [
            {
                "name": "reserve",
                "target": _target(draw, names),
                "initial": float(draw(st.sampled_from([0, 0, 10_000, 100_000]))),
            }
        ]

    triggers = []
    for k in range(draw(st.integers(0, 2))):
        metric = draw(
            st.sampled_from(
                ["cumulative_default_ratio", "overcollateralisation", "interest_shortfall"]
            )
        )
        trigger: dict[str, Any] = {
            "name": f"trigger{k}",
            "metric": metric,
            "effect": draw(st.sampled_from(["sequential", "accelerate"])),
            "curable": draw(st.booleans()),
        }
        if metric == "cumulative_default_ratio":
            trigger["above"] = _fraction(draw, 0.0, 0.5)
        elif metric == "overcollateralisation":
            if draw(st.booleans()):
                trigger["below"] = _fraction(draw, 0.8, 1.2)
            else:
                trigger["above"] = _fraction(draw, 1.0, 2.0)
        triggers.append(trigger)
    data["triggers"] = triggers

    shape = draw(st.sampled_from(["default", "combined", "separate"]))
    if shape == "default":
        data["fees"] = [
            {"name": f"fee{k}", "rate_bp": float(draw(st.integers(0, 100)))}
            for k in range(draw(st.integers(0, 2)))
        ]
        if reserve:
            # Accounts need a waterfall to use them.
            shape = "combined"
            data["fees"] = []
    if shape != "default":
        fees = []
        for k in range(draw(st.integers(0, 2))):
            basis = draw(st.sampled_from(["pool_balance", "tranche_balance", "fixed"]))
            fee: dict[str, Any] = {"pay": "fee", "name": f"fee{k}", "basis": basis}
            if basis == "fixed":
                fee["amount_per_year"] = float(draw(st.integers(0, 50_000)))
            else:
                fee["rate_bp"] = float(draw(st.integers(0, 100)))
            if basis == "tranche_balance":
                fee["tranche"] = draw(st.sampled_from(names))
            fees.append(fee)
        senior_steps: list[dict[str, Any]] = list(fees)
        if guaranteed:
            senior_steps.append({"pay": "guarantee_fee", "enhancer": "guarantor"})
        interest: list[dict[str, Any]] = []
        if reserve and draw(st.booleans()):
            interest.append(
                {
                    "draw": "reserve",
                    "account": "reserve",
                    "cover_fees": draw(st.booleans()),
                    "cover_interest": names[: draw(st.integers(0, count - 1))],
                }
            )
        if draw(st.booleans()):
            interest.append({"pay": "interest", "tranches": names[:2]})
            rest = names[2:]
        else:
            rest = names
        interest += [{"pay": "interest", "tranches": [name]} for name in rest]
        if draw(st.booleans()):
            # A second interest step for a tranche pays only its arrears.
            interest.append({"pay": "interest", "tranches": [names[0]]})
        deferred = (
            [{"pay": "deferred_interest", "tranches": deferrable}]
            if deferrable and draw(st.booleans())
            else []
        )
        fund = [{"pay": "reserve", "account": "reserve"}] if reserve else []
        principal = _principal_steps(draw, names, sequential_only)
        residual = [{"pay": "residual", "tranche": names[-1]}] if draw(st.integers(0, 3)) else []
        late_deferred = draw(st.booleans())
        if shape == "combined":
            steps = senior_steps + interest + (deferred if not late_deferred else [])
            steps += fund + principal + (deferred if late_deferred else []) + residual
            data["waterfall"] = {"combined": steps}
        else:
            data["waterfall"] = {
                "interest": senior_steps
                + interest
                + fund
                + (deferred if not late_deferred else []),
                "principal": principal + (deferred if late_deferred else []) + residual,
            }

    paths = draw(st.integers(1, 4))
    defaults, prepayments = [], []
    for p in range(paths):
        for i, tenor in enumerate(tenors):
            event = draw(st.integers(0, 3))
            if event == 1:
                defaults.append((p, i, draw(st.integers(1, tenor))))
            elif event == 2 and tenor > 1:
                prepayments.append((p, i, draw(st.integers(1, tenor - 1))))
    horizon_guess = deal.get("legal_final_months", longest + lag + interval)
    guarantor_months = tuple(draw(st.integers(1, horizon_guess + 1)) for _ in range(paths))
    return Spec(
        data,
        tape,
        paths,
        tuple(defaults),
        tuple(prepayments),
        guarantor_months,
        sequential_only,
    )


def _events(rows: tuple[tuple[int, int, int], ...]) -> tuple[np.ndarray, ...]:
    array = np.array(rows, dtype=np.int64).reshape(-1, 3)
    return array[:, 0], array[:, 1], array[:, 2]


def run(spec: Spec) -> Case:
    """Build the scenario through the real API in a temporary folder and run the waterfall."""
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder) / "deal.toml"
        if spec.tape is not None:
            (Path(folder) / "tape.csv").write_text(spec.tape, encoding="utf-8")
        loaded = LoadedScenario(scenario=parse_scenario(spec.data, where), path=where, raw=b"")
        pool = build_pool(loaded)
        structure = build_structure(loaded, pool)
    path, loan, month = _events(spec.defaults)
    collections = collect(
        pool.schedule,
        pool.recovery_rate,
        loaded.scenario.credit.recovery_lag_months,
        structure.horizon,
        spec.paths,
        path,
        loan,
        month,
        prepayments=_events(spec.prepayments),
    )
    guarantor = np.array(spec.guarantor_months, dtype=np.int64)[:, None]
    # Enhancers default one month apart, from the path's drawn month on.
    guarantor = guarantor + np.arange(len(structure.guarantees))[None, :]
    chunk = DefaultChunk(
        0,
        spec.paths,
        0,
        np.zeros(spec.paths),
        np.zeros(spec.paths),
        path,
        loan,
        month,
        pool.recovery_rate[loan],
    )
    covers = pool_cover_claims(pool, structure, chunk)
    ledger = run_waterfall(structure, collections, guarantor, covers)
    period = collections.by_period(structure.payment_months, structure.pool_balance)
    return Case(spec, structure, period, collections.cash, ledger)


# -- what the ledger says --------------------------------------------------------------------


def paid_out(ledger: Ledger) -> np.ndarray:
    """Everything a party received from the pot, paths × payment periods."""
    total = sum(ledger.fees_paid.values(), np.zeros_like(ledger.residual))
    for t in ledger.tranches:
        total = total + t.interest_paid + t.guarantor_reimbursed + t.principal_paid
    return total + ledger.residual


def total(values: dict[str, np.ndarray], like: np.ndarray) -> np.ndarray:
    return sum(values.values(), np.zeros_like(like))


def opening_accounts(case: Case) -> dict[str, np.ndarray]:
    """Each account's balance before each payment date (the initial one before the first)."""
    out = {}
    for account in case.structure.accounts:
        after = case.ledger.accounts[account.name]
        before = np.empty_like(after)
        before[:, 0] = account.initial
        before[:, 1:] = after[:, :-1]
        out[account.name] = before
    return out


def carried_in(case: Case) -> np.ndarray:
    carried = case.ledger.carried
    return np.column_stack([np.zeros(carried.shape[0]), carried[:, :-1]])


def received(case: Case) -> np.ndarray:
    """Collections that reach the deal on each date: none after a clean-up call, and on the call
    date also the performing balance the originator buys at par."""
    period, called = case.period, case.ledger.called
    before = np.column_stack([np.zeros(called.shape[0], dtype=bool), called[:, :-1]])
    cash = np.where(before, 0.0, period.interest + period.principal + period.recoveries)
    call_date = called & ~before
    return cash + np.where(call_date, period.performing_balance, 0.0) + case.ledger.cover_cash


def close(got: np.ndarray, expected: np.ndarray, scale: np.ndarray | float = 1.0) -> bool:
    tolerance = RELATIVE * np.maximum(1.0, np.maximum(np.abs(expected), scale))
    return bool(np.all(np.abs(got - expected) <= tolerance))


# -- properties ------------------------------------------------------------------------------


@SETTINGS
@given(specs())
def test_cash_in_equals_cash_out_on_every_payment_date(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    cash_in = ledger.available + total(ledger.draws, ledger.available)
    cash_out = paid_out(ledger) + total(ledger.deposits, ledger.available) + ledger.carried
    assert close(cash_out, cash_in), np.abs(cash_out - cash_in).max()


@SETTINGS
@given(specs())
def test_available_funds_are_collections_plus_carried_cash(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    own = ledger.available - carried_in(case)
    assert close(own, received(case))
    # Summed over the deal: every month's collections (and the pool covers' payments) are
    # available on some payment date (on paths the originator never called).
    never_called = ~ledger.called[:, -1]
    collected = case.monthly_cash.sum(axis=1) + ledger.cover_cash.sum(axis=1)
    assert close(own.sum(axis=1)[never_called], collected[never_called])


@SETTINGS
@given(specs())
def test_everything_collected_is_paid_out_or_still_in_an_account(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    initial = sum((a.initial for a in case.structure.accounts), 0.0)
    still_held = sum(
        (ledger.accounts[a.name][:, -1] for a in case.structure.accounts),
        np.zeros(spec.paths),
    )
    inflow = received(case).sum(axis=1) + initial
    outflow = paid_out(ledger).sum(axis=1) + still_held + ledger.carried[:, -1]
    assert close(outflow, inflow)


@SETTINGS
@given(specs())
def test_account_balances_move_by_deposits_less_draws(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    for name, before in opening_accounts(case).items():
        expected = before + ledger.deposits[name] - ledger.draws[name]
        assert close(ledger.accounts[name], expected), name


@SETTINGS
@given(specs())
def test_no_payment_balance_arrears_or_account_is_negative(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    floor = -TINY
    arrays: dict[str, np.ndarray] = {
        "available": ledger.available,
        "due": ledger.due,
        "residual": ledger.residual,
        "carried": ledger.carried,
    }
    for kind in (
        "fees_paid",
        "accounts",
        "deposits",
        "draws",
        "unpaid_fees",
        "claims",
        "reimbursed",
    ):
        for name, values in getattr(ledger, kind).items():
            arrays[f"{kind}.{name}"] = values
    for j, t in enumerate(ledger.tranches):
        for name in (*TRANCHE_SERIES, *TRANCHE_TOTALS):
            arrays[f"tranche{j}.{name}"] = getattr(t, name)
    for name, values in arrays.items():
        assert np.all(values >= floor), (name, values.min())


@SETTINGS
@given(specs())
def test_tranche_balances_never_increase_and_match_principal_paid(spec: Spec) -> None:
    case = run(spec)
    for terms, t in zip(case.structure.tranches, case.ledger.tranches, strict=True):
        opening = np.column_stack([np.full(spec.paths, terms.balance), t.balance])
        assert np.all(np.diff(opening, axis=1) <= TINY), terms.name
        paid = np.cumsum(t.principal_paid, axis=1)
        assert close(t.balance, terms.balance - paid, terms.balance), terms.name
        assert np.all(paid[:, -1] <= terms.balance * (1 + RELATIVE)), terms.name
        assert close(t.unpaid_principal, t.balance[:, -1], terms.balance)


@SETTINGS
@given(specs())
def test_interest_owed_is_paid_advanced_or_still_in_arrears(spec: Spec) -> None:
    # Every date's current interest is paid to investors (now or later, from the pot), advanced
    # by the guarantor, or still owed to investors at the end; the guarantor is owed exactly
    # what it advanced less what the pot paid back.
    case = run(spec)
    for terms, t in zip(case.structure.tranches, case.ledger.tranches, strict=True):
        owed = t.interest_due.sum(axis=1)
        settled = t.interest_paid.sum(axis=1) + t.guarantor_interest.sum(axis=1)
        assert close(settled + t.investor_arrears, owed, terms.balance), terms.name
        advanced = t.guarantor_interest.sum(axis=1) - t.guarantor_reimbursed.sum(axis=1)
        assert close(t.guarantor_arrears, advanced, terms.balance), terms.name


@SETTINGS
@given(specs())
def test_states_that_do_not_cure_never_switch_off(spec: Spec) -> None:
    case = run(spec)
    ledger = case.ledger
    for series in (ledger.accelerated, ledger.called):
        assert np.all(np.diff(series.astype(int), axis=1) >= 0)
    for trigger in case.structure.triggers:
        if not trigger.curable:
            state = ledger.triggers[trigger.name].astype(int)
            assert np.all(np.diff(state, axis=1) >= 0), trigger.name


@SETTINGS
@given(specs())
def test_every_reserve_account_is_empty_at_the_legal_final_month(spec: Spec) -> None:
    case = run(spec)
    for name, balance in case.ledger.accounts.items():
        assert np.all(np.abs(balance[:, -1]) <= TINY), (name, balance[:, -1])
    assert np.all(case.ledger.carried[:, -1] == 0.0)


# Under purely sequential principal — every principal step sequential, paying down to zero (no
# to_target) and listing a run of tranches from the most senior; the post-acceleration program
# the default one (each tranche's interest and all its principal in turn); triggers may accelerate
# but there is no pro rata step for them to switch — principal reaches a tranche on a date only
# once every more senior tranche is repaid, so losses fall bottom-up.


@SETTINGS
@given(specs(sequential_only=True))
def test_junior_receives_principal_only_once_every_senior_is_repaid(spec: Spec) -> None:
    case = run(spec)
    tranches = case.ledger.tranches
    for j in range(1, len(tranches)):
        paid = tranches[j].principal_paid > TINY
        for i in range(j):
            assert np.all(tranches[i].balance[paid] <= TINY), (i, j)


@SETTINGS
@given(specs(sequential_only=True))
def test_losses_fall_bottom_up_at_the_legal_final_month(spec: Spec) -> None:
    case = run(spec)
    tranches, terms = case.ledger.tranches, case.structure.tranches
    for i in range(len(tranches)):
        senior_short = tranches[i].unpaid_principal > CENT
        for j in range(i + 1, len(tranches)):
            # A senior shortfall at the end means the junior never received any principal: it
            # lost its whole balance, so its loss ratio is at least the senior's.
            junior_paid = tranches[j].principal_paid.sum(axis=1)
            assert np.all(junior_paid[senior_short] <= TINY), (i, j)
            ratio_senior = tranches[i].unpaid_principal / terms[i].balance
            ratio_junior = tranches[j].unpaid_principal / terms[j].balance
            assert np.all(ratio_junior >= ratio_senior - RELATIVE), (i, j)


@SETTINGS
@given(specs())
def test_each_enhancer_pays_what_the_tranches_record_within_its_cap(spec: Spec) -> None:
    case = run(spec)
    ledger, structure = case.ledger, case.structure
    for j, t in enumerate(ledger.tranches):
        called = [structure.guarantees[k].name for k in structure.enhancers_of(j)]
        claims = total({n: ledger.claims[n] for n in called}, t.interest_paid)
        assert close(claims, t.guarantor_interest + t.guarantor_principal)
        back = total({n: ledger.reimbursed[n] for n in called}, t.interest_paid)
        assert close(back, t.guarantor_reimbursed)
    pool_level = {g.name: ledger.claims[g.name] for g in structure.guarantees if g.pool_level}
    assert close(total(pool_level, ledger.cover_cash), ledger.cover_cash)
    for g in structure.guarantees:
        # What a guarantor pays never exceeds its cap (a defaulted one pays less).
        assert np.all(ledger.claims[g.name].sum(axis=1) <= g.cap * (1 + RELATIVE) + TINY), g.name
