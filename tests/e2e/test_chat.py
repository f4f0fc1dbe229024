"""Chat between matches, relayed through the bot, end to end through the sandbox."""

from __future__ import annotations

import uuid

import pytest

from sandbox.client import ChatMessage, SandboxClient
from tests.e2e.people import People, Person, matched_pair

pytestmark = pytest.mark.usefixtures("steady_node")


def send_every_kind(sender: Person) -> list[int]:
    """Text, a photo with a caption, a sticker, a voice and a video message; their updates."""
    sent = [
        sender.user.send_text("Hello there"),
        sender.user.send_photo(caption="Look at this"),
        sender.user.send_sticker(),
        sender.user.send_voice(),
        sender.user.send_video_note(),
    ]
    return [update.update_id for update in sent if update.update_id is not None]


def leaks_nothing(message: ChatMessage) -> bool:
    """A relayed message shows no forward origin (the sender's account stays hidden)."""
    return not any(key.startswith("forward") for key in message.raw)


def match_id(people: People, first: Person, second: Person) -> object:
    return people.value(
        "SELECT id FROM matches WHERE user_low = least(%s, %s) AND user_high = greatest(%s, %s)",
        first.id,
        second.id,
        first.id,
        second.id,
    )


def test_every_media_kind_is_relayed_both_ways(people: People) -> None:
    """Text, photo, sticker, voice and video note go over in both directions, named by the
    sender, without a trace of the sender's account; each is recorded once, and the match
    records who started the conversation and that it was answered."""
    alice, bob = matched_pair(people)
    for sender, recipient in ((alice, bob), (bob, alice)):
        recipient.user.mark_read()
        send_every_kind(sender)
        text, photo, sticker_name, sticker, voice, note_name, note = (
            recipient.user.wait_for_messages(7)
        )
        assert text.body == f"{sender.name}: Hello there"
        assert photo.photo and photo.caption == f"{sender.name}: Look at this"
        assert sticker_name.body == f"💬 {sender.name}:" and sticker.kind == "sticker"
        assert voice.kind == "voice" and voice.caption == f"💬 {sender.name}:"
        assert note_name.body == f"💬 {sender.name}:" and note.kind == "video_note"
        assert all(leaks_nothing(message) for message in (text, photo, sticker, voice, note))
    match = match_id(people, alice, bob)
    assert people.value("SELECT count(*) FROM chat_messages WHERE match_id = %s", match) == 10
    assert (
        people.value("SELECT conversation || ':' || started_by FROM matches WHERE id = %s", match)
        == f"replied:{alice.id}"
    )


def test_a_repeated_update_is_relayed_once(people: People, sandbox: SandboxClient) -> None:
    """The same update delivered twice reaches the match once and is recorded once."""
    alice, bob = matched_pair(people)
    bob.user.mark_read()
    first = alice.user.send_text("Only once")
    assert bob.user.wait_for_message().body == "Alice: Only once"
    assert first.update_id is not None
    sandbox.redeliver(first.update_id)
    sandbox.wait_updates_consumed()
    alice.user.send_text("After")
    assert bob.user.wait_for_message().body == "Alice: After"
    assert people.value("SELECT count(*) FROM chat_messages WHERE sender_id = %s", alice.id) == 2


def test_username_is_shown_only_when_chosen(people: People) -> None:
    """Matches see the sender's @username only after the sender turned it on in /settings."""
    username = f"alice_{uuid.uuid4().hex[:8]}"
    alice, bob = matched_pair(people, her_username=username)
    bob.user.mark_read()
    alice.user.send_text("Hidden")
    assert bob.user.wait_for_message().body == "Alice: Hidden"
    alice.user.mark_read()
    alice.user.send_text("/settings")
    assert "don't see your @username" in alice.user.wait_for_message().body
    alice.user.press("👤 Show my @username to matches")
    alice.user.wait_until(
        lambda chat: any("now see your @username" in m.body for m in chat.bot_messages),
        what="the change",
    )
    alice.user.send_text("Shown")
    assert bob.user.wait_for_message().body == f"Alice (@{username}): Shown"


def test_leaving_the_chat_stops_relaying(people: People) -> None:
    """After /stop a message is not relayed (the idle hint answers), and 💬 Reply on the
    other's next message brings the user back into the chat."""
    alice, bob = matched_pair(people)
    alice.user.mark_read()
    alice.user.send_text("/stop")
    assert "You left the chat" in alice.user.wait_for_message().body
    alice.user.send_text("Not for Bob")
    assert "/browse" in alice.user.wait_for_message().body
    assert people.value("SELECT count(*) FROM chat_messages WHERE sender_id = %s", alice.id) == 0
    bob.user.send_text("Are you there?")
    relayed = alice.user.wait_for_message()
    assert relayed.body == "Bob: Are you there?" and "💬 Reply" in relayed.button_texts
    alice.user.press("💬 Reply", message_id=relayed.message_id)
    assert "You are now chatting with Bob" in alice.user.wait_for_message().body
    bob.user.mark_read()
    alice.user.send_text("Yes!")
    assert bob.user.wait_for_message().body == "Alice: Yes!"


def test_a_kind_that_cannot_be_relayed_is_explained(people: People) -> None:
    """A location in chat mode is not relayed; the sender is told what can be sent."""
    alice, _ = matched_pair(people)
    alice.user.mark_read()
    alice.user.send_location(55.75, 37.61)
    assert "can't be sent to your match" in alice.user.wait_for_message().body
