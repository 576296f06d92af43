"""Bad waterfalls, accounts and triggers: one line naming the step (or field) and the rule; exit 2;
nothing written — caught before any simulation starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from securitize.cli import main
from tests.conftest import GOOD_ROW, GOOD_ROW_2, tape_rows, tape_scenario

MEZZANINE = """
[[tranches]]
name = "senior"
share = 0.8
coupon = 0.04

[[tranches]]
name = "mezzanine"
share = 0.1
coupon = 0.06
deferrable = true

[[tranches]]
name = "subordinated"
share = 0.1
"""

GOOD_WATERFALL = """
[[accounts]]
name = "reserve"
target = { share_of = "senior", share = 0.02, floor = 50000 }

[[triggers]]
name = "cumulative_defaults"
metric = "cumulative_default_ratio"
above = 0.1
effect = "sequential"

[[triggers]]
name = "event_of_default"
metric = "interest_shortfall"
effect = "accelerate"

[waterfall]
combined = [
  { pay = "fee", name = "trustee", rate_bp = 15 },
  { draw = "reserve", account = "reserve", cover_interest = ["senior"] },
  { pay = "interest", tranches = ["senior"] },
  { pay = "interest", tranches = ["mezzanine"] },
  { pay = "reserve", account = "reserve" },
  { pay = "principal", tranches = ["senior", "mezzanine"], mode = "pro_rata" },
  { pay = "deferred_interest", tranches = ["mezzanine"] },
  { pay = "principal", tranches = ["subordinated"] },
  { pay = "residual", tranche = "subordinated" },
]
"""


def waterfall(*steps: str) -> str:
    return "\n[waterfall]\ncombined = [\n" + "".join(f"  {s},\n" for s in steps) + "]\n"


PAY_ALL = '{ pay = "principal", tranches = ["senior", "mezzanine", "subordinated"] }'
RESIDUAL = '{ pay = "residual", tranche = "subordinated" }'


def run_bad(write_scenario, tmp_path: Path, capsys, extra: str, tranches: str = MEZZANINE) -> str:
    scenario = write_scenario(
        tape_scenario(extra, tranches=tranches), tape_rows(GOOD_ROW, GOOD_ROW_2)
    )
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("securitize: error: ") and "deal.toml" in err, err
    assert not out.exists()
    return err


def assert_names(err: str, fragments: list[str]) -> None:
    for fragment in fragments:
        assert fragment in err, (fragment, err)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            waterfall('{ pay = "interest", tranches = ["senior", "junior"] }', PAY_ALL, RESIDUAL),
            ["step combined[0] (interest)", "tranche 'junior'", "is not a tranche"],
        ),
        (
            waterfall(PAY_ALL, '{ pay = "residual", tranche = "equity" }'),
            ["step combined[1] (residual)", "tranche 'equity'", "is not a tranche"],
        ),
        (
            waterfall('{ pay = "reserve", account = "liquidity" }', PAY_ALL),
            ["step combined[0] (reserve)", "account 'liquidity'", "not an account"],
        ),
        (
            waterfall('{ draw = "reserve", account = "liquidity" }', PAY_ALL),
            ["step combined[0] (draw reserve)", "account 'liquidity'", "not an account"],
        ),
        (
            waterfall('{ pay = "guarantee_fee", enhancer = "ghost" }', PAY_ALL),
            ["step combined[0] (guarantee_fee)", "enhancer 'ghost'", "not an enhancer"],
        ),
    ],
    ids=["unknown-tranche", "unknown-residual-holder", "unknown-account", "draw", "enhancer"],
)
def test_step_naming_something_unknown(
    write_scenario, tmp_path: Path, capsys, extra: str, expected: list[str]
) -> None:
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, expected)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            waterfall('{ pay = "principal", tranches = ["senior", "mezzanine"] }', RESIDUAL),
            ["waterfall 'combined'", "no principal step pays tranche 'subordinated'"],
        ),
        (
            "\n[waterfall]\n"
            'interest = [{ pay = "interest", tranches = ["senior"] }]\n'
            'principal = [{ pay = "principal", tranches = ["mezzanine", "subordinated"] }]\n',
            ["waterfall 'principal'", "no principal step pays tranche 'senior'"],
        ),
        (
            waterfall(PAY_ALL, RESIDUAL)
            + 'accelerated = [{ pay = "principal", tranches = ["senior"] }]\n',
            ["waterfall 'accelerated'", "no principal step pays tranche 'mezzanine'"],
        ),
    ],
    ids=["combined", "separate", "accelerated"],
)
def test_waterfall_that_never_repays_a_tranche(
    write_scenario, tmp_path: Path, capsys, extra: str, expected: list[str]
) -> None:
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, [*expected, "could never be repaid"])


def test_negative_reserve_target_amount(write_scenario, tmp_path: Path, capsys) -> None:
    extra = '\n[[accounts]]\nname = "reserve"\ntarget = { amount = -5000 }\n' + waterfall(
        '{ pay = "reserve", account = "reserve" }', PAY_ALL
    )
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["accounts[0].target.amount", "-5000", "greater than or equal to 0"])


def test_reserve_target_share_of_unknown_tranche(write_scenario, tmp_path: Path, capsys) -> None:
    extra = (
        '\n[[accounts]]\nname = "reserve"\ntarget = { share_of = "class_a", share = 0.02 }\n'
        + waterfall('{ pay = "reserve", account = "reserve" }', PAY_ALL)
    )
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["account 'reserve'", "share_of 'class_a'", "'pool', 'notes' or a tranche"])


def test_trigger_on_unknown_metric(write_scenario, tmp_path: Path, capsys) -> None:
    extra = (
        '\n[[triggers]]\nname = "t"\nmetric = "delinquency_ratio"\nabove = 0.05\n'
        'effect = "sequential"\n'
    )
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["triggers[0].metric", "'delinquency_ratio'", "'cumulative_default_ratio'"])


def test_trigger_with_both_above_and_below(write_scenario, tmp_path: Path, capsys) -> None:
    extra = (
        '\n[[triggers]]\nname = "oc"\nmetric = "overcollateralisation"\nabove = 1.2\n'
        'below = 1.0\neffect = "sequential"\n'
    )
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["triggers[0]", "give one threshold", "'above' or 'below'"])


def test_interest_shortfall_trigger_takes_no_threshold(
    write_scenario, tmp_path: Path, capsys
) -> None:
    extra = (
        '\n[[triggers]]\nname = "eod"\nmetric = "interest_shortfall"\nabove = 0.0\n'
        'effect = "accelerate"\n'
    )
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["triggers[0]", "'interest_shortfall' takes no threshold"])


def test_fees_table_together_with_a_waterfall(write_scenario, tmp_path: Path, capsys) -> None:
    extra = '\n[[fees]]\nname = "trustee"\nrate_bp = 15\n' + waterfall(PAY_ALL, RESIDUAL)
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["[[fees]] and [waterfall] both given", "fee step inside it"])


def test_margin_together_with_coupon(write_scenario, tmp_path: Path, capsys) -> None:
    tranches = MEZZANINE.replace("coupon = 0.04", "coupon = 0.04\nmargin = 0.01")
    err = run_bad(write_scenario, tmp_path, capsys, "", tranches=tranches)
    assert_names(err, ["tranches[0]", "'coupon'", "'margin'", "not both"])


# A malformed step is reported at the step, with the rule it breaks — not as the first of many
# failed attempts to read it as each step type in turn.


def test_misspelt_step_kind_is_named_at_the_step(write_scenario, tmp_path: Path, capsys) -> None:
    extra = waterfall('{ pay = "intrest", tranches = ["senior"] }', PAY_ALL)
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["waterfall.combined[0]", "'intrest'"])
    assert "FeeStep" not in err and "function-after" not in err


def test_to_target_without_a_target_is_named_at_the_step(
    write_scenario, tmp_path: Path, capsys
) -> None:
    extra = waterfall('{ pay = "principal", tranches = ["senior"], amount = "to_target" }', PAY_ALL)
    err = run_bad(write_scenario, tmp_path, capsys, extra)
    assert_names(err, ["waterfall.combined[0]", "needs a 'target'"])


def test_a_good_waterfall_runs(write_scenario, tmp_path: Path, capsys) -> None:
    scenario = write_scenario(
        tape_scenario(GOOD_WATERFALL, tranches=MEZZANINE), tape_rows(GOOD_ROW, GOOD_ROW_2)
    )
    out = tmp_path / "out"
    code = main(["run", str(scenario), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert (out / "memo.html").is_file() and (out / "results.json").is_file()
