"""Unmatch, block, reports, moderation and users who blocked the bot, end to end."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from config.i18n import t
from presentation.callbacks import CallbackSigner
from sandbox.client import ChatMessage
from tests.e2e.people import (
    People,
    Person,
    browse,
    card_name,
    decide,
    match_notice,
    matched_pair,
    next_card,
    skip_all,
)
from tests.e2e.story import Newcomer
from tests.support.profiles import unique_city
from tests.support.services import TEST_BOT_TOKEN

pytestmark = pytest.mark.usefixtures("steady_node")


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
    question = later_message(person, lambda m: "Yes" in m.button_texts, "the confirmation")
    person.user.press("Yes", message_id=question.message_id)
    later_message(person, lambda m: done in m.body, done)


def later_message(person: Person, wanted: Callable[[ChatMessage], bool], what: str) -> ChatMessage:
    """The first message not read yet that ``wanted`` accepts: replies come at Telegram's
    pace, a message a second per chat, so one to an earlier action may still arrive first."""
    user = person.user
    found = user.wait_until(
        lambda chat: next((m for m in user.new_messages() if wanted(m)), None), what=what
    )
    user.mark_read()
    return found


def assert_refused(person: Person, text: str, reason: str) -> None:
    person.user.mark_read()
    person.user.send_text(text)
    later_message(person, lambda m: reason in m.body, reason)


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


def established(people: People, person: Person, days_old: int, fillers: list[Person]) -> None:
    """Make the person's account ``days_old`` days old, active on as many days as the fillers
    (a skip of one of them each day)."""
    people.sql(
        "UPDATE users SET created_at = now() - make_interval(days => %s) WHERE id = %s",
        days_old,
        person.id,
    )
    for day, filler in enumerate(fillers, start=1):
        people.sql(
            """INSERT INTO interactions (actor_id, target_id, kind, created_at)
               VALUES (%s, %s, 'skip', now() - make_interval(days => %s))""",
            person.id,
            filler.id,
            day,
        )


def case_message(admin: Person, reported: Person, *, after: int = 0) -> ChatMessage:
    """The moderator's case message about ``reported`` (after message id ``after``)."""
    return admin.user.wait_until(
        lambda chat: next(
            (
                m
                for m in chat.bot_messages
                if m.message_id > after and f"Reported profile {reported.id}:" in m.body
            ),
            None,
        ),
        what=f"the case of {reported.name}",
    )


def review(admin: Person, reported: Person, button: str) -> None:
    """/reports until the case of ``reported`` comes, then press the button on it."""
    admin.user.mark_read()
    last = max((m.message_id for m in admin.user.refresh().bot_messages), default=0)
    admin.user.send_text("/reports")
    case = case_message(admin, reported, after=last)
    admin.user.press(button, message_id=case.message_id)
    admin.user.wait_until(
        lambda chat: any(
            str(reported.id) in m.body and m.message_id > case.message_id for m in chat.bot_messages
        ),
        what="the review",
    )


def hidden(people: People, person: Person) -> object:
    return people.value("SELECT is_hidden FROM users WHERE id = %s", person.id)


def test_three_accounts_made_the_same_day_cannot_hide_an_established_profile(
    people: People, admin: Person
) -> None:
    """Three accounts made today each report a 30-day-old profile: it stays visible, and the
    moderator's case shows the low weight."""
    city = unique_city()
    reported = people.join("Target", city=city)
    established(people, reported, 30, [])
    for n in range(3):
        reporter = people.join(f"Throwaway{'abc'[n]}", gender="m", seeking="f", city=city)
        report_from_feed(reporter, reported, "🤖 Spam or ads", None)
    assert hidden(people, reported) is False
    viewer = people.join("Viewer", gender="m", seeking="f", city=city)
    assert skip_all(viewer.user) == ["Target"]
    review(admin, reported, "✅ Dismiss")


def test_established_reporters_hide_a_profile_until_a_moderator_reviews_it(
    people: People, admin: Person
) -> None:
    """Three established people reporting a profile hide it, and the moderators get the case
    at once, reasons first; dismissing shows the profile again and lowers the reporters'
    weight, so the same three no longer hide anyone."""
    city = unique_city()
    reported = people.join("Suspect", city=city)
    fillers = [people.join(f"Filler{'abcdefg'[n]}", city=unique_city()) for n in range(7)]
    reporters = [
        people.join(f"Reporter{'abc'[n]}", gender="m", seeking="f", city=city) for n in range(3)
    ]
    for n, reporter in enumerate(reporters):
        established(people, reporter, 30 + 10 * n, fillers)
    admin.user.mark_read()
    before = max((m.message_id for m in admin.user.refresh().bot_messages), default=0)
    report_from_feed(reporters[0], reported, "🎭 Fake profile", "Photo of a celebrity")
    report_from_feed(reporters[1], reported, "🤖 Spam or ads", None)
    late_viewer = people.join("Lateviewer", gender="m", seeking="f", city=city)
    assert hidden(people, reported) is False
    report_from_feed(reporters[2], reported, "🤬 Offensive", None)
    assert hidden(people, reported) is True
    told = case_message(admin, reported, after=before)  # sent at once, unasked
    assert "3 open report(s)" in told.body and "Hidden until reviewed." in told.body
    assert "🎭 Fake profile: Photo of a celebrity" in told.body and "🤬 Offensive" in told.body
    assert "credible reporters: 3" in told.body
    assert skip_all(late_viewer.user) == []
    review(admin, reported, "✅ Dismiss")
    fresh_viewer = people.join("Freshviewer", gender="m", seeking="f", city=city)
    assert skip_all(fresh_viewer.user) == ["Suspect"]

    second = people.join("Second", city=city)
    for reporter in reporters:
        # A new pass over the feed (as the next day), which has the newcomer in it.
        people.sql("DELETE FROM feed_passes WHERE viewer_id = %s", reporter.id)
        report_from_feed(reporter, second, "🤖 Spam or ads", None)
    assert hidden(people, second) is False
    review(admin, second, "✅ Dismiss")


def test_the_case_shows_reports_first_and_the_whole_profile(people: People, admin: Person) -> None:
    """A 1000-character "about" cuts off neither the reasons nor the profile: the case comes
    first, the profile after it in full."""
    city = unique_city()
    about = ("A long story about me. " * 50)[:1000]
    reported = people.join("Longabout", city=city, about=about)
    reporter = people.join("Reporter", gender="m", seeking="f", city=city)
    report_from_feed(reporter, reported, "🎭 Fake profile", "Not a real person " * 20)
    admin.user.mark_read()
    last = max((m.message_id for m in admin.user.refresh().bot_messages), default=0)
    admin.user.send_text("/reports")
    case = case_message(admin, reported, after=last)
    assert ("🎭 Fake profile: " + "Not a real person " * 20).strip() in case.body
    profile = admin.user.wait_until(
        lambda chat: next(
            (m for m in chat.bot_messages if m.message_id > case.message_id and about in m.body),
            None,
        ),
        what="the whole profile",
    )
    assert profile.body.startswith("Longabout, 30")
    admin.user.press("✅ Dismiss", message_id=case.message_id)
    admin.user.wait_until(
        lambda chat: any(f"about {reported.id} dismissed" in m.body for m in chat.bot_messages),
        what="the dismissal",
    )


def test_moderator_bans_from_review_and_by_command(people: People, admin: Person) -> None:
    """🔨 Ban in /reports bans the profile; /ban and /unban work by user id; a banned user is
    hidden and told so; ordinary users do not have these commands."""
    city = unique_city()
    spammer = people.join("Spammer", city=city)
    for n in range(3):
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


def delete_account(person: Person) -> None:
    """/profile, 🗑 Delete account, yes: the account is gone."""
    person.user.mark_read()
    person.user.send_text("/profile")
    person.user.wait_until(
        lambda chat: any("🗑 Delete account" in m.button_texts for m in chat.bot_messages),
        what="the profile menu",
    )
    person.user.press("🗑 Delete account")
    question = person.user.wait_until(
        lambda chat: next(
            (m for m in chat.bot_messages if "Yes, delete everything" in m.button_texts), None
        ),
        what="the confirmation",
    )
    person.user.press("Yes, delete everything", message_id=question.message_id)
    person.user.wait_until(
        lambda chat: any("Your account is deleted" in m.body for m in chat.bot_messages),
        what="the deletion",
    )


def come_back(person: Person, city: str, *, man: bool) -> None:
    """/start again with the same Telegram id and the whole onboarding through the bot."""
    newcomer = Newcomer(person.user, "en")
    if man:
        newcomer.gender, newcomer.seeking = "man", "women"
    newcomer.skip_history()
    newcomer.onboard(city=city)


@pytest.mark.parametrize("returning", ["harasser", "victim"])
def test_a_block_outlives_deleting_the_account(people: People, returning: str) -> None:
    """She blocks him; one of them deletes the account and comes back with the same Telegram
    id: they are never shown to each other, and his like (even replayed from the old card of
    hers) never reaches her."""
    city = unique_city()
    she = people.join("Alice", gender="f", seeking="m", city=city)
    he = people.join("Bob", gender="m", seeking="f", city=city)
    card = browse(he.user)
    assert card is not None and card_name(card) == "Alice"
    old_like = card.message_id, card.callback_data("❤️")
    decide(he.user, card, "❤️")
    card = browse(she.user)
    assert card is not None and card_name(card) == "Bob"
    decide(she.user, card, "❤️")
    match_notice(she, he)
    end_match(she, he, "🚫 Block", "Blocked")
    gone = he if returning == "harasser" else she
    delete_account(gone)
    assert people.value("SELECT count(*) FROM blocks WHERE blocked_id = %s", he.id) == 0
    come_back(gone, city, man=gone is he)
    assert skip_all(he.user) == [] and skip_all(she.user) == []
    he.user.mark_read()
    he.user.press_forged(*old_like)  # the like button of her card, pressed again
    he.user.wait_for_answer()
    she.user.mark_read()
    she.user.send_text("/likes")
    assert "❤️ Like back" not in she.user.wait_for_message().button_texts
    assert people.value("SELECT count(*) FROM blocks WHERE blocker_id = %s", she.id) == 1


def test_a_ban_outlives_deleting_the_account(people: People, admin: Person) -> None:
    """A banned user whose account is deleted and who sends /start again is still banned."""
    banned = people.join("Banned", city=unique_city())
    assert_refused(admin, f"/ban {banned.id}", f"User {banned.id} is banned")
    people.accounts.delete_account(banned.id)
    assert_refused(banned, "/start", "blocked by a moderator")
    assert people.value("SELECT is_banned FROM users WHERE id = %s", banned.id) is True
    assert_refused(admin, f"/unban {banned.id}", f"User {banned.id} is unbanned")
    people.accounts.delete_account(banned.id)
    banned.user.mark_read()
    banned.user.send_text("/start")
    assert "let's create your profile" in banned.user.wait_for_message().body


@pytest.mark.parametrize("language", ["en", "ru"])
def test_privacy_says_what_is_kept_and_why(people: People, language: str) -> None:
    """/privacy (in the menu and /help) tells, in the user's language, what is kept and why."""
    person = people.join("Curious", language=language)
    person.user.mark_read()
    person.user.send_text("/privacy")
    assert person.user.wait_for_message().body == t(language, "privacy.text")
    person.user.send_text("/help")
    assert "/privacy" in person.user.wait_for_message().body


def expired(user_id: int, *parts: str) -> str:
    """Button data signed as the node signs it, made 11 minutes ago."""
    made = format(int(time.time()) - 660, "x")
    return CallbackSigner(TEST_BOT_TOKEN.encode()).sign(user_id, *parts, made)


def test_expired_destructive_buttons_ask_again(people: People) -> None:
    """A "yes, delete" or "yes, block" older than 10 minutes does nothing and asks again; the
    fresh question's yes works."""
    alice, bob = matched_pair(people, "Alicia", "Boris")
    open_match_card(alice, bob)
    alice.user.press("🚫 Block")
    question = alice.user.wait_for_message()
    alice.user.mark_read()
    alice.user.press_forged(question.message_id, expired(alice.id, "mb", str(bob.id), "y"))
    again = alice.user.wait_for_messages(2)
    assert again[0].body.startswith("That confirmation is more than 10 minutes old")
    assert people.value("SELECT count(*) FROM blocks WHERE blocker_id = %s", alice.id) == 0
    alice.user.press("Yes", message_id=again[1].message_id)
    assert "Blocked" in alice.user.wait_for_message().body

    bob.user.mark_read()
    bob.user.send_text("/profile")
    bob.user.wait_for_messages(2)
    bob.user.press("🗑 Delete account")
    question = bob.user.wait_for_message()
    bob.user.press_forged(question.message_id, expired(bob.id, "dl", "yes"))
    again = bob.user.wait_for_messages(2)
    assert again[0].body.startswith("That confirmation is more than 10 minutes old")
    assert people.value("SELECT count(*) FROM users WHERE id = %s", bob.id) == 1
    bob.user.press("Yes, delete everything", message_id=again[1].message_id)
    assert "Your account is deleted" in bob.user.wait_for_message().body
