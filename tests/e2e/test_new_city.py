"""A new bot in a new city: people sign up one after another through the bot, in both
languages, while the ones already there keep browsing; every compatible pair sees each other,
and each newcomer is the very next card of the people who were told "That's everyone for now"
a moment before."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from config.i18n import t
from sandbox.client import ChatMessage, SandboxClient, VirtualUser
from tests.e2e.people import card_name
from tests.e2e.people import next_card as people_next_card
from tests.support.onboarding import Answers, onboard
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")

# From a profile finishing to its card reaching a compatible viewer (issue 13).
SERVED_WITHIN_SECONDS = 5.0


@dataclass(frozen=True)
class Member:
    user: VirtualUser
    answers: Answers

    @property
    def name(self) -> str:
        return self.answers.name

    @property
    def is_woman(self) -> bool:
        return self.answers.gender == "woman"


def next_card(member: Member, pressed: ChatMessage | None = None) -> ChatMessage | None:
    """The member's next card (the pressed one edited into it, or a new one), or None when
    the bot says nobody is left (in their language)."""
    nobody = t(member.answers.language, "browse.nobody_left")
    return people_next_card(member.user, pressed, nobody)


def browse_to_the_end(member: Member) -> list[tuple[str, float]]:
    """/browse and skip every card until nobody is left: each name seen, and when it came."""
    member.user.mark_read()
    member.user.send_text("/browse")
    seen: list[tuple[str, float]] = []
    card = next_card(member)
    while card is not None:
        seen.append((card_name(card), time.monotonic()))
        assert len(seen) <= 10, member.user.transcript()
        member.user.press("👎", message_id=card.message_id)
        card = next_card(member, card)
    return seen


def test_everyone_who_signs_up_in_a_new_city_meets_every_compatible_person(
    sandbox: SandboxClient,
) -> None:
    city = unique_city()
    plan = [
        ("Anna", "woman", "men", "en", 27),
        ("Boris", "man", "women", "ru", 28),
        ("Vera", "woman", "men", "ru", 26),
        ("Gleb", "man", "women", "en", 27),
        ("Dasha", "woman", "men", "en", 28),
        ("Egor", "man", "women", "ru", 26),
    ]
    members: list[Member] = []
    seen: dict[str, set[str]] = {}
    for name, gender, seeking, language, age in plan:
        answers = Answers(
            language=language, name=name, age=age, gender=gender, seeking=seeking, city=city
        )
        user = sandbox.create_user(first_name=name, language_code=language)
        onboard(user, answers)
        joined_at = time.monotonic()
        newcomer = Member(user, answers)
        # Those already here were told "That's everyone for now" last time; the newcomer is
        # their next card, within seconds, and then nobody again.
        for member in members:
            cards = browse_to_the_end(member)
            seen[member.name] |= {shown for shown, _ in cards}
            if member.is_woman != newcomer.is_woman:
                assert [shown for shown, _ in cards[:1]] == [name], (member.name, cards)
                if member is next(m for m in members if m.is_woman != newcomer.is_woman):
                    assert cards[0][1] - joined_at < SERVED_WITHIN_SECONDS
            else:
                assert cards == [], (member.name, cards)
        members.append(newcomer)
        seen[name] = {shown for shown, _ in browse_to_the_end(newcomer)}
    for member in members:
        compatible = {m.name for m in members if m.is_woman != member.is_woman}
        assert seen[member.name] == compatible, (member.name, seen[member.name])
