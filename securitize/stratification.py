"""Pool stratification tables: totals, distributions and the largest obligors.

These are exact figures from the tape (no simulation); they feed the memo's pool section and
``results.json``.
"""

from __future__ import annotations

import pandas as pd

from securitize.pool import Pool

LARGEST_OBLIGORS = 20


def pool_totals(pool: Pool) -> dict[str, float | int]:
    """Count, balance and balance-weighted averages of the pool."""
    loans = pool.loans
    weights = loans["balance"] / loans["balance"].sum()
    return {
        "loans": len(loans),
        "obligors": int(loans["enterprise"].nunique()),
        "balance": float(loans["balance"].sum()),
        "average_balance": float(loans["balance"].mean()),
        "largest_balance": float(loans["balance"].max()),
        "weighted_average_coupon": float((weights * loans["coupon"]).sum()),
        "weighted_average_tenor_months": float((weights * loans["tenor_months"]).sum()),
        "weighted_average_annual_pd": float((weights * loans["annual_pd"]).sum()),
        "weighted_average_recovery_rate": float((weights * loans["recovery_rate"]).sum()),
        "patents": int(loans["patents"].sum()) if "patents" in loans else 0,
        "ip_appraised_value": float(loans["ip_appraised_value"].sum())
        if "ip_appraised_value" in loans
        else 0.0,
    }


def stratify(pool: Pool, by: str) -> pd.DataFrame:
    """Loans, balance and share of pool balance for each value of column ``by``."""
    loans = pool.loans
    table = (
        loans.groupby(by, sort=True)
        .agg(loans=("loan_id", "size"), balance=("balance", "sum"))
        .sort_values("balance", ascending=False)
    )
    table["share"] = table["balance"] / loans["balance"].sum()
    return table.reset_index()


def largest_obligors(pool: Pool, count: int = LARGEST_OBLIGORS) -> pd.DataFrame:
    """The ``count`` largest obligors by balance, with their share of the pool."""
    columns = [
        c
        for c in ["loan_id", "enterprise", "industry", "region", "balance", "band", "annual_pd"]
        if c in pool.loans
    ]
    table = pool.loans.sort_values("balance", ascending=False, kind="stable")[columns].head(count)
    table = table.assign(share=table["balance"] / pool.total_balance)
    return table.reset_index(drop=True)


LOAN_COLUMNS = (
    "loan_id",
    "enterprise",
    "related_group",
    "industry",
    "region",
    "balance",
    "coupon",
    "tenor_months",
    "amortisation",
    "score",
    "band",
    "shadow_rating",
    "annual_pd",
    "patents",
    "ip_appraised_value",
    "ip_registration",
    "ip_expiry",
)


def loan_table(pool: Pool) -> pd.DataFrame:
    """Every loan with the fields the pool and IP-collateral disclosures list (基础资产明细),
    its share of the pool and its loan-to-value against the appraised IP (NaN without IP)."""
    loans = pool.loans
    table = loans[[c for c in LOAN_COLUMNS if c in loans]].copy()
    table["share"] = table["balance"] / pool.total_balance
    if "ip_appraised_value" in loans:
        value = loans["ip_appraised_value"].where(loans["ip_appraised_value"] > 0)
        table["loan_to_value"] = loans["balance"] / value
    return table.reset_index(drop=True)


def stratifications(pool: Pool) -> dict[str, pd.DataFrame]:
    """Every distribution the pool section shows, keyed by the column it groups on."""
    keys = ["industry", "region", "band", "amortisation"]
    return {
        key: stratify(pool, key)
        for key in keys
        if key in pool.loans and pool.loans[key].ne("").any()
    }
