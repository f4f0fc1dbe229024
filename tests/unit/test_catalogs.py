"""Message catalogs: both languages complete, and every key the code names exists."""

from __future__ import annotations

import re
from pathlib import Path

from config.i18n import LANGUAGES, catalog, placeholders

ROOT = Path(__file__).resolve().parents[2]
# Where user-facing texts are chosen; the other packages name events and tables, not texts.
SOURCE_DIRS = ("actors", "app", "domain", "presentation", "config")
# A key is "<section>.<name>" for any section the catalogs have, so a new section needs no
# change here.
SECTIONS = sorted({key.split(".", 1)[0] for key in catalog("en")})
KEY_RE = re.compile(rf"""["']((?:{"|".join(SECTIONS)})\.[a-z0-9_]+)["']""")


def test_languages_have_the_same_keys_and_placeholders() -> None:
    """Russian and English catalogs name the same keys with the same placeholders."""
    english, russian = catalog("en"), catalog("ru")
    assert set(english) == set(russian)
    for key, text in english.items():
        assert placeholders(text) == placeholders(russian[key]), key


def test_every_key_named_in_code_exists() -> None:
    """A catalog key written in the code is present in every language."""
    named: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            named.update(KEY_RE.findall(path.read_text(encoding="utf-8")))
    assert named, "the scan found no keys at all"
    for language in LANGUAGES:
        missing = sorted(key for key in named if key not in catalog(language))
        assert not missing, f"{language}: {missing}"
