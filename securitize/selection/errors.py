"""Errors of pool selection: a user can act on each (relax a limit, widen a criterion)."""

from __future__ import annotations

from securitize.errors import SecuritizeError


class SelectionError(SecuritizeError):
    """No pool can be cut: nothing eligible, limits that conflict, or no answer in time."""
