"""Other people as discovery reads them: the plain values storage returns and presentation
renders (a card, a match, a report line) and a user as far as telling them goes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ProfileCard:
    """Another user's card as a viewer sees it (``presentation.screens.CardData`` and more)."""

    user_id: int
    name: str | None
    age: int | None
    city: str | None
    about: str | None
    interests: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    photo_file_id: str | None
    like_message: str | None = None  # the message of their like to the viewer, if any
    # Issue 14: the profile's video (a video's file_id), the badge, and a 💌 like's voice
    # message or video note (its kind and file_id) instead of or besides the text.
    video_file_id: str | None = None
    verified: bool = False
    like_media_kind: str | None = None
    like_media_file_id: str | None = None
    last_active_at: datetime | None = None  # for "active today / this week" (domain.activity)


@dataclass(frozen=True, slots=True)
class LikeMedia:
    """A 💌 like's voice message or video note (issue 14): passed on by file_id only."""

    kind: str  # 'voice' | 'video_note'
    file_id: str


@dataclass(frozen=True, slots=True)
class MatchSummary:
    other_id: int
    name: str | None
    age: int | None
    last_activity_at: datetime
    conversation: str  # none / started / replied


@dataclass(frozen=True, slots=True)
class ReportLine:
    reason: str
    comment: str | None


@dataclass(frozen=True, slots=True)
class Party:
    """Another user as far as notifying them and naming them to a match goes."""

    user_id: int
    chat_id: int
    language: str
    username: str | None
    show_username: bool
    is_banned: bool
    is_inactive: bool
    name: str | None
