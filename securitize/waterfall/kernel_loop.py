"""The compiled waterfall (numba): blocks of paths, period by period, step by step.

This is the compiled twin of ``engine.py``. It runs the same priority of payments with the same
arithmetic, in the same order, on a block of paths at a time (the "lanes"), so that a block's
whole state stays in cache and each step is a short loop over lanes (which the compiler turns
into vector instructions where it can prove the arrays apart). As in the numpy engine, the
main program and the post-acceleration program run one after the other, each on its own lanes,
amounts elsewhere counting as zero. Instead of a full ledger, each block is reduced as it goes
to what design evaluation reports (``evaluate.summarise``): per-period weighted sums and sums
of squares, and per-path losses, lives, yields and claims. The layout of the flat inputs and
outputs is ``kernel_lower.py``'s; ``tests/test_kernel.py`` checks every output against the
numpy engine.
"""

from __future__ import annotations

import math

import numpy as np

from securitize.waterfall.kernel import ensure_cache_dir
from securitize.waterfall.kernel_codes import (
    AMOUNT,
    AMOUNT_TARGET,
    ARG,
    CENT,
    COUNT,
    COVER_FEES,
    DEFAULT_RATIO,
    DEFERRED,
    DRAW,
    DUE,
    F_CALL_THRESHOLD,
    F_POOL,
    F_RATE_LIMIT,
    FEE,
    FIRST,
    FUND,
    GI,
    GP,
    GR,
    GUARANTEE_FEE,
    INTEREST,
    IP,
    KIND,
    MODE,
    N_BISECTIONS,
    N_HAS_CALL,
    N_NEWTON,
    N_RESIDUAL,
    N_SEPARATE,
    NOTES,
    PATH_SERIES_PER_GUARANTEE,
    PATH_SERIES_PER_TRANCHE,
    POOL,
    POOL_FEE,
    PP,
    PRINCIPAL,
    SHORTFALL,
    TARGET,
    TRANCHE_FEE,
)

ensure_cache_dir()

from numba import njit  # noqa: E402 (numba chooses the cache folder when a function is defined)

# Paths per block: enough lanes to fill vector registers many times over, few enough that a
# block's state and its cash-flow history stay in cache.
LANES = 128


@njit(cache=True)
def _add_moments(values, weight, out_sum, out_square, p):
    """Add the block's weighted values and their squares to period p's totals, lane by lane
    in order (no reassociation: the same sums to the last digit in every process)."""
    for s in range(values.shape[0]):
        total = 0.0
        square = 0.0
        for lane in range(values.shape[1]):
            weighted = weight[lane] * values[s, lane]
            total += weighted
            square += weighted * weighted
        out_sum[p, s] += total
        out_square[p, s] += square


@njit(cache=True)
def _targets(k, tg_kind, tg_value, tg_share, tg_floor, tg_tranche, performing, balance, out):
    """Target k on every lane (``engine._Run._target``)."""
    lanes = out.shape[0]
    if tg_kind[k] == AMOUNT_TARGET:
        for lane in range(lanes):
            out[lane] = tg_value[k]
        return
    share, floor = tg_share[k], tg_floor[k]
    if tg_kind[k] == POOL:
        for lane in range(lanes):
            out[lane] = max(share * performing[lane], floor)
    elif tg_kind[k] == NOTES:
        for lane in range(lanes):
            base = 0.0
            for j in range(balance.shape[0]):
                base = base + balance[j, lane]
            out[lane] = max(share * base, floor)
    else:
        j = tg_tranche[k]
        for lane in range(lanes):
            out[lane] = max(share * balance[j, lane], floor)


@njit(cache=True)
def _yields(cash, years, powers, gaps, price, bisections, newton, limit, out):
    """``evaluate.internal_rate_of_return`` on every lane: cash is periods × lanes.

    The discount factors e^(−r t_p) are powers of e^(−r/12) (payment dates are whole months),
    built up date by date from one exponential per lane and iteration."""
    periods, lanes = cash.shape
    total = np.zeros(lanes)
    for p in range(periods):
        for lane in range(lanes):
            total[lane] += cash[p, lane]
    low = np.empty(lanes)
    high = np.empty(lanes)
    for lane in range(lanes):
        paid = total[lane] > CENT
        ratio = math.log((total[lane] if paid else price) / price)
        first, last = -1, periods - 1
        for p in range(periods):
            if cash[p, lane] > 0:
                if first < 0:
                    first = p
                last = p
        if first < 0:
            first, last = 0, periods - 1
        a, b = ratio / years[first], ratio / years[last]
        low[lane] = min(max(min(a, b), -limit), limit)
        high[lane] = min(max(max(a, b), -limit), limit)
    rate = np.empty(lanes)
    value = np.empty(lanes)
    slope = np.empty(lanes)
    factor = np.empty(lanes)
    step_of = np.empty((gaps.shape[0], lanes))
    for iteration in range(bisections + newton):
        newton_step = iteration >= bisections
        for lane in range(lanes):
            rate[lane] = low[lane] if newton_step else 0.5 * (low[lane] + high[lane])
            value[lane] = 0.0
            slope[lane] = 0.0
        # e^(−r g / 12) for each gap g between dates (and the first date's month).
        for lane in range(lanes):
            unit = math.exp(-rate[lane] / 12.0)
            for g in range(gaps.shape[0]):
                power = 1.0
                for _ in range(gaps[g]):
                    power *= unit
                step_of[g, lane] = power
        for lane in range(lanes):
            factor[lane] = 1.0
        for p in range(periods):
            g = powers[p]
            t = years[p]
            for lane in range(lanes):
                factor[lane] *= step_of[g, lane]
                flow = cash[p, lane] * factor[lane]
                value[lane] += flow
                slope[lane] += flow * t
        if not newton_step:
            for lane in range(lanes):
                if value[lane] >= price:
                    low[lane] = rate[lane]
                else:
                    high[lane] = rate[lane]
        else:
            moved = False
            for lane in range(lanes):
                gradient = -slope[lane]
                step = (value[lane] - price) / gradient if gradient < 0 else 0.0
                if step != 0.0:
                    moved = True
                low[lane] = min(max(rate[lane] - step, -limit), limit)
            if not moved:
                # Every further step is zero on every lane: the solver has stopped moving.
                break
    for lane in range(lanes):
        out[lane] = math.expm1(low[lane]) if total[lane] > CENT else -1.0


@njit(cache=True)
def _life(principal, years, out):
    """Weighted-average life (years) of principal received, periods × lanes."""
    periods, lanes = principal.shape
    for lane in range(lanes):
        received = 0.0
        timed = 0.0
        for p in range(periods):
            received += principal[p, lane]
            timed += principal[p, lane] * years[p]
        out[lane] = timed / received if received > CENT else np.nan


@njit(cache=True)
def _steps(
    first_step,
    last_step,
    steps,
    step_tranches,
    active,
    pot,
    due_left,
    deferred,
    paid_current,
    final,
    sequential_forced,
    performing_raw,
    ledger,
    shortfall_row,
    fee_paid,
    residual,
    current,
    balance,
    arrears,
    garrears,
    fee_due,
    gfee_due,
    account,
    owed,
    scratch,
    target,
    guarantee_of,
    standing_of,
    capital_left,
    g_recovery,
    tr_deferrable,
    shortfall_event,
    n_fee,
    tg_kind,
    tg_value,
    tg_share,
    tg_floor,
    tg_tranche,
    acc_target,
):
    """Run steps [first_step, last_step) on the lanes where ``active`` holds
    (``engine._Run._run_steps``)."""
    lanes = pot.shape[0]
    for i in range(first_step, last_step):
        kind = steps[i, KIND]
        arg = steps[i, ARG]
        first = steps[i, FIRST]
        count = steps[i, COUNT]
        if kind in (FEE, GUARANTEE_FEE):
            dues = fee_due if kind == FEE else gfee_due
            column = arg if kind == FEE else n_fee + arg
            for lane in range(lanes):
                paid = min(pot[lane], dues[arg, lane] if active[lane] else 0.0)
                pot[lane] -= paid
                dues[arg, lane] = dues[arg, lane] - paid
                fee_paid[column, lane] += paid
        elif kind in (DEFERRED, INTEREST):
            # A tranche whose current interest was paid earlier this date (or any tranche of
            # a deferred_interest step): its arrears, to investors then the guarantor.
            for q in range(first, first + count):
                j = step_tranches[q]
                if kind == DEFERRED or paid_current[j]:
                    for lane in range(lanes):
                        on = active[lane]
                        to_investor = min(pot[lane], arrears[j, lane] if on else 0.0)
                        pot[lane] -= to_investor
                        to_guarantor = min(pot[lane], garrears[j, lane] if on else 0.0)
                        pot[lane] -= to_guarantor
                        arrears[j, lane] = arrears[j, lane] - to_investor
                        garrears[j, lane] = garrears[j, lane] - to_guarantor
                        ledger[j, IP, lane] += to_investor
                        ledger[j, GR, lane] += to_guarantor
            if kind == DEFERRED:
                continue
            group = 0
            for q in range(first, first + count):
                j = step_tranches[q]
                if paid_current[j]:
                    continue
                group += 1
                with_arrears = not deferred[j]
                for lane in range(lanes):
                    on = active[lane]
                    due = current[j, lane] if on else 0.0
                    if with_arrears:
                        due = due + ((arrears[j, lane] + garrears[j, lane]) if on else 0.0)
                    owed[j, lane] = due
            if group == 0:
                continue
            if group == 1:
                for q in range(first, first + count):
                    j = step_tranches[q]
                    if not paid_current[j]:
                        for lane in range(lanes):
                            paid = min(pot[lane], owed[j, lane])
                            pot[lane] -= paid
                            scratch[j, lane] = paid
            else:
                for lane in range(lanes):
                    total = 0.0
                    for q in range(first, first + count):
                        j = step_tranches[q]
                        if not paid_current[j]:
                            total = total + owed[j, lane]
                    paid_total = min(pot[lane], total)
                    pot[lane] -= paid_total
                    share = paid_total / total if total > 0 else 0.0
                    for q in range(first, first + count):
                        j = step_tranches[q]
                        if not paid_current[j]:
                            scratch[j, lane] = owed[j, lane] * share
            for q in range(first, first + count):
                j = step_tranches[q]
                if paid_current[j]:
                    continue
                paid_current[j] = True
                with_arrears = not deferred[j]
                if with_arrears:
                    # The engine pays arrears only where some path has any: with none, paying
                    # them changes nothing, and the block skips the work too.
                    owing = False
                    for lane in range(lanes):
                        owing = owing or arrears[j, lane] != 0.0 or garrears[j, lane] != 0.0
                    with_arrears = owing
                k = guarantee_of[j]
                not_deferrable = not tr_deferrable[j]
                for lane in range(lanes):
                    on = active[lane]
                    now = current[j, lane] if on else 0.0
                    remaining = scratch[j, lane]
                    if with_arrears:
                        to_investor = min(remaining, arrears[j, lane] if on else 0.0)
                        arrears[j, lane] = arrears[j, lane] - to_investor
                        ledger[j, IP, lane] += to_investor
                        remaining = remaining - to_investor
                        to_guarantor = min(remaining, garrears[j, lane] if on else 0.0)
                        garrears[j, lane] = garrears[j, lane] - to_guarantor
                        ledger[j, GR, lane] += to_guarantor
                        remaining = remaining - to_guarantor
                    to_current = min(remaining, now)
                    ledger[j, IP, lane] += to_current
                    shortfall = now - to_current
                    shortfall_row[j, lane] += shortfall
                    if k >= 0:
                        # In full while the guarantor stands and has capital left; its
                        # recovery rate on the rest (engine._Run._claim).
                        solvent = (
                            min(shortfall, capital_left[k, lane]) if standing_of[k, lane] else 0.0
                        )
                        capital_left[k, lane] = capital_left[k, lane] - solvent
                        advanced = solvent + (shortfall - solvent) * g_recovery[k]
                        ledger[j, GI, lane] += advanced
                        garrears[j, lane] = garrears[j, lane] + advanced
                        shortfall = shortfall - advanced
                    arrears[j, lane] = arrears[j, lane] + shortfall
                    if not_deferrable and shortfall > CENT:
                        shortfall_event[lane] = True
        elif kind == FUND:
            if final:
                for lane in range(lanes):
                    target[lane] = 0.0
            else:
                _targets(
                    acc_target[arg],
                    tg_kind,
                    tg_value,
                    tg_share,
                    tg_floor,
                    tg_tranche,
                    performing_raw,
                    balance,
                    target,
                )
            for lane in range(lanes):
                on = active[lane]
                excess = max(account[arg, lane] - target[lane], 0.0) if on else 0.0
                pot[lane] += excess
                want = max(target[lane] - account[arg, lane] + excess, 0.0) if on else 0.0
                deposit = min(pot[lane], want)
                pot[lane] -= deposit
                account[arg, lane] = account[arg, lane] - excess + deposit
        elif kind == DRAW:
            cover_fees = steps[i, COVER_FEES] != 0
            for lane in range(lanes):
                on = active[lane]
                need = 0.0
                if cover_fees:
                    fees = 0.0
                    for f in range(fee_due.shape[0]):
                        fees = fees + fee_due[f, lane]
                    need = need + (fees if on else 0.0)
                    fees = 0.0
                    for f in range(gfee_due.shape[0]):
                        fees = fees + gfee_due[f, lane]
                    need = need + (fees if on else 0.0)
                for q in range(first, first + count):
                    j = step_tranches[q]
                    due = current[j, lane] if on else 0.0
                    if not deferred[j]:
                        due = due + ((arrears[j, lane] + garrears[j, lane]) if on else 0.0)
                    need = need + due
                draw = min(account[arg, lane] if on else 0.0, max(need - pot[lane], 0.0))
                account[arg, lane] = account[arg, lane] - draw
                pot[lane] += draw
        elif kind == PRINCIPAL:
            by_due = steps[i, AMOUNT] == DUE
            if steps[i, TARGET] >= 0:
                _targets(
                    steps[i, TARGET],
                    tg_kind,
                    tg_value,
                    tg_share,
                    tg_floor,
                    tg_tranche,
                    performing_raw,
                    balance,
                    target,
                )
            else:
                for lane in range(lanes):
                    target[lane] = 0.0
            for q in range(count):
                j = step_tranches[first + q]
                for lane in range(lanes):
                    owed[q, lane] = (
                        max(balance[j, lane] - target[lane], 0.0) if active[lane] else 0.0
                    )
            pro_rata = steps[i, MODE] == 1
            for lane in range(lanes):
                limit = due_left[lane] if by_due else np.inf
                paid_step = 0.0
                sequential = sequential_forced[lane] if pro_rata else True
                if pro_rata:
                    total = 0.0
                    for q in range(count):
                        total = total + owed[q, lane]
                    budget = 0.0 if sequential else min(min(pot[lane], total), limit)
                    share = budget / total if total > 0 else 0.0
                    for q in range(count):
                        j = step_tranches[first + q]
                        paid = owed[q, lane] * share
                        pot[lane] -= paid
                        balance[j, lane] = balance[j, lane] - paid
                        ledger[j, PP, lane] += paid
                    paid_step += budget
                for q in range(count):
                    j = step_tranches[first + q]
                    want = min(owed[q, lane], limit - paid_step) if sequential else 0.0
                    paid = min(pot[lane], want)
                    pot[lane] -= paid
                    balance[j, lane] = balance[j, lane] - paid
                    ledger[j, PP, lane] += paid
                    paid_step += paid
                if by_due:
                    due_left[lane] -= paid_step
        else:  # residual
            for lane in range(lanes):
                residual[lane] += pot[lane]
                pot[lane] = 0.0


@njit(cache=True)
def run_kernel(
    col_interest,
    col_principal,
    col_recoveries,
    col_defaulted,
    col_performing,
    col_fee_base,
    months,
    start_month,
    scheduled,
    years,
    powers,
    gaps,
    gdef,
    weight,
    g_discount,
    tr_balance,
    tr_coupon,
    tr_deferrable,
    guarantee_of,
    fee_kind,
    fee_rate,
    fee_amount,
    fee_tranche,
    g_tranche,
    g_fee_rate,
    g_recovery,
    g_capital,
    acc_initial,
    acc_target,
    tg_kind,
    tg_value,
    tg_share,
    tg_floor,
    tg_tranche,
    trg_metric,
    trg_above,
    trg_threshold,
    trg_accelerate,
    trg_curable,
    steps,
    step_tranches,
    programs,
    deferred_main,
    deferred_accelerated,
    ints,
    floats,
    out_sum,
    out_square,
    out_cross,
    out_path,
):
    """Evaluate every path; ``out_sum``/``out_square`` are periods × series, ``out_path``
    series × paths (``kernel_lower.period_series`` and ``path_series`` order)."""
    paths, periods = col_interest.shape
    lanes = LANES
    n_tr = tr_balance.shape[0]
    n_fee = fee_kind.shape[0]
    n_g = g_tranche.shape[0]
    n_acc = acc_initial.shape[0]
    n_trg = trg_metric.shape[0]
    n_series = out_sum.shape[1]
    separate = ints[N_SEPARATE] != 0
    has_call = ints[N_HAS_CALL] != 0
    residual_holder = ints[N_RESIDUAL]
    bisections, newton = ints[N_BISECTIONS], ints[N_NEWTON]
    pool_balance = floats[F_POOL]
    call_threshold = floats[F_CALL_THRESHOLD]
    limit = floats[F_RATE_LIMIT]

    # The block's collections, dates × lanes.
    c_interest = np.zeros((periods, lanes))
    c_principal = np.zeros((periods, lanes))
    c_recoveries = np.zeros((periods, lanes))
    c_defaulted = np.zeros((periods, lanes))
    c_performing = np.zeros((periods, lanes))
    c_fee_base = np.zeros((periods, lanes))
    g_default = np.zeros((n_g, lanes))
    w = np.zeros(lanes)
    # State.
    balance = np.empty((n_tr, lanes))
    arrears = np.empty((n_tr, lanes))
    garrears = np.empty((n_tr, lanes))
    current = np.empty((n_tr, lanes))
    fee_due = np.empty((n_fee, lanes))
    gfee_due = np.empty((n_g, lanes))
    account = np.empty((n_acc, lanes))
    trigger = np.empty((n_trg, lanes), dtype=np.bool_)
    accelerated = np.empty(lanes, dtype=np.bool_)
    called = np.empty(lanes, dtype=np.bool_)
    shortfall_event = np.empty(lanes, dtype=np.bool_)
    cumulative = np.empty(lanes)
    carry = np.empty(lanes)
    # One date's working arrays.
    notes = np.empty(lanes)
    performing_raw = np.empty(lanes)
    interest_cash = np.empty(lanes)
    principal_cash = np.empty(lanes)
    call_now = np.empty(lanes, dtype=np.bool_)
    everything = np.empty(lanes, dtype=np.bool_)
    due_left = np.empty(lanes)
    available = np.empty(lanes)
    due = np.empty(lanes)
    pot = np.empty(lanes)
    fast = np.empty(lanes)
    active = np.empty(lanes, dtype=np.bool_)
    sequential_forced = np.empty(lanes, dtype=np.bool_)
    standing_of = np.empty((n_g, lanes), dtype=np.bool_)
    capital_left = np.empty((n_g, lanes))
    residual = np.empty(lanes)
    ledger = np.empty((n_tr, 5, lanes))
    shortfall_row = np.empty((n_tr, lanes))
    fee_paid = np.empty((n_fee + n_g, lanes))
    owed = np.empty((n_tr, lanes))
    scratch = np.empty((n_tr, lanes))
    target = np.empty(lanes)
    accrued = np.empty(lanes)
    paid_current = np.zeros(n_tr, dtype=np.bool_)
    values = np.empty((n_series, lanes))
    # The block's history, for yields and lives.
    cash = np.empty((n_tr, 2, periods, lanes))
    principal_kept = np.empty((n_tr, 2, periods, lanes))
    shortfall_total = np.empty((n_tr, lanes))
    cover = np.empty((n_g, lanes))
    # Per enhancer: claims, net claims and their present value, fees and their present value,
    # cover written (CNY-years) and its present value.
    enhancer_totals = np.empty((n_g, 7, lanes))
    result = np.empty(lanes)
    result_wrapped = np.empty(lanes)

    for start in range(0, paths, lanes):
        n = min(lanes, paths - start)
        for lane in range(lanes):
            w[lane] = weight[start + lane] if lane < n else 0.0
        # Each path's collections are one contiguous row: read row by row.
        for lane in range(n):
            for p in range(periods):
                c_interest[p, lane] = col_interest[start + lane, p]
            for p in range(periods):
                c_principal[p, lane] = col_principal[start + lane, p]
            for p in range(periods):
                c_recoveries[p, lane] = col_recoveries[start + lane, p]
            for p in range(periods):
                c_defaulted[p, lane] = col_defaulted[start + lane, p]
            for p in range(periods):
                c_performing[p, lane] = col_performing[start + lane, p]
            for p in range(periods):
                c_fee_base[p, lane] = col_fee_base[start + lane, p]
        for p in range(periods):
            for lane in range(n, lanes):
                c_interest[p, lane] = 0.0
                c_principal[p, lane] = 0.0
                c_recoveries[p, lane] = 0.0
                c_defaulted[p, lane] = 0.0
                c_performing[p, lane] = 0.0
                c_fee_base[p, lane] = 0.0
        for k in range(n_g):
            for lane in range(lanes):
                g_default[k, lane] = gdef[start + lane, k] if lane < n else 0.0
                capital_left[k, lane] = g_capital[k]
        for j in range(n_tr):
            for lane in range(lanes):
                balance[j, lane] = tr_balance[j]
                arrears[j, lane] = 0.0
                garrears[j, lane] = 0.0
                shortfall_total[j, lane] = 0.0
        fee_due[:] = 0.0
        gfee_due[:] = 0.0
        enhancer_totals[:] = 0.0
        for a in range(n_acc):
            for lane in range(lanes):
                account[a, lane] = acc_initial[a]
        trigger[:] = False
        accelerated[:] = False
        called[:] = False
        shortfall_event[:] = False
        cumulative[:] = 0.0
        carry[:] = 0.0

        for p in range(periods):
            final = p == periods - 1
            period_months = months[p]
            year_fraction = period_months / 12.0
            end_month = start_month[p] + period_months - 1
            for j in range(n_tr):
                c = tr_coupon[j]
                for lane in range(lanes):
                    current[j, lane] = balance[j, lane] * (c * year_fraction) if c != 0 else 0.0
            ledger[:] = 0.0
            shortfall_row[:] = 0.0
            fee_paid[:] = 0.0
            residual[:] = 0.0

            # 1. Fees accrue.
            for f in range(n_fee):
                kind = fee_kind[f]
                rate = fee_rate[f]
                if kind == POOL_FEE:
                    for lane in range(lanes):
                        accrued[lane] = rate / 12.0 * c_fee_base[p, lane]
                elif kind == TRANCHE_FEE:
                    for lane in range(lanes):
                        accrued[lane] = rate * period_months / 12.0 * balance[fee_tranche[f], lane]
                else:
                    for lane in range(lanes):
                        accrued[lane] = fee_amount[f] * period_months / 12.0
                if has_call:
                    # A called deal has ended: nothing more accrues.
                    for lane in range(lanes):
                        if called[lane]:
                            accrued[lane] = 0.0
                for lane in range(lanes):
                    fee_due[f, lane] = fee_due[f, lane] + accrued[lane]
            for k in range(n_g):
                j = g_tranche[k]
                for lane in range(lanes):
                    standing = min(max(g_default[k, lane] - start_month[p], 0.0), period_months)
                    cover[k, lane] = balance[j, lane] * (standing / 12.0)
                    gfee_due[k, lane] = gfee_due[k, lane] + g_fee_rate[k] * cover[k, lane]
                    standing_of[k, lane] = g_default[k, lane] > end_month

            # 2. Triggers, on the notes after the previous date and this period's pool.
            for lane in range(lanes):
                total = 0.0
                for j in range(n_tr):
                    total = total + balance[j, lane]
                notes[lane] = total
                performing_raw[lane] = c_performing[p, lane]
                cumulative[lane] = cumulative[lane] + c_defaulted[p, lane]
            for t in range(n_trg):
                metric = trg_metric[t]
                threshold = trg_threshold[t]
                above = trg_above[t] != 0
                curable = trg_curable[t] != 0
                for lane in range(lanes):
                    if metric == SHORTFALL:
                        breached = shortfall_event[lane]
                    else:
                        if metric == DEFAULT_RATIO:
                            value = cumulative[lane] / pool_balance
                        elif notes[lane] > CENT:
                            reserves = 0.0
                            for a in range(n_acc):
                                reserves = reserves + account[a, lane]
                            value = (performing_raw[lane] + reserves) / notes[lane]
                        else:
                            value = np.inf
                        breached = value > threshold if above else value < threshold
                    trigger[t, lane] = breached if curable else (trigger[t, lane] or breached)
                    if trg_accelerate[t] and trigger[t, lane]:
                        accelerated[lane] = True
            for lane in range(lanes):
                forced = False
                for t in range(n_trg):
                    if not trg_accelerate[t] and trigger[t, lane]:
                        forced = True
                sequential_forced[lane] = forced
                shortfall_event[lane] = False

            # 3. Collections, the clean-up call, the legal-final release, amounts due.
            for lane in range(lanes):
                ic = c_interest[p, lane]
                pc = c_principal[p, lane] + c_recoveries[p, lane]
                performing = performing_raw[lane]
                now = False
                if has_call:
                    if called[lane]:
                        ic = 0.0
                        pc = 0.0
                        performing = 0.0
                    now = (
                        (not called[lane])
                        and performing <= call_threshold
                        and performing > CENT
                        and notes[lane] > CENT
                    )
                    pc = pc + (performing if now else 0.0)
                    performing = 0.0 if now else performing
                released = 0.0
                if final:
                    for a in range(n_acc):
                        released = released + account[a, lane]
                        account[a, lane] = 0.0
                every = final or accelerated[lane] or now or called[lane]
                due_left[lane] = notes[lane] if every else max(notes[lane] - performing, 0.0)
                senior = balance[0, lane]
                owing = senior if every else min(senior, scheduled[p])
                fees = 0.0
                for f in range(n_fee):
                    fees = fees + fee_due[f, lane]
                owing += fees
                fees = 0.0
                for k in range(n_g):
                    fees = fees + gfee_due[k, lane]
                owing += fees
                for j in range(n_tr):
                    owing += current[j, lane] + (arrears[j, lane] + garrears[j, lane])
                due[lane] = owing
                available[lane] = ic + pc + carry[lane]
                interest_cash[lane] = ic
                principal_cash[lane] = pc + released
                call_now[lane] = now
                everything[lane] = every

            # 4. The main program on lanes not accelerated (interest then principal, or
            # combined), then the post-acceleration one on the others.
            any_main = False
            any_accelerated = False
            for lane in range(lanes):
                active[lane] = not accelerated[lane]
                any_main = any_main or active[lane]
                any_accelerated = any_accelerated or accelerated[lane]
                if separate:
                    pot[lane] = interest_cash[lane] + carry[lane] if active[lane] else 0.0
                else:
                    whole = interest_cash[lane] + principal_cash[lane] + carry[lane]
                    pot[lane] = whole if active[lane] else 0.0
                whole = interest_cash[lane] + principal_cash[lane] + carry[lane]
                fast[lane] = whole if accelerated[lane] else 0.0
            for run in range(3):
                if run < 2:
                    if not any_main or (run == 1 and not separate):
                        continue
                    lanes_on, cash_pot, deferred = active, pot, deferred_main
                    if run == 0:
                        paid_current[:] = False
                    else:
                        for lane in range(lanes):
                            pot[lane] += principal_cash[lane] if active[lane] else 0.0
                else:
                    if not any_accelerated:
                        continue
                    lanes_on, cash_pot, deferred = accelerated, fast, deferred_accelerated
                    paid_current[:] = False
                _steps(
                    programs[run, 0],
                    programs[run, 1],
                    steps,
                    step_tranches,
                    lanes_on,
                    cash_pot,
                    due_left,
                    deferred,
                    paid_current,
                    final,
                    sequential_forced,
                    performing_raw,
                    ledger,
                    shortfall_row,
                    fee_paid,
                    residual,
                    current,
                    balance,
                    arrears,
                    garrears,
                    fee_due,
                    gfee_due,
                    account,
                    owed,
                    scratch,
                    target,
                    guarantee_of,
                    standing_of,
                    capital_left,
                    g_recovery,
                    tr_deferrable,
                    shortfall_event,
                    n_fee,
                    tg_kind,
                    tg_value,
                    tg_share,
                    tg_floor,
                    tg_tranche,
                    acc_target,
                )
            if any_accelerated:
                for lane in range(lanes):
                    pot[lane] = pot[lane] + fast[lane]

            # 5. Cash left is carried (or, at the legal final month, the residual); the
            # guarantor pays unpaid principal at the legal final month.
            for lane in range(lanes):
                if final:
                    residual[lane] += pot[lane]
                    carry[lane] = 0.0
                else:
                    carry[lane] = pot[lane]
                called[lane] = called[lane] or call_now[lane]
            if final:
                for k in range(n_g):
                    j = g_tranche[k]
                    for lane in range(lanes):
                        unpaid = balance[j, lane]
                        solvent = (
                            min(unpaid, capital_left[k, lane]) if standing_of[k, lane] else 0.0
                        )
                        capital_left[k, lane] = capital_left[k, lane] - solvent
                        paid = solvent + (unpaid - solvent) * g_recovery[k]
                        ledger[j, GP, lane] += paid

            # 6. The date's values (kernel_lower.period_series order) and the path history.
            for lane in range(lanes):
                values[0, lane] = available[lane]
                values[1, lane] = due[lane]
                values[2, lane] = residual[lane]
            s = 3
            for f in range(n_fee + n_g):
                for lane in range(lanes):
                    values[s, lane] = fee_paid[f, lane]
                s += 1
            for a in range(n_acc):
                for lane in range(lanes):
                    values[s, lane] = account[a, lane]
                s += 1
            for t in range(n_trg):
                for lane in range(lanes):
                    values[s, lane] = 1.0 if trigger[t, lane] else 0.0
                s += 1
            for lane in range(lanes):
                values[s, lane] = 1.0 if accelerated[lane] else 0.0
            s += 1
            for j in range(n_tr):
                holder = j == residual_holder
                for lane in range(lanes):
                    ip = ledger[j, IP, lane]
                    pp = ledger[j, PP, lane]
                    wrapped_principal = pp + ledger[j, GP, lane]
                    standalone_interest = ip + ledger[j, GR, lane]
                    wrapped_interest = ip + ledger[j, GI, lane]
                    values[s, lane] = standalone_interest
                    values[s + 1, lane] = pp
                    values[s + 2, lane] = wrapped_interest
                    values[s + 3, lane] = wrapped_principal
                    values[s + 4, lane] = balance[j, lane]
                    excess = residual[lane] if holder else 0.0
                    cash[j, 0, p, lane] = standalone_interest + pp + excess
                    cash[j, 1, p, lane] = wrapped_interest + wrapped_principal + excess
                    principal_kept[j, 0, p, lane] = pp
                    principal_kept[j, 1, p, lane] = wrapped_principal
                    shortfall_total[j, lane] += shortfall_row[j, lane]
                s += 5
            for k in range(n_g):
                j = g_tranche[k]
                df = g_discount[k, p]
                for lane in range(lanes):
                    claim = ledger[j, GI, lane] + ledger[j, GP, lane]
                    net = claim - ledger[j, GR, lane]
                    fee = fee_paid[n_fee + k, lane]
                    values[s, lane] = claim
                    values[s + 1, lane] = cover[k, lane]
                    enhancer_totals[k, 0, lane] += claim
                    enhancer_totals[k, 1, lane] += net
                    enhancer_totals[k, 2, lane] += net * df
                    enhancer_totals[k, 3, lane] += fee
                    enhancer_totals[k, 4, lane] += fee * df
                    enhancer_totals[k, 5, lane] += cover[k, lane] * df
                    enhancer_totals[k, 6, lane] += cover[k, lane]
                s += 2
            _add_moments(values, w, out_sum, out_square, p)
            cross = 0.0
            for lane in range(lanes):
                cross += w[lane] * available[lane] * w[lane] * due[lane]
            out_cross[p] += cross

        # 7. Per-path outcomes (kernel_lower.path_series order).
        s = 0
        for j in range(n_tr):
            price = tr_balance[j]
            gp_last = np.empty(lanes)
            for lane in range(lanes):
                gp_last[lane] = ledger[j, GP, lane]
            for lane in range(n):
                out_path[s, start + lane] = (
                    balance[j, lane] + arrears[j, lane] + garrears[j, lane]
                ) / price
                out_path[s + 1, start + lane] = (
                    balance[j, lane] - gp_last[lane] + arrears[j, lane]
                ) / price
            _life(principal_kept[j, 0], years, result)
            for lane in range(n):
                out_path[s + 2, start + lane] = result[lane]
            _life(principal_kept[j, 1], years, result)
            for lane in range(n):
                out_path[s + 3, start + lane] = result[lane]
            _yields(cash[j, 0], years, powers, gaps, price, bisections, newton, limit, result)
            same = True
            for p in range(periods):
                for lane in range(n):
                    if cash[j, 0, p, lane] != cash[j, 1, p, lane]:
                        same = False
            if same:
                result_wrapped[:] = result
            else:
                _yields(
                    cash[j, 1],
                    years,
                    powers,
                    gaps,
                    price,
                    bisections,
                    newton,
                    limit,
                    result_wrapped,
                )
            for lane in range(n):
                out_path[s + 4, start + lane] = result[lane]
                out_path[s + 5, start + lane] = result_wrapped[lane]
                out_path[s + 6, start + lane] = shortfall_total[j, lane]
            s += PATH_SERIES_PER_TRANCHE
        for k in range(n_g):
            for c in range(PATH_SERIES_PER_GUARANTEE):
                for lane in range(n):
                    out_path[s + c, start + lane] = enhancer_totals[k, c, lane]
            s += PATH_SERIES_PER_GUARANTEE
