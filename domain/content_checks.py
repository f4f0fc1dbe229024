"""Scam and spam signs in a text: contacts, links, wallets, requests for money, look-alikes.

``findings(text)`` returns every sign with its span, so that "about" can be refused with the
reason (``REASON_KEYS``: catalog keys, both languages) and a relayed chat message can be passed
on with a warning before both people agreed to exchange contacts. ``repeated_opener`` flags the
same first message sent to many people.

False positives are guarded deliberately: ages, heights ("180 см"), years and other short
numbers are no phone numbers (``phonenumbers`` with ``Leniency.VALID`` needs a number that is
valid for a real region); an '@' inside an e-mail address is not a @handle, but the address is
reported as an ``email`` (a contact all the same).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import phonenumbers
from confusable_homoglyphs import categories
from rapidfuzz import fuzz

# Regions whose national formats (8 912 ..., 0 67 ...) are recognised; international
# "+<code>" numbers are recognised from any region.
PHONE_REGIONS: Final[tuple[str, ...]] = ("RU", "UA", "KZ", "BY", "US", "GB", "DE", "PL")

_INVITE_HOSTS = (
    r"t\.me|telegram\.(?:me|dog)|wa\.me|chat\.whatsapp\.com|discord\.gg|"
    r"discord(?:app)?\.com/invite|vk\.me|signal\.me|viber\.click|invite\.viber\.com"
)
_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    ("invite_link", re.compile(rf"(?i)(?:https?://)?(?:www\.)?(?:{_INVITE_HOSTS})/\S*")),
    ("link", re.compile(r"(?i)\b(?:https?://|www\.)\S+")),
    (
        "link",
        re.compile(
            r"(?i)\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|ru|su|me|io|ua|kz|by|info|site|"
            r"online|xyz|link|club|top|ly|gg|cc|to|рф)\b(?:/\S*)?"
        ),
    ),
    ("email", re.compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b")),
    ("handle", re.compile(r"(?<![\w.@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")),
    ("wallet", re.compile(r"\b(?:bc1[ac-hj-np-z02-9]{11,71}|[13][a-km-zA-HJ-NP-Z1-9]{25,34})\b")),
    ("wallet", re.compile(r"\b0x[a-fA-F0-9]{40}\b")),  # Ethereum and its chains
    ("wallet", re.compile(r"\bT[1-9A-HJ-NP-Za-km-z]{33}\b")),  # TRON (USDT)
    ("wallet", re.compile(r"\b(?:EQ|UQ)[A-Za-z0-9_-]{46}\b")),  # TON
    ("card", re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")),
    (
        "money",
        re.compile(
            r"(?i)(?:переведи|переведите|перевод\w*\s+на|скинь|скиньте|закинь|кинь|пополни)"
            r"\w*\s+(?:\S+\s+){0,3}?(?:на\s+)?(?:карт|сбер|тинькофф|кив|qiwi|юмани|счёт|счет|"
            r"номер|крипт|usdt|денег|деньги|\d)"
            r"|(?:займи|одолжи|нужны\s+деньги|помоги\s+деньгами|дай\s+денег|на\s+билет|"
            r"подарочн\w+\s+карт\w*|предоплат\w*)"
        ),
    ),
    (
        "money",
        re.compile(
            r"(?i)\b(?:send|wire|transfer|lend|loan)\s+(?:me\s+)?(?:some\s+)?(?:money|cash|funds|"
            r"\$|usd|btc|crypto|usdt|\d)|\b(?:gift\s*cards?|western\s+union|moneygram|paypal\s+me|"
            r"cash\s*app|venmo|zelle|bank\s+details|card\s+number|for\s+a\s+ticket|"
            r"need\s+money|invest\s+with\s+me)\b"
        ),
    ),
)

# The text a refusal or a warning shows for each kind of finding.
REASON_KEYS: Final[dict[str, str]] = {
    kind: f"errors.about_{kind}"
    for kind in (
        "invite_link",
        "email",
        "link",
        "handle",
        "phone",
        "wallet",
        "card",
        "money",
        "lookalike",
    )
}
# The warning a recipient gets above a relayed message with findings.
CHAT_WARNING_KEY: Final = "chat.warning_suspicious"

_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Finding:
    """One sign: its kind (a key of ``REASON_KEYS``) and where it is in the text."""

    kind: str
    start: int
    end: int

    def overlaps(self, other: Finding) -> bool:
        return self.start < other.end and other.start < self.end


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _pattern_findings(text: str) -> list[Finding]:
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if kind == "card" and not _luhn(re.sub(r"\D", "", match.group())):
                continue
            found.append(Finding(kind, match.start(), match.end()))
    return found


def _phone_findings(text: str) -> list[Finding]:
    found: list[Finding] = []
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, phonenumbers.Leniency.VALID):
            found.append(Finding("phone", match.start, match.end))
    return found


def _lookalike_findings(text: str) -> list[Finding]:
    """Words mixing Latin and Cyrillic letters (e.g. "pаypal" with a Cyrillic "а")."""
    found = []
    for match in _WORD.finditer(text):
        scripts = categories.unique_aliases(match.group()) & {"LATIN", "CYRILLIC", "GREEK"}
        if len(scripts) > 1:
            found.append(Finding("lookalike", match.start(), match.end()))
    return found


def findings(text: str) -> list[Finding]:
    """Every sign in ``text``, by position; where two overlap (a link inside an invite link,
    a card number read as a phone) the one found first in ``REASON_KEYS`` order is kept."""
    candidates = _pattern_findings(text) + _phone_findings(text) + _lookalike_findings(text)
    order = list(REASON_KEYS)
    candidates.sort(key=lambda finding: (order.index(finding.kind), finding.start))
    kept: list[Finding] = []
    for candidate in candidates:
        if not any(candidate.overlaps(other) for other in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda finding: finding.start)


def reason_keys(found: Sequence[Finding]) -> list[str]:
    """The catalog keys of the reasons, one per kind, in the order they appear."""
    return list(dict.fromkeys(REASON_KEYS[finding.kind] for finding in found))


# Openers: the same first message to this many different people is flagged to moderators.
# Similarity is rapidfuzz's token_sort_ratio (0-100) on the lower-cased text: 85 tolerates a
# changed name or a few words swapped ("Hi Anna, ..." / "Hi Kate, ...") but not two different
# messages on the same topic. Openers shorter than 20 characters ("hi", "привет!") are what
# everyone writes and are never counted.
OPENER_SIMILARITY: Final = 85.0
OPENER_RECIPIENTS: Final = 5
OPENER_MIN_LENGTH: Final = 20


@dataclass(frozen=True, slots=True)
class Opener:
    """A sender's first message to one recipient."""

    recipient_id: int
    text: str


def repeated_opener(openers: Sequence[Opener]) -> Opener | None:
    """An opener sent, nearly unchanged, to ``OPENER_RECIPIENTS`` or more different people
    among a sender's recent first messages; None when there is none."""
    normalised = [
        (opener, " ".join(opener.text.lower().split()))
        for opener in openers
        if len(opener.text.strip()) >= OPENER_MIN_LENGTH
    ]
    for opener, text in normalised:
        recipients = {
            other.recipient_id
            for other, other_text in normalised
            if fuzz.token_sort_ratio(text, other_text) >= OPENER_SIMILARITY
        }
        if len(recipients) >= OPENER_RECIPIENTS:
            return opener
    return None
