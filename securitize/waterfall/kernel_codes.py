"""Integer codes and layout constants shared by the kernel's lowering and its compiled loop.

Kept apart from ``kernel_loop`` so that lowering a structure (and ``supports``) needs no numba.
"""

CENT = 0.01

# Paths per block: enough lanes to fill vector registers many times over, few enough that a
# block's state stays in cache.
LANES = 1024

# Step kinds, step table columns, target kinds, trigger metrics (see kernel_lower.py).
FEE, GUARANTEE_FEE, INTEREST, DEFERRED, FUND, DRAW, PRINCIPAL, RESIDUAL = range(8)
KIND, ARG, MODE, AMOUNT, TARGET, COVER_FEES, FIRST, COUNT = range(8)
DUE, ALL, TO_TARGET = range(3)
AMOUNT_TARGET, POOL, NOTES, TRANCHE = range(4)
DEFAULT_RATIO, OVERCOLLATERALISATION, SHORTFALL = range(3)
POOL_FEE, TRANCHE_FEE, FIXED_FEE, INTEREST_FEE = range(4)
# Integer settings: ints[...]
N_SEPARATE, N_HAS_CALL, N_RESIDUAL, N_BISECTIONS, N_NEWTON, N_PERIODS, N_LEDGER, N_DATED = range(8)
# Float settings: floats[...]
F_POOL, F_CALL_THRESHOLD, F_RATE_LIMIT = range(3)
# Per-tranche period series kept for the path: interest paid, guarantor reimbursed, guarantor
# interest, principal paid, guarantor principal, current interest due.
IP, GR, GI, PP, GP, ID = range(6)
TRANCHE_FLOWS = 6
# Per-account flows of a date: deposits and draws (releases included).
A_DEPOSIT, A_DRAW = range(2)
PATH_SERIES_PER_TRANCHE = 7
PATH_SERIES_PER_GUARANTEE = 7
# The shared collections in block layout, blocks × series × periods × lanes (kernel.blocked):
# interest, principal with recoveries (the waterfall sees only their sum), defaulted,
# performing balance, fee base.
C_INTEREST, C_PRINCIPAL_CASH, C_DEFAULTED, C_PERFORMING, C_FEE_BASE = range(5)
COLLECTION_SERIES = 5
# Enhancers. Per-lane state, enh[...] (enhancers × lanes each): what is left of the cap, of
# the capital, what the trust owes it (advances not yet reimbursed), this date's claims paid,
# reimbursements and cover (CNY-years).
E_CAPACITY, E_CAPITAL, E_ARREARS, E_CLAIMS, E_REIMBURSED, E_COVER = range(6)
ENHANCER_STATE = 6
# Terms: g_floats[k, ...] and g_ints[k, ...].
GF_SHARE, GF_CAP, GF_RECOVERY, GF_FEE_RATE, GF_COVER_FACTOR = range(5)
GN_TRANCHE, GN_TIMELY, GN_KIND, GN_POOL_SLOT = range(4)
# What an enhancer covers: a tranche's shortfalls, a share of the pool's losses, or the pool's
# losses up to its cap (first loss).
TRANCHE_COVER, POOL_COVER, FIRST_LOSS = range(3)
