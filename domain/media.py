"""Checks of the short media a user sends: a profile video, a 💌 like's voice message or video
note, a verification video note. Each refuses, before anything is downloaded, what is of the
wrong kind, longer than MEDIA_MAX_SECONDS or larger than MEDIA_MAX_BYTES, raising Invalid with
the catalog key and the values its text needs (domain.validation's convention)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from domain.validation import Invalid

MEDIA_MAX_SECONDS: Final = 15
# Telegram lets a bot download files up to 20 MB; a 15 s clip is well under it.
MEDIA_MAX_BYTES: Final = 20 * 1024 * 1024
VIDEO_TYPES: Final = frozenset({"video/mp4", "video/quicktime", "video/webm"})

# What each purpose accepts (bot_api.incoming.Kind values) and the refusal of anything else.
PROFILE_VIDEO_KINDS: Final = frozenset({"video", "video_note"})
LIKE_MEDIA_KINDS: Final = frozenset({"voice", "video_note"})
VERIFICATION_KINDS: Final = frozenset({"video_note"})


def check_media(
    kind: str, duration: int, size: int, allowed: Collection[str], wrong_kind_key: str
) -> None:
    """Refuse a medium of a kind not allowed, too long or too large (Telegram states its
    duration and size in the message)."""
    if kind not in allowed:
        raise Invalid(wrong_kind_key, {"seconds": MEDIA_MAX_SECONDS})
    if duration > MEDIA_MAX_SECONDS:
        raise Invalid("media.too_long", {"seconds": duration, "limit": MEDIA_MAX_SECONDS})
    if size > MEDIA_MAX_BYTES:
        raise Invalid("media.too_large", {"limit_mb": MEDIA_MAX_BYTES // (1024 * 1024)})


def sniff_video_type(head: bytes) -> str | None:
    """The video container the first bytes prove (MP4/QuickTime "ftyp" box, WebM/Matroska
    EBML header), whatever the sender claimed."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None
