"""Issue 14, part A end to end: a profile video, 💌 likes with a voice message or a video note
(confirmed before they go), and the verified badge (a video note reviewed by a moderator, the
"verified people only" setting, the badge lost when photos change). Both languages, and bad
input at every new step: the wrong kind of media, too long, too large, stale and forged buttons.
"""

from __future__ import annotations

import pytest

from config.i18n import t
from domain.media import MEDIA_MAX_BYTES, MEDIA_MAX_SECONDS
from sandbox.client import Chat, ChatMessage
from tests.e2e.people import People, Person, browse, card_name
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")

LANGUAGES = ("en", "ru")
TOO_LARGE = MEDIA_MAX_BYTES + 1024


def said(person: Person, language: str, key: str, **values: object) -> ChatMessage:
    """Wait for the bot's next message and check it is the catalog text ``key``."""
    message = person.user.wait_for_message()
    assert message.body == t(language, key, **values), message.describe()
    return message


def press(person: Person, language: str, key: str, message: ChatMessage, **values: object) -> None:
    person.user.press(t(language, key, **values), message_id=message.message_id)


def alert_of(person: Person) -> str:
    return person.user.wait_for_answer().text or ""


# -- 1. the profile video --------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_profile_video_is_checked_kept_and_shown_on_the_card(
    people: People, language: str
) -> None:
    """/profile → 🎬: a photo, a video too long and a video too large are refused with the
    reason; a video note of 5 s is kept in the bucket (re-uploaded as a video) and shown with
    the photos in the own profile and as the card others browse."""
    city = unique_city()
    she = people.join("Vera", gender="f", seeking="m", city=city, language=language)
    viewer = people.join("Oleg", gender="m", seeking="f", city=city, language=language)
    she.user.send_text("/profile")
    menu = she.user.wait_until(
        lambda chat: next((m for m in chat.bot_messages if m.inline_keyboard), None),
        what="the profile menu",
    )
    she.user.mark_read()
    press(she, language, "media.button_edit_video", menu)
    said(she, language, "media.send_video", seconds=MEDIA_MAX_SECONDS)

    she.user.send_photo()
    said(she, language, "media.video_expected", seconds=MEDIA_MAX_SECONDS)
    she.user.send_video(duration=MEDIA_MAX_SECONDS + 5)
    said(she, language, "media.too_long", seconds=MEDIA_MAX_SECONDS + 5, limit=MEDIA_MAX_SECONDS)
    she.user.send_video(duration=5, size=TOO_LARGE)
    said(she, language, "media.too_large", limit_mb=MEDIA_MAX_BYTES // (1024 * 1024))
    assert people.value("SELECT count(*) FROM profile_videos WHERE user_id = %s", she.id) == 0

    she.user.send_video_note(duration=5)
    # The video note comes back as a video: uploaded to her chat and deleted at once.
    she.user.wait_until(
        lambda chat: next(
            (m for m in chat.bot_messages if m.kind == "video" and m.media_group_id), None
        ),
        what="the own profile with its video",
    )
    saved = t(language, "media.video_saved")
    assert any(m.body == saved for m in she.user.messages)
    assert all(m.deleted for m in she.user.messages if m.kind == "video" and not m.media_group_id)
    key = people.value("SELECT object_key FROM profile_videos WHERE user_id = %s", she.id)
    assert isinstance(key, str) and key.startswith("photos/") and str(she.id) not in key
    assert (
        people.value("SELECT content_type FROM profile_videos WHERE user_id = %s", she.id)
        == "video/mp4"
    )

    card = browse(viewer.user)
    assert card is not None
    assert card.kind == "video", card.describe()
    assert card_name(card) == "Vera"
    assert card.file_id == people.value(
        "SELECT telegram_file_id FROM profile_videos WHERE user_id = %s", she.id
    )


# -- 2. 💌 likes with a voice message or a video note -------------------------------------


def open_like_message(liker: Person, language: str, card: ChatMessage | None = None) -> ChatMessage:
    """💌 on the card (the feed's next one when none is given); the card."""
    card = card or browse(liker.user)
    assert card is not None
    liker.user.mark_read()
    liker.user.press("💌", message_id=card.message_id)
    said(liker, language, "browse.ask_like_message", limit=300, seconds=MEDIA_MAX_SECONDS)
    return card


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_voice_like_is_confirmed_then_delivered_in_likes(people: People, language: str) -> None:
    """💌 then a sticker, a voice message too long, a video note too large and a text with a
    link are refused; a voice message of 4 s is shown back ("Send this to Anna?"), sent once
    (the draft's button pressed again is outdated), and Anna gets it under his card in
    /likes, where liking back makes the match."""
    city = unique_city()
    anna = people.join("Anna", gender="f", seeking="m", city=city, language=language)
    ivan = people.join("Ivan", gender="m", seeking="f", city=city, language=language)
    open_like_message(ivan, language)

    ivan.user.send_sticker()
    said(ivan, language, "media.like_kinds", limit=300, seconds=MEDIA_MAX_SECONDS)
    ivan.user.send_voice(duration=MEDIA_MAX_SECONDS + 1)
    said(ivan, language, "media.too_long", seconds=MEDIA_MAX_SECONDS + 1, limit=MEDIA_MAX_SECONDS)
    ivan.user.send_video_note(duration=3, size=TOO_LARGE)
    said(ivan, language, "media.too_large", limit_mb=MEDIA_MAX_BYTES // (1024 * 1024))
    ivan.user.send_text("write me at t.me/ivan_private")
    said(ivan, language, "media.like_refused", reason=t(language, "errors.about_invite_link"))

    ivan.user.send_voice(duration=4)
    draft = ivan.user.wait_for_message()
    assert draft.kind == "voice" and draft.body == t(language, "media.confirm_like", name="Anna")
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'like'", ivan.id
        )
        == 0
    )
    press(ivan, language, "media.button_send_like", draft, name="Anna")
    ivan.user.wait_for_answer()
    people.wait_for_value(
        "voice",
        "SELECT message_kind FROM interactions WHERE actor_id = %s AND kind = 'like'",
        ivan.id,
    )
    # The draft's button pressed again (its keyboard is gone, the signed data kept): stale.
    ivan.user.mark_read()
    label = t(language, "media.button_send_like", name="Anna")
    ivan.user.press_forged(draft.message_id, draft.callback_data(label))
    assert alert_of(ivan) == t(language, "common.outdated_button")

    anna.user.mark_read()
    anna.user.send_text("/likes")
    card, voice = anna.user.wait_for_messages(2)
    assert card_name(card) == "Ivan" and t(language, "media.voice_below") in card.body
    assert voice.kind == "voice" and voice.file_id == draft.file_id
    anna.user.press(t(language, "likes.button_like"), message_id=voice.message_id)
    anna.user.wait_until(
        lambda chat: next(
            (
                m
                for m in chat.bot_messages
                if t(language, "matches.new_match", name="Ivan") in m.body
            ),
            None,
        ),
        what="the match",
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_video_note_like_can_be_dropped_or_sent(people: People, language: str) -> None:
    """A video note of 6 s is shown back with its buttons; ✖️ drops it (nothing is liked, and
    a video note now is no like message); 💌 again on the card and a new one is sent and
    arrives as a video note under the card in /likes."""
    city = unique_city()
    kate = people.join("Kate", gender="f", seeking="m", city=city, language=language)
    pavel = people.join("Pavel", gender="m", seeking="f", city=city, language=language)
    card = open_like_message(pavel, language)
    pavel.user.send_video_note(duration=6)
    draft = pavel.user.wait_for_message()
    assert draft.kind == "video_note"
    press(pavel, language, "media.button_cancel_like", draft)
    said(pavel, language, "media.like_dropped")
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'like'", pavel.id
        )
        == 0
    )
    pavel.user.send_video_note(duration=6)  # the mode ended: the idle hint, nothing sent
    said(pavel, language, "common.idle_hint")

    open_like_message(pavel, language, card)  # 💌 again on the same card
    pavel.user.send_video_note(duration=7)
    draft = pavel.user.wait_for_message()
    press(pavel, language, "media.button_send_like", draft, name="Kate")
    people.wait_for_value(
        "video_note",
        "SELECT message_kind FROM interactions WHERE actor_id = %s AND kind = 'like'",
        pavel.id,
    )
    kate.user.mark_read()
    kate.user.send_text("/likes")
    card, note = kate.user.wait_for_messages(2)
    assert t(language, "media.video_note_below") in card.body
    assert note.kind == "video_note" and note.inline_keyboard


# -- 3. the verified badge -------------------------------------------------------------------


def gesture_of(people: People, person: Person) -> str:
    gesture = people.value(
        "SELECT gesture FROM verifications WHERE user_id = %s ORDER BY id DESC LIMIT 1", person.id
    )
    assert isinstance(gesture, str)
    return gesture


def request_verification(people: People, person: Person, language: str) -> None:
    """/verify, refused media, then a video note of 5 s sent for review."""
    person.user.mark_read()
    person.user.send_text("/verify")
    asked = person.user.wait_for_message()
    gesture = t(language, f"verify.gesture_{gesture_of(people, person)}")
    assert asked.body == t(language, "verify.ask", gesture=gesture, seconds=MEDIA_MAX_SECONDS)
    person.user.send_video(duration=5)
    said(person, language, "verify.expected_video_note", seconds=MEDIA_MAX_SECONDS)
    person.user.send_video_note(duration=MEDIA_MAX_SECONDS + 10)
    said(
        person,
        language,
        "media.too_long",
        seconds=MEDIA_MAX_SECONDS + 10,
        limit=MEDIA_MAX_SECONDS,
    )
    person.user.send_video_note(duration=5)
    said(person, language, "verify.sent")


def head_of(admin: Person, note: ChatMessage) -> ChatMessage:
    """The message before a case's video note: the photos with the gesture asked for."""
    return max(
        (m for m in admin.user.messages if m.message_id < note.message_id),
        key=lambda m: m.message_id,
    )


def open_case(admin: Person, person: Person) -> ChatMessage:
    """/verifications until the case of ``person`` comes up: its video note with the buttons
    (cases of other tests may be waiting first: they are approved)."""
    admin.user.mark_read()
    after = max((m.message_id for m in admin.user.messages), default=0)
    admin.user.send_text("/verifications")
    for _ in range(20):

        def new_case(chat: Chat, after: int = after) -> ChatMessage | None:
            return next(
                (
                    m
                    for m in chat.bot_messages
                    if m.message_id > after and m.kind == "video_note" and m.inline_keyboard
                ),
                None,
            )

        note: ChatMessage = admin.user.wait_until(new_case, what="a verification case")
        if str(person.id) in head_of(admin, note).body:
            return note
        after = note.message_id
        admin.user.press(t("en", "verify.button_approve"), message_id=note.message_id)
    raise AssertionError(f"no verification case of {person.id}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_verification_refused_then_approved_shows_the_badge_until_photos_change(
    people: People, admin: Person, language: str
) -> None:
    """/verify asks for a gesture in the user's language; a video instead of a video note and
    one too long are refused; the moderator sees the photos with the gesture and the video
    note, refuses with a reason (the user is told it), approves the next try; the card shows
    ✅; a forged approve and the stale buttons of a reviewed case change nothing; a new photo
    takes the badge away and puts the case back for review."""
    city = unique_city()
    lena = people.join("Lena", gender="f", seeking="m", city=city, language=language)
    viewer = people.join("Boris", gender="m", seeking="f", city=city, language=language)
    request_verification(people, lena, language)
    lena.user.mark_read()
    lena.user.send_text("/verify")
    said(lena, language, "verify.waiting")

    note = open_case(admin, lena)
    request_id = people.value(
        "SELECT id FROM verifications WHERE user_id = %s AND status = 'pending'", lena.id
    )
    head = head_of(admin, note)
    gesture = t("en", f"verify.gesture_{gesture_of(people, lena)}")
    assert head.body == t(
        "en", "verify.case_head", user_id=lena.id, name="Lena", age=30, gesture=gesture
    )
    admin.user.mark_read()
    admin.user.press(t("en", "verify.button_refuse_face"), message_id=note.message_id)
    said(
        lena,
        language,
        "verify.refused",
        reason=t(language, "verify.reason_face"),
    )
    # The same case's buttons again: reviewed already.
    admin.user.mark_read()
    admin.user.press_forged(note.message_id, note.callback_data(t("en", "verify.button_approve")))
    admin.user.wait_until(
        lambda chat: any(
            m.body == t("en", "verify.case_already_reviewed") for m in chat.bot_messages
        ),
        what="the stale button refused",
    )
    assert people.value("SELECT verified_at FROM users WHERE id = %s", lena.id) is None

    request_verification(people, lena, language)
    # A forged button (data not signed by the bot) is refused as outdated.
    admin.user.mark_read()
    admin.user.press_forged(note.message_id, f"va:{request_id}")
    assert alert_of(admin) == t("en", "common.outdated_button")
    note = open_case(admin, lena)
    admin.user.mark_read()
    admin.user.press(t("en", "verify.button_approve"), message_id=note.message_id)
    said(lena, language, "verify.approved")
    assert people.value("SELECT verified_at IS NOT NULL FROM users WHERE id = %s", lena.id)

    card = browse(viewer.user)
    assert card is not None
    assert card.body.startswith(t(language, "verify.badge", name="Lena") + ","), card.body
    lena.user.mark_read()
    lena.user.send_text("/verify")
    said(lena, language, "verify.already")

    # A new photo: the badge goes and the same video note waits for a moderator again.
    lena.user.send_text("/profile")
    lena.user.wait_until(lambda chat: any(m.inline_keyboard for m in chat.bot_messages))
    people.sql(
        "INSERT INTO photos (user_id, position, object_key, telegram_file_id, file_unique_id,"
        " content_type, size_bytes) SELECT user_id, 1, object_key || '-2', telegram_file_id,"
        " file_unique_id || '-2', content_type, size_bytes FROM photos WHERE user_id = %s",
        lena.id,
    )
    assert people.value("SELECT verified_at FROM users WHERE id = %s", lena.id) is None
    assert (
        people.value(
            "SELECT status FROM verifications WHERE user_id = %s ORDER BY id DESC LIMIT 1", lena.id
        )
        == "pending"
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_verified_people_only_hides_the_unverified(people: People, language: str) -> None:
    """/settings → "verified people only": the unverified leave the feed, the verified stay;
    "show everyone" brings them back."""
    city = unique_city()
    people.join("Unchecked", gender="f", seeking="m", city=city, language=language)
    checked = people.join("Checked", gender="f", seeking="m", city=city, language=language)
    people.sql("UPDATE users SET verified_at = now() WHERE id = %s", checked.id)
    viewer = people.join("Viewer", gender="m", seeking="f", city=city, language=language)
    viewer.user.send_text("/settings")
    screen = viewer.user.wait_for_message()
    assert t(language, "verify.settings_off") in screen.body
    viewer.user.mark_read()
    press(viewer, language, "verify.button_verified_only", screen)
    said(viewer, language, "verify.verified_only_set")
    screen = viewer.user.wait_for_message()
    assert t(language, "verify.settings_on") in screen.body

    card = browse(viewer.user)
    assert card is not None and card_name(card) == t(language, "verify.badge", name="Checked")
    viewer.user.press("👎", message_id=card.message_id)
    nobody = viewer.user.wait_until(
        lambda chat: next(
            (m for m in chat.bot_messages if t(language, "browse.nobody_left") in m.body), None
        ),
        what="nobody left",
    )
    assert nobody is not None

    viewer.user.mark_read()
    viewer.user.send_text("/settings")
    screen = viewer.user.wait_for_message()
    press(viewer, language, "verify.button_everyone", screen)
    said(viewer, language, "verify.everyone_set")
    card = browse(viewer.user)
    assert card is not None and card_name(card) == "Unchecked"
