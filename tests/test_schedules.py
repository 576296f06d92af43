"""Amortisation schedules checked against formulas written out in the tests."""

from __future__ import annotations

import numpy as np
import pytest

from securitize.schedules import pool_schedule

BALANCE = 1_200_000.0
COUPON = 0.06
TENOR = 24


def one_loan(kind: str, coupon: float = COUPON, tenor: int = TENOR, months: int | None = None):
    return pool_schedule(
        np.array([BALANCE]),
        np.array([coupon]),
        np.array([tenor]),
        np.array([kind]),
        months or tenor,
    )


@pytest.mark.parametrize("kind", ["bullet", "equal_principal", "level_payment"])
def test_principal_repaid_over_the_life_sums_to_the_balance(kind: str) -> None:
    schedule = one_loan(kind)
    assert schedule.principal.sum() == pytest.approx(BALANCE, abs=1e-6)
    assert schedule.closing_balance[0, -1] == pytest.approx(0.0, abs=1e-6)


def test_bullet_repays_all_principal_in_the_maturity_month_only() -> None:
    schedule = one_loan("bullet")
    expected = np.zeros(TENOR)
    expected[-1] = BALANCE
    np.testing.assert_allclose(schedule.principal[0], expected, atol=1e-9)


def test_equal_principal_repays_balance_over_tenor_each_month() -> None:
    schedule = one_loan("equal_principal")
    np.testing.assert_allclose(schedule.principal[0], BALANCE / TENOR, rtol=1e-12)


def test_level_payment_instalment_equals_the_annuity_formula() -> None:
    schedule = one_loan("level_payment")
    r = COUPON / 12.0
    annuity = BALANCE * r / (1.0 - (1.0 + r) ** (-TENOR))
    instalment = schedule.principal[0] + schedule.interest[0]
    np.testing.assert_allclose(instalment, annuity, rtol=1e-10)


@pytest.mark.parametrize("kind", ["bullet", "equal_principal", "level_payment"])
def test_interest_is_opening_balance_times_monthly_coupon(kind: str) -> None:
    schedule = one_loan(kind)
    # Opening balances rebuilt in the test: the original balance less principal already repaid.
    opening = BALANCE - np.concatenate([[0.0], np.cumsum(schedule.principal[0])[:-1]])
    np.testing.assert_allclose(schedule.opening_balance[0], opening, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(schedule.interest[0], opening * COUPON / 12.0, atol=1e-6)


def test_equal_principal_interest_falls_linearly_with_the_balance() -> None:
    schedule = one_loan("equal_principal")
    month = np.arange(1, TENOR + 1)
    expected = BALANCE * (1.0 - (month - 1) / TENOR) * COUPON / 12.0
    np.testing.assert_allclose(schedule.interest[0], expected, rtol=1e-12)


@pytest.mark.parametrize("kind", ["bullet", "equal_principal", "level_payment"])
def test_cash_flows_are_zero_after_maturity(kind: str) -> None:
    schedule = one_loan(kind, tenor=12, months=30)
    assert schedule.months == 30
    for values in (schedule.opening_balance, schedule.interest, schedule.principal):
        assert np.all(values[0, 12:] == 0.0)
    assert np.all(schedule.opening_balance[0, :12] > 0.0)
    assert np.all(schedule.interest[0, :12] > 0.0)
    assert schedule.principal[0, 11] > 0.0


def test_zero_coupon_level_payment_repays_balance_over_tenor_without_interest() -> None:
    schedule = one_loan("level_payment", coupon=0.0)
    np.testing.assert_allclose(schedule.principal[0], BALANCE / TENOR, rtol=1e-12)
    assert np.all(schedule.interest == 0.0)
    assert np.all(np.isfinite(schedule.principal))


def test_mixed_pool_keeps_each_loan_on_its_own_schedule() -> None:
    schedule = pool_schedule(
        np.array([100.0, 240.0, 360.0]),
        np.array([0.12, 0.0, 0.12]),
        np.array([3, 12, 6]),
        np.array(["bullet", "equal_principal", "level_payment"]),
        12,
    )
    np.testing.assert_allclose(schedule.principal[0], [0, 0, 100] + [0] * 9, atol=1e-12)
    np.testing.assert_allclose(schedule.interest[0], [1, 1, 1] + [0] * 9, atol=1e-12)
    np.testing.assert_allclose(schedule.principal[1], 20.0, rtol=1e-12)
    annuity = 360.0 * 0.01 / (1.0 - 1.01**-6)
    paid = schedule.principal[2] + schedule.interest[2]
    np.testing.assert_allclose(paid[:6], annuity, rtol=1e-10)
    assert np.all(paid[6:] == 0.0)


def test_horizon_shorter_than_longest_loan_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than the longest loan"):
        one_loan("bullet", tenor=24, months=12)
