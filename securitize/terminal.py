"""Text for a terminal: what the command prints cannot drive the terminal it is printed on.

Names, tape values and file paths come from the user's files. A control character in one (an
escape sequence that clears the screen, retitles the window or hides text; a carriage return that
overwrites a line; a bidirectional override that reorders what follows) would act on the terminal
instead of being shown. Everything the command writes to standard output, and every error line,
shows such characters as visible escapes (``\\x1b``, ``\\u202e``); newlines and tabs stay.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional embeddings,
# overrides and isolates (U+202A–U+202E, U+2066–U+2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every character that would act on a terminal written as an escape."""
    return _UNSAFE.sub(_escape, text)


class PrintableStream:
    """A text stream that writes ``printable`` text to the stream it wraps."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
