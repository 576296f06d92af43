"""User-facing errors.

Every error a user can cause (bad tape, bad scenario, refused overwrite) is a
``SecuritizeError``. The command line prints its message on one line and exits
non-zero without a traceback; everything else is a bug and is allowed to crash.
"""

from __future__ import annotations


class SecuritizeError(Exception):
    """An error the user can act on: the message names the place, the value and the rule."""


class ScenarioError(SecuritizeError):
    """The scenario file breaks the documented schema."""


class TapeError(SecuritizeError):
    """A loan tape row or column breaks a validation rule."""


class OutputExistsError(SecuritizeError):
    """An output would overwrite an existing file without ``--force``."""


class CalendarError(SecuritizeError):
    """A date falls outside what the business-day calendar knows, or a date rule is unknown."""
