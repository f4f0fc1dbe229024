"""Validation of everything a user types or sends while building a profile.

Each function returns the clean value or raises Invalid with a catalog key and the values the
message needs, so the session actor can answer in the user's language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from domain.content_checks import findings, reason_keys

MIN_AGE = 18
MAX_AGE = 100
NAME_MAX = 64
CITY_MAX = 64
ABOUT_MAX = 1000
LIKE_MESSAGE_MAX = 300
MAX_PHOTOS = 3
PHOTO_MAX_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
AGE_RANGE_SPREAD = 5


@dataclass
class Invalid(Exception):
    """A value the user sent cannot be accepted; key names the catalog text explaining why."""

    key: str
    params: dict[str, object] = field(default_factory=dict)


_NAME_RE = re.compile(r"[^\W\d_]+(?:[ '’\-][^\W\d_]+)*")
_CITY_RE = re.compile(r"[^\W\d_]+(?:[ '’.\-]+[^\W\d_]+)*\.?")
_RANGE_RE = re.compile(r"(\d{1,3})\s*(?:-|–|—|\.\.|to|до|\s)\s*(\d{1,3})", re.IGNORECASE)


def _squeeze(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def validate_name(text: str) -> str:
    name = _squeeze(text)
    if not 1 <= len(name) <= NAME_MAX:
        raise Invalid("errors.name_length", {"limit": NAME_MAX})
    if not _NAME_RE.fullmatch(name):
        raise Invalid("errors.name_chars")
    return name


def validate_age(text: str) -> int:
    raw = text.strip()
    if not raw.isdigit() or len(raw) > 3:
        raise Invalid("errors.age_not_number")
    age = int(raw)
    if age < MIN_AGE:
        raise Invalid("errors.age_too_young", {"low": MIN_AGE})
    if age > MAX_AGE:
        raise Invalid("errors.age_too_old", {"low": MIN_AGE, "high": MAX_AGE})
    return age


def default_age_range(age: int) -> tuple[int, int]:
    """A range centred on the user's own age, clipped to the allowed ages."""
    return max(MIN_AGE, age - AGE_RANGE_SPREAD), min(MAX_AGE, age + AGE_RANGE_SPREAD)


def validate_age_range(text: str, age: int) -> tuple[int, int]:
    match = _RANGE_RE.fullmatch(text.strip())
    if not match:
        low, high = default_age_range(age)
        raise Invalid("errors.range_format", {"low": low, "high": high})
    low, high = int(match.group(1)), int(match.group(2))
    if not (MIN_AGE <= low <= MAX_AGE and MIN_AGE <= high <= MAX_AGE):
        raise Invalid("errors.range_bounds", {"low": MIN_AGE, "high": MAX_AGE})
    if low > high:
        raise Invalid("errors.range_order")
    return low, high


def validate_city(text: str) -> tuple[str, str]:
    """The city as typed (tidied) and its key for matching (case- and accent-insensitive)."""
    city = _squeeze(text)
    if not 2 <= len(city) <= CITY_MAX:
        raise Invalid("errors.city_length", {"limit": CITY_MAX})
    if not _CITY_RE.fullmatch(city):
        raise Invalid("errors.city_chars")
    return city, city_key(city)


def city_key(city: str) -> str:
    folded = unicodedata.normalize("NFKD", city.casefold().replace("ё", "е"))
    return "".join(ch for ch in folded if ch.isalnum() or ch == " ").strip()


def validate_location(latitude: float, longitude: float) -> tuple[float, float]:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise Invalid("errors.location_invalid")
    return latitude, longitude


def validate_about(text: str) -> str:
    """The "about" as stored; refused when too long or with a contact, a link, a wallet, a
    request for money or a look-alike word (the first reason found, a catalog key)."""
    about = unicodedata.normalize("NFC", text).strip()
    if len(about) > ABOUT_MAX:
        raise Invalid("errors.about_length", {"length": len(about), "limit": ABOUT_MAX})
    found = reason_keys(findings(about))
    if found:
        raise Invalid("errors.about_refused", {"reason": found[0]})
    return about


def validate_photo_upload(mime_type: str, size: int, photos_owned: int) -> None:
    """Refuse what is not an image, too large, or over the per-profile limit."""
    if photos_owned >= MAX_PHOTOS:
        raise Invalid("errors.photo_limit", {"limit": MAX_PHOTOS})
    if mime_type not in IMAGE_TYPES:
        raise Invalid("errors.photo_not_image")
    if size > PHOTO_MAX_BYTES:
        raise Invalid("errors.photo_too_large", {"limit_mb": PHOTO_MAX_BYTES // (1024 * 1024)})


def sniff_image_type(head: bytes) -> str | None:
    """The image type the first bytes prove, whatever the sender claimed."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def choose_interest(
    chosen: tuple[str, ...], interest: str, on: bool, allowed: tuple[str, ...], limit: int
) -> tuple[str, ...]:
    """Tick (on) or untick one interest, keeping the list's order; refuse unknown or one too
    many. Explicit rather than a toggle, so the same press handled twice (an update given
    out again after its node died) leaves the selection as once."""
    if interest not in allowed:
        raise Invalid("common.outdated_button")
    if not on:
        return tuple(item for item in chosen if item != interest)
    if interest in chosen:
        return chosen
    if len(chosen) >= limit:
        raise Invalid("errors.interests_limit", {"limit": limit})
    return (*chosen, interest)
