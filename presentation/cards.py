"""What the bot shows for discovery, likes, matches, chat and moderation, as Bot API calls.

Pure: every function takes plain values and returns replies; the texts come from the message
catalog (sections browse, likes, matches, chat, safety, settings, admin, notices) and each card
caption is ``presentation.screens.card_caption``, so a profile reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from bot_api import replies
from bot_api.replies import Keyboard, Reply
from config.i18n import t
from domain.activity import recent_activity
from domain.discovery import LikeMedia, MatchSummary, Party, ProfileCard, ReportLine
from domain.geo import distance_km
from domain.reports import HIDE_WEIGHT, MIN_CREDIBLE_REPORTERS, HideDecision
from domain.verification import REFUSAL_REASONS
from presentation.buttons import Button
from presentation.callbacks import issued_now
from presentation.screens import Buttons, card_caption
from storage.verifications import Case

LIKE_MESSAGE_MAX: Final = 300
REPORT_COMMENT_MAX: Final = 500
REPORT_REASONS: Final = ("spam", "fake", "adult", "offensive", "other")
RADIUS_CHOICES_KM: Final = (10, 25, 50, 100, 250, 500)
# An invitation deep link's /start payload is INVITE_PREFIX + the inviter's code.
INVITE_PREFIX: Final = "ref_"


def invitation_link(bot_username: str, code: str) -> str:
    """The deep link of someone's invitation: /start ref_<code> for whoever opens it."""
    return f"https://t.me/{bot_username}?start={INVITE_PREFIX}{code}"


class Origin(StrEnum):
    """Where a report started, which decides what comes after it."""

    BROWSE = "b"
    MATCH = "m"


@dataclass(frozen=True, slots=True)
class Viewer:
    """What of the viewer a card needs: shared interests and the distance."""

    interests: tuple[str, ...]
    latitude: float | None
    longitude: float | None
    now: datetime | None = None  # when the viewer looks: cards say how recently others were active


def shared_interest_count(viewer: Viewer, card: ProfileCard) -> int:
    return len(set(viewer.interests) & set(card.interests))


def caption_for(
    language: str, viewer: Viewer, card: ProfileCard, extra_lines: Sequence[str] = ()
) -> str:
    """The card caption with the distance (when both shared a location), the number of
    shared interests and the like's message."""
    lines: list[str] = []
    shared = shared_interest_count(viewer, card)
    if shared:
        lines.append(t(language, "browse.shared_interests", count=shared))
    if card.like_message:
        lines.append(t(language, "browse.like_message", message=card.like_message))
    if card.like_media_kind:
        lines.append(t(language, f"media.{card.like_media_kind}_below"))
    activity = recent_activity(card.last_active_at, viewer.now) if viewer.now else None
    if activity is not None:
        lines.append(t(language, f"activity.{activity.value}"))
    lines.extend(extra_lines)
    km = distance_km(viewer.latitude, viewer.longitude, card.latitude, card.longitude)
    return card_caption(language, card, km, lines, verified=card.verified)


def with_keyboard(reply: Reply, keyboard: Keyboard | None) -> Reply:
    """The same call with inline buttons added (for calls built without them)."""
    if not keyboard:
        return reply
    return Reply(reply.method, {**reply.params, "reply_markup": {"inline_keyboard": keyboard}})


def _card_reply(chat_id: int, card: ProfileCard, caption: str, keyboard: Keyboard | None) -> Reply:
    """The card as one message: the profile's video when it has one, else its main photo."""
    if card.video_file_id:
        return replies.video(chat_id, card.video_file_id, caption, keyboard)
    if card.photo_file_id:
        return replies.photo(chat_id, card.photo_file_id, caption, keyboard)
    return replies.message(chat_id, caption, keyboard)


def browse_card(
    chat_id: int,
    buttons: Buttons,
    viewer: Viewer,
    card: ProfileCard,
    *,
    undo_skip_of: int | None = None,
    widened_to_km: int | None = None,
) -> Reply:
    """One card of the feed with its choices; ↩️ when the previous card was skipped."""
    lang = buttons.language
    notes = [t(lang, "browse.radius_widened", km=widened_to_km)] if widened_to_km else []
    target = str(card.user_id)
    last_row = [buttons("browse.button_stop", Button.STOP_BROWSING)]
    if undo_skip_of is not None:
        last_row.insert(
            0, buttons("browse.button_undo", Button.UNDO_SKIP, str(undo_skip_of), target)
        )
    keyboard = [
        [
            buttons("browse.button_like", Button.LIKE, target),
            buttons("browse.button_like_message", Button.LIKE_WITH_MESSAGE, target),
        ],
        [
            buttons("browse.button_skip", Button.SKIP, target),
            buttons("browse.button_report", Button.REPORT, target),
        ],
        last_row,
    ]
    return _card_reply(chat_id, card, caption_for(lang, viewer, card, notes), keyboard)


def nobody_left(chat_id: int, buttons: Buttons, has_location: bool) -> Reply:
    """Nobody is left to show: offer the filters that would widen the feed."""
    lang = buttons.language
    row = [
        buttons("buttons.edit_age_range", "ed", "age_range"),
        buttons("buttons.edit_seeking", "ed", "seeking"),
    ]
    if has_location:
        row.append(buttons("settings.button_radius", Button.RADIUS_MENU))
    return replies.message(chat_id, t(lang, "browse.nobody_left"), [row])


def liker_card(
    chat_id: int, buttons: Buttons, viewer: Viewer, card: ProfileCard, remaining: int
) -> list[Reply]:
    """Someone who liked the viewer, to answer with ❤️ or 👎; a like's voice message or video
    note comes right under the card and carries the buttons (a card cannot hold it)."""
    lang = buttons.language
    extra = [t(lang, "likes.more_waiting", count=remaining)] if remaining > 0 else []
    target = str(card.user_id)
    keyboard = [
        [
            buttons("likes.button_like", Button.LIKER_LIKE, target),
            buttons("likes.button_skip", Button.LIKER_SKIP, target),
        ]
    ]
    caption = caption_for(lang, viewer, card, extra)
    media = like_media(chat_id, card, keyboard)
    if media is None:
        return [_card_reply(chat_id, card, caption, keyboard)]
    return [_card_reply(chat_id, card, caption, None), media]


def like_media(chat_id: int, card: ProfileCard, keyboard: Keyboard | None) -> Reply | None:
    """The voice message or video note a 💌 like carried, if any."""
    if card.like_media_file_id is None:
        return None
    if card.like_media_kind == "voice":
        return replies.voice(chat_id, card.like_media_file_id, "", keyboard)
    return replies.video_note(chat_id, card.like_media_file_id, keyboard)


def like_draft(
    chat_id: int,
    buttons: Buttons,
    target: int,
    name: str | None,
    text: str | None,
    media: LikeMedia | None,
) -> Reply:
    """A 💌 like's message shown back before it goes: "Send this to Anna?" with send / cancel."""
    lang = buttons.language
    shown = name or t(lang, "chat.someone")
    keyboard = [
        [
            buttons("media.button_send_like", Button.SEND_LIKE, str(target), name=shown),
            buttons("media.button_cancel_like", Button.SEND_LIKE, str(target), "no"),
        ]
    ]
    question = t(lang, "media.confirm_like", name=shown)
    if media is None:
        message = t(lang, "browse.like_message", message=text)
        return replies.message(chat_id, f"{question}\n\n{message}", keyboard)
    if media.kind == "voice":
        return replies.voice(chat_id, media.file_id, question, keyboard)
    return replies.video_note(chat_id, media.file_id, keyboard)


def like_notice(chat_id: int, buttons: Buttons, count: int) -> Reply:
    """The batched "someone likes you" notice, with how many are waiting."""
    lang = buttons.language
    text = t(lang, "notices.one_like") if count == 1 else t(lang, "notices.many_likes", count=count)
    return replies.message(chat_id, text, [[buttons("notices.button_see", Button.LIKES)]])


def away_likes_notice(chat_id: int, language: str, count: int) -> Reply:
    """To someone paused for inactivity: likes came while they were away (their next message
    brings them back, so the notice needs no button)."""
    if count == 1:
        return replies.message(chat_id, t(language, "activity.away_one_like"))
    return replies.message(chat_id, t(language, "activity.away_likes", count=count))


def display_name(language: str, name: str | None, username: str | None, show_username: bool) -> str:
    """A user's name as matches see it, with @username only if they chose to show it."""
    shown = name or t(language, "chat.someone")
    return f"{shown} (@{username})" if show_username and username else shown


def match_notice(
    chat_id: int, buttons: Buttons, viewer: Viewer, card: ProfileCard, other_display_name: str
) -> Reply:
    """ "It's a match" with the other one's card, a 💬 Write button and confetti."""
    lang = buttons.language
    head = t(lang, "matches.new_match", name=other_display_name)
    keyboard = [[buttons("matches.button_write", Button.WRITE, str(card.user_id))]]
    return replies.with_effect(
        _card_reply(chat_id, card, caption_for(lang, viewer, card, [head]), keyboard),
        replies.EFFECT_CONFETTI,
    )


def ago(language: str, then: datetime, now: datetime) -> str:
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 60:
        return t(language, "matches.just_now")
    if seconds < 3600:
        return t(language, "matches.minutes_ago", count=int(seconds // 60))
    if seconds < 86400:
        return t(language, "matches.hours_ago", count=int(seconds // 3600))
    return t(language, "matches.days_ago", count=int(seconds // 86400))


def matches_list(
    chat_id: int, buttons: Buttons, matches: Sequence[MatchSummary], now: datetime
) -> Reply:
    """Every active match with its last activity, a button each to open it."""
    lang = buttons.language
    if not matches:
        return replies.message(
            chat_id, t(lang, "matches.none"), [[buttons("matches.button_browse", Button.BROWSE)]]
        )
    lines = [t(lang, "matches.title", count=len(matches))]
    keyboard: Keyboard = []
    for number, match in enumerate(matches, start=1):
        state = t(lang, f"matches.conversation_{match.conversation}")
        lines.append(
            t(
                lang,
                "matches.line",
                number=number,
                name=match.name,
                age=match.age,
                ago=ago(lang, match.last_activity_at, now),
                state=state,
            )
        )
        keyboard.append(
            [buttons.raw(f"{number}. {match.name}", Button.MATCH_OPEN, str(match.other_id))]
        )
    return replies.message(chat_id, "\n".join(lines), keyboard)


def match_card(
    chat_id: int,
    buttons: Buttons,
    viewer: Viewer,
    card: ProfileCard,
    match: MatchSummary,
    now: datetime,
) -> Reply:
    """One match's card with what can be done: write, unmatch, block, report."""
    lang = buttons.language
    other = str(card.user_id)
    activity = t(lang, "matches.last_activity", ago=ago(lang, match.last_activity_at, now))
    keyboard = [
        [buttons("matches.button_write", Button.WRITE, other)],
        [
            buttons("matches.button_unmatch", Button.UNMATCH, other),
            buttons("matches.button_block", Button.BLOCK, other),
            buttons("matches.button_report", Button.MATCH_REPORT, other),
        ],
    ]
    return _card_reply(chat_id, card, caption_for(lang, viewer, card, [activity]), keyboard)


def confirm(
    chat_id: int,
    buttons: Buttons,
    question_key: str,
    action: Button,
    other_id: int,
    name: str | None,
) -> Reply:
    """A yes/no question about another user; yes repeats the action with "y"."""
    lang = buttons.language
    return replies.message(
        chat_id,
        t(lang, question_key, name=name),
        [
            [
                buttons("safety.button_yes", action, str(other_id), "y", issued_now()),
                buttons("safety.button_no", Button.MATCHES),
            ]
        ],
    )


def report_reasons(chat_id: int, buttons: Buttons, target: int, origin: Origin) -> Reply:
    lang = buttons.language
    keyboard = [
        [
            buttons(
                f"safety.reason_{reason}", Button.REPORT_REASON, str(target), reason, origin.value
            )
        ]
        for reason in REPORT_REASONS
    ]
    return replies.message(chat_id, t(lang, "safety.choose_reason"), keyboard)


def ask_report_comment(chat_id: int, buttons: Buttons) -> Reply:
    return replies.message(
        chat_id,
        t(buttons.language, "safety.ask_comment", limit=REPORT_COMMENT_MAX),
        [[buttons("safety.button_no_comment", Button.REPORT_NO_COMMENT)]],
    )


def chat_opened(chat_id: int, buttons: Buttons, name: str | None, other_id: int) -> Reply:
    return replies.message(
        chat_id,
        t(buttons.language, "chat.opened", name=name),
        [
            [buttons("chat.button_leave", Button.LEAVE_CHAT)],
            [buttons("contacts.button_offer", Button.CONTACTS, str(other_id))],
        ],
    )


def contacts_offered(chat_id: int, buttons: Buttons, name: str | None, other_id: int) -> Reply:
    """To the match: the other offers to exchange contacts, with the button to agree."""
    lang = buttons.language
    return replies.message(
        chat_id,
        t(lang, "contacts.offered", name=name or t(lang, "chat.someone")),
        [[buttons("contacts.button_accept", Button.CONTACTS, str(other_id))]],
    )


def contact_of(chat_id: int, language: str, other: Party) -> Reply:
    """The other's Telegram contact, once both agreed: their @username, or without one a
    button opening their account by id (tg://user?id=)."""
    name = other.name or t(language, "chat.someone")
    if other.username:
        text = t(language, "contacts.exchanged_username", name=name, username=other.username)
        return replies.message(chat_id, text)
    link = {
        "text": t(language, "contacts.button_open", name=name),
        "url": f"tg://user?id={other.user_id}",
    }
    return replies.message(chat_id, t(language, "contacts.exchanged_link", name=name), [[link]])


def settings_screen(
    chat_id: int,
    buttons: Buttons,
    *,
    seeking: str | None,
    age_min: int | None,
    age_max: int | None,
    radius_km: int,
    has_location: bool,
    show_username: bool,
    verified_only: bool = False,
    protect_media: bool = False,
) -> Reply:
    """The discovery filters and privacy choices, each with the button that changes it."""
    lang = buttons.language
    lines = [
        t(lang, "settings.title"),
        t(lang, "settings.seeking", seeking=t(lang, f"seeking.{seeking or 'any'}")),
        t(lang, "settings.ages", low=age_min or 18, high=age_max or 100),
    ]
    if has_location:
        lines.append(t(lang, "settings.radius", km=radius_km))
    lines.append(
        t(lang, "settings.username_shown" if show_username else "settings.username_hidden")
    )
    lines.append(t(lang, "verify.settings_on" if verified_only else "verify.settings_off"))
    lines.append(t(lang, "protection.status_on" if protect_media else "protection.status_off"))
    first_row = [
        buttons("buttons.edit_seeking", "ed", "seeking"),
        buttons("buttons.edit_age_range", "ed", "age_range"),
    ]
    if has_location:
        first_row.append(buttons("settings.button_radius", Button.RADIUS_MENU))
    keyboard = [
        first_row,
        [
            buttons(
                "settings.button_hide_username"
                if show_username
                else "settings.button_show_username",
                Button.SHOW_USERNAME,
            )
        ],
        [
            buttons(
                "protection.button_off" if protect_media else "protection.button_on",
                Button.PROTECT_MEDIA,
            )
        ],
        [
            buttons(
                "verify.button_everyone" if verified_only else "verify.button_verified_only",
                Button.VERIFIED_ONLY,
                "off" if verified_only else "on",
            )
        ],
    ]
    return replies.message(chat_id, "\n".join(lines), keyboard)


def radius_choices(chat_id: int, buttons: Buttons, current_km: int) -> Reply:
    lang = buttons.language
    row = [
        buttons.raw(f"✅ {km}" if km == current_km else str(km), Button.RADIUS, str(km))
        for km in RADIUS_CHOICES_KM
    ]
    return replies.message(chat_id, t(lang, "settings.choose_radius"), [row[:3], row[3:]])


def report_case(
    chat_id: int,
    buttons: Buttons,
    card: ProfileCard,
    reports: Sequence[ReportLine],
    hidden: bool,
    weight: HideDecision,
) -> list[Reply]:
    """A reported profile for a moderator: first the case (every open report, the weights,
    ban or dismiss), then the profile as others see it. Two messages, so that a long "about"
    never pushes the reasons past a caption's limit, and the card is never cut either."""
    lang = buttons.language
    lines = [
        t(lang, "admin.case_head", user_id=card.user_id, count=len(reports)),
        t(
            lang,
            "admin.case_weight",
            weight=f"{weight.total_weight:.2f}",
            credible=weight.credible_reporters,
            needed=HIDE_WEIGHT,
            needed_credible=MIN_CREDIBLE_REPORTERS,
        ),
    ]
    if hidden:
        lines.append(t(lang, "admin.case_hidden"))
    for report in reports:
        reason = t(lang, f"safety.reason_{report.reason}")
        lines.append(
            t(lang, "admin.case_line", reason=reason, comment=report.comment)
            if report.comment
            else reason
        )
    keyboard = [
        [
            buttons("admin.button_ban", Button.BAN, str(card.user_id), issued_now()),
            buttons("admin.button_dismiss", Button.DISMISS, str(card.user_id)),
        ]
    ]
    case = replies.message(chat_id, "\n".join(lines), keyboard)
    profile = card_caption(lang, card, verified=card.verified)
    has_media = bool(card.photo_file_id or card.video_file_id)
    if not has_media or len(profile) <= replies.CAPTION_MAX:
        return [case, _card_reply(chat_id, card, profile, None)]
    return [case, _card_reply(chat_id, card, "", None), replies.message(chat_id, profile)]


def verification_case(chat_id: int, buttons: Buttons, case: Case) -> list[Reply]:
    """A verification request for a moderator: the profile's photos with the gesture asked
    for, then the video note with approve and the refusal reasons."""
    lang = buttons.language
    head = t(
        lang,
        "verify.case_head",
        user_id=case.user_id,
        name=case.name,
        age=case.age,
        gesture=t(lang, f"verify.gesture_{case.gesture}"),
    )
    photos = list(case.photo_file_ids)
    shown: list[Reply]
    if len(photos) > 1:
        shown = [replies.album(chat_id, photos, head)]
    elif photos:
        shown = [replies.photo(chat_id, photos[0], head)]
    else:
        shown = [replies.message(chat_id, head)]
    request = str(case.id)
    keyboard = [
        [buttons("verify.button_approve", Button.VERIFY_APPROVE, request)],
        *[
            [buttons(f"verify.button_refuse_{reason}", Button.VERIFY_REFUSE, request, reason)]
            for reason in REFUSAL_REASONS
        ],
    ]
    return [*shown, replies.video_note(chat_id, case.video_file_id, keyboard)]
