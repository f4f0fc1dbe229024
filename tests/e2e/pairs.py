"""Matched pairs in either language, for the stories of issue 14 (activity, contact exchange,
Telegram touches): the same moves as tests/e2e/people.py's, with the texts of the pair's
language taken from the catalogs."""

from __future__ import annotations

from config.i18n import t
from sandbox.client import ChatMessage
from tests.e2e.people import People, Person, browse, card_name
from tests.support.profiles import unique_city


def match_notice_in(language: str, person: Person, other: Person) -> ChatMessage:
    """Wait for the person's "It's a match" notice about other, in their language."""
    head = t(language, "matches.new_match", name=other.name)
    return person.user.wait_until(
        lambda chat: next((m for m in chat.bot_messages if head in m.body), None),
        what=f"the match notice about {other.name}",
    )


def open_chat_in(language: str, person: Person, other: Person) -> None:
    """💬 Write on the match notice about other; wait until the chat is open."""
    notice = match_notice_in(language, person, other)
    person.user.mark_read()
    person.user.press(t(language, "matches.button_write"), message_id=notice.message_id)
    # Paced at one a second, an earlier reply (the feed's next screen) may still come first.
    chatting = t(language, "chat.opened", name=other.name).split("\n", 1)[0]
    person.user.wait_until(
        lambda chat: any(
            chatting in m.body for m in chat.bot_messages if m.message_id > notice.message_id
        ),
        what=f"the chat with {other.name} open",
    )
    person.user.mark_read()


def pair_in(
    people: People,
    language: str,
    *,
    her_username: str | None = None,
    his_username: str | None = None,
    chatting: bool = True,
) -> tuple[Person, Person]:
    """A woman and a man speaking ``language`` in a city of their own, matched through the
    feed (she likes first) and, when ``chatting``, both in the chat."""
    city = unique_city()
    she = people.join(
        "Alice", gender="f", seeking="m", city=city, username=her_username, language=language
    )
    he = people.join(
        "Bob", gender="m", seeking="f", city=city, username=his_username, language=language
    )
    for liker, liked in ((she, he), (he, she)):
        card = browse(liker.user)
        assert card is not None and card_name(card) == liked.name, card
        liker.user.press("❤️", message_id=card.message_id)
        liker.user.wait_for_answer()
    match_notice_in(language, she, he)
    match_notice_in(language, he, she)
    if chatting:
        open_chat_in(language, she, he)
        open_chat_in(language, he, she)
    return she, he
