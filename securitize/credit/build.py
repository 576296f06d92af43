"""Turning a scenario's credit assumptions and a pool into a ``CreditModel``.

This is where the scenario's words become model parameters: which copula, which loadings, which
PD term structure for each loan, which recovery distribution, which importance-sampling shift.
Broken rules (loadings whose squares sum to 1 or more, a correlation matrix that is not positive
semi-definite) are ``ScenarioError`` messages naming the field, raised before any simulation.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from securitize.credit import term_structure
from securitize.credit.importance import aim_importance_sampling
from securitize.credit.models import FactorCopula, ModelError, one_factor
from securitize.credit.paths import CreditModel
from securitize.credit.recovery import RecoveryModel
from securitize.errors import ScenarioError
from securitize.pool import Pool
from securitize.scenario import CreditAssumptions, FactorLoadings, LoadedScenario


def _check_curve_bands(pool: Pool, credit: CreditAssumptions, where: str) -> None:
    known = set(pool.bands.table["band"]) if pool.bands is not None else set()
    for k, curve in enumerate(credit.pd_curves):
        if curve.band != "all" and curve.band not in known:
            raise ScenarioError(
                f"{where}: field 'credit.pd_curves[{k}].band': value '{curve.band}' is not a "
                f"score band ({', '.join(sorted(known)) or 'the pool has no bands'}) or 'all'"
            )


def cumulative_pd_matrix(pool: Pool, credit: CreditAssumptions) -> np.ndarray:
    """Loans × months cumulative PD: tape hazard rate or PD first, then band curves, then the
    band's annual PD; held flat after each loan's maturity."""
    months = int(pool.tenor_months.max())
    loans = pool.loans
    cumulative = term_structure.from_annual_pd(pool.annual_pd, months)
    curves = {c.band: c for c in credit.pd_curves}
    bands = loans["band"].to_numpy() if "band" in loans else np.full(pool.size, "")
    from_tape = loans["pd_source"].str.startswith("tape").to_numpy()
    for i in range(pool.size):
        curve = curves.get(bands[i]) or curves.get("all")
        if curve is not None and not from_tape[i]:
            cumulative[i] = term_structure.from_curve(curve.months, curve.cumulative_pd, months)
    if "hazard_rate" in loans:
        hazard = loans["hazard_rate"].to_numpy(dtype=float)
        given = np.isfinite(hazard)
        if given.any():
            cumulative[given] = term_structure.from_hazard_rate(hazard[given], months)
    return term_structure.flat_after_maturity(cumulative, pool.tenor_months)


def _multi_factor(pool: Pool, spec: FactorLoadings, nu: float | None) -> FactorCopula:
    industries = sorted(pool.loans["industry"].unique())
    regions = sorted(pool.loans["region"].unique())
    names = ("global", *(f"industry:{x}" for x in industries), *(f"region:{x}" for x in regions))
    for label, table, known in (
        ("industry_loadings", spec.industry_loadings, industries),
        ("region_loadings", spec.region_loadings, regions),
    ):
        for key in table:
            if key not in known:
                raise ScenarioError(
                    f"field 'credit.factors.{label}': '{key}' is not a value in the pool "
                    f"(pool has: {', '.join(known)})"
                )
    loadings = np.zeros((pool.size, len(names)))
    loadings[:, 0] = spec.global_loading
    for i, (industry, region) in enumerate(
        zip(pool.loans["industry"], pool.loans["region"], strict=True)
    ):
        loadings[i, 1 + industries.index(industry)] = spec.industry_loadings.get(
            industry, spec.industry_loading
        )
        loadings[i, 1 + len(industries) + regions.index(region)] = spec.region_loadings.get(
            region, spec.region_loading
        )
    correlation = None if spec.correlation is None else np.array(spec.correlation, dtype=float)
    if correlation is not None and correlation.shape != (len(names), len(names)):
        raise ScenarioError(
            f"field 'credit.factors.correlation': shape {correlation.shape}; it must be "
            f"{len(names)} × {len(names)}, factors in the order {', '.join(names)}"
        )
    return FactorCopula(loadings, names, correlation, nu)


def copula_for(pool: Pool, credit: CreditAssumptions, where: str) -> FactorCopula:
    """The dependence model the scenario names, checked before any simulation."""
    try:
        if credit.factors is not None:
            return _multi_factor(pool, credit.factors, credit.degrees_of_freedom)
        return one_factor(credit.asset_correlation, pool.size, credit.degrees_of_freedom)
    except ScenarioError as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    except ModelError as exc:
        field = "credit.factors" if credit.factors is not None else "credit"
        if "correlation matrix" in str(exc):
            field = "credit.factors.correlation"
        raise ScenarioError(f"{where}: field '{field}': {exc}") from None


def build_credit_model(loaded: LoadedScenario, pool: Pool, senior_attachment: float) -> CreditModel:
    """The simulation's model; ``senior_attachment`` is the pool-loss share at which the most
    senior note starts to lose (the tail event an automatic importance shift aims at, and the
    one a t copula's mixing variable is tilted towards under any non-zero shift)."""
    scenario = loaded.scenario
    credit = scenario.credit
    where = str(loaded.path)
    copula = copula_for(pool, credit, where)
    _check_curve_bands(pool, credit, where)
    cumulative = cumulative_pd_matrix(pool, credit)
    rec = credit.recovery
    try:
        recovery = RecoveryModel(
            pool.recovery_rate,
            rec.dispersion if rec.distribution == "beta" else None,
            rec.factor_loading,
        )
    except ValueError as exc:
        raise ScenarioError(f"{where}: field 'credit.recovery.dispersion': {exc}") from None
    shift_setting = scenario.simulation.importance_shift
    model = CreditModel(
        copula=copula,
        cumulative_pd=cumulative,
        tenor=pool.tenor_months,
        recovery=recovery,
        prepayment_rate=credit.prepayment.annual_rate,
    )
    if shift_setting != "auto" and float(shift_setting) == 0.0:
        return model
    if shift_setting != "auto" and copula.nu is None:
        shift = np.zeros(copula.factors)
        shift[0] = float(shift_setting)
        return replace(model, shift=shift)
    # "auto" (Glasserman–Li for a Gaussian copula), and every shift of a t copula, whose
    # mixing variable is tilted too (securitize/credit/importance.py): aimed at the senior tail.
    loss_share = pool.balance * (1 - pool.recovery_rate) / pool.total_balance
    return aim_importance_sampling(
        model,
        loss_share,
        senior_attachment,
        shift=None if shift_setting == "auto" else float(shift_setting),
    )
