"""Recent activity (issue 14, item 4): cards say how recently someone was active; profiles
inactive for 30 days leave the feed (the hourly maintenance pauses them, one node per firing),
hear of likes at most once a week, and come back with their next action."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from config.i18n import t
from domain.activity import AWAY_AFTER
from tests.e2e.people import People, Person, browse, card_name, is_card
from tests.support.profiles import unique_city
from tests.support.stack import NodeThread

pytestmark = pytest.mark.usefixtures("steady_node")


def run_maintenance(node: NodeThread) -> object:
    """One firing of the maintenance job in a slot of its own (as APScheduler fires it on
    every node; claim_firing lets one run it), then the same firing again."""
    slot = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 10**6)
    first = node.node.maintenance.clean(slot).get(timeout=60)
    again = node.node.maintenance.clean(slot).get(timeout=60)
    assert again is None, "a firing ran twice"
    return first


def go_idle(people: People, person: Person, idle: timedelta) -> None:
    with people.pool.connection() as conn:
        conn.execute(
            "UPDATE users SET last_active_at = now() - %s WHERE id = %s", (idle, person.id)
        )


def card_of(viewer: Person, name: str) -> object:
    card = browse(viewer.user)
    assert card is not None and card_name(card) == name, card
    return card


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_inactive_profile_leaves_the_feed_hears_of_likes_weekly_and_comes_back(
    people: People, node: NodeThread, language: str
) -> None:
    """Bob, inactive 30 days, is paused by the maintenance job; a like on his card served
    before brings "2 people liked you while you were away" (counting the like that came while
    he was idle), a third like brings nothing within the week, a newcomer is not shown him,
    and his next message puts him back in the feed, shown as active today."""
    city = unique_city()
    bob = people.join("Bob", gender="m", seeking="f", city=city, language=language)
    alice = people.join("Alice", gender="f", seeking="m", city=city, language=language)
    carol, dana = (people.join(name, gender="f", seeking="m", city=city) for name in "CD")

    served = {viewer.id: card_of(viewer, "Bob") for viewer in (alice, carol, dana)}
    assert t(language, "activity.today") in served[alice.id].body  # type: ignore[attr-defined]
    dana.user.press("❤️", message_id=served[dana.id].message_id)  # type: ignore[attr-defined]
    bob.user.wait_until(
        lambda chat: any("💘" in m.body for m in chat.bot_messages), what="the like notice"
    )

    go_idle(people, bob, AWAY_AFTER + timedelta(days=1))
    report = run_maintenance(node)
    assert report is not None and report.away >= 1  # type: ignore[attr-defined]
    assert people.value(
        "SELECT is_paused AND away_since IS NOT NULL FROM users WHERE id = %s", bob.id
    )

    bob.user.mark_read()
    alice.user.press("❤️", message_id=served[alice.id].message_id)  # type: ignore[attr-defined]
    assert alice.user.wait_for_answer().text == t(language, "browse.liked")
    assert bob.user.wait_for_message().body == t(language, "activity.away_likes", count=2)

    carol.user.press("❤️", message_id=served[carol.id].message_id)  # type: ignore[attr-defined]
    assert carol.user.wait_for_answer().text == t("en", "browse.liked")
    eve = people.join("Eve", gender="f", seeking="m", city=city)
    assert browse(eve.user) is None

    bob.user.send_text("/start")
    own = bob.user.wait_for_messages(2)
    assert all("💘" not in message.body for message in own), "a second away notice came"
    assert t(language, "profile.paused_note") not in own[-1].body
    assert (
        people.value("SELECT is_paused OR away_since IS NOT NULL FROM users WHERE id = %s", bob.id)
        is False
    )
    # Eve's pass ran dry a moment ago and starts over within the hour; a newcomer's is new.
    fay = people.join("Fay", gender="f", seeking="m", city=city)
    card = browse(fay.user)
    assert card is not None and card_name(card) == "Bob" and is_card(card)
    assert t("en", "activity.today") in card.body


def test_a_pause_of_ones_own_outlasts_coming_back(people: People, node: NodeThread) -> None:
    """Someone who paused themselves and went idle is not marked away, and their next action
    leaves them paused; a profile idle for less than 30 days is not paused."""
    city = unique_city()
    own = people.join("Olga", gender="f", seeking="m", city=city)
    recent = people.join("Rita", gender="f", seeking="m", city=city)
    people.accounts.set_paused(own.id, True)
    go_idle(people, own, AWAY_AFTER + timedelta(days=5))
    go_idle(people, recent, AWAY_AFTER - timedelta(days=1))
    run_maintenance(node)
    assert people.value("SELECT away_since FROM users WHERE id = %s", own.id) is None
    assert people.value("SELECT is_paused FROM users WHERE id = %s", recent.id) is False
    own.user.send_text("/start")
    own.user.wait_for_messages(2)
    assert people.value("SELECT is_paused FROM users WHERE id = %s", own.id) is True


def test_cards_say_this_week_and_nothing_for_older(people: People) -> None:
    """Active three days ago reads "this week"; ten days ago, nothing."""
    city = unique_city()
    viewer = people.join("Vic", gender="m", seeking="f", city=city)
    week = people.join("Wendy", gender="f", seeking="m", city=city)
    go_idle(people, week, timedelta(days=3))
    card = browse(viewer.user)
    assert card is not None and card_name(card) == "Wendy"
    assert t("en", "activity.week") in card.body and t("en", "activity.today") not in card.body
    go_idle(people, week, timedelta(days=10))
    viewer.user.press("👎", message_id=card.message_id)
    with people.pool.connection() as conn:
        conn.execute("DELETE FROM interactions WHERE actor_id = %s", (viewer.id,))
        conn.execute("DELETE FROM feed_passes WHERE viewer_id = %s", (viewer.id,))
    again = browse(viewer.user)
    assert again is not None and card_name(again) == "Wendy"
    assert t("en", "activity.week") not in again.body
