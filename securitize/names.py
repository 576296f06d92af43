"""Bounds on the names and labels a scenario gives: they are printed in tables, charts, the
transaction diagram and the memo's headings, so a name is short (an 8,000-character one made the
memo page 73,000 px wide and its PDF take two minutes)."""

from typing import Annotated

from pydantic import Field

NAME_LENGTH = 80
TEXT_LENGTH = 200

# What the memo calls a thing in one language (``name_en``, ``name_zh``, ``holder_zh``, ...):
# bounded like the names and texts themselves; None shows the identifier (or the glossary's
# term, securitize/display.py).
DisplayName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH)] | None
DisplayText = Annotated[str, Field(min_length=1, max_length=TEXT_LENGTH)] | None

QUOTED_LENGTH = 60


def quoted(value: object) -> str:
    """A value as an error message quotes it: its repr, cut short (with its length) if long."""
    text = repr(value)
    if len(text) <= QUOTED_LENGTH:
        return text
    return f"{text[: QUOTED_LENGTH - 10]}… ({len(str(value))} characters)"
