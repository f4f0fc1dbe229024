"""Unmatch, block, reports, moderation and users who blocked the bot, end to end."""

from __future__ import annotations

import pytest

from tests.e2e.people import (
    People,
    Person,
    browse,
    card_name,
    matched_pair,
    next_card,
    skip_all,
)
from tests.support.profiles import unique_city

pytestmark = pytest.mark.usefixtures("steady_node")

REPORTS_TO_HIDE = 3  # the default of REPORTS_TO_HIDE


def open_match_card(person: Person, other: Person) -> None:
    person.user.mark_read()
    person.user.send_text("/matches")
    listing = person.user.wait_for_message()
    person.user.press(
        next(label for label in listing.button_texts if other.name in label),
        message_id=listing.message_id,
    )
    card = person.user.wait_for_message()
    assert card_name(card) == other.name, card.describe()


def end_match(person: Person, other: Person, button: str, done: str) -> None:
    """Open the match from /matches, press the button, confirm, and wait for the answer."""
    open_match_card(person, other)
    person.user.press(button)
    question = person.user.wait_for_message()
    person.user.press("Yes", message_id=question.message_id)
    assert done in person.user.wait_for_message().body


def assert_refused(person: Person, text: str, reason: str) -> None:
    person.user.mark_read()
    person.user.send_text(text)
    assert reason in person.user.wait_for_message().body


@pytest.mark.parametrize(
    ("button", "done", "refusal"),
    [
        ("💔 Unmatch", "Unmatched", "This conversation has ended"),
        ("🚫 Block", "Blocked", "You can't write to this person any more"),
    ],
)
def test_ending_a_match_stops_chat_and_browsing_both_ways(
    people: People, button: str, done: str, refusal: str
) -> None:
    """After an unmatch or a block, neither side's messages are relayed any more, the one
    still in the chat is told why, and neither is ever shown to the other again."""
    alice, bob = matched_pair(people)
    end_match(alice, bob, button, done)
    assert_refused(bob, "Still there?", refusal)
    assert_refused(alice, "Hello?", "/browse")  # no chat any more: the idle hint
    match = people.value(
        "SELECT id FROM matches WHERE user_low = least(%s, %s) AND user_high = greatest(%s, %s)",
        alice.id,
        bob.id,
        alice.id,
        bob.id,
    )
    assert people.value("SELECT count(*) FROM chat_messages WHERE match_id = %s", match) == 0
    bob.user.mark_read()
    bob.user.press(
        "💬 Write",
        message_id=next(m.message_id for m in bob.user.messages if "It's a match" in m.body),
    )
    assert refusal in (bob.user.wait_for_answer().text or "")
    assert skip_all(alice.user) == [] and skip_all(bob.user) == []


def report_from_feed(reporter: Person, reported: Person, reason: str, comment: str | None) -> None:
    card = browse(reporter.user)
    assert card is not None and card_name(card) == reported.name
    reporter.user.press("⚠️", message_id=card.message_id)
    reporter.user.wait_for_message()
    reporter.user.press(reason)
    reporter.user.wait_for_message()
    if comment is None:
        reporter.user.press("No comment")
    else:
        reporter.user.send_text(comment)
    reporter.user.wait_until(
        lambda chat: any("report was sent" in m.body for m in chat.bot_messages), what="the thanks"
    )


def test_reports_hide_a_profile_until_a_moderator_reviews_it(people: People, admin: Person) -> None:
    """A profile reported by enough different people is hidden; the moderator sees every
    reason and comment in /reports; dismissing shows the profile again."""
    city = unique_city()
    reported = people.join("Suspect", city=city)
    reporters = [
        people.join(f"Reporter{'abc'[n]}", gender="m", seeking="f", city=city)
        for n in range(REPORTS_TO_HIDE)
    ]
    report_from_feed(reporters[0], reported, "🎭 Fake profile", "Photo of a celebrity")
    report_from_feed(reporters[1], reported, "🤖 Spam or ads", None)
    late_viewer = people.join("Lateviewer", gender="m", seeking="f", city=city)
    assert people.value("SELECT is_hidden FROM users WHERE id = %s", reported.id) is False
    report_from_feed(reporters[2], reported, "🤬 Offensive", None)
    assert people.value("SELECT is_hidden FROM users WHERE id = %s", reported.id) is True
    assert skip_all(late_viewer.user) == []
    admin.user.mark_read()
    admin.user.send_text("/reports")
    case = admin.user.wait_for_message()
    assert f"Reported profile {reported.id}: 3 open report(s)." in case.body
    assert "Hidden until reviewed." in case.body
    assert "🎭 Fake profile: Photo of a celebrity" in case.body and "🤬 Offensive" in case.body
    admin.user.press("✅ Dismiss", message_id=case.message_id)
    admin.user.wait_until(
        lambda chat: any("dismissed" in m.body for m in chat.bot_messages), what="the dismissal"
    )
    fresh_viewer = people.join("Freshviewer", gender="m", seeking="f", city=city)
    assert skip_all(fresh_viewer.user) == ["Suspect"]


def test_moderator_bans_from_review_and_by_command(people: People, admin: Person) -> None:
    """🔨 Ban in /reports bans the profile; /ban and /unban work by user id; a banned user is
    hidden and told so; ordinary users do not have these commands."""
    city = unique_city()
    spammer = people.join("Spammer", city=city)
    for n in range(REPORTS_TO_HIDE):
        reporter = people.join(f"Witness{'abc'[n]}", gender="m", seeking="f", city=city)
        report_from_feed(reporter, spammer, "🤖 Spam or ads", None)
    admin.user.mark_read()
    admin.user.send_text("/reports")
    case = admin.user.wait_until(
        lambda chat: next((m for m in chat.bot_messages if str(spammer.id) in m.body), None),
        what="the spammer's case",
    )
    admin.user.press("🔨 Ban", message_id=case.message_id)
    admin.user.wait_until(
        lambda chat: any(f"User {spammer.id} is banned" in m.body for m in chat.bot_messages),
        what="the ban",
    )
    assert_refused(spammer, "/browse", "blocked by a moderator")

    other = people.join("Other", city=city)
    assert_refused(admin, f"/ban {other.id}", f"User {other.id} is banned")
    assert skip_all(people.join("Viewer", gender="m", seeking="f", city=city).user) == []
    assert_refused(admin, f"/unban {other.id}", f"User {other.id} is unbanned")
    assert skip_all(people.join("Viewer2", gender="m", seeking="f", city=city).user) == ["Other"]
    assert_refused(admin, "/ban someone", "Send the user id")
    assert_refused(other, "/reports", "I don't know this command")
    assert_refused(other, f"/ban {admin.id}", "I don't know this command")


def test_a_user_who_blocked_the_bot_is_hidden(people: People) -> None:
    """A user who blocks the bot is marked inactive and hidden — whether the bot learns it
    from Telegram's member update or from a 403 when it writes to them."""
    city = unique_city()
    quitter = people.join("Quitter", city=city)
    quitter.user.block_bot()
    people.wait_for_value(True, "SELECT is_inactive FROM users WHERE id = %s", quitter.id)
    assert skip_all(people.join("Viewer", gender="m", seeking="f", city=city).user) == []

    people.sql("UPDATE users SET is_inactive = false WHERE id = %s", quitter.id)
    admirer = people.join("Admirer", gender="m", seeking="f", city=city)
    card = browse(admirer.user)
    assert card is not None and card_name(card) == "Quitter"
    admirer.user.press("❤️", message_id=card.message_id)
    assert next_card(admirer.user) is None
    people.wait_for_value(True, "SELECT is_inactive FROM users WHERE id = %s", quitter.id)
    assert skip_all(people.join("Viewer2", gender="m", seeking="f", city=city).user) == []
