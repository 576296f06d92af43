"""The large-obligor test (大额债务人测试) Chinese rating agencies apply to small pools: the credit
enhancement below a tranche must absorb the simultaneous default of the N largest obligors.

An obligor is an enterprise, or all the enterprises of one ``related_group`` on the tape
(related parties default together). Obligors are ranked by outstanding balance at closing; their
loss is balance × (1 − recovery rate), and, as the stricter variant, the whole balance (no
recovery). The enhancement below a tranche is the balance of the notes junior to it plus the
reserve accounts' deposits at closing; excess spread is not counted. The test is reported
stand-alone and with the deal's enhancers: pool-level enhancers (first-loss, loan-level, risk
pool) first take their share of the loss up to their caps, then the tranche's own enhancers
(guarantees, shortfall undertaking, CRMW) take their share of what the tranche still loses. A
guarantor's own default is not part of this deterministic test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from securitize.enhancers.pool_cover import cover_of_losses
from securitize.pool import Pool
from securitize.ratings.tables import RatingError
from securitize.structure import Structure

# Losses and enhancement are compared to the cent: float sums must not flip a result.
_CENT = 0.005
DEFAULT_OBLIGORS: tuple[int, ...] = (1, 3, 5)


def obligor_ids(loans: pd.DataFrame) -> np.ndarray:
    """Each loan's obligor: its ``related_group`` when the tape gives one, else its enterprise."""
    group = loans.get("related_group", pd.Series("", index=loans.index))
    group = group.fillna("").astype(str).str.strip()
    return np.where(group != "", group, loans["enterprise"].astype(str))


def obligor_exposures(loans: pd.DataFrame) -> pd.DataFrame:
    """One row per obligor, largest balance first (ties by name): its enterprises and loans,
    balance and loss given default (balance × (1 − recovery rate))."""
    ids = obligor_ids(loans)
    enterprises: dict[str, dict[str, None]] = {}
    loan_ids: dict[str, list[str]] = {}
    for obligor, enterprise, loan in zip(
        ids, loans["enterprise"].astype(str), loans["loan_id"].astype(str), strict=True
    ):
        enterprises.setdefault(obligor, {})[enterprise] = None
        loan_ids.setdefault(obligor, []).append(loan)
    balance = loans["balance"].to_numpy(dtype=float)
    loss = balance * (1.0 - loans["recovery_rate"].to_numpy(dtype=float))
    sums = pd.DataFrame({"obligor": ids, "balance": balance, "loss_given_default": loss})
    sums = sums.groupby("obligor", sort=False).sum()
    out = pd.DataFrame(
        {
            "obligor": list(enterprises),
            "enterprises": ["; ".join(e) for e in enterprises.values()],
            "loans": ["; ".join(ids_) for ids_ in loan_ids.values()],
        }
    ).join(sums, on="obligor")
    out = out.sort_values(["balance", "obligor"], ascending=[False, True])
    return out.reset_index(drop=True)


def _check_obligors(obligors: Sequence[int]) -> tuple[int, ...]:
    values = tuple(obligors)
    if not values:
        raise RatingError("obligors: must list at least one number of largest obligors")
    for n in values:
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise RatingError(f"obligors: value {n!r}: must be a whole number at least 1")
        if values.count(n) > 1:
            raise RatingError(f"obligors: value {n!r} is listed twice")
    return tuple(int(n) for n in values)


def _tranche_cover(structure: Structure, tranche: int, shortfall: float) -> float:
    """What the tranche's own enhancers pay on a principal shortfall of ``shortfall`` (CNY)."""
    paid = 0.0
    for k in structure.enhancers_of(tranche):
        g = structure.guarantees[k]
        paid += min(g.share * (shortfall - paid), g.cap)
    return min(paid, shortfall)


def large_obligor_test(
    pool: Pool,
    structure: Structure,
    obligors: Sequence[int] = DEFAULT_OBLIGORS,
    spared: Sequence[str] = (),
) -> pd.DataFrame:
    """For each tranche and each N in ``obligors``: the loss if the N largest obligors default
    together, the enhancement below the tranche and whether it absorbs the loss, stand-alone
    and with the deal's enhancers.

    Columns: tranche, obligors (N asked), obligors_defaulted (N, or all there are),
    largest_obligors, defaulted_balance, loss, loss_zero_recovery, subordination, reserve,
    enhancement, enhancement_share (of the pool), coverage_multiple (enhancement ÷ loss), passes,
    passes_zero_recovery, passes_pool_covered and passes_pool_covered_zero_recovery (the pool
    enhancers pay their share into the plan first, as in the waterfall; the tranche's own do
    not), enhancers (names of the enhancers counted), passes_with_enhancers,
    passes_with_enhancers_zero_recovery. Amounts in CNY.
    """
    counts = _check_obligors(obligors)
    table = obligor_exposures(pool.loans)
    # Obligors named in ``spared`` rank after all the others (the domestic method spares
    # obligors whose shadow rating is at least the level tested): they default only when
    # fewer than N others are left, so the test never runs on an empty list.
    mask = table["obligor"].isin(list(spared)).to_numpy()
    table = pd.concat([table[~mask], table[mask]]).reset_index(drop=True)
    loan_obligor = obligor_ids(pool.loans)
    reserve = float(sum(a.initial for a in structure.accounts))
    balances = [t.balance for t in structure.tranches]
    pool_enhancers = [structure.guarantees[k].name for k in structure.pool_enhancers]
    rows = []
    for n in counts:
        chosen = table.head(n)
        in_default = np.isin(loan_obligor, chosen["obligor"].to_numpy())
        defaulted = pool.loans[in_default]
        balance = defaulted["balance"].to_numpy(dtype=float)
        lost = np.where(in_default, pool.balance, 0.0)
        with_recovery = lost * (1.0 - pool.recovery_rate)
        variants = {
            "": (float(with_recovery.sum()), cover_of_losses(pool, structure, with_recovery)),
            "_zero_recovery": (float(lost.sum()), cover_of_losses(pool, structure, lost)),
        }
        for k, tranche in enumerate(structure.tranches):
            subordination = float(sum(balances[k + 1 :]))
            enhancement = subordination + reserve
            loss = variants[""][0]
            row = {
                "tranche": tranche.name,
                "obligors": n,
                "obligors_defaulted": len(chosen),
                "largest_obligors": "; ".join(chosen["obligor"]),
                "defaulted_balance": float(balance.sum()),
                "loss": loss,
                "loss_zero_recovery": variants["_zero_recovery"][0],
                "subordination": subordination,
                "reserve": reserve,
                "enhancement": enhancement,
                "enhancement_share": enhancement / structure.pool_balance,
                "coverage_multiple": enhancement / loss if loss > 0 else math.inf,
                "enhancers": "; ".join(
                    pool_enhancers
                    + [structure.guarantees[e].name for e in structure.enhancers_of(k)]
                ),
            }
            for suffix, (total, pool_cover) in variants.items():
                row["passes" + suffix] = total <= enhancement + _CENT
                row["passes_pool_covered" + suffix] = total - pool_cover <= enhancement + _CENT
                shortfall = min(max(total - pool_cover - enhancement, 0.0), tranche.balance)
                left = shortfall - _tranche_cover(structure, k, shortfall)
                row["passes_with_enhancers" + suffix] = left <= _CENT
            rows.append(row)
    columns = [
        "tranche",
        "obligors",
        "obligors_defaulted",
        "largest_obligors",
        "defaulted_balance",
        "loss",
        "loss_zero_recovery",
        "subordination",
        "reserve",
        "enhancement",
        "enhancement_share",
        "coverage_multiple",
        "passes",
        "passes_zero_recovery",
        "passes_pool_covered",
        "passes_pool_covered_zero_recovery",
        "enhancers",
        "passes_with_enhancers",
        "passes_with_enhancers_zero_recovery",
    ]
    return pd.DataFrame(rows, columns=columns)
