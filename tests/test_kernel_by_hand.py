"""The kernel's reduced figures (what design evaluation reads) on deals worked out by hand.

The ledger's hand-computed tests (tests/test_waterfall_features.py, whose docstring works the
deal out) are repeated here on the kernel run as design evaluation runs it, reducing each path
as it goes: VAT and surcharges, a floating coupon on an index path, a coupon reset, an
exercised and an unexercised investor put, an issuer call that is exercised and one that
lapses. Without a ledger, the figures are read from each date's sums and each path's losses,
lives and claims, to the cent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.test_waterfall_features import FEE, TAPE, TAX, deal
from tests.waterfall_support import kernel_one_path

CENT = 0.005


def on_kernel(tmp_path: Path, text: str):
    return kernel_one_path(tmp_path, text, tape=TAPE.format(pd=0.02))


def assert_cents(got, expected) -> None:
    np.testing.assert_allclose(np.ravel(got), expected, rtol=0, atol=CENT)


def test_put_exercised_and_call_exercised_by_hand(tmp_path: Path) -> None:
    _, path, dates = on_kernel(tmp_path, deal())
    assert_cents(dates["fee.vat_and_surcharges"], [TAX] * 4)
    assert_cents(dates["fee.trustee"], [FEE] * 4)
    # a1 called at month 6: repaid at par with its interest.
    assert_cents(dates["tranche.a1.standalone.principal"], [10_000.0, 0, 0, 0])
    assert_cents(dates["tranche.a1.standalone.interest"], [200.0, 0, 0, 0])
    assert_cents(dates["tranche.a1.redeemed"], [1, 0, 0, 0])
    # The senior put at month 12: the trust pays what it has, the guarantor the rest.
    assert_cents(dates["tranche.senior.standalone.interest"], [24_750.0, 24_750.0, 0, 0])
    assert_cents(dates["tranche.senior.standalone.principal"], [0, 13_742.7184, 0, 0])
    assert_cents(dates["tranche.senior.wrapped.principal"], [0, 990_000.0, 0, 0])
    assert_cents(dates["tranche.senior.balance"], [990_000.0, 0, 0, 0])
    assert_cents(dates["tranche.senior.redeemed"], [0, 1, 0, 0])
    assert_cents(dates["enhancer.guarantor.claims"], [0, 976_257.2816, 0, 0])
    assert_cents(path["tranche.senior.standalone.loss"] * 990_000.0, [976_257.2816])
    assert_cents(path["tranche.senior.wrapped.loss"], [0.0])
    assert_cents(path["enhancer.guarantor.claims"], [976_257.2816])
    # Wrapped, the senior's principal all arrives at month 12: a life of one year.
    assert_cents(path["tranche.senior.wrapped.wal"], [1.0])
    # The floating mezz: index + 1 %, fixed at each period's start.
    assert_cents(dates["tranche.mezz.standalone.interest"], [14_550.0, 14_550.0, 13_350, 13_350])
    assert_cents(dates["residual"], [3_542.7184, 0.0, 39_692.7184, 1_039_692.7184])
    # Coverage: tax, fee, every interest and a1's whole balance (called) on date 6.
    assert_cents(dates["due"][:2], [TAX + FEE + 39_500.0 + 10_000.0, TAX + FEE + 39_300.0])


def test_put_not_exercised_keeps_the_reset_coupon_by_hand(tmp_path: Path) -> None:
    structure, path, dates = on_kernel(tmp_path, deal(market=0.025))
    assert not structure.tranches[1].put_exercised
    assert_cents(dates["tranche.senior.standalone.interest"], [24_750.0, 24_750.0, 14_850, 14_850])
    assert_cents(dates["tranche.senior.standalone.principal"], [0, 0, 0, 990_000.0])
    assert_cents(dates["tranche.senior.redeemed"], [0, 0, 0, 0])
    assert_cents(dates["enhancer.guarantor.claims"], [0, 0, 0, 0])
    assert_cents(dates["residual"], [3_542.7184, 13_742.7184, 24_842.7184, 34_842.7184])
    assert_cents(path["tranche.senior.standalone.loss"], [0.0])


def test_call_lapses_when_the_funds_fall_short_by_hand(tmp_path: Path) -> None:
    _, _, dates = on_kernel(tmp_path, deal(a1=20_000))
    assert_cents(dates["tranche.a1.redeemed"], [0, 0, 0, 0])
    assert_cents(dates["tranche.a1.standalone.principal"][0], [0.0])
    assert_cents(dates["residual"][0], [60_000.0 - TAX - FEE - 400.0 - 24_500.0 - 14_550.0])


def test_dated_act_365_floating_senior_with_a_reset_by_hand(tmp_path: Path) -> None:
    """tests/test_repayment_schedule.py's dated deal: interest is balance × coupon × days / 365
    on the exchange calendar's payment dates (212, 186, 179, 185 days)."""
    from tests.test_repayment_schedule import PUT_DAYS, TWO_LOANS, put_reset_deal

    _, _, dates = kernel_one_path(tmp_path, put_reset_deal(0.035), tape=TWO_LOANS)
    balances = [12e6, 12e6, 8e6, 8e6]
    coupons = [0.0435, 0.0420, 0.0390, 0.0390]
    expected = [b * c * n / 365 for b, c, n in zip(balances, coupons, PUT_DAYS, strict=True)]
    assert_cents(dates["tranche.senior.standalone.interest"], expected)
    assert_cents(dates["tranche.senior.standalone.principal"], [0.0, 4e6, 0.0, 8e6])


def test_dated_guarantee_fee_accrues_on_actual_days(tmp_path: Path) -> None:
    """On a dated deal a guarantee's cover is the covered balance × the deal's day count
    between payment dates (ACT/365: 212, 186, 179, 185 days), and its fee is the fee rate on
    that cover; on the month grid both would be six months / 12."""
    from tests.test_repayment_schedule import PUT_DAYS, TWO_LOANS, put_reset_deal

    text = put_reset_deal(0.035) + (
        '\n[[enhancers]]\nname = "guarantor"\ntype = "full_guarantee"\ncovers = "senior"\n'
        "fee_bp = 80\nannual_pd = 0.0005\nasset_correlation = 0.3\n"
    )
    structure, _, dates = kernel_one_path(tmp_path, text, tape=TWO_LOANS)
    rate = structure.guarantees[0].net_fee_rate
    assert rate > 0
    cover = [b * n / 365 for b, n in zip([12e6, 12e6, 8e6, 8e6], PUT_DAYS, strict=True)]
    assert_cents(dates["enhancer.guarantor.cover"], cover)
    assert_cents(dates["fee.guarantor"], [rate * c for c in cover])
