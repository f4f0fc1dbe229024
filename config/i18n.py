"""Message catalogs: every user-facing text comes from config/messages/{lang}.toml."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "ru")
DEFAULT_LANGUAGE = "en"
CATALOG_DIR = Path(__file__).with_name("messages")


def language_for(language_code: str | None) -> str:
    """Telegram's language_code ru* means Russian; anything else, English."""
    return "ru" if (language_code or "").lower().startswith("ru") else "en"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


@cache
def catalog(language: str) -> dict[str, str]:
    with (CATALOG_DIR / f"{language}.toml").open("rb") as file:
        return _flatten(tomllib.load(file))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def t(language: str, key: str, **values: object) -> str:
    """The text for key in language, formatted with values; a missing key is a bug (KeyError)."""
    text = catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)[key]
    return text.format(**values) if values else text
