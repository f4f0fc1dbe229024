"""Browsing, who is shown, likes, the like notice and matches, end to end through the sandbox.

Every candidate rule has a test with two candidates that differ only in that rule: the one
that breaks it must never be shown, so removing the rule makes the test fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from presentation.callbacks import CallbackSigner
from storage.feed_batch import FEED_BATCH
from tests.e2e.people import (
    People,
    Person,
    browse,
    card_name,
    decide,
    match_notice,
    next_card,
    skip_all,
    unique_spot,
)
from tests.support.profiles import unique_city
from tests.support.services import TEST_BOT_TOKEN

pytestmark = pytest.mark.usefixtures("steady_node")

KM_PER_DEGREE_LATITUDE = 111.2


def north_of(spot: tuple[float, float], km: float) -> tuple[float, float]:
    return spot[0] + km / KM_PER_DEGREE_LATITUDE, spot[1]


def north_east_of(spot: tuple[float, float], km: float) -> tuple[float, float]:
    """About km away to the north-east: inside the square around a circle of radius
    km / 1.2, but outside the circle."""
    side = km / 2**0.5 / KM_PER_DEGREE_LATITUDE
    return spot[0] + side, spot[1] + side / math.cos(math.radians(spot[0] + side))


def shown_to(viewer: Person) -> set[str]:
    return set(skip_all(viewer.user))


# -- who is shown: one test per rule ----------------------------------------------------------

# Each case makes, in the viewer's city, the candidate that breaks one rule; "Shown" is the
# same person without the break. The viewer is a 30-year-old man seeking women aged 25-35.
Breaker = Callable[[People, str, Person], Person]


def _woman(
    people: People,
    city: str,
    name: str,
    *,
    gender: str = "f",
    seeking: str = "m",
    age: int = 30,
    ages: tuple[int, int] = (25, 40),
    photo: bool = True,
) -> Person:
    return people.join(
        name, gender=gender, seeking=seeking, age=age, ages=ages, city=city, photo=photo
    )


def _paused(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Paused")
    people.accounts.set_paused(person.id, True)
    return person


def _banned(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Banned")
    people.sql("UPDATE users SET is_banned = true WHERE id = %s", person.id)
    return person


def _hidden(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Hidden")
    people.sql("UPDATE users SET is_hidden = true WHERE id = %s", person.id)
    return person


def _deleted(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Deleted")
    people.accounts.delete_account(person.id)
    return person


def _unfinished(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Unfinished")
    people.accounts.set_onboarding_step(person.id, "about")
    return person


def _blocked_by_viewer(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Blockedbyme")
    people.sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s)", viewer.id, person.id)
    return person


def _blocked_viewer(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Blockedme")
    people.sql("INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s)", person.id, viewer.id)
    return person


def _already_liked(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Liked")
    people.sql(
        "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'like')",
        viewer.id,
        person.id,
    )
    return person


def _matched(people: People, city: str, viewer: Person) -> Person:
    person = _woman(people, city, "Matched")
    people.sql(
        "INSERT INTO matches (user_low, user_high, status) "
        "VALUES (least(%s, %s), greatest(%s, %s), 'unmatched')",
        viewer.id,
        person.id,
        viewer.id,
        person.id,
    )
    return person


RULES: dict[str, Breaker] = {
    "viewer_gender_wish": lambda p, c, v: _woman(p, c, "Man", gender="m", seeking="any"),
    "candidate_gender_wish": lambda p, c, v: _woman(p, c, "Seekswomen", seeking="f"),
    "viewer_age_range": lambda p, c, v: _woman(p, c, "Older", age=45, ages=(25, 50)),
    "candidate_age_range": lambda p, c, v: _woman(p, c, "Wantsolder", ages=(35, 50)),
    "same_city": lambda p, c, v: _woman(p, unique_city(), "Elsewhere"),
    "has_photo": lambda p, c, v: _woman(p, c, "Nophoto", photo=False),
    "paused": _paused,
    "banned": _banned,
    "hidden_after_reports": _hidden,
    "deleted": _deleted,
    "profile_finished": _unfinished,
    "blocked_by_viewer": _blocked_by_viewer,
    "blocked_the_viewer": _blocked_viewer,
    "already_liked": _already_liked,
    "already_matched": _matched,
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_candidate_breaking_one_rule_is_never_shown(people: People, rule: str) -> None:
    """Of two candidates that differ only in one rule, only the one keeping it is shown."""
    city = unique_city()
    viewer = people.join("Viewer", gender="m", seeking="f", age=30, ages=(25, 35), city=city)
    _woman(people, city, "Shown")
    RULES[rule](people, city, viewer)
    assert shown_to(viewer) == {"Shown"}


def test_viewer_never_sees_themselves(people: People) -> None:
    """A viewer who would match their own wishes is not shown their own card."""
    city = unique_city()
    viewer = people.join("Selfie", gender="f", seeking="any", city=city)
    people.join("Other", gender="f", seeking="f", city=city)
    assert shown_to(viewer) == {"Other"}


def test_distance_rule_when_both_shared_a_location(people: People) -> None:
    """With coordinates, someone 5.5 km away is shown with the distance in its coarse step
    (domain.location_privacy); someone 600 km away
    (beyond the widest radius, 500 km, though inside its bounding square) is not, and
    someone who gave only a city is not either."""
    spot = unique_spot()
    viewer = people.join("Viewer", gender="m", seeking="f", location=spot)
    people.join("Near", location=north_of(spot, 5.5))
    people.join("Corner", location=north_east_of(spot, 600))
    people.join("Cityonly", city=unique_city())
    card = browse(viewer.user)
    assert card is not None and card_name(card) == "Near"
    assert "📍 ~5 km" in card.body
    assert decide(viewer.user, card, "👎") is None


def test_radius_widens_when_few_are_near_and_the_user_is_told(people: People) -> None:
    """With nobody inside a 10 km radius, the feed widens step by step, says so on the first
    card, and shows someone 40 km away — but still not someone 900 km away."""
    spot = unique_spot()
    viewer = people.join("Viewer", gender="m", seeking="f", location=spot)
    people.sql("UPDATE profiles SET radius_km = 10 WHERE user_id = %s", viewer.id)
    people.join("Fortykm", location=north_of(spot, 40))
    people.join("Far", location=north_of(spot, 900))
    card = browse(viewer.user)
    assert card is not None and card_name(card) == "Fortykm"
    assert "Few people are near you" in card.body and "500 km" in card.body
    assert decide(viewer.user, card, "👎") is None


def test_nobody_left_offers_wider_filters(people: People) -> None:
    """When nobody is left the bot says so and offers the age range and gender wish."""
    viewer = people.join("Lonely", gender="m", seeking="f")
    viewer.user.send_text("/browse")
    message = viewer.user.wait_for_message()
    assert "That's everyone for now" in message.body
    assert {"🔢 Age range", "💞 Looking for"} <= set(message.button_texts)


def test_skipped_people_come_back_last_and_not_within_a_week(people: People) -> None:
    """A skipped person is not shown again within 7 days; after that they come back, but only
    once everyone not yet skipped was shown — even someone ranked lower."""
    city = unique_city()
    viewer = people.join("Viewer", gender="m", seeking="f", city=city)
    first = people.join("Skipped", city=city)
    people.sql(
        "UPDATE ratings SET combined_score = 0.9, primary_score = 1 WHERE user_id = %s", first.id
    )
    assert skip_all(viewer.user) == ["Skipped"]
    assert skip_all(viewer.user) == [], "the pass ran dry: only old skips may come back"
    people.sql("DELETE FROM feed_passes WHERE viewer_id = %s", viewer.id)
    assert skip_all(viewer.user) == [], "a new pass leaves skipped people out"
    people.sql(
        "UPDATE interactions SET created_at = now() - interval '8 days' "
        "WHERE actor_id = %s AND kind = 'skip'",
        viewer.id,
    )
    newcomer = people.join("Newcomer", city=city)
    people.sql("UPDATE ratings SET combined_score = 0.1 WHERE user_id = %s", newcomer.id)
    people.sql("DELETE FROM feed_passes WHERE viewer_id = %s", viewer.id)
    assert skip_all(viewer.user) == ["Newcomer", "Skipped"]


def test_undo_brings_back_only_the_last_skip(people: People) -> None:
    """↩️ on the card after a skip shows the skipped card again; an older ↩️ (pressed from a
    stale client, since the bot took it off the decided card) is refused."""
    city = unique_city()
    viewer = people.join("Viewer", gender="m", seeking="f", city=city)
    for name in ("Ann", "Bea", "Cat"):
        people.join(name, city=city)
    first = browse(viewer.user)
    assert first is not None
    second = decide(viewer.user, first, "👎")
    assert second is not None
    third = decide(viewer.user, second, "👎")
    assert third is not None
    viewer.user.press_forged(second.message_id, second.callback_data("↩️"))
    assert "Only the last skip" in (viewer.user.wait_for_answer().text or "")
    again = decide(viewer.user, third, "↩️")
    assert again is not None and card_name(again) == card_name(second)
    after = decide(viewer.user, again, "❤️")
    assert after is not None and card_name(after) == card_name(third)


# -- likes, notices, matches -------------------------------------------------------------------


def test_likes_with_and_without_a_message_reach_likes(people: People) -> None:
    """One like plain and one with a message: the liked person sees both in /likes, the
    message under its card, and whoever liked is not shown to the liker again."""
    city = unique_city()
    liked = people.join("Liked", gender="f", seeking="m", city=city)
    plain = people.join("Plain", gender="m", seeking="f", city=city)
    writer = people.join("Writer", gender="m", seeking="f", city=city)
    card = browse(plain.user)
    assert card is not None
    assert decide(plain.user, card, "❤️") is None
    card = browse(writer.user)
    assert card is not None
    writer.user.press("💌", message_id=card.message_id)
    assert "Write a message" in writer.user.wait_for_message().body
    writer.user.send_text("x" * 301)
    assert "301 characters" in writer.user.wait_for_message().body
    writer.user.send_text("Coffee on Sunday?")
    draft = writer.user.wait_for_message()
    assert "Send this to Liked?" in draft.body and "Coffee on Sunday?" in draft.body
    writer.user.press("✅ Send to Liked", message_id=draft.message_id)
    assert next_card(writer.user) is None
    liked.user.send_text("/likes")
    first = next_card(liked.user)
    assert first is not None and card_name(first) == "Plain"
    assert "1 more people like you" in first.body
    second = decide(liked.user, first, "👎 No")
    assert second is not None and card_name(second) == "Writer"
    assert "Coffee on Sunday?" in second.body
    assert skip_all(plain.user) == []


def test_like_notice_is_batched_with_a_count(people: People) -> None:
    """The first like is told at once; likes within the quiet time wait and then come as one
    notice with how many people like you."""
    city = unique_city()
    star = people.join("Star", gender="f", seeking="m", city=city)
    fans = [people.join(f"Fan{'abc'[n]}", gender="m", seeking="f", city=city) for n in range(3)]
    star.user.mark_read()
    for fan in fans:
        card = browse(fan.user)
        assert card is not None
        decide(fan.user, card, "❤️")
    first = star.user.wait_for_message()
    assert "Someone likes you" in first.body
    assert people.value("SELECT pending FROM like_notices WHERE user_id = %s", star.id) is True
    people.sql(
        "UPDATE like_notices SET last_sent_at = now() - interval '1 hour' WHERE user_id = %s",
        star.id,
    )
    batched = star.user.wait_for_message(timeout=15)
    assert "3 people like you" in batched.body
    notices = [m for m in star.user.messages if "like you" in m.body or "likes you" in m.body]
    assert len(notices) == 2


def couple(people: People, her_name: str, his_name: str) -> tuple[Person, Person]:
    """A woman and a man in a city of their own: each is the other's only candidate."""
    city = unique_city()
    return (
        people.join(her_name, gender="f", seeking="m", city=city),
        people.join(his_name, gender="m", seeking="f", city=city),
    )


def like_the_card(person: Person) -> None:
    """Open the feed and like the one card in it."""
    card = browse(person.user)
    assert card is not None
    decide(person.user, card, "❤️")


def test_answering_a_like_makes_a_match_told_to_both(people: People) -> None:
    """❤️ in /likes creates the match: both get the other's card with a 💬 Write button, and
    /matches lists it."""
    she, he = couple(people, "Alice", "Bob")
    like_the_card(he)
    she.user.mark_read()
    she.user.send_text("/likes")
    liker = next_card(she.user)
    assert liker is not None and card_name(liker) == "Bob"
    she.user.press("❤️ Like back", message_id=liker.message_id)
    she.user.wait_until(
        lambda chat: any("Nobody new has liked you" in m.body for m in chat.bot_messages),
        what="the likes end",
    )
    for person, other in ((she, "Bob"), (he, "Alice")):
        notice = person.user.wait_until(
            lambda chat: next((m for m in chat.bot_messages if "It's a match" in m.body), None),
            what="the match notice",
        )
        assert other in notice.body and "💬 Write" in notice.button_texts and notice.photo
    she.user.mark_read()
    she.user.send_text("/matches")
    listing = she.user.wait_for_message()
    assert "Bob" in listing.body and "no messages yet" in listing.body
    assert (
        people.value(
            "SELECT count(*) FROM matches WHERE user_low = least(%s, %s) "
            "AND user_high = greatest(%s, %s)",
            she.id,
            he.id,
            she.id,
            he.id,
        )
        == 1
    )


def test_simultaneous_likes_through_the_bot_make_one_match(people: People) -> None:
    """Two people pressing ❤️ on each other's cards at the same moment, many times over, end
    with exactly one match and exactly one match notice each."""
    for _ in range(5):
        she, he = couple(people, "Eve", "Dan")
        her_card, his_card = browse(she.user), browse(he.user)
        assert her_card is not None and his_card is not None
        she.user.press("❤️", message_id=her_card.message_id)
        he.user.press("❤️", message_id=his_card.message_id)
        for person in (she, he):
            person.user.wait_until(
                lambda chat: any("It's a match" in m.body for m in chat.bot_messages),
                what="the match notice",
            )
            person.user.wait_until(
                lambda chat: any("That's everyone" in m.body for m in chat.bot_messages),
                what="the feed after the like",
            )
        for person in (she, he):
            assert sum("It's a match" in m.body for m in person.user.messages) == 1
        assert (
            people.value(
                "SELECT count(*) FROM matches WHERE user_low = least(%s, %s) "
                "AND user_high = greatest(%s, %s)",
                she.id,
                he.id,
                she.id,
                he.id,
            )
            == 1
        )


def test_a_match_made_by_a_node_that_died_is_still_told_once(people: People) -> None:
    """A node died after committing a like and the match it made, before telling anyone; the
    like is handled again (as the same update given out again would be): the liker is shown
    the match and the other person gets the match notice, once — a further repeat adds
    nothing."""
    she, he = couple(people, "Iris", "Ivan")
    like_the_card(she)
    his_card = browse(he.user)
    assert his_card is not None and card_name(his_card) == "Iris"
    # What the dead node committed: his like and the match, in one transaction.
    with people.pool.connection() as conn:
        conn.execute(
            "INSERT INTO interactions (actor_id, target_id, kind) VALUES (%s, %s, 'like')",
            (he.id, she.id),
        )
        conn.execute(
            "INSERT INTO matches (user_low, user_high) VALUES (least(%s, %s), greatest(%s, %s))",
            (he.id, she.id, he.id, she.id),
        )
    like = his_card.callback_data("❤️")
    he.user.press("❤️", message_id=his_card.message_id)
    match_notice(he, she)
    match_notice(she, he)
    he.user.press_forged(his_card.message_id, like)  # the same press once more
    he.user.wait_until(
        lambda chat: sum("It's a match" in m.body for m in chat.bot_messages) == 2,
        what="the match shown to him again",
    )
    she.user.mark_read()
    she.user.send_text("/help")  # handled after any notice still on its way to her
    she.user.wait_for_message()
    assert sum("It's a match" in m.body for m in she.user.messages) == 1
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'like'", he.id
        )
        == 1
    )


def test_daily_like_limit_is_told(people: People) -> None:
    """After the day's 100 likes the next like is refused with the limit named."""
    city = unique_city()
    viewer = people.join("Eager", gender="m", seeking="f", city=city)
    people.join("Hundredfirst", city=city)
    people.sql(
        """WITH fillers AS (
               INSERT INTO users (id, chat_id) SELECT g, g FROM generate_series(%s, %s + 99) g
               RETURNING id)
           INSERT INTO interactions (actor_id, target_id, kind)
           SELECT %s, id, 'like' FROM fillers""",
        viewer.id * 1000,
        viewer.id * 1000,
        viewer.id,
    )
    card = browse(viewer.user)
    assert card is not None
    viewer.user.press("❤️", message_id=card.message_id)
    refusal = viewer.user.wait_for_message()
    assert "all 100 likes for today" in refusal.body
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'like'", viewer.id
        )
        == 100
    )


# -- buttons that must not work ------------------------------------------------------------------


def test_forged_and_stale_buttons_are_refused(people: People) -> None:
    """Tampered data, a validly signed like for someone never shown, and a like on a card
    whose person was banned since are all refused; no like is stored."""
    city = unique_city()
    viewer = people.join("Viewer", gender="m", seeking="f", city=city)
    shown = people.join("Shown", city=city)
    never_shown = people.join("Nevershown", city=unique_city())
    card = browse(viewer.user)
    assert card is not None
    data = card.callback_data("❤️")
    viewer.user.press_forged(card.message_id, data[:-2] + ("AA" if data[-2:] != "AA" else "BB"))
    assert "old message" in (viewer.user.wait_for_answer().text or "")
    signer = CallbackSigner(TEST_BOT_TOKEN.encode())
    viewer.user.press_forged(card.message_id, signer.sign(viewer.id, "bl", str(never_shown.id)))
    assert "old message" in (viewer.user.wait_for_answer().text or "")
    people.sql("UPDATE users SET is_banned = true WHERE id = %s", shown.id)
    viewer.user.press("❤️", message_id=card.message_id)
    assert "no longer available" in (viewer.user.wait_for_answer().text or "")
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'like'", viewer.id
        )
        == 0
    )


def test_people_who_liked_you_come_first(people: People) -> None:
    """Someone who already liked the viewer is shown first, even when a whole batch of
    higher-ranked strangers is there; every card shown is recorded as a view."""
    city = unique_city()
    viewer = people.join("Viewer", gender="m", seeking="f", city=city)
    for _ in range(FEED_BATCH):
        stranger = people.join("Stranger", city=city)
        people.sql("UPDATE ratings SET combined_score = 0.9 WHERE user_id = %s", stranger.id)
    admirer = people.join("Admirer", city=city)
    people.sql("UPDATE ratings SET combined_score = 0.1 WHERE user_id = %s", admirer.id)
    card = browse(admirer.user)
    assert card is not None and card_name(card) == "Viewer"
    decide(admirer.user, card, "❤️")
    first = browse(viewer.user)
    assert first is not None and card_name(first) == "Admirer"
    second = decide(viewer.user, first, "👎")
    assert second is not None and card_name(second) == "Stranger"
    assert (
        people.value(
            "SELECT count(*) FROM interactions WHERE actor_id = %s AND kind = 'view'", viewer.id
        )
        == 2
    )


def test_settings_change_the_radius(people: People) -> None:
    """/settings shows the filters; a new radius is saved and shown."""
    viewer = people.join("Viewer", gender="m", seeking="f", location=unique_spot())
    viewer.user.mark_read()
    viewer.user.send_text("/settings")
    screen = viewer.user.wait_for_message()
    assert "Looking for: women" in screen.body and "Radius: 50 km" in screen.body
    viewer.user.press("📏 Radius", message_id=screen.message_id)
    choices = viewer.user.wait_for_message()
    viewer.user.press("25", message_id=choices.message_id)
    assert "Radius: 25 km ✅" in viewer.user.wait_for_message().body
    assert "Radius: 25 km" in viewer.user.wait_for_message().body
    assert people.value("SELECT radius_km FROM profiles WHERE user_id = %s", viewer.id) == 25
