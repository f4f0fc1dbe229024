"""Per-user limits (domain.action_limits), end to end in both languages: a person who goes past
one is told once, politely and in their language, and the rest of the burst gets no answer."""

from __future__ import annotations

import pytest

from config.i18n import t
from domain.action_limits import LIMITS, Action
from domain.onboarding import Step
from sandbox.client import ChatMessage, SandboxClient, VirtualUser
from tests.e2e.people import People, browse
from tests.e2e.story import Newcomer
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")

LANGUAGES = ["en", "ru"]
# Actions sent past the limit's count: the first is told, the others must stay unanswered.
PAST = 3
# The burst's replies reach the chat at Telegram's pace, a message a second: "slow down" comes
# after all those within the limit (up to LIMITS' largest count).
BURST_REPLIES_SECONDS = 60.0


def button_data(message: ChatMessage, label: str) -> str:
    """The callback data of the message's button with this label (pressed again and again
    even after the message changed, as a fast or scripted client does)."""
    for row in message.inline_keyboard:
        for key in row:
            if key.get("text") == label:
                return str(key["callback_data"])
    raise AssertionError(f"no {label!r} button on {message.describe()}")


def told_once(user: VirtualUser, language: str, action: Action) -> None:
    """The person hears the action's "slow down" once, after everything else the burst got,
    and nothing more."""
    text = t(language, f"limits.{action.value}")
    user.wait_until(
        lambda chat: any(m.body == text for m in chat.bot_messages),
        BURST_REPLIES_SECONDS,
        what=f"limits.{action.value}",
    )
    newcomer = Newcomer(user, language)
    newcomer.take(len([m for m in user.chat.bot_messages if not m.deleted]))
    newcomer.expect_silence(1.5)  # the rest of the burst: no answer is the point
    bodies = [m.body for m in user.refresh().bot_messages if not m.deleted]
    assert bodies.count(text) == 1, user.transcript()
    assert bodies[-1] == text, user.transcript()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_flood_of_messages_is_told_to_slow_down_once(people: People, language: str) -> None:
    """Someone with nothing to answer sends many messages at once: each within the limit gets
    the usual hint, the first past it one "slow down", the rest nothing."""
    person = people.join("Mila", city=unique_city(), language=language)
    person.user.mark_read()
    limit = LIMITS[Action.MESSAGE].count
    for n in range(limit + PAST):
        person.user.send_text(f"hello {n}")
    told_once(person.user, language, Action.MESSAGE)
    hint = t(language, "common.idle_hint")
    bodies = [m.body for m in person.user.refresh().bot_messages]
    assert bodies.count(hint) == limit, person.user.transcript()


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_likes_are_told_to_slow_down_once(people: People, language: str) -> None:
    """A ❤️ pressed again and again (a script, or a finger on a stale card): past the like
    limit one "slow down", and every press still gets its button answered."""
    city = unique_city()
    liker = people.join("Lena", gender="f", seeking="m", city=city, language=language)
    people.join("Ivan", gender="m", seeking="f", city=city, language=language)
    card = browse(liker.user)
    assert card is not None
    data = button_data(card, "❤️")
    liker.user.mark_read()
    for _ in range(LIMITS[Action.LIKE].count + PAST):
        liker.user.press_forged(card.message_id, data)
    told_once(liker.user, language, Action.LIKE)


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_reports_are_told_to_slow_down_once(people: People, language: str) -> None:
    """⚠️ pressed past the report limit: one "slow down", then silence."""
    city = unique_city()
    reporter = people.join("Rita", gender="f", seeking="m", city=city, language=language)
    people.join("Oleg", gender="m", seeking="f", city=city, language=language)
    card = browse(reporter.user)
    assert card is not None
    data = button_data(card, "⚠️")
    reporter.user.mark_read()
    for _ in range(LIMITS[Action.REPORT].count + PAST):
        reporter.user.press_forged(card.message_id, data)
    told_once(reporter.user, language, Action.REPORT)


@pytest.mark.parametrize("language", LANGUAGES)
def test_too_many_photo_uploads_are_told_to_slow_down_once(
    sandbox: SandboxClient, language: str
) -> None:
    """At the photo step, file after file (none of them a picture): each within the limit is
    refused as usual, the first past it gets one "slow down", the rest nothing."""
    newcomer = Newcomer.create(sandbox, language)
    newcomer.reach(Step.PHOTOS)
    newcomer.user.mark_read()
    for n in range(LIMITS[Action.PHOTO].count + PAST):
        newcomer.user.send_document(b"not a picture %d" % n, "notes.txt", mime_type="text/plain")
    told_once(newcomer.user, language, Action.PHOTO)
