"""The memo's words in each language: message catalogues kept as data (``en.toml``, ``zh.toml``).

Templates never hold prose; they ask the catalogue for a key (``t("pool.title")``), so both
languages are rendered from the same template and the same results. A key missing from the
catalogue is an error, never a silent fallback: the tests check that both catalogues have the
same keys and that every key a template uses exists.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "zh")
FOLDER = Path(__file__).parent


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@cache
def catalogue(lang: str) -> dict[str, str]:
    """Every message of ``lang`` keyed by its dotted name (``pool.title``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"memo language {lang!r}: must be one of {', '.join(LANGUAGES)}")
    with (FOLDER / f"{lang}.toml").open("rb") as stream:
        return _flatten(tomllib.load(stream))


def message(lang: str, key: str, **fields: Any) -> str:
    """The message ``key`` of ``lang`` with ``{field}`` placeholders filled in."""
    messages = catalogue(lang)
    if key not in messages:
        raise KeyError(f"memo message {key!r} is missing from {lang}.toml")
    text = messages[key]
    return text.format(**fields) if fields else text


def has(lang: str, key: str) -> bool:
    """Whether ``lang`` has a message ``key`` (for labels of result fields, which may be new)."""
    return key in catalogue(lang)
