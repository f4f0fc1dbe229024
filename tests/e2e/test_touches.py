"""Telegram touches (issue 14, item 7): confetti on "It's a match", the menu button, and
photos and videos relayed with protect_content when the sender asks for it in /settings."""

from __future__ import annotations

import pytest

from bot_api.replies import EFFECT_CONFETTI
from config.i18n import t
from sandbox.client import SandboxClient
from tests.e2e.pairs import match_notice_in, pair_in
from tests.e2e.people import People, Person

pytestmark = pytest.mark.usefixtures("steady_node")

LANGUAGES = ("en", "ru")


@pytest.mark.parametrize("language", LANGUAGES)
def test_both_match_notices_play_confetti(people: People, language: str) -> None:
    """The notice of the one who liked first and that of the one who made the match both
    carry the 🎉 message effect (the sandbox refuses effect ids Telegram does not offer)."""
    she, he = pair_in(people, language, chatting=False)
    for person, other in ((she, he), (he, she)):
        notice = match_notice_in(language, person, other)
        assert notice.raw.get("effect_id") == EFFECT_CONFETTI, notice.describe()


def test_the_menu_button_opens_the_commands(sandbox: SandboxClient, people: People) -> None:
    """The node set the bot's menu button to its list of commands at start."""
    [bot] = sandbox.bots()
    assert bot["menu_button"] == {"type": "commands"}


def protection_status(person: Person, language: str) -> str:
    person.user.mark_read()
    person.user.send_text("/settings")
    screen = person.user.wait_for_message()
    return screen.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_protected_photos_and_videos_cannot_be_forwarded(people: People, language: str) -> None:
    """Until the sender turns protection on, a relayed photo is an ordinary one; after it, her
    photos and videos reach the match with protect_content and her texts stay as they were;
    his photos, unprotected, stay ordinary; turning it off again ends it."""
    she, he = pair_in(people, language)
    he.user.mark_read()
    she.user.send_photo(caption="before")
    before = he.user.wait_for_message()
    assert before.photo and not before.raw.get("has_protected_content")

    assert t(language, "protection.status_off") in protection_status(she, language)
    she.user.press(t(language, "protection.button_on"))
    she.user.wait_until(
        lambda chat: any(t(language, "protection.now_on") == m.body for m in chat.bot_messages),
        what="the change",
    )
    assert t(language, "protection.status_on") in protection_status(she, language)
    # Still in the chat: settings do not leave it.
    he.user.mark_read()
    she.user.send_photo(caption="after")
    she.user.send_text("plain words")
    photo, text = he.user.wait_for_messages(2)
    assert photo.photo and photo.raw.get("has_protected_content") is True
    assert text.body.endswith("plain words") and not text.raw.get("has_protected_content")

    she.user.mark_read()
    he.user.send_photo(caption="his")
    assert not she.user.wait_for_message().raw.get("has_protected_content")

    protection_status(she, language)
    she.user.press(t(language, "protection.button_off"))
    she.user.wait_until(
        lambda chat: any(t(language, "protection.now_off") == m.body for m in chat.bot_messages),
        what="the change back",
    )
    he.user.mark_read()
    she.user.send_photo(caption="again")
    assert not he.user.wait_for_message().raw.get("has_protected_content")


def test_a_forged_protection_button_changes_nothing(people: People) -> None:
    """Forged data for the protection button is refused as an outdated button."""
    she, _ = pair_in(people, "en", chatting=False)
    screen_id = she.user.send_text("/settings")
    she.user.wait_for_message()
    assert screen_id.message_id is not None
    she.user.press_forged(screen_id.message_id + 1, "sp")
    assert she.user.wait_for_answer().text == t("en", "common.outdated_button")
    assert people.value("SELECT protect_media FROM users WHERE id = %s", she.id) is False
