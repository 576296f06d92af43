"""The finite-pool engine's inner workings: lattice spacing, node counts, the mixed spectrum.

``securitize.credit.analytic`` states the model and the formulas; this module evaluates
P̂_m(ω) = Σ_q w_q Π_i φ_i(ω | z_q, s_q) as fast as numpy allows. The product over loans is the
cost: nodes × distinct loans × months × frequencies complex multiplications, so identical loans
are grouped (one factor raised to the group size) and each loan's factor is built the cheaper of
two ways (one BLAS product per distinct lattice loss, or a month-by-month running sum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

# Work arrays of one node batch are held below this many bytes (the product over loans is
# batch × months × frequencies complex numbers, and the per-loan term up to the same again).
BATCH_BYTES = 48 * 2**20
# A lattice this long would need gigabytes of work space: refuse rather than exhaust memory.
MAX_LATTICE_POINTS = 2**22


# A common measure of the losses is used when its lattice has at most this many times the
# points allowed for an approximate one: exact beats approximate at a bounded extra cost.
EXACT_POINTS_FACTOR = 16
# Losses within this fraction of a unit of a whole number of units count as multiples of it.
COMMENSURATE_TOLERANCE = 1e-9


def common_measure(values: np.ndarray, max_points: int) -> float | None:
    """The largest unit of which every loss is a whole multiple, if its lattice is workable.

    Euclid's algorithm on the distinct positive losses, with remainders below a relative
    tolerance counted as zero; ``None`` when the losses share no measure giving a lattice of at
    most ``max_points`` points (the usual case for amortising or unequal loans).
    """
    distinct = np.unique(values[values > 0])
    if distinct.size == 0:
        return None
    total = float(values.sum()) if values.ndim == 1 else float(values.max(axis=1).sum())
    scale = float(distinct[-1])
    unit = scale
    for value in distinct:
        a, b = max(unit, float(value)), min(unit, float(value))
        while b > COMMENSURATE_TOLERANCE * scale:
            a, b = b, math.fmod(a, b)
            if a - b <= COMMENSURATE_TOLERANCE * scale:
                b = 0.0
        unit = a
        if total / unit + 1 > max_points:
            return None
    multiples = distinct / unit
    if np.max(np.abs(multiples - np.rint(multiples))) > 1e-6:
        return None
    return unit


def rounding_moves(lgd: np.ndarray, unit: float) -> np.ndarray:
    """|l_ik − j_ik · unit|: how far each loss moves onto the lattice (CNY, loans × months)."""
    return np.abs(lgd - np.rint(lgd / unit) * unit)


def lattice_unit(lgd: np.ndarray, max_points: int) -> float:
    """The unit of the loss lattice: exact where the losses allow it, else fine and unbiased.

    First the losses' common measure (every loss then lies on the lattice and nothing is
    rounded), when its lattice has at most ``EXACT_POINTS_FACTOR × max_points`` points. Else the
    finest unit whose lattice (1 + Σ_i max_k round(l_ik/unit)) has ≤ ``max_points`` points, found
    by bisection (the size only falls as the unit grows), then moved up by at most a quarter to
    the unit that minimises Σ_i max_k |l_ik − j_ik · unit|: bisection alone stops exactly where a
    repeated loss sits on a rounding tie, so every copy of it would round the same way.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    exposure = lgd.max(axis=1, initial=0.0)
    total, largest = float(exposure.sum()), float(exposure.max(initial=0.0))
    if largest == 0.0:
        return 1.0
    exact = common_measure(lgd, EXACT_POINTS_FACTOR * max_points)
    if exact is not None:
        return exact

    def points(u: float) -> int:
        return int(np.rint(exposure / u).sum()) + 1

    low, high = total / (max_points - 1), 2.0 * largest * (1.0 + 1e-12)
    if points(low) > max_points:
        for _ in range(200):
            middle = 0.5 * (low + high)
            if points(middle) <= max_points:
                high = middle
            else:
                low = middle
            if high - low <= 1e-12 * high:
                break
        low = high
    distinct, copies = np.unique(lgd, axis=0, return_counts=True)
    candidates = low * (1.0 + np.linspace(0.0, 0.25, 65))
    moved = [float(rounding_moves(distinct, u).max(axis=1) @ copies) for u in candidates]
    return float(candidates[int(np.argmin(moved))])


@dataclass(frozen=True)
class LoanGroup:
    """Loans identical in loading, default thresholds and lattice losses, and how many.

    ``values`` are the distinct lattice losses and ``which`` maps each month to its value.
    """

    loading: float
    threshold: np.ndarray
    lattice: np.ndarray
    count: int
    values: np.ndarray
    which: np.ndarray


def identical_loans(a: np.ndarray, threshold: np.ndarray, lattice: np.ndarray) -> list[LoanGroup]:
    """Group identical loans; loans that can lose nothing leave the pool's distribution alone."""
    keep = lattice.max(axis=1, initial=0) > 0
    key = np.column_stack([a, threshold, lattice.astype(float)])[keep]
    if key.shape[0] == 0:
        return []
    rows, counts = np.unique(key, axis=0, return_counts=True)
    horizon = threshold.shape[1]
    groups = []
    for row, count in zip(rows, counts, strict=True):
        losses = row[1 + horizon :].astype(np.int64)
        values, which = np.unique(losses, return_inverse=True)
        groups.append(
            LoanGroup(float(row[0]), row[1 : 1 + horizon], losses, int(count), values, which)
        )
    return groups


def _by_distinct_loss(group: LoanGroup, months: int) -> bool:
    """Whether to sum default probabilities per distinct loss and then take one matrix product
    (cost ∝ months × distinct losses, at BLAS speed) rather than accumulate p_k e^{-iω j_k}
    month by month (cost ∝ horizon, element-wise): bullet loans and single months go the first
    way, amortising loans asked for many months the second."""
    return months * group.values.size <= 4 * group.lattice.size


def mixed_spectrum(
    groups: list[LoanGroup],
    month_index: np.ndarray,
    n_fft: int,
    z: np.ndarray,
    s: np.ndarray,
    w: np.ndarray,
) -> np.ndarray:
    """Σ_q w_q Π_i φ_i(ω | z_q, s_q) for the requested months: months × (n_fft/2 + 1)."""
    frequencies = n_fft // 2 + 1
    months, horizon = month_index.size, int(month_index[-1]) + 1
    # e^{-2πi j n / N} by table look-up on (j n) mod N: exact arguments, no large-phase error.
    twiddle = np.exp(-2j * np.pi * np.arange(n_fft) / n_fft)
    harmonic = np.arange(frequencies, dtype=np.int64)
    monthly = any(not _by_distinct_loss(g, months) for g in groups)
    per_node = 16 * frequencies * (2 * months + (horizon if monthly else 0))
    batch = max(1, min(z.size, BATCH_BYTES // per_node))
    spectrum = np.zeros((months, frequencies), dtype=complex)
    for start in range(0, z.size, batch):
        zb, sb, wb = z[start : start + batch], s[start : start + batch], w[start : start + batch]
        product = np.ones((zb.size, months, frequencies), dtype=complex)
        for group in groups:
            product *= _loan_factor(group, month_index, zb, sb, twiddle, harmonic, n_fft)
        spectrum += np.tensordot(wb, product, axes=1)
    return spectrum


def _loan_factor(
    group: LoanGroup,
    month_index: np.ndarray,
    z: np.ndarray,
    s: np.ndarray,
    twiddle: np.ndarray,
    harmonic: np.ndarray,
    n_fft: int,
) -> np.ndarray:
    """φ_i(ω | z, s)^count for one group of identical loans: nodes × months × frequencies."""
    b = math.sqrt(1.0 - group.loading**2)
    horizon = int(month_index[-1]) + 1
    score = (group.threshold[None, :horizon] * s[:, None] - group.loading * z[:, None]) / b
    in_month = np.diff(ndtr(score), axis=1, prepend=0.0)  # p_k = F(k | ·) − F(k − 1 | ·)
    if _by_distinct_loss(group, month_index.size):
        by_value = np.zeros((z.size, horizon, group.values.size))
        by_value[:, np.arange(horizon), group.which[:horizon]] = in_month
        mass = np.cumsum(by_value, axis=1)[:, month_index, :].reshape(-1, group.values.size)
        phase = twiddle[np.outer(group.values, harmonic) % n_fft]
        # A real matrix times interleaved (re, im) columns is the complex product, in one BLAS
        # call and with no temporaries.
        factor = (mass @ phase.view(float)).view(complex).reshape(z.size, -1, harmonic.size)
        factor += ndtr(-score[:, month_index])[:, :, None]  # 1 − F(m | ·), accurate near F = 1
    else:
        # φ(m) = 1 + Σ_{k ≤ m} p_k (e^{-iω j_k} − 1), built month by month in place: one
        # multiply and one add per element, no separate survival term, cache-sized slices.
        phase = twiddle[np.outer(group.lattice[:horizon], harmonic) % n_fft] - 1.0
        running = np.empty((z.size, horizon, harmonic.size), dtype=complex)
        np.multiply(in_month[:, 0, None], phase[0], out=running[:, 0])
        running[:, 0] += 1.0
        for k in range(1, horizon):
            np.multiply(in_month[:, k, None], phase[k], out=running[:, k])
            running[:, k] += running[:, k - 1]
        factor = running if month_index.size == horizon else running[:, month_index]
    return factor if group.count == 1 else factor**group.count
