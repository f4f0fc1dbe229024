"""Invitations (issue 14, item 5): /invite gives a deep link; a new user coming through it
counts for the inviter once they finish a profile; unknown, own and farmed invitations earn
nothing, and /start with an unknown payload is a plain /start."""

from __future__ import annotations

import re

import pytest

from config.i18n import t
from domain.onboarding import ONBOARDING_ORDER, Step
from sandbox.client import SandboxClient
from tests.e2e.people import People, Person
from tests.e2e.story import Newcomer

pytestmark = pytest.mark.usefixtures("steady_node")

LINK = re.compile(r"https://t\.me/(\w+)\?start=(ref_[A-Za-z0-9_-]+)")


def invite_link(person: Person, language: str) -> str:
    person.user.mark_read()
    person.user.send_text("/invite")
    body = person.user.wait_for_message().body
    found = LINK.search(body)
    assert found is not None and len(found.group(2)) <= 64, body
    assert body == t(language, "invite.text", link=found.group(0), count=0), body
    return found.group(0)


def counted(people: People, inviter: Person) -> object:
    return people.value(
        "SELECT count(*) FROM invitations WHERE inviter_id = %s AND completed_at IS NOT NULL",
        inviter.id,
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_friend_counts_once_they_finish_a_profile(
    people: People, sandbox: SandboxClient, language: str
) -> None:
    """A newcomer opening the link is welcomed as by /start and counts for the inviter only
    when the profile is finished; /invite then says so; a newcomer who never finishes (a
    farm account) counts for nothing."""
    inviter = people.join("Ira", language=language)
    link = invite_link(inviter, language)
    [bot] = sandbox.bots()
    assert link.startswith(f"https://t.me/{bot['username']}?start=ref_")

    friend = Newcomer.create(sandbox, language, name="Fedor")
    friend.user.follow_link(link)
    friend.expect(friend.welcome)
    assert counted(people, inviter) == 0
    farm = Newcomer.create(sandbox, language, name="Farm")
    farm.user.follow_link(link)
    farm.take(1)
    assert people.value("SELECT count(*) FROM invitations WHERE inviter_id = %s", inviter.id) == 2

    for step in ONBOARDING_ORDER[: ONBOARDING_ORDER.index(Step.PHOTOS)]:
        friend.answer(step)
    friend.finish()
    assert counted(people, inviter) == 1
    inviter.user.mark_read()
    inviter.user.send_text("/invite")
    assert inviter.user.wait_for_message().body == t(language, "invite.text", link=link, count=1)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_unknown_and_own_codes_earn_nothing(
    people: People, sandbox: SandboxClient, language: str
) -> None:
    """A link with a code nobody has, a payload Telegram would not pass (too long) and the
    inviter's own link all behave like a plain /start and record no invitation."""
    inviter = people.join("Olga", language=language)
    link = invite_link(inviter, language)
    [bot] = sandbox.bots()
    for url in (
        f"https://t.me/{bot['username']}?start=ref_nobodyhasthis",
        f"https://t.me/{bot['username']}?start=ref_{'x' * 70}",
    ):
        newcomer = Newcomer.create(sandbox, language)
        newcomer.user.follow_link(url)
        [welcome] = newcomer.take(1)
        assert welcome.body == newcomer.welcome
        assert (
            people.value("SELECT count(*) FROM invitations WHERE invitee_id = %s", newcomer.id) == 0
        )
    inviter.user.mark_read()
    inviter.user.follow_link(link)
    own = inviter.user.wait_for_messages(2)
    assert own[-1].body == t(language, "profile.menu")
    assert people.value("SELECT count(*) FROM invitations WHERE inviter_id = %s", inviter.id) == 0
