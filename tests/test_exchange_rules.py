"""The exchange and market rule block: each rule passes and fails (or triggers) where its limit
says, cannot be checked when the tape does not say, and shows in results.json, the terminal
summary and ``pool select``; the tape's ``related_party`` column is validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from securitize import run_scenario
from securitize.cli import main
from securitize.errors import TapeError
from securitize.rules import pool_checks, pool_facts, rule_table
from securitize.summary import format_summary
from securitize.tape import load_tape, validate_tape
from tests.conftest import INTERBANK, INTERBANK_TAPE, PILOT, PILOT_TAPE, TAPE_HEADER, tape_scenario
from tests.selection_support import write_candidate_deal

SOURCE = Path("tape.csv")


def loan(i: int, **fields: Any) -> dict[str, Any]:
    """One tape row (all cells as text, as a CSV gives them): a plain patent-backed loan."""
    row = {
        "loan_id": f"L{i:02d}",
        "enterprise": f"Enterprise {i:02d}",
        "industry": "Smart equipment",
        "region": "Lucheng",
        "balance": 10_000_000,
        "coupon": 0.05,
        "tenor_months": 36,
        "amortisation": "bullet",
        "score": 80,
        "ip_appraised_value": 20_000_000,
        "patents": 2,
    }
    row.update(fields)
    return {k: "" if v is None else str(v) for k, v in row.items()}


def checks(rows: list[dict[str, Any]], label_column: str = "ip_label") -> dict[str, dict]:
    """The pool rules' entries for a tape of ``rows``, by id."""
    tape = validate_tape(pd.DataFrame(rows), SOURCE)
    return {c["id"]: c for c in pool_checks(pool_facts(tape.loans, SOURCE, label_column))}


def limit(rule_id: str) -> float:
    return next(r for r in rule_table()["rules"] if r["id"] == rule_id)["limit"]


# --- debtors -------------------------------------------------------------------------------


def test_ten_unrelated_debtors_pass_and_nine_fail() -> None:
    ten = checks([loan(i) for i in range(10)])["debtor_count"]
    nine = checks([loan(i) for i in range(9)])["debtor_count"]
    assert (ten["status"], ten["value"]) == ("pass", 10)
    assert (nine["status"], nine["value"]) == ("fail", 9)
    assert "9" in nine["message"] and "< 10" in nine["message"]


def test_related_debtors_count_once_and_two_loans_to_one_enterprise_are_one_debtor() -> None:
    rows = [loan(i) for i in range(10)]
    rows[0]["related_group"] = rows[1]["related_group"] = "G1"
    related = checks(rows)["debtor_count"]
    assert (related["status"], related["value"]) == ("fail", 9)
    rows = [loan(i) for i in range(11)]
    rows[10]["enterprise"] = rows[9]["enterprise"]
    assert checks(rows)["debtor_count"]["value"] == 10


def test_a_debtor_above_half_of_the_pool_fails_and_one_at_half_passes() -> None:
    # Ten loans of 1m beside one of 10.41m: 10.41 / 20.41 = 51.0 %.
    big = [loan(0, balance=10_410_000)] + [loan(i, balance=1_000_000) for i in range(1, 11)]
    found = checks(big)["single_debtor"]
    assert found["status"] == "fail"
    assert found["value"] == pytest.approx(10.41 / 20.41)
    assert found["where"] == "Enterprise 00"
    half = [loan(0, balance=10_000_000)] + [loan(i, balance=1_000_000) for i in range(1, 11)]
    assert checks(half)["single_debtor"]["status"] == "pass"  # 10 / 20 = 50 % exactly


def test_a_debtor_with_its_related_parties_is_judged_together() -> None:
    rows = [loan(0, balance=6_000_000), loan(1, balance=6_000_000)] + [
        loan(i, balance=1_000_000) for i in range(2, 12)
    ]
    apart = checks(rows)["single_debtor"]
    rows[0]["related_group"] = rows[1]["related_group"] = "G7"
    together = checks(rows)["single_debtor"]
    assert apart["status"] == "pass" and apart["value"] == pytest.approx(6 / 22)
    assert together["status"] == "fail" and together["value"] == pytest.approx(12 / 22)
    assert "G7" in together["where"]


# --- the IP label --------------------------------------------------------------------------


def test_69_percent_ip_backed_fails_the_label_test_and_70_passes() -> None:
    def share_backed(backed: int) -> dict:
        rows = [loan(0, balance=backed * 1_000_000), loan(1, balance=(100 - backed) * 1_000_000)]
        rows[1]["patents"] = "0"
        return checks(rows)["ip_label"]

    assert share_backed(69)["status"] == "fail"
    assert share_backed(69)["value"] == pytest.approx(0.69)
    assert share_backed(70)["status"] == "pass"  # at the limit
    assert "patents > 0" in share_backed(70)["label_source"]


def test_the_ip_label_column_decides_over_patents() -> None:
    rows = [loan(i, ip_label="yes" if i < 6 else "no") for i in range(10)]
    found = checks(rows)["ip_label"]
    assert found["value"] == pytest.approx(0.6) and found["status"] == "fail"
    assert found["label_source"] == "tape column 'ip_label'"
    # The selection's label_column, when the scenario names one, is the column read.
    rows = [loan(i, tech="true") for i in range(10)]
    for row in rows[:5]:
        row["patents"] = "0"
    assert checks(rows, label_column="tech")["ip_label"]["value"] == pytest.approx(1.0)


def test_without_patents_or_a_label_the_ip_test_cannot_be_checked() -> None:
    rows = [loan(i) for i in range(10)]
    for row in rows:
        del row["patents"]
    found = checks(rows)["ip_label"]
    assert found["status"] == "cannot_check" and found["value"] is None
    assert "ip_label" in found["reason"] and "patents" in found["reason"]


# --- disclosure triggers -------------------------------------------------------------------


def test_debtors_at_15_and_20_percent_trigger_the_exchange_tiers() -> None:
    # Shares 20 %, 15 %, 14.9 % and the rest below.
    balances = [20_000_000, 15_000_000, 14_900_000] + [5_010_000] * 10
    rows = [loan(i, balance=b) for i, b in enumerate(balances)]
    found = checks(rows)
    exchange = found["important_debtors_exchange"]
    assert exchange["status"] == "triggered" and exchange["market"] == "exchange"
    individual, financials = exchange["tiers"]
    assert [d["debtor"] for d in individual["debtors"]] == ["Enterprise 00", "Enterprise 01"]
    assert [d["debtor"] for d in financials["debtors"]] == ["Enterprise 00"]
    assert individual["debtors"][1]["share"] == pytest.approx(0.15)
    interbank = found["important_debtors_interbank"]
    assert interbank["status"] == "not_triggered" and interbank["market"] == "interbank"
    assert all(not t["debtors"] for t in interbank["tiers"])


def test_the_interbank_tiers_trigger_at_30_and_35_percent() -> None:
    balances = [35_000_000, 30_000_000] + [3_500_000] * 10
    tiers = checks([loan(i, balance=b) for i, b in enumerate(balances)])[
        "important_debtors_interbank"
    ]["tiers"]
    assert [len(t["debtors"]) for t in tiers] == [2, 1]
    assert [t["limit"] for t in tiers] == [0.30, 0.35]


def test_no_debtor_at_15_percent_triggers_nothing() -> None:
    found = checks([loan(i) for i in range(10)])["important_debtors_exchange"]
    assert found["status"] == "not_triggered"
    assert found["value"] == pytest.approx(0.1)


# --- related-party cash flows --------------------------------------------------------------


def test_related_party_cash_flows_above_10_percent_are_triggered() -> None:
    def related(share_percent: int) -> dict:
        rows = [
            loan(0, balance=share_percent * 1_000_000, related_party="true"),
            loan(1, balance=(100 - share_percent) * 1_000_000, related_party="false"),
        ]
        return checks(rows)["related_party_cash_flows"]

    eleven = related(11)
    assert eleven["status"] == "triggered" and eleven["value"] == pytest.approx(0.11)
    assert related(10)["status"] == "not_triggered"  # above 10 %, not at it
    rows = [loan(i, related_party="no") for i in range(10)]
    assert checks(rows)["related_party_cash_flows"]["value"] == 0.0


def test_a_tape_without_related_party_cannot_be_checked_rather_than_passing() -> None:
    found = checks([loan(i) for i in range(10)])["related_party_cash_flows"]
    assert found["status"] == "cannot_check" and found["value"] is None
    assert found["reason"] == "the tape has no related_party column (docs/tape.md)"


@pytest.mark.parametrize("value", ["maybe", "", "2", "related"])
def test_a_related_party_cell_that_is_not_true_or_false_is_refused(value: str) -> None:
    rows = [loan(1, related_party="no"), loan(2, related_party=value)]
    with pytest.raises(TapeError) as error:
        validate_tape(pd.DataFrame(rows), SOURCE)
    message = str(error.value)
    assert message.startswith("tape.csv: row 2 (loan L02), column 'related_party': ")
    assert repr(value) in message and "must be true or false" in message
    assert "\n" not in message


def test_related_party_accepts_the_flag_spellings_of_the_selection() -> None:
    cells = ["True", "FALSE", "yes", "No", "1", "0", " y ", "n"]
    rows = [loan(i, related_party=c) for i, c in enumerate(cells)]
    loans = validate_tape(pd.DataFrame(rows), SOURCE).loans
    assert loans["related_party"].tolist() == [True, False, True, False, True, False, True, False]


def test_a_bad_related_party_cell_stops_the_run_with_one_line(write_scenario, capsys) -> None:
    header = (
        "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
        "ip_appraised_value,related_party"
    )
    tape = f"{header}\nA1,Alpha,Smart equipment,Lucheng,5000000,0.05,36,bullet,80,9000000,perhaps\n"
    path = write_scenario(tape_scenario(), tape)
    assert main(["run", str(path), "--out", str(path.parent / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "row 1 (loan A1), column 'related_party': value 'perhaps'" in err
    assert len(err.splitlines()) == 1
    assert not (path.parent / "out").exists()


# --- risk retention, and the block in a run ------------------------------------------------

TAPE = "\n".join(
    [
        "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
        "ip_appraised_value,patents,related_party",
        *(
            f"L{i:02d},Enterprise {i:02d},Smart equipment,Lucheng,10000000,0.05,36,bullet,80,"
            f"20000000,2,{'true' if i == 0 else 'false'}"
            for i in range(12)
        ),
    ]
)


def tranches(retained: float, holder: str = "Originator (risk retention)") -> str:
    return (
        f'[[tranches]]\nname = "senior"\nshare = {1 - retained:.4f}\ncoupon = 0.04\n'
        'holder = "Investors"\n\n'
        f'[[tranches]]\nname = "subordinated"\nshare = {retained}\nholder = "{holder}"\n'
    )


def run_rules(write_scenario, retained: float, holder: str = "Originator (risk retention)"):
    path = write_scenario(tape_scenario(tranches=tranches(retained, holder)), TAPE + "\n")
    return run_scenario(path, paths=500).results


def test_retention_of_4_percent_fails_and_5_percent_passes(write_scenario) -> None:
    four = run_rules(write_scenario, 0.04).exchange_rules
    five = run_rules(write_scenario, 0.05).exchange_rules
    four_check = four["checks"][0]
    assert four_check["id"] == "risk_retention" and four_check["status"] == "fail"
    assert four_check["value"] == pytest.approx(0.04)
    assert four["failed"] == ["risk_retention"]
    assert five["checks"][0]["status"] == "pass" and five["failed"] == []
    assert five["checks"][0]["tranches"] == ["subordinated"]
    assert five["checks"][0]["most_junior_retained"] is True


def test_retention_held_by_investors_fails_whatever_its_size(write_scenario) -> None:
    check = run_rules(write_scenario, 0.10, holder="Outside investors").exchange_rules["checks"][0]
    assert check["status"] == "fail" and check["value"] == 0.0
    assert check["holders"] == [] and "no tranche's holder names the originator" in check["where"]


def test_retention_cannot_be_checked_when_no_tranche_states_its_holder(write_scenario) -> None:
    path = write_scenario(tape_scenario(), TAPE + "\n")  # tranches without holders
    block = run_scenario(path, paths=500).results.exchange_rules
    check = block["checks"][0]
    assert check["status"] == "cannot_check" and check["value"] is None
    assert "holder" in check["reason"]
    assert "risk_retention" in block["not_checked"] and block["failed"] == []


def test_the_block_is_in_results_json_with_citations_and_lists_by_verdict(write_scenario) -> None:
    results = run_rules(write_scenario, 0.04)
    document = json.loads(json.dumps(results.to_dict()))
    block = document["exchange_rules"]
    assert [c["id"] for c in block["checks"]] == [r["id"] for r in rule_table()["rules"]]
    assert list(document)[-2:] == ["exchange_rules", "timings"]
    for check in block["checks"]:
        assert check["citation"]["document"] and check["citation"]["article"]
        assert check["title"] and check["title_zh"]
    # One related-party loan of twelve equal ones: 8.3 %, not above 10 %.
    related = next(c for c in block["checks"] if c["id"] == "related_party_cash_flows")
    assert related["value"] == pytest.approx(1 / 12) and related["status"] == "not_triggered"
    assert block["not_checked"] == []
    summary = format_summary(results)
    failed = [line for line in summary.splitlines() if line.startswith("exchange rule failed")]
    assert len(failed) == 1 and "risk_retention" in failed[0] and "4.00 %" in failed[0]


@pytest.mark.parametrize(
    ("scenario", "tape_path"), [(PILOT, PILOT_TAPE), (INTERBANK, INTERBANK_TAPE)]
)
def test_a_bundled_deal_block_agrees_with_its_tape_tranches_and_market(scenario, tape_path) -> None:
    results = run_scenario(scenario, paths=500).results
    block = {c["id"]: c for c in results.exchange_rules["checks"]}
    tape = load_tape(tape_path).loans
    total = tape["balance"].sum()
    # Debtors: enterprises, with related_group labels merged.
    labels = tape.get("related_group", pd.Series("", index=tape.index)).fillna("")
    group = labels.where(labels != "", tape["enterprise"])
    assert block["debtor_count"]["value"] == group.nunique()
    largest = tape.groupby(group)["balance"].sum().max() / total
    assert block["single_debtor"]["value"] == pytest.approx(largest)
    assert block["ip_label"]["value"] == pytest.approx(
        tape.loc[tape["patents"] > 0, "balance"].sum() / total
    )
    retained = sum(t.share for t in results.tranches if "originator" in t.holder.lower())
    assert block["risk_retention"]["value"] == pytest.approx(retained)
    # The deal's own market's tiers are judged; the other market's are not applicable.
    market = results.exchange_rules["market"]
    other = {"exchange": "interbank", "interbank": "exchange"}[market]
    assert block[f"important_debtors_{other}"]["status"] == "not_applicable"
    assert other in block[f"important_debtors_{other}"]["reason"].replace("-", "")
    first_tier = next(r for r in rule_table()["rules"] if r["id"] == f"important_debtors_{market}")
    named = block[f"important_debtors_{market}"]["tiers"][0]["debtors"]
    threshold = first_tier["tiers"][0]["limit"]
    assert [d["share"] for d in named] == pytest.approx(
        sorted(s for s in tape.groupby(group)["balance"].sum() / total if s >= threshold)[::-1]
    )
    assert block["related_party_cash_flows"]["status"] == "cannot_check"
    assert sorted(results.exchange_rules["not_checked"]) == sorted(
        ["related_party_cash_flows", f"important_debtors_{other}"]
    )
    for rule_id, meets in (
        ("risk_retention", retained >= limit("risk_retention")),
        ("debtor_count", group.nunique() >= limit("debtor_count")),
        ("single_debtor", largest <= limit("single_debtor")),
        ("ip_label", block["ip_label"]["value"] >= limit("ip_label")),
    ):
        assert block[rule_id]["status"] == ("pass" if meets else "fail")


def test_without_a_market_both_tiers_are_reported_and_with_one_only_its_own(write_scenario) -> None:
    rows = "\n".join(
        f"L{i},Firm {i},Smart equipment,Lucheng,{b},0.05,36,bullet,80,{2 * b}"
        for i, b in enumerate([32_000_000] + [8_000_000] * 9)
    )
    tape = f"{TAPE_HEADER},patents\n" + "\n".join(r + ",2" for r in rows.splitlines()) + "\n"
    blocks = {}
    for market in (None, "exchange", "interbank"):
        line = "" if market is None else f'market = "{market}"\n'
        text = tape_scenario().replace(
            "closing_date = 2024-01-01\n", "closing_date = 2024-01-01\n" + line
        )
        path = write_scenario(text, tape)
        blocks[market] = run_scenario(path, paths=500).results.exchange_rules
    by_id = {m: {c["id"]: c for c in b["checks"]} for m, b in blocks.items()}
    # One debtor of 32m in 104m: 30.8 %, above both markets' first tier.
    assert blocks[None]["market"] is None
    assert by_id[None]["important_debtors_exchange"]["status"] == "triggered"
    assert by_id[None]["important_debtors_interbank"]["status"] == "triggered"
    assert by_id["exchange"]["important_debtors_exchange"]["status"] == "triggered"
    assert by_id["exchange"]["important_debtors_interbank"]["status"] == "not_applicable"
    assert by_id["interbank"]["important_debtors_interbank"]["status"] == "triggered"
    assert by_id["interbank"]["important_debtors_exchange"]["status"] == "not_applicable"
    assert "important_debtors_exchange" in blocks["interbank"]["not_checked"]
    assert "important_debtors_exchange" not in blocks["interbank"]["triggered"]
    assert blocks["interbank"]["market"] == "interbank"
    assert "inter-bank" in blocks["interbank"]["market_note"]


def test_an_unknown_market_is_refused_with_the_allowed_values(write_scenario, capsys) -> None:
    text = tape_scenario().replace(
        "closing_date = 2024-01-01\n", 'closing_date = 2024-01-01\nmarket = "otc"\n'
    )
    path = write_scenario(text, TAPE + "\n")
    assert main(["run", str(path), "--paths", "500", "--out", str(path.parent / "out")]) == 2
    err = capsys.readouterr().err
    assert "deal.market" in err and "otc" in err and "exchange" in err and "interbank" in err
    assert not (path.parent / "out").exists()


# --- pool select ---------------------------------------------------------------------------

NINE = "\n".join(
    [
        "loan_id,enterprise,industry,region,balance,coupon,tenor_months,amortisation,score,"
        "ip_appraised_value,patents",
        *(
            f"C{i},Firm {i},Smart equipment,Lucheng,5000000,0.05,36,bullet,80,12000000,2"
            for i in range(9)
        ),
    ]
)


def write_nine(tmp_path: Path) -> Path:
    sections = "[simulation]\npaths = 500\n\n[selection]\nloans_min = 1\n"
    return write_candidate_deal(tmp_path, "nine", "candidates.csv", NINE + "\n", sections, 0.03)


def test_pool_select_warns_of_a_failed_rule_with_figure_and_limit(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["pool", "select", str(write_nine(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    warning = next(line for line in printed.splitlines() if "debtor_count" in line)
    assert warning.startswith("warning: exchange rule debtor_count")
    assert "FAILS: 9" in warning and "< 10" in warning
    summary = json.loads((out / "selection.json").read_text())
    assert summary["exchange_rules"]["failed"] == ["debtor_count"]
    assert "risk_retention" not in [c["id"] for c in summary["exchange_rules"]["checks"]]


def test_pool_select_enforcing_the_rules_refuses_a_failing_pool(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["pool", "select", str(write_nine(tmp_path)), "--out", str(out), "--enforce-rules"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "--enforce-rules" in err and "debtor_count" in err and len(err.splitlines()) == 1
    assert not out.exists()
