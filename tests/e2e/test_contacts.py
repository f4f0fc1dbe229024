"""Contact exchange by consent (issue 14, item 6): either side of a chat offers, and only when
both agreed does each get the other's @username, or a tg://user?id= button without one; until
then the chat stays relayed. Stale and forged consent buttons are refused politely."""

from __future__ import annotations

import uuid

import pytest

from config.i18n import t
from sandbox.client import ChatMessage
from tests.e2e.pairs import pair_in
from tests.e2e.people import People, Person

pytestmark = pytest.mark.usefixtures("steady_node")


def with_button(person: Person, label: str) -> ChatMessage:
    """The person's latest bot message showing a button labelled label."""
    return person.user.wait_until(
        lambda chat: next(
            (m for m in reversed(chat.bot_messages) if label in m.button_texts), None
        ),
        what=f"a message with {label!r}",
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_contacts_are_exchanged_only_when_both_agree(people: People, language: str) -> None:
    """Alice offers: she is told it went, Bob is asked, and their chat is still relayed with
    nothing revealed; a second offer is answered as already made; when Bob agrees he gets
    her @username and she a button opening his account (he has no username)."""
    username = f"alice_{uuid.uuid4().hex[:8]}"
    alice, bob = pair_in(people, language, her_username=username)
    offer = t(language, "contacts.button_offer")
    alice.user.mark_read()
    bob.user.mark_read()
    alice.user.press(offer, message_id=with_button(alice, offer).message_id)
    assert alice.user.wait_for_message().body == t(language, "contacts.offer_sent", name="Bob")
    asked = bob.user.wait_for_message()
    assert asked.body == t(language, "contacts.offered", name="Alice")
    assert username not in asked.body

    alice.user.send_text("still private")
    relayed = bob.user.wait_for_message()
    assert relayed.body == t(language, "chat.relayed_text", name="Alice", text="still private")

    alice.user.press(offer, message_id=with_button(alice, offer).message_id)
    answer = alice.user.wait_for_answer()
    assert answer.text == t(language, "contacts.already_offered", name="Bob") and answer.show_alert

    bob.user.press(t(language, "contacts.button_accept"), message_id=asked.message_id)
    assert bob.user.wait_for_message().body == t(
        language, "contacts.exchanged_username", name="Alice", username=username
    )
    link = alice.user.wait_for_message()
    assert link.body == t(language, "contacts.exchanged_link", name="Bob")
    [[button]] = link.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert button["url"] == f"tg://user?id={bob.id}"


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_stale_or_forged_consent_reveals_nothing(people: People, language: str) -> None:
    """Bob's Agree pressed after the match ended is refused with a polite alert, and so is
    consent data no button of the bot carried; neither side gets a contact."""
    alice, bob = pair_in(people, language, his_username=f"bob_{uuid.uuid4().hex[:8]}")
    offer = t(language, "contacts.button_offer")
    bob.user.mark_read()
    alice.user.press(offer, message_id=with_button(alice, offer).message_id)
    asked = bob.user.wait_for_message()
    people.value(
        "UPDATE matches SET status = 'unmatched' WHERE %s IN (user_low, user_high) RETURNING id",
        bob.id,
    )
    alice.user.mark_read()
    bob.user.press(t(language, "contacts.button_accept"), message_id=asked.message_id)
    answer = bob.user.wait_for_answer()
    assert (answer.text, answer.show_alert) == (t(language, "contacts.stale"), True)

    bob.user.press_forged(asked.message_id, f"co:{alice.id}")
    forged = bob.user.wait_for_answer()
    assert forged.text == t(language, "common.outdated_button")
    assert people.value("SELECT count(*) FROM contact_consents WHERE user_id = %s", bob.id) == 0
