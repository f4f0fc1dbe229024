"""Fully onboarded virtual users in one call, and the moves the discovery tests repeat.

A person is a sandbox user whose account and finished profile are written straight through
storage.accounts.Accounts, with a photo registered in the sandbox (so its file_id works when
the bot sends the card). Each test gives its people a city of its own (or coordinates far
from everyone else's), so the feeds of different tests never meet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from domain.validation import validate_city
from sandbox.client import Chat, ChatMessage, SandboxClient, VirtualUser
from sandbox.media import make_photo_sizes
from sandbox.server import SandboxServer
from storage import db
from storage.accounts import Accounts
from tests.support.profiles import unique_city, write_profile

NOBODY_LEFT = "That's everyone for now"
# Far-apart spots (> 1500 km from each other), one per test that shares coordinates.
_spots = iter([(-45.0 + 14.0 * (n // 12), -170.0 + 29.0 * (n % 12)) for n in range(96)])


def unique_spot() -> tuple[float, float]:
    """Coordinates no other test uses (a place of its own for location-based feeds)."""
    return next(_spots)


@dataclass(frozen=True)
class Person:
    user: VirtualUser
    name: str

    @property
    def id(self) -> int:
        return self.user.id


class People:
    """Creates onboarded people and reads their feeds through the bot."""

    def __init__(
        self, sandbox: SandboxClient, server: SandboxServer, pool: db.Pool, photo: bytes
    ) -> None:
        self.sandbox = sandbox
        self.pool = pool
        self.accounts = Accounts(pool)
        sizes = server.call(
            lambda state: state.files.add_photo(server.token, make_photo_sizes(photo))
        )
        self._photo_file_id = sizes[-1].file_id
        self._photo_unique_id = sizes[-1].file_unique_id

    def join(
        self,
        name: str,
        *,
        gender: str = "f",
        seeking: str = "m",
        age: int = 30,
        ages: tuple[int, int] = (18, 99),
        city: str | None = None,
        location: tuple[float, float] | None = None,
        interests: Sequence[str] = (),
        about: str | None = None,
        username: str | None = None,
        language: str = "en",
        photo: bool = True,
        user_id: int | None = None,
    ) -> Person:
        """A person with a finished profile: in ``city``, or at ``location`` when given."""
        user = self.sandbox.create_user(
            name, username=username, language_code=language, started=True, user_id=user_id
        )
        place: dict[str, object]
        if location is not None:
            place = {"latitude": location[0], "longitude": location[1]}
        else:
            shown, key = validate_city(city or unique_city())
            place = {"city": shown, "city_key": key}
        stored = f"e2e/{uuid.uuid4().hex}", self._photo_file_id, self._photo_unique_id, 1000
        write_profile(
            self.accounts,
            user.id,
            {
                "name": name,
                "age": age,
                "gender": gender,
                "seeking": seeking,
                "age_min": ages[0],
                "age_max": ages[1],
                "interests": list(interests),
                "about": about,
                **place,
            },
            stored if photo else None,
            language=language,
            username=username,
        )
        return Person(user, name)

    def sql(self, statement: str, *params: object) -> None:
        """Change the database directly: time travel and states a test sets up."""
        with self.pool.connection() as conn:
            conn.execute(statement, params)

    def value(self, query: str, *params: object) -> object:
        with self.pool.connection() as conn:
            row = conn.execute(query, params).fetchone()
        return next(iter(row.values())) if row else None

    def wait_for_value(
        self, expected: object, query: str, *params: object, timeout: float = 10.0
    ) -> None:
        """Wait until the query's value becomes expected (for effects the bot does not
        answer, such as noticing a user who blocked it)."""
        deadline = time.monotonic() + timeout
        while (value := self.value(query, *params)) != expected:
            assert time.monotonic() < deadline, f"{query} stayed {value!r}, not {expected!r}"
            time.sleep(0.05)


def card_name(message: ChatMessage) -> str:
    """The name a card shows ("Anna, 27, Moscow" -> "Anna")."""
    return message.body.split(",", 1)[0]


def is_card(message: ChatMessage) -> bool:
    return "👎" in message.button_texts or "❤️ Like back" in message.button_texts


def next_card(
    user: VirtualUser, pressed: ChatMessage | None = None, nobody: str = NOBODY_LEFT
) -> ChatMessage | None:
    """Wait for the next card of the feed (passing over other messages, such as a match
    notice), or None when the bot says nobody is left. A press on a card (``pressed``, as it
    was) usually turns that card into the next one: an edit, not a new message."""

    def arrived(chat: Chat) -> tuple[ChatMessage | None] | None:
        if pressed is not None:
            now = chat.message(pressed.message_id)
            if is_card(now) and now.body != pressed.body:
                user.mark_read()
                return (now,)
        for message in user.new_messages():
            if is_card(message):
                return (message,)
            if nobody in message.body:
                return (None,)
        return None

    return user.wait_until(arrived, what="the next card")[0]


def browse(user: VirtualUser) -> ChatMessage | None:
    """Open the feed: the first card, or None when nobody is there."""
    user.mark_read()
    user.send_text("/browse")
    return next_card(user)


def skip_all(user: VirtualUser, limit: int = 30) -> list[str]:
    """Open the feed and skip every card until nobody is left; the names seen, in order."""
    seen: list[str] = []
    card = browse(user)
    while card is not None:
        seen.append(card_name(card))
        assert len(seen) <= limit, f"feed did not end: {seen}"
        card = decide(user, card, "👎")
    return seen


def decide(user: VirtualUser, card: ChatMessage, button: str) -> ChatMessage | None:
    """Press a button on a card; the next card (or None when nobody is left)."""
    user.press(button, message_id=card.message_id)
    return next_card(user, card)


def match_notice(person: Person, other: Person) -> ChatMessage:
    """Wait for the person's "It's a match" notice about other."""
    return person.user.wait_until(
        lambda chat: next(
            (m for m in chat.bot_messages if "It's a match" in m.body and other.name in m.body),
            None,
        ),
        what=f"the match notice about {other.name}",
    )


def make_match(first: Person, second: Person) -> None:
    """Both like each other through the feed (they must be each other's only candidates)."""
    for liker, liked in ((first, second), (second, first)):
        card = browse(liker.user)
        assert card is not None and card_name(card) == liked.name, card
        decide(liker.user, card, "❤️")
    match_notice(first, second)
    match_notice(second, first)


def open_chat(person: Person, other: Person) -> None:
    """Press 💬 Write on the match notice about other and wait until the chat is open."""
    notice = match_notice(person, other)
    person.user.mark_read()
    person.user.press("💬 Write", message_id=notice.message_id)
    # Paced at one a second, an earlier reply (the feed's next screen) may still come first.
    person.user.wait_until(
        lambda chat: any(
            "You are now chatting with" in m.body and other.name in m.body
            for m in chat.bot_messages
            if m.message_id > notice.message_id
        ),
        what=f"the chat with {other.name} open",
    )
    person.user.mark_read()


def matched_pair(
    people: People, her_name: str = "Alice", his_name: str = "Bob", her_username: str | None = None
) -> tuple[Person, Person]:
    """A woman and a man in a city of their own, matched and both in the chat."""
    city = unique_city()
    she = people.join(her_name, gender="f", seeking="m", city=city, username=her_username)
    he = people.join(his_name, gender="m", seeking="f", city=city)
    make_match(she, he)
    open_chat(she, he)
    open_chat(he, she)
    return she, he
