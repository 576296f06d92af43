"""The compiled waterfall (numba): blocks of paths, period by period, step by step.

The one implementation of the priority of payments (``waterfall.ledger`` states its
conventions). It runs on a block of paths at a time (the "lanes"), so that a block's whole
state stays in cache. Every loop over lanes is innermost and branch-free (``_lo`` and ``_hi``
for min and max, selects for conditions, sums over tranches or fees as lane-wise running sums),
which is what lets the compiler turn it into vector instructions; a loop that touches too many
arrays is split, since the compiler must check each pair apart. The collections arrive in the
block layout (``kernel.blocked``), made once per chunk and shared by every design evaluated on
it. The main program and the post-acceleration program run one after the other, each on its
own lanes, amounts elsewhere counting as zero. Each block is reduced as it goes to what design
evaluation reports (``evaluate.summarise``): per-period weighted sums and sums of squares, and
per-path losses, lives, yields and claims; in ledger mode every date's ledger rows are written
too. The layout of the flat inputs and outputs is ``kernel_lower.py``'s; the tests check the
kernel against deals worked out by hand (``tests/test_kernel_by_hand.py``,
``tests/test_hand_computed_deal.py``, ``tests/test_waterfall_features.py``).
"""

from __future__ import annotations

import math

import numpy as np

from securitize.waterfall.kernel import ensure_cache_dir
from securitize.waterfall.kernel_codes import (
    A_DEPOSIT,
    A_DRAW,
    AMOUNT,
    AMOUNT_TARGET,
    ARG,
    C_DEFAULTED,
    C_FEE_BASE,
    C_INTEREST,
    C_PERFORMING,
    C_PRINCIPAL_CASH,
    CENT,
    COUNT,
    COVER_FEES,
    DEFAULT_RATIO,
    DEFERRED,
    DRAW,
    DUE,
    E_ARREARS,
    E_CAPACITY,
    E_CAPITAL,
    E_CLAIMS,
    E_COVER,
    E_REIMBURSED,
    ENHANCER_STATE,
    F_CALL_THRESHOLD,
    F_POOL,
    F_RATE_LIMIT,
    FEE,
    FIRST,
    FIRST_LOSS,
    FUND,
    GF_CAP,
    GF_COVER_FACTOR,
    GF_FEE_RATE,
    GF_RECOVERY,
    GF_SHARE,
    GI,
    GN_KIND,
    GN_POOL_SLOT,
    GN_TIMELY,
    GN_TRANCHE,
    GP,
    GR,
    GUARANTEE_FEE,
    ID,
    INTEREST,
    INTEREST_FEE,
    IP,
    KIND,
    MODE,
    N_BISECTIONS,
    N_DATED,
    N_HAS_CALL,
    N_LEDGER,
    N_NEWTON,
    N_PERIODS,
    N_RESIDUAL,
    N_SEPARATE,
    NOTES,
    OVERCOLLATERALISATION,
    PATH_SERIES_PER_GUARANTEE,
    PATH_SERIES_PER_TRANCHE,
    POOL,
    POOL_COVER,
    POOL_FEE,
    PP,
    PRINCIPAL,
    SHORTFALL,
    TARGET,
    TRANCHE_COVER,
    TRANCHE_FEE,
    TRANCHE_FLOWS,
)

ensure_cache_dir()

from numba import njit, types  # noqa: E402 (numba chooses the cache folder when a function is defined)
from numba.extending import overload  # noqa: E402

# Interleaved partial sums per moment (``_add_moments``); LANES is a multiple of it.
PARTIALS = 8


def _on(active, lane):
    """Whether ``lane`` runs the program: ``active[lane]``, or every lane when ``active`` is
    None. The kernel runs the steps with None on dates no lane is accelerated (most dates of
    most deals); the compiler then drops every mask from their loops."""
    return True if active is None else active[lane]


@overload(_on, inline="always")
def _on_typed(active, lane):
    if isinstance(active, types.NoneType):
        return lambda active, lane: True
    return lambda active, lane: active[lane]


@njit(cache=True, error_model="numpy", inline="always")
def _lo(a, b):
    """``min(a, b)`` as a select the compiler can vectorise (the builtin branches on NaN)."""
    return b if b < a else a


@njit(cache=True, error_model="numpy", inline="always")
def _hi(a, b):
    """``max(a, b)`` as a select the compiler can vectorise."""
    return b if b > a else a


@njit(cache=True, error_model="numpy", inline="always")
def _column_sums(rows, out):
    """out[lane] = Σ rows[r, lane], row by row (a fixed order; zero with no rows)."""
    for lane in range(out.shape[0]):
        out[lane] = rows[0, lane] if rows.shape[0] > 0 else 0.0
    for r in range(1, rows.shape[0]):
        for lane in range(out.shape[0]):
            out[lane] = out[lane] + rows[r, lane]


@njit(cache=True, error_model="numpy", inline="always")
def _zero(values):
    """values[:] = 0 as one flat loop (numba's slice assignment walks every dimension)."""
    for i in range(values.shape[0]):
        values[i] = 0.0


@njit(cache=True, error_model="numpy")
def _add_moments(values, weight, folded, out_sum, out_square, p):
    """Add the block's weighted values and their squares to period p's totals. Each sum over
    the lanes is a fixed tree: halves added lane by lane down to ``PARTIALS`` partial sums,
    then those in a fixed order. Every level is a vector loop, and the order (so every last
    digit) is the same in every process and on every machine."""
    series, lanes = values.shape
    for s in range(series):
        for lane in range(lanes):
            weighted = weight[lane] * values[s, lane]
            folded[0, lane] = weighted
            folded[1, lane] = weighted * weighted
        out_sum[p, s] += _fold(folded[0], lanes)
        out_square[p, s] += _fold(folded[1], lanes)


@njit(cache=True, error_model="numpy", inline="always")
def _fold(row, lanes):
    """Σ row[:lanes] by the fixed tree of ``_add_moments`` (row is overwritten)."""
    half = lanes // 2
    while half >= PARTIALS:
        for lane in range(half):
            row[lane] += row[lane + half]
        half //= 2
    return _fixed_sum(row, 0)


@njit(cache=True, error_model="numpy", inline="always")
def _fixed_sum(partial, at):
    """The ``PARTIALS`` partial sums from ``at``, added pairwise in a fixed order."""
    return ((partial[at] + partial[at + 1]) + (partial[at + 2] + partial[at + 3])) + (
        (partial[at + 4] + partial[at + 5]) + (partial[at + 6] + partial[at + 7])
    )


@njit(cache=True, error_model="numpy", inline="always")
def _record(out, row, p, col, values, n):
    """Ledger mode: the date's values of the block's n paths into row ``row``."""
    for lane in range(n):
        out[row, p, col + lane] = values[lane]


@njit(cache=True, error_model="numpy", inline="always")
def _record_flag(out, row, p, col, flags, n):
    """``_record`` for a true/false state (written as 1 or 0)."""
    for lane in range(n):
        out[row, p, col + lane] = 1.0 if flags[lane] else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _targets(k, tg_kind, tg_value, tg_share, tg_floor, tg_tranche, performing, balance, out):
    """Target k on every lane."""
    lanes = out.shape[0]
    if tg_kind[k] == AMOUNT_TARGET:
        for lane in range(lanes):
            out[lane] = tg_value[k]
        return
    share, floor = tg_share[k], tg_floor[k]
    if tg_kind[k] == POOL:
        for lane in range(lanes):
            out[lane] = _hi(share * performing[lane], floor)
    elif tg_kind[k] == NOTES:
        _column_sums(balance, out)
        for lane in range(lanes):
            out[lane] = _hi(share * out[lane], floor)
    else:
        j = tg_tranche[k]
        for lane in range(lanes):
            out[lane] = _hi(share * balance[j, lane], floor)


@njit(cache=True, error_model="numpy")
def _yields(cash, years, powers, gaps, price, bisections, newton, limit, out):
    """``evaluate.internal_rate_of_return`` on every lane: cash is periods × lanes.

    On the month grid the discount factors e^(−r t_p) are powers of e^(−r/12) (payment dates
    are whole months), built up date by date from one exponential per lane and iteration; with
    no ``gaps`` (a dated deal) each date's factor is its own exponential."""
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
        low[lane] = _lo(_hi(_lo(a, b), -limit), limit)
        high[lane] = _lo(_hi(_hi(a, b), -limit), limit)
    rate = np.empty(lanes)
    value = np.empty(lanes)
    slope = np.empty(lanes)
    factor = np.empty(lanes)
    step_of = np.empty((gaps.shape[0], lanes))
    dated = gaps.shape[0] == 0
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
            if dated:
                for lane in range(lanes):
                    factor[lane] = math.exp(-rate[lane] * t)
            else:
                for lane in range(lanes):
                    factor[lane] *= step_of[g, lane]
            for lane in range(lanes):
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
                low[lane] = _lo(_hi(rate[lane] - step, -limit), limit)
            if not moved:
                # Every further step is zero on every lane: the solver has stopped moving.
                break
    for lane in range(lanes):
        out[lane] = math.expm1(low[lane]) if total[lane] > CENT else -1.0


@njit(cache=True, error_model="numpy", inline="always")
def _claim(k, loss, apply_share, g_floats, enh, standing_of, out, touched):
    """Enhancer k's payment on ``loss`` on every lane, into ``out``:
    its share (unless already applied), within what is left of its cap; in full while it
    stands and has capital, its recovery rate on the rest. ``touched[k]`` records that the
    date's claims (and reimbursements) of k may be other than zero."""
    lanes = out.shape[0]
    share = g_floats[k, GF_SHARE]
    scaled = apply_share and share != 1.0
    capped = g_floats[k, GF_CAP] != np.inf
    recovery = g_floats[k, GF_RECOVERY]
    capacity = enh[E_CAPACITY, k]
    capital = enh[E_CAPITAL, k]
    claims = enh[E_CLAIMS, k]
    standing = standing_of[k]
    touched[k] = True
    for lane in range(lanes):
        claim = share * loss[lane] if scaled else loss[lane]
        if capped:
            claim = _lo(claim, capacity[lane])
            capacity[lane] = capacity[lane] - claim
        solvent = _lo(claim, capital[lane]) if standing[lane] else 0.0
        capital[lane] = capital[lane] - solvent
        paid = solvent + (claim - solvent) * recovery
        claims[lane] += paid
        out[lane] = paid


@njit(cache=True, error_model="numpy", inline="always")
def _reimburse(j, amount, calls, call_start, enh, touched):
    """Split a reimbursement of tranche j's advances among its enhancers in call order
    (``amount`` is used up)."""
    lanes = amount.shape[0]
    for c in range(call_start[j], call_start[j + 1]):
        k = calls[c]
        touched[k] = True
        for lane in range(lanes):
            part = _lo(amount[lane], enh[E_ARREARS, k, lane])
            enh[E_ARREARS, k, lane] = enh[E_ARREARS, k, lane] - part
            enh[E_REIMBURSED, k, lane] += part
            amount[lane] = amount[lane] - part


@njit(cache=True, error_model="numpy")
def _guarantee_principal(
    j,
    balance,
    arrears,
    garrears,
    ledger,
    calls,
    call_start,
    g_floats,
    g_ints,
    enh,
    standing_of,
    left,
    advance,
    touched,
):
    """Tranche j's enhancers pay its unpaid principal in turn (at the legal final month or its
    put date); a CRMW also pays the investors' interest arrears and then holds that claim."""
    lanes = left.shape[0]
    for lane in range(lanes):
        left[lane] = balance[j, lane]
    for c in range(call_start[j], call_start[j + 1]):
        k = calls[c]
        _claim(k, left, True, g_floats, enh, standing_of, advance, touched)
        for lane in range(lanes):
            ledger[j, GP, lane] += advance[lane]
            left[lane] = left[lane] - advance[lane]
        if g_ints[k, GN_TIMELY] == 0:
            _claim(k, arrears[j], True, g_floats, enh, standing_of, advance, touched)
            for lane in range(lanes):
                paid = advance[lane]
                arrears[j, lane] = arrears[j, lane] - paid
                garrears[j, lane] = garrears[j, lane] + paid
                enh[E_ARREARS, k, lane] = enh[E_ARREARS, k, lane] + paid
                ledger[j, GI, lane] += paid


@njit(cache=True, error_model="numpy", inline="always")
def _owed(
    first, count, step_tranches, paid_current, deferred, active, current, arrears, garrears, owed
):
    """What an interest step owes each of its tranches whose current interest is still unpaid
    this date (its current interest, and its arrears unless it defers them); how many."""
    lanes = owed.shape[1]
    group = 0
    for q in range(first, first + count):
        j = step_tranches[q]
        if paid_current[j]:
            continue
        group += 1
        if deferred[j]:
            for lane in range(lanes):
                owed[j, lane] = current[j, lane] if _on(active, lane) else 0.0
        else:
            for lane in range(lanes):
                on = _on(active, lane)
                owed[j, lane] = (current[j, lane] if on else 0.0) + (
                    (arrears[j, lane] + garrears[j, lane]) if on else 0.0
                )
    return group


@njit(cache=True, error_model="numpy", inline="always")
def _sequential_principal(
    first,
    count,
    step_tranches,
    targeted,
    by_due,
    active,
    balance,
    target,
    due_left,
    pot,
    ledger,
    moved,
):
    """A sequential principal step: each tranche in turn is paid what it is owed above its
    target (``targeted``), within the pot and, ``by_due``, the principal still due."""
    lanes = pot.shape[0]
    for q in range(count):
        j = step_tranches[first + q]
        paying = 0
        for lane in range(lanes):
            above = _hi(balance[j, lane] - target[lane], 0.0) if targeted else balance[j, lane]
            want = above if _on(active, lane) else 0.0
            want = _lo(want, due_left[lane]) if by_due else want
            paid = _lo(pot[lane], want)
            pot[lane] -= paid
            balance[j, lane] = balance[j, lane] - paid
            ledger[j, PP, lane] += paid
            paying += 1 if paid != 0.0 else 0
            if by_due:
                due_left[lane] -= paid
        moved[j] = moved[j] or paying > 0


@njit(cache=True, error_model="numpy")
def _steps(first_step, last_step, steps, step_tranches, active, state):
    """Run steps [first_step, last_step) of one program (main, principal or post-acceleration)
    on the lanes where ``active`` holds (None: on every lane); ``state`` is the date's arrays
    and flags, in the order unpacked below (one tuple, so that the two kinds of ``active``
    share one call). Every loop over lanes is innermost and branch-free, so
    the compiler turns it into vector instructions; ``work`` holds per-lane sums and shares,
    ``flows`` each account's deposits and draws of the date; ``clear[j]`` says that tranche j
    has no interest arrears (to investors or enhancers) on any lane of the block,
    ``shorted[j]`` that its interest was short on some lane this date, ``moved[j]`` that it
    may have been paid principal on some lane."""
    (
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
        work,
        target,
        calls,
        call_start,
        g_floats,
        g_ints,
        enh,
        standing_of,
        advance,
        paid_back,
        tr_deferrable,
        shortfall_event,
        n_fee,
        tg_kind,
        tg_value,
        tg_share,
        tg_floor,
        tg_tranche,
        acc_target,
        flows,
        clear,
        touched,
        shorted,
        moved,
    ) = state
    lanes = pot.shape[0]
    need = work[0]
    subtotal = work[1]
    share = work[2]
    paid_step = work[3]
    limit = work[4]
    for i in range(first_step, last_step):
        kind = steps[i, KIND]
        arg = steps[i, ARG]
        first = steps[i, FIRST]
        count = steps[i, COUNT]
        if kind in (FEE, GUARANTEE_FEE):
            dues = fee_due if kind == FEE else gfee_due
            column = arg if kind == FEE else n_fee + arg
            for lane in range(lanes):
                paid = _lo(pot[lane], dues[arg, lane] if _on(active, lane) else 0.0)
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
                        on = _on(active, lane)
                        to_investor = _lo(pot[lane], arrears[j, lane] if on else 0.0)
                        pot[lane] -= to_investor
                        to_guarantor = _lo(pot[lane], garrears[j, lane] if on else 0.0)
                        pot[lane] -= to_guarantor
                        arrears[j, lane] = arrears[j, lane] - to_investor
                        garrears[j, lane] = garrears[j, lane] - to_guarantor
                        ledger[j, IP, lane] += to_investor
                        ledger[j, GR, lane] += to_guarantor
                        paid_back[lane] = to_guarantor
                    _reimburse(j, paid_back, calls, call_start, enh, touched)
            if kind == DEFERRED:
                continue
            # One tranche with no arrears in the block takes its current interest from the pot
            # in one pass (the general path, with its zero arrears left out).
            j = step_tranches[first]
            one_pass = count == 1 and not paid_current[j] and (deferred[j] or clear[j])
            group = (
                0
                if one_pass
                else _owed(
                    first,
                    count,
                    step_tranches,
                    paid_current,
                    deferred,
                    active,
                    current,
                    arrears,
                    garrears,
                    owed,
                )
            )
            if group == 0 and not one_pass:
                continue
            if group == 1:
                for q in range(first, first + count):
                    j = step_tranches[q]
                    if not paid_current[j]:
                        for lane in range(lanes):
                            paid = _lo(pot[lane], owed[j, lane])
                            pot[lane] -= paid
                            scratch[j, lane] = paid
            elif group > 1:
                for lane in range(lanes):
                    subtotal[lane] = 0.0
                for q in range(first, first + count):
                    j = step_tranches[q]
                    if not paid_current[j]:
                        for lane in range(lanes):
                            subtotal[lane] = subtotal[lane] + owed[j, lane]
                for lane in range(lanes):
                    total = subtotal[lane]
                    paid_total = _lo(pot[lane], total)
                    pot[lane] -= paid_total
                    share[lane] = paid_total / total if total > 0 else 0.0
                for q in range(first, first + count):
                    j = step_tranches[q]
                    if not paid_current[j]:
                        for lane in range(lanes):
                            scratch[j, lane] = owed[j, lane] * share[lane]
            for q in range(first, first + count):
                j = step_tranches[q]
                if paid_current[j]:
                    continue
                paid_current[j] = True
                short = 0
                if one_pass:
                    for lane in range(lanes):
                        now = current[j, lane] if _on(active, lane) else 0.0
                        paid = _lo(pot[lane], now)
                        pot[lane] -= paid
                        ledger[j, ID, lane] += now
                        ledger[j, IP, lane] += paid
                        need[lane] = now - paid
                        shortfall_row[j, lane] += need[lane]
                        short += 1 if need[lane] != 0.0 else 0
                with_arrears = not deferred[j] and not one_pass
                if with_arrears:
                    # Arrears are paid only where some lane has any: with none, paying
                    # them changes nothing, and the block skips the work too.
                    owing = 0
                    for lane in range(lanes):
                        owing += 1 if (arrears[j, lane] != 0.0) | (garrears[j, lane] != 0.0) else 0
                    with_arrears = owing > 0
                    clear[j] = owing == 0
                if with_arrears:
                    for lane in range(lanes):
                        on = _on(active, lane)
                        remaining = scratch[j, lane]
                        to_investor = _lo(remaining, arrears[j, lane] if on else 0.0)
                        arrears[j, lane] = arrears[j, lane] - to_investor
                        ledger[j, IP, lane] += to_investor
                        remaining = remaining - to_investor
                        to_guarantor = _lo(remaining, garrears[j, lane] if on else 0.0)
                        garrears[j, lane] = garrears[j, lane] - to_guarantor
                        ledger[j, GR, lane] += to_guarantor
                        paid_back[lane] = to_guarantor
                        scratch[j, lane] = remaining - to_guarantor
                    _reimburse(j, paid_back, calls, call_start, enh, touched)
                if not one_pass:
                    # The current interest; ``need`` holds each lane's shortfall.
                    for lane in range(lanes):
                        now = current[j, lane] if _on(active, lane) else 0.0
                        to_current = _lo(scratch[j, lane], now)
                        ledger[j, ID, lane] += now
                        ledger[j, IP, lane] += to_current
                        need[lane] = now - to_current
                        shortfall_row[j, lane] += need[lane]
                        short += 1 if need[lane] != 0.0 else 0
                if short > 0:
                    shorted[j] = True
                    # The tranche's enhancers advance what is unpaid in call order, each on
                    # what the ones before it left (a CRMW pays no interest on the way); the
                    # rest is in arrears, and an event where the tranche may not defer.
                    for c in range(call_start[j], call_start[j + 1]):
                        k = calls[c]
                        if g_ints[k, GN_TIMELY] == 0:
                            continue
                        _claim(k, need, True, g_floats, enh, standing_of, advance, touched)
                        for lane in range(lanes):
                            advanced = advance[lane]
                            ledger[j, GI, lane] += advanced
                            garrears[j, lane] = garrears[j, lane] + advanced
                            enh[E_ARREARS, k, lane] = enh[E_ARREARS, k, lane] + advanced
                            need[lane] = need[lane] - advanced
                    not_deferrable = not tr_deferrable[j]
                    for lane in range(lanes):
                        arrears[j, lane] = arrears[j, lane] + need[lane]
                        shortfall_event[lane] = shortfall_event[lane] | (
                            not_deferrable & (need[lane] > CENT)
                        )
                    clear[j] = False
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
                on = _on(active, lane)
                excess = _hi(account[arg, lane] - target[lane], 0.0) if on else 0.0
                pot[lane] += excess
                want = _hi(target[lane] - account[arg, lane] + excess, 0.0) if on else 0.0
                deposit = _lo(pot[lane], want)
                pot[lane] -= deposit
                account[arg, lane] = account[arg, lane] - excess + deposit
                flows[A_DRAW, arg, lane] += excess
                flows[A_DEPOSIT, arg, lane] += deposit
        elif kind == DRAW:
            for lane in range(lanes):
                need[lane] = 0.0
            if steps[i, COVER_FEES] != 0:
                for dues in (fee_due, gfee_due):
                    _column_sums(dues, subtotal)
                    for lane in range(lanes):
                        need[lane] = need[lane] + (subtotal[lane] if _on(active, lane) else 0.0)
            for q in range(first, first + count):
                j = step_tranches[q]
                if deferred[j]:
                    for lane in range(lanes):
                        need[lane] = need[lane] + (current[j, lane] if _on(active, lane) else 0.0)
                else:
                    for lane in range(lanes):
                        on = _on(active, lane)
                        due = (current[j, lane] if on else 0.0) + (
                            (arrears[j, lane] + garrears[j, lane]) if on else 0.0
                        )
                        need[lane] = need[lane] + due
            for lane in range(lanes):
                draw = _lo(
                    account[arg, lane] if _on(active, lane) else 0.0,
                    _hi(need[lane] - pot[lane], 0.0),
                )
                account[arg, lane] = account[arg, lane] - draw
                pot[lane] += draw
                flows[A_DRAW, arg, lane] += draw
        elif kind == PRINCIPAL:
            by_due = steps[i, AMOUNT] == DUE
            targeted = steps[i, TARGET] >= 0
            pro_rata = steps[i, MODE] == 1
            if targeted:
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
            elif pro_rata:
                for lane in range(lanes):
                    target[lane] = 0.0
            if not pro_rata:
                # One pass per tranche.
                _sequential_principal(
                    first,
                    count,
                    step_tranches,
                    targeted,
                    by_due,
                    active,
                    balance,
                    target,
                    due_left,
                    pot,
                    ledger,
                    moved,
                )
                continue
            # Pro rata (by what each is owed above its target), except on lanes where a trigger
            # forces sequential payment.
            for q in range(count):
                j = step_tranches[first + q]
                for lane in range(lanes):
                    owed[q, lane] = (
                        _hi(balance[j, lane] - target[lane], 0.0) if _on(active, lane) else 0.0
                    )
            for lane in range(lanes):
                limit[lane] = due_left[lane] if by_due else np.inf
                subtotal[lane] = 0.0
            for q in range(count):
                for lane in range(lanes):
                    subtotal[lane] = subtotal[lane] + owed[q, lane]
            for lane in range(lanes):
                total = subtotal[lane]
                budget = 0.0 if sequential_forced[lane] else _lo(_lo(pot[lane], total), limit[lane])
                share[lane] = budget / total if total > 0 else 0.0
                # Paid below, tranche by tranche (budget is what they add up to).
                paid_step[lane] = budget
            for q in range(count):
                j = step_tranches[first + q]
                # (Pro rata marks its tranches as paid on the date, whatever they were paid.)
                moved[j] = True
                for lane in range(lanes):
                    paid = owed[q, lane] * share[lane]
                    pot[lane] -= paid
                    balance[j, lane] = balance[j, lane] - paid
                    ledger[j, PP, lane] += paid
            for q in range(count):
                j = step_tranches[first + q]
                for lane in range(lanes):
                    forced = sequential_forced[lane]
                    want = _lo(owed[q, lane], limit[lane] - paid_step[lane]) if forced else 0.0
                    paid = _lo(pot[lane], want)
                    pot[lane] -= paid
                    balance[j, lane] = balance[j, lane] - paid
                    ledger[j, PP, lane] += paid
                    paid_step[lane] += paid
            if by_due:
                for lane in range(lanes):
                    due_left[lane] -= paid_step[lane]
        else:  # residual
            for lane in range(lanes):
                residual[lane] += pot[lane]
                pot[lane] = 0.0


@njit(cache=True, error_model="numpy")
def _redemptions(
    p,
    tr_put,
    tr_call,
    balance,
    fee_due,
    gfee_due,
    current,
    arrears,
    garrears,
    interest_cash,
    principal_cash,
    carry,
    redeem,
    ahead,
    subtotal,
    need,
    redeemed,
):
    """Principal a put (回售) or an issuer call (赎回) makes due on date p, into ``redeem``:
    the balance of the tranche and of every tranche above it.
    An exercised put falls due on every lane; a call only where the date's funds cover every
    fee and tax due, every tranche's interest due and those balances."""
    lanes = redeem.shape[0]
    n_tr = balance.shape[0]
    for lane in range(lanes):
        redeem[lane] = 0.0
    for j in range(n_tr):
        is_put = tr_put[j] == p
        is_call = tr_call[j] == p
        if not (is_put or is_call):
            continue
        for lane in range(lanes):
            ahead[lane] = 0.0
        for i in range(j + 1):
            for lane in range(lanes):
                ahead[lane] = ahead[lane] + balance[i, lane]
        if is_put:
            for lane in range(lanes):
                redeem[lane] = _hi(redeem[lane], ahead[lane])
                redeemed[j, lane] = True
        if is_call:
            # need = ahead + fees due + guarantee fees due + every tranche's interest due.
            _column_sums(fee_due, subtotal)
            for lane in range(lanes):
                need[lane] = ahead[lane] + subtotal[lane]
            _column_sums(gfee_due, subtotal)
            for lane in range(lanes):
                need[lane] = need[lane] + subtotal[lane]
            for i in range(n_tr):
                for lane in range(lanes):
                    need[lane] = need[lane] + (
                        current[i, lane] + (arrears[i, lane] + garrears[i, lane])
                    )
            for lane in range(lanes):
                funds = interest_cash[lane] + principal_cash[lane] + carry[lane]
                exercised = (funds >= need[lane]) & (balance[j, lane] > CENT)
                redeem[lane] = _hi(redeem[lane], ahead[lane]) if exercised else redeem[lane]
                redeemed[j, lane] = exercised


@njit(cache=True, error_model="numpy")
def run_kernel(
    blocked,
    pool_claims,
    months,
    start_month,
    scheduled,
    years,
    powers,
    gaps,
    gdef,
    capital_paths,
    weight,
    g_discount,
    tr_balance,
    tr_accrual,
    tr_deferrable,
    tr_put,
    tr_call,
    tr_redeemable,
    calls,
    call_start,
    fee_kind,
    fee_rate,
    fee_amount,
    fee_tranche,
    g_floats,
    g_ints,
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
    fee_years,
    ints,
    floats,
    out_sum,
    out_square,
    out_cross,
    out_path,
    first_path,
    out_ledger,
    out_end,
):
    """Evaluate every path of ``blocked`` (the collections, ``kernel.blocked``: blocks ×
    series × periods × LANES); ``out_sum``/``out_square`` are periods × series, ``out_path``
    series × paths (``kernel_lower.period_series`` and ``path_series`` order), the block's
    paths written from column ``first_path`` on. In ledger mode (``ints[N_LEDGER]``) every
    date's ledger rows go to ``out_ledger`` (rows × periods × paths) and the end-of-deal amounts
    to ``out_end`` (rows × paths), in ``kernel_lower.ledger_series`` and ``ledger_ends`` order."""
    paths = weight.shape[0]
    periods = blocked.shape[2]
    # The block width is the array's (not the LANES constant compiled in: numba's cache
    # would not see a change to kernel_codes).
    lanes = blocked.shape[3]
    n_tr = tr_balance.shape[0]
    n_fee = fee_kind.shape[0]
    n_g = g_ints.shape[0]
    n_acc = acc_initial.shape[0]
    n_trg = trg_metric.shape[0]
    n_series = out_sum.shape[1]
    separate = ints[N_SEPARATE] != 0
    has_call = ints[N_HAS_CALL] != 0
    residual_holder = ints[N_RESIDUAL]
    bisections, newton = ints[N_BISECTIONS], ints[N_NEWTON]
    with_yields = bisections + newton > 0
    with_ledger = ints[N_LEDGER] != 0
    # A dated deal accrues fees by time on its day count (fee_years), the grid on months / 12.
    dated = ints[N_DATED] != 0
    # The ledger's rows need the date's available funds and amounts due too.
    with_periods = ints[N_PERIODS] != 0 or with_ledger
    with_moments = ints[N_PERIODS] != 0
    # Cumulative defaults feed only a default-ratio trigger, the accounts' sum (each date) only
    # an over-collateralisation trigger.
    default_ratio = False
    with_reserves = False
    # Whether any lane can ever run the post-acceleration program.
    can_accelerate = False
    for t in range(trg_metric.shape[0]):
        default_ratio = default_ratio or trg_metric[t] == DEFAULT_RATIO
        with_reserves = with_reserves or trg_metric[t] == OVERCOLLATERALISATION
        can_accelerate = can_accelerate or trg_accelerate[t] != 0
    pool_balance = floats[F_POOL]
    call_threshold = floats[F_CALL_THRESHOLD]
    limit = floats[F_RATE_LIMIT]

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
    reserves = np.empty(lanes)
    interest_cash = np.empty(lanes)
    principal_cash = np.empty(lanes)
    call_now = np.empty(lanes, dtype=np.bool_)
    breached = np.empty(lanes, dtype=np.bool_)
    due_left = np.empty(lanes)
    available = np.empty(lanes)
    due = np.empty(lanes)
    pot = np.empty(lanes)
    fast = np.empty(lanes)
    active = np.empty(lanes, dtype=np.bool_)
    # Whether ``active`` holds on every lane (as it does until a lane is accelerated).
    all_active = False
    sequential_forced = np.empty(lanes, dtype=np.bool_)
    standing_of = np.empty((n_g, lanes), dtype=np.bool_)
    enh = np.empty((ENHANCER_STATE, n_g, lanes))
    cover = enh[E_COVER]
    claims_row = enh[E_CLAIMS]
    reimbursed_row = enh[E_REIMBURSED]
    advance = np.empty(lanes)
    paid_back = np.empty(lanes)
    left = np.empty(lanes)
    # Each pool enhancer's claims on the date's losses, and what they paid into the trust.
    cover_cash = np.empty(lanes)
    any_pool = pool_claims.shape[1] > 0
    residual = np.empty(lanes)
    ledger = np.empty((n_tr, TRANCHE_FLOWS, lanes))
    flows = np.empty((2, n_acc, lanes))
    # Per tranche: no interest arrears on any lane of the block (its interest steps then pay
    # in one pass).
    clear = np.ones(n_tr, dtype=np.bool_)
    # Rows that may be other than zero this date, zeroed on the next only if so: each
    # enhancer's claims and reimbursements, each tranche's interest shortfall.
    touched = np.ones(n_g, dtype=np.bool_)
    shorted = np.ones(n_tr, dtype=np.bool_)
    moved = np.ones(n_tr, dtype=np.bool_)
    # Per tranche: whether enhancers pay it (else its GR, GI and GP rows stay zero).
    wrapped_tranche = np.zeros(n_tr, dtype=np.bool_)
    for j in range(n_tr):
        wrapped_tranche[j] = call_start[j + 1] > call_start[j]
    flows_flat = flows.reshape(flows.size)
    shortfall_row = np.empty((n_tr, lanes))
    fee_paid = np.empty((n_fee + n_g, lanes))
    owed = np.empty((n_tr, lanes))
    scratch = np.empty((n_tr, lanes))
    work = np.empty((5, lanes))
    subtotal = work[1]
    target = np.empty(lanes)
    paid_current = np.zeros(n_tr, dtype=np.bool_)
    values = np.empty((n_series, lanes))
    folded = np.empty((2, lanes))
    # The block's cash history, for yields (only when they are solved for).
    cash = np.empty((n_tr, 2, periods if with_yields else 0, lanes))
    # Per tranche: principal received from the trust and principal × years (lives; wrapped,
    # the guarantor's principal at the legal final date is added at the end).
    received = np.empty((n_tr, lanes))
    timed = np.empty((n_tr, lanes))
    shortfall_total = np.empty((n_tr, lanes))
    # Per enhancer: claims, net claims and their present value, fees and their present value,
    # cover written (CNY-years) and its present value.
    enhancer_totals = np.empty((n_g, 7, lanes))
    result = np.empty(lanes)
    result_wrapped = np.empty(lanes)
    # Puts and calls (回售/赎回): principal a put left unpaid (owed no more by the trust, the
    # tranche's stand-alone loss), the guarantor's principal and its principal × years (paid at
    # a put date or the legal final month), this date's redemptions and what they make due.
    put_unpaid = np.empty((n_tr, lanes))
    gp_total = np.empty((n_tr, lanes))
    gp_timed = np.empty((n_tr, lanes))
    redeemed = np.zeros((n_tr, lanes), dtype=np.bool_)
    redeem = np.empty(lanes)
    ahead = np.empty(lanes)
    every_of = np.empty(lanes, dtype=np.bool_)
    ledger_flat = ledger.reshape(ledger.size)
    fee_paid_flat = fee_paid.reshape(fee_paid.size)

    for block in range(blocked.shape[0]):
        start = block * lanes
        n = min(lanes, paths - start)
        collections = blocked[block]
        for lane in range(lanes):
            w[lane] = weight[start + lane] if lane < n else 0.0
        for k in range(n_g):
            for lane in range(lanes):
                g_default[k, lane] = gdef[start + lane, k] if lane < n else 0.0
                enh[E_CAPITAL, k, lane] = capital_paths[start + lane, k] if lane < n else 0.0
                enh[E_CAPACITY, k, lane] = g_floats[k, GF_CAP]
                enh[E_ARREARS, k, lane] = 0.0
        touched[:] = True
        shorted[:] = True
        moved[:] = True
        _zero(ledger_flat)
        for j in range(n_tr):
            clear[j] = True
            for lane in range(lanes):
                balance[j, lane] = tr_balance[j]
                arrears[j, lane] = 0.0
                garrears[j, lane] = 0.0
                shortfall_total[j, lane] = 0.0
                put_unpaid[j, lane] = 0.0
                gp_total[j, lane] = 0.0
                gp_timed[j, lane] = 0.0
        _zero(received.reshape(received.size))
        _zero(timed.reshape(timed.size))
        _zero(fee_due.reshape(fee_due.size))
        _zero(gfee_due.reshape(gfee_due.size))
        _zero(enhancer_totals.reshape(enhancer_totals.size))
        for a in range(n_acc):
            for lane in range(lanes):
                account[a, lane] = acc_initial[a]
        for t in range(n_trg):
            for lane in range(lanes):
                trigger[t, lane] = False
        for lane in range(lanes):
            accelerated[lane] = False
            called[lane] = False
            shortfall_event[lane] = False
            cumulative[lane] = 0.0
            carry[lane] = 0.0

        for p in range(periods):
            final = p == periods - 1
            period_months = months[p]
            end_month = start_month[p] + period_months - 1
            # Each tranche's current interest, and the notes' balance (the tranches' sum,
            # in order) after the previous date.
            for j in range(n_tr):
                c = tr_accrual[j, p]
                first_row = j == 0
                for lane in range(lanes):
                    b = balance[j, lane]
                    current[j, lane] = b * c if c != 0 else 0.0
                    notes[lane] = b if first_row else notes[lane] + b
            for j in range(n_tr):
                _zero(ledger[j, IP])
                _zero(ledger[j, ID])
                if moved[j]:
                    _zero(ledger[j, PP])
                    moved[j] = False
                if wrapped_tranche[j]:
                    for c in (GR, GI, GP):
                        _zero(ledger[j, c])
                if shorted[j]:
                    _zero(shortfall_row[j])
                    shorted[j] = False
            _zero(fee_paid_flat)
            _zero(flows_flat)
            _zero(residual)
            redeemed[:] = False

            # 1. Fees accrue (nothing more once a deal is called: it has ended).
            for f in range(n_fee):
                kind = fee_kind[f]
                rate = fee_rate[f]
                fee = fee_due[f]
                if kind == POOL_FEE:
                    for lane in range(lanes):
                        value = rate / 12.0 * collections[C_FEE_BASE, p, lane]
                        fee[lane] = fee[lane] + (0.0 if has_call and called[lane] else value)
                elif kind == INTEREST_FEE:
                    # VAT and surcharges on the period's interest collections.
                    for lane in range(lanes):
                        value = rate * collections[C_INTEREST, p, lane]
                        fee[lane] = fee[lane] + (0.0 if has_call and called[lane] else value)
                elif kind == TRANCHE_FEE:
                    tranche = fee_tranche[f]
                    scale = rate * fee_years[p] if dated else rate * period_months / 12.0
                    for lane in range(lanes):
                        value = scale * balance[tranche, lane]
                        fee[lane] = fee[lane] + (0.0 if has_call and called[lane] else value)
                else:
                    amount = fee_amount[f]
                    value = amount * fee_years[p] if dated else amount * period_months / 12.0
                    for lane in range(lanes):
                        fee[lane] = fee[lane] + (0.0 if has_call and called[lane] else value)
            for k in range(n_g):
                if touched[k]:
                    _zero(claims_row[k])
                    _zero(reimbursed_row[k])
                    touched[k] = False
            for k in range(n_g):
                # The amount covered during the period, for the months
                # before the enhancer's default: the fee base, in CNY-years.
                j = g_ints[k, GN_TRANCHE]
                kind = g_ints[k, GN_KIND]
                share = g_floats[k, GF_SHARE]
                capped = g_floats[k, GF_CAP] != np.inf
                scale = share * g_floats[k, GF_COVER_FACTOR]
                rate = g_floats[k, GF_FEE_RATE]
                for lane in range(lanes):
                    if kind == FIRST_LOSS:
                        base = enh[E_CAPACITY, k, lane]
                    else:
                        if kind == POOL_COVER:
                            base = scale * collections[C_FEE_BASE, p, lane] / period_months
                        else:
                            base = share * balance[j, lane]
                        base = _lo(base, enh[E_CAPACITY, k, lane]) if capped else base
                    standing = _lo(_hi(g_default[k, lane] - start_month[p], 0.0), period_months)
                    cover[k, lane] = (
                        base * (standing / period_months * fee_years[p])
                        if dated
                        else base * (standing / 12.0)
                    )
                    standing_of[k, lane] = g_default[k, lane] > end_month
                if kind == TRANCHE_COVER:
                    for lane in range(lanes):
                        gfee_due[k, lane] = gfee_due[k, lane] + rate * cover[k, lane]

            # 2. Triggers, on the notes after the previous date and this period's pool.
            performing_raw = collections[C_PERFORMING, p]
            if default_ratio:
                for lane in range(lanes):
                    cumulative[lane] = cumulative[lane] + collections[C_DEFAULTED, p, lane]
            if with_reserves or final:
                _column_sums(account, reserves)
            for t in range(n_trg):
                metric = trg_metric[t]
                threshold = trg_threshold[t]
                above = trg_above[t] != 0
                if metric == SHORTFALL:
                    for lane in range(lanes):
                        breached[lane] = shortfall_event[lane]
                else:
                    for lane in range(lanes):
                        if metric == DEFAULT_RATIO:
                            value = cumulative[lane] / pool_balance
                        else:
                            value = (
                                (performing_raw[lane] + reserves[lane]) / notes[lane]
                                if notes[lane] > CENT
                                else np.inf
                            )
                        breached[lane] = value > threshold if above else value < threshold
                if trg_curable[t] != 0:
                    for lane in range(lanes):
                        trigger[t, lane] = breached[lane]
                else:
                    for lane in range(lanes):
                        trigger[t, lane] = trigger[t, lane] | breached[lane]
                if trg_accelerate[t]:
                    for lane in range(lanes):
                        accelerated[lane] = accelerated[lane] | trigger[t, lane]
            for lane in range(lanes):
                sequential_forced[lane] = False
                shortfall_event[lane] = False
            for t in range(n_trg):
                if not trg_accelerate[t]:
                    for lane in range(lanes):
                        sequential_forced[lane] = sequential_forced[lane] | trigger[t, lane]

            # 3. Collections, the clean-up call, the legal-final release, amounts due.
            for lane in range(lanes):
                ic = collections[C_INTEREST, p, lane]
                pc = collections[C_PRINCIPAL_CASH, p, lane]
                performing = performing_raw[lane]
                now = False
                if has_call:
                    was = called[lane]
                    ic = 0.0 if was else ic
                    pc = 0.0 if was else pc
                    performing = 0.0 if was else performing
                    now = (
                        (not was)
                        & (performing <= call_threshold)
                        & (performing > CENT)
                        & (notes[lane] > CENT)
                    )
                    pc = pc + (performing if now else 0.0)
                    performing = 0.0 if now else performing
                every = final | accelerated[lane] | now | called[lane]
                every_of[lane] = every
                due_left[lane] = notes[lane] if every else _hi(notes[lane] - performing, 0.0)
                if with_periods:
                    # What the date owes (for the coverage multiple): first the senior's
                    # principal.
                    senior = balance[0, lane]
                    due[lane] = senior if every else _lo(senior, scheduled[p])
                interest_cash[lane] = ic
                principal_cash[lane] = pc
                call_now[lane] = now
            if any_pool:
                # A pool enhancer's payment on the period's losses joins the available funds
                # (none after a clean-up call: the loans are no longer the trust's).
                for lane in range(lanes):
                    cover_cash[lane] = 0.0
                for k in range(n_g):
                    slot = g_ints[k, GN_POOL_SLOT]
                    if slot < 0:
                        continue
                    for lane in range(lanes):
                        loss = pool_claims[block, slot, p, lane]
                        left[lane] = 0.0 if called[lane] else loss
                    _claim(k, left, False, g_floats, enh, standing_of, advance, touched)
                    for lane in range(lanes):
                        cover_cash[lane] += advance[lane]
                        principal_cash[lane] = principal_cash[lane] + advance[lane]
            redeeming = False
            for j in range(n_tr):
                redeeming = redeeming or tr_put[j] == p or tr_call[j] == p
            if redeeming:
                _redemptions(
                    p,
                    tr_put,
                    tr_call,
                    balance,
                    fee_due,
                    gfee_due,
                    current,
                    arrears,
                    garrears,
                    interest_cash,
                    principal_cash,
                    carry,
                    redeem,
                    ahead,
                    subtotal,
                    left,
                    redeemed,
                )
                for lane in range(lanes):
                    due_left[lane] = _hi(due_left[lane], redeem[lane])
                    senior = balance[0, lane]
                    whole = every_of[lane] | (redeem[lane] > 0)
                    due[lane] = senior if whole else _lo(senior, scheduled[p])
            if with_periods:
                # What the date has, for the coverage multiple (before any release).
                for lane in range(lanes):
                    available[lane] = interest_cash[lane] + principal_cash[lane] + carry[lane]
            if final:
                # The legal final month releases the accounts (reserves is their sum).
                for lane in range(lanes):
                    principal_cash[lane] = principal_cash[lane] + reserves[lane]
                for a in range(n_acc):
                    for lane in range(lanes):
                        flows[A_DRAW, a, lane] += account[a, lane]
                        account[a, lane] = 0.0
            if with_periods:
                # What the date owes, for the coverage multiple.
                for dues in (fee_due, gfee_due):
                    _column_sums(dues, subtotal)
                    for lane in range(lanes):
                        due[lane] += subtotal[lane]
                for j in range(n_tr):
                    for lane in range(lanes):
                        due[lane] += current[j, lane] + (arrears[j, lane] + garrears[j, lane])

            # 4. The main program on lanes not accelerated (interest then principal, or
            # combined), then the post-acceleration one on the others.
            n_accelerated = 0
            if can_accelerate:
                for lane in range(lanes):
                    n_accelerated += 1 if accelerated[lane] else 0
            any_main = n_accelerated < lanes
            any_accelerated = n_accelerated > 0
            if any_accelerated:
                for lane in range(lanes):
                    on = not accelerated[lane]
                    active[lane] = on
                    whole = interest_cash[lane] + principal_cash[lane] + carry[lane]
                    if separate:
                        pot[lane] = interest_cash[lane] + carry[lane] if on else 0.0
                    else:
                        pot[lane] = whole if on else 0.0
                    fast[lane] = 0.0 if on else whole
                all_active = False
            else:
                # Every lane runs the main program (the same sums as above).
                if not all_active:
                    active[:] = True
                    all_active = True
                for lane in range(lanes):
                    if separate:
                        pot[lane] = interest_cash[lane] + carry[lane]
                    else:
                        pot[lane] = interest_cash[lane] + principal_cash[lane] + carry[lane]
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
                state = (
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
                    work,
                    target,
                    calls,
                    call_start,
                    g_floats,
                    g_ints,
                    enh,
                    standing_of,
                    advance,
                    paid_back,
                    tr_deferrable,
                    shortfall_event,
                    n_fee,
                    tg_kind,
                    tg_value,
                    tg_share,
                    tg_floor,
                    tg_tranche,
                    acc_target,
                    flows,
                    clear,
                    touched,
                    shorted,
                    moved,
                )
                if run < 2 and all_active:
                    _steps(programs[run, 0], programs[run, 1], steps, step_tranches, None, state)
                else:
                    _steps(
                        programs[run, 0], programs[run, 1], steps, step_tranches, lanes_on, state
                    )
            if any_accelerated:
                for lane in range(lanes):
                    pot[lane] = pot[lane] + fast[lane]

            # 5. Cash left is carried (or, at the legal final month, the residual); the
            # guarantor pays unpaid principal at the legal final month.
            if final:
                for lane in range(lanes):
                    residual[lane] += pot[lane]
                    carry[lane] = 0.0
            else:
                for lane in range(lanes):
                    carry[lane] = pot[lane]
            if has_call:
                for lane in range(lanes):
                    called[lane] = called[lane] | call_now[lane]
            for j in range(n_tr):
                if not final and tr_put[j] != p:
                    continue
                # At the legal final month, or on an exercised put's date, the tranche's
                # enhancers pay what the trust could not; after a put the trust owes the
                # tranche no more principal.
                _guarantee_principal(
                    j,
                    balance,
                    arrears,
                    garrears,
                    ledger,
                    calls,
                    call_start,
                    g_floats,
                    g_ints,
                    enh,
                    standing_of,
                    left,
                    advance,
                    touched,
                )
                # A CRMW takes over the investors' arrears as its own claim.
                clear[j] = False
                if final:
                    continue
                for lane in range(lanes):
                    put_unpaid[j, lane] = put_unpaid[j, lane] + balance[j, lane]
                    balance[j, lane] = 0.0

            # 6. The path's running totals, and the date's values (kernel_lower.period_series
            # order) with their sums over the block when per-period figures are wanted.
            year = years[p]
            for j in range(n_tr):
                if moved[j]:
                    for lane in range(lanes):
                        pp = ledger[j, PP, lane]
                        received[j, lane] += pp
                        timed[j, lane] += pp * year
                if shorted[j]:
                    for lane in range(lanes):
                        shortfall_total[j, lane] += shortfall_row[j, lane]
                if final or tr_put[j] == p:
                    # Enhancers pay principal only at the legal final month or a put date.
                    for lane in range(lanes):
                        gp = ledger[j, GP, lane]
                        gp_total[j, lane] += gp
                        gp_timed[j, lane] += gp * year
                if with_yields:
                    holder = j == residual_holder
                    for lane in range(lanes):
                        ip = ledger[j, IP, lane]
                        pp = ledger[j, PP, lane]
                        excess = residual[lane] if holder else 0.0
                        cash[j, 0, p, lane] = (ip + ledger[j, GR, lane]) + pp + excess
                        cash[j, 1, p, lane] = (
                            (ip + ledger[j, GI, lane]) + (pp + ledger[j, GP, lane]) + excess
                        )
            for k in range(n_g):
                df = g_discount[k, p]
                # A pool enhancer's fee is paid by the borrowers, outside the trust.
                pool_fee = g_ints[k, GN_KIND] != TRANCHE_COVER
                rate = g_floats[k, GF_FEE_RATE]
                if touched[k]:
                    for lane in range(lanes):
                        claim = claims_row[k, lane]
                        net = claim - reimbursed_row[k, lane]
                        enhancer_totals[k, 0, lane] += claim
                        enhancer_totals[k, 1, lane] += net
                        enhancer_totals[k, 2, lane] += net * df
                for lane in range(lanes):
                    fee = rate * cover[k, lane] if pool_fee else fee_paid[n_fee + k, lane]
                    enhancer_totals[k, 3, lane] += fee
                    enhancer_totals[k, 4, lane] += fee * df
                    enhancer_totals[k, 5, lane] += cover[k, lane] * df
                    enhancer_totals[k, 6, lane] += cover[k, lane]
            if with_ledger:
                col = first_path + start
                _record(out_ledger, 0, p, col, available, n)
                _record(out_ledger, 1, p, col, due, n)
                _record(out_ledger, 2, p, col, residual, n)
                _record_flag(out_ledger, 3, p, col, accelerated, n)
                _record_flag(out_ledger, 4, p, col, called, n)
                _record(out_ledger, 5, p, col, carry, n)
                if not any_pool:
                    _zero(cover_cash)
                _record(out_ledger, 6, p, col, cover_cash, n)
                r = 7
                for f in range(n_fee + n_g):
                    _record(out_ledger, r, p, col, fee_paid[f], n)
                    r += 1
                for a in range(n_acc):
                    _record(out_ledger, r, p, col, account[a], n)
                    _record(out_ledger, r + n_acc, p, col, flows[A_DEPOSIT, a], n)
                    _record(out_ledger, r + 2 * n_acc, p, col, flows[A_DRAW, a], n)
                    r += 1
                r += 2 * n_acc
                for t in range(n_trg):
                    _record_flag(out_ledger, r, p, col, trigger[t], n)
                    r += 1
                for k in range(n_g):
                    _record(out_ledger, r, p, col, claims_row[k], n)
                    _record(out_ledger, r + n_g, p, col, reimbursed_row[k], n)
                    _record(out_ledger, r + 2 * n_g, p, col, cover[k], n)
                    r += 1
                r += 2 * n_g
                for j in range(n_tr):
                    if tr_redeemable[j]:
                        _record_flag(out_ledger, r, p, col, redeemed[j], n)
                        r += 1
                for j in range(n_tr):
                    for c in (IP, PP, GR, GI, GP, ID):
                        _record(out_ledger, r, p, col, ledger[j, c], n)
                        r += 1
                    _record(out_ledger, r, p, col, balance[j], n)
                    _record(out_ledger, r + 1, p, col, shortfall_row[j], n)
                    r += 2
            if not with_moments:
                continue
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
                if tr_redeemable[j]:
                    for lane in range(lanes):
                        values[s, lane] = 1.0 if redeemed[j, lane] else 0.0
                    s += 1
            for j in range(n_tr):
                for lane in range(lanes):
                    ip = ledger[j, IP, lane]
                    pp = ledger[j, PP, lane]
                    values[s, lane] = ip + ledger[j, GR, lane]
                    values[s + 1, lane] = pp
                    values[s + 2, lane] = ip + ledger[j, GI, lane]
                    values[s + 3, lane] = pp + ledger[j, GP, lane]
                    values[s + 4, lane] = balance[j, lane]
                s += 5
            for k in range(n_g):
                for lane in range(lanes):
                    values[s, lane] = claims_row[k, lane]
                    values[s + 1, lane] = cover[k, lane]
                s += 2
            if any_pool:
                for lane in range(lanes):
                    values[s, lane] = cover_cash[lane]
                s += 1
            _add_moments(values, w, folded, out_sum, out_square, p)
            for lane in range(lanes):
                folded[0, lane] = w[lane] * available[lane] * w[lane] * due[lane]
            out_cross[p] += _fold(folded[0], lanes)

        # 7. Per-path outcomes (kernel_lower.path_series order).
        s = 0
        for j in range(n_tr):
            price = tr_balance[j]
            for lane in range(n):
                out_path[s, first_path + start + lane] = (
                    (balance[j, lane] + put_unpaid[j, lane]) + arrears[j, lane] + garrears[j, lane]
                ) / price
            for lane in range(n):
                out_path[s + 1, first_path + start + lane] = (
                    (balance[j, lane] + put_unpaid[j, lane]) - gp_total[j, lane] + arrears[j, lane]
                ) / price
            for lane in range(n):
                out_path[s + 2, first_path + start + lane] = (
                    timed[j, lane] / received[j, lane] if received[j, lane] > CENT else np.nan
                )
            for lane in range(n):
                # The guarantor pays principal at the legal final date or a put date.
                wrapped = received[j, lane] + gp_total[j, lane]
                out_path[s + 3, first_path + start + lane] = (
                    (timed[j, lane] + gp_timed[j, lane]) / wrapped if wrapped > CENT else np.nan
                )
            if with_yields:
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
                    out_path[s + 4, first_path + start + lane] = result[lane]
                for lane in range(n):
                    out_path[s + 5, first_path + start + lane] = result_wrapped[lane]
            for lane in range(n):
                out_path[s + 6, first_path + start + lane] = shortfall_total[j, lane]
            s += PATH_SERIES_PER_TRANCHE
        for k in range(n_g):
            for c in range(PATH_SERIES_PER_GUARANTEE):
                for lane in range(n):
                    out_path[s + c, first_path + start + lane] = enhancer_totals[k, c, lane]
            s += PATH_SERIES_PER_GUARANTEE
        if with_ledger:
            # What is owed at the end: principal (a put's unpaid part included), interest
            # arrears to investors and to the enhancers, and unpaid fees.
            col = first_path + start
            for j in range(n_tr):
                for lane in range(n):
                    out_end[3 * j, col + lane] = balance[j, lane] + put_unpaid[j, lane]
                    out_end[3 * j + 1, col + lane] = arrears[j, lane]
                    out_end[3 * j + 2, col + lane] = garrears[j, lane]
            for f in range(n_fee):
                for lane in range(n):
                    out_end[3 * n_tr + f, col + lane] = fee_due[f, lane]
            for k in range(n_g):
                for lane in range(n):
                    out_end[3 * n_tr + n_fee + k, col + lane] = gfee_due[k, lane]
