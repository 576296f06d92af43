"""Concentration limits: each one shapes the pool exactly as it says, and the report names it."""

from __future__ import annotations

import numpy as np
import pytest

from securitize.selection.api import selection_summary
from tests.selection_support import choose, chosen_ids, loan


def limit_figure(selection, name: str) -> dict:
    return next(f for f in selection_summary(selection)["limits"] if f["name"] == name)


def test_single_obligor_share() -> None:
    # Without the limit the pool takes everything (60m, BIG = 33 %); with 25 % BIG must go.
    rows = [loan("BIG", balance=20e6), *[loan(f"S{i}", balance=8e6) for i in range(5)]]
    assert chosen_ids(choose(rows)) == {"BIG", "S0", "S1", "S2", "S3", "S4"}
    selection = choose(rows, limits={"obligor_max": 0.25})
    assert chosen_ids(selection) == {"S0", "S1", "S2", "S3", "S4"}
    report = selection.report.set_index("loan_id")
    assert "limits.obligor_max" in " ".join(report.loc["BIG", "limits_if_added"])
    assert limit_figure(selection, "limits.obligor_max")["value"] == pytest.approx(0.2)


def test_an_obligor_with_two_loans_is_one_obligor() -> None:
    # Alpha's two loans (16m of 56m, 28.6 %) break 25 %; one of them (8m of 48m) does not.
    rows = [
        loan("A1", enterprise="Alpha", balance=8e6),
        loan("A2", enterprise="Alpha", balance=8e6),
        *[loan(f"S{i}", balance=10e6) for i in range(4)],
    ]
    selection = choose(rows, limits={"obligor_max": 0.25})
    assert len(selection.loans) == 5
    assert selection.loans["balance"].sum() == pytest.approx(48e6)


def test_obligor_with_related_parties_share() -> None:
    rows = [
        loan("G1a", related_group="G1", balance=9e6),
        loan("G1b", related_group="G1", balance=9e6),
        *[loan(f"S{i}", balance=9e6) for i in range(6)],
    ]
    selection = choose(rows, limits={"related_group_max": 0.15})
    assert len({"G1a", "G1b"} & chosen_ids(selection)) == 1
    figure = limit_figure(selection, "limits.related_group_max")
    assert figure["value"] <= 0.15 + 1e-12


def test_related_groups_are_transitive() -> None:
    rows = [
        loan("A", related_group="G1", balance=5e6),
        loan("B", related_group="G1", enterprise="Beta", balance=5e6),
        loan("C", related_group="G2", enterprise="Beta", balance=5e6),
        loan("D", related_group="G2", balance=5e6),
    ]
    keys = set(choose(rows).candidates.loans["related_key"])
    assert len(keys) == 1  # Beta links G1 and G2 into one group


def test_top_n_share() -> None:
    # The 30m loan would need a 120m pool to be ≤ 25 %; the six 10m loans make only 60m.
    rows = [loan("BIG", balance=30e6)] + [loan(f"S{i}", balance=10e6) for i in range(6)]
    selection = choose(rows, limits={"top_n": 1, "top_n_max": 0.25})
    assert chosen_ids(selection) == {f"S{i}" for i in range(6)}
    # Top two ≤ 25 %: BIG plus a 10m loan (40m) need a pool of 160m. With twelve 10m loans
    # (150m in all) BIG stays out; with sixteen (190m) it comes in.
    twelve = rows + [loan(f"T{i}", balance=10e6) for i in range(6)]
    selection = choose(twelve, limits={"top_n": 2, "top_n_max": 0.25})
    assert "BIG" not in chosen_ids(selection) and len(selection.loans) == 12
    sixteen = twelve + [loan(f"U{i}", balance=10e6) for i in range(4)]
    selection = choose(sixteen, limits={"top_n": 2, "top_n_max": 0.25})
    balances = np.sort(selection.loans["balance"].to_numpy())[::-1]
    assert "BIG" in chosen_ids(selection) and balances.sum() == pytest.approx(190e6)
    assert limit_figure(selection, "limits.top_n_max")["value"] == pytest.approx(40 / 190)


def test_industry_and_region_shares() -> None:
    rows = [loan(f"E{i}", industry="Electrical", balance=10e6) for i in range(4)] + [
        loan(f"M{i}", industry="Materials", region="Ruian", balance=5e6) for i in range(3)
    ]
    # Electrical ≤ 60 % → at most 1.5 × Materials (15m) → two 10m loans: 35m in all.
    selection = choose(rows, limits={"industry_max": 0.6})
    by_industry = selection.loans.groupby("industry")["balance"].sum()
    assert (by_industry / by_industry.sum()).max() <= 0.6 + 1e-12
    assert selection.loans["balance"].sum() == pytest.approx(35e6)
    # Each region ≤ 50 % → Lucheng and Ruian equal → 10m each.
    selection = choose(rows, limits={"region_max": 0.5})
    by_region = selection.loans.groupby("region")["balance"].sum()
    assert (by_region / by_region.sum()).max() <= 0.5 + 1e-12
    assert selection.loans["balance"].sum() == pytest.approx(20e6)


def test_weighted_average_pd() -> None:
    # Band A (1 %) 10m and band D (4 %) 10m each; WA PD ≤ 2 % allows one D per two A.
    rows = [loan(f"A{i}", score=90) for i in range(2)] + [loan(f"D{i}", score=60) for i in range(3)]
    selection = choose(rows, limits={"wa_pd_max": 0.02})
    assert chosen_ids(selection) in ({"A0", "A1", "D0"}, {"A0", "A1", "D1"}, {"A0", "A1", "D2"})
    assert limit_figure(selection, "limits.wa_pd_max")["value"] == pytest.approx(0.02)


def test_weighted_average_score() -> None:
    rows = [loan("H", score=90, balance=10e6), loan("L1", score=60), loan("L2", score=60)]
    selection = choose(rows, limits={"wa_score_min": 75})
    assert chosen_ids(selection) == {"H", "L1"}
    assert limit_figure(selection, "limits.wa_score_min")["value"] == pytest.approx(75)


def test_sci_tech_label_share_from_the_tape_column() -> None:
    rows = [loan(f"L{i}", ip_label="true") for i in range(7)] + [
        loan(f"N{i}", ip_label="false") for i in range(5)
    ]
    selection = choose(rows, limits={"label_min": 0.7})
    labelled = selection.loans["label"].to_numpy()
    balance = selection.loans["balance"].to_numpy()
    assert balance[labelled].sum() / balance.sum() >= 0.7 - 1e-12
    assert len(selection.loans) == 10  # 7 labelled + 3 unlabelled = 70 %


def test_sci_tech_label_falls_back_to_pledged_patents() -> None:
    rows = [loan("P"), loan("Q", patents=0)]
    selection = choose(rows, limits={"label_min": 1.0})
    assert chosen_ids(selection) == {"P"}
    assert selection.candidates.label_source.startswith("patents > 0")


def test_loans_per_enterprise() -> None:
    rows = [loan(f"A{i}", enterprise="Alpha", balance=(i + 1) * 1e6) for i in range(3)]
    selection = choose(rows, limits={"loans_per_enterprise_max": 1})
    assert chosen_ids(selection) == {"A2"}


def test_deal_size_and_loan_count_bounds() -> None:
    rows = [loan(f"L{i}", balance=(i + 1) * 1e6) for i in range(6)]  # 1m … 6m
    selection = choose(rows, deal_size_max=10e6)
    assert selection.loans["balance"].sum() == pytest.approx(10e6)
    selection = choose(rows, loans_max=2)
    assert chosen_ids(selection) == {"L4", "L5"}
    selection = choose(rows, deal_size_max=10e6, loans_min=4)
    assert chosen_ids(selection) == {"L0", "L1", "L2", "L3"}
