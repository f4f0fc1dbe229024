"""Every candidate the place rule allows reaches the viewer, with or without coordinates on
either side, and radius widening counts them all (real PostgreSQL, the real feed).

The rule (domain.filters LOCATION): the same city, or both shared coordinates and are within
the viewer's (possibly widened) radius. Each case places one viewer and one candidate somewhere
nobody else is, and walks the viewer's whole feed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from storage import db
from storage.accounts import Account, Accounts
from storage.feed import Feed, FeedCard
from tests.support.profiles import complete_profile, unique_city

KM_PER_DEGREE = 111.2
RADIUS_KM = 25


@dataclass(frozen=True)
class Case:
    viewer_coordinates: bool
    viewer_city: bool
    candidate_coordinates: bool
    same_city: bool
    km_apart: float  # along a meridian; only meaningful when both shared coordinates
    served: bool
    # Thirty other people with coordinates 3 km from the viewer, so that the radius stays the
    # viewer's own (no widening).
    crowded: bool = False


CASES = {
    "viewer city, candidate city": Case(False, True, False, True, 0, True),
    "viewer city, candidate same city with coordinates": Case(False, True, True, True, 40, True),
    "viewer city, candidate other city": Case(False, True, False, False, 0, False),
    "viewer city, candidate coordinates only": Case(False, True, True, False, 0, False),
    "viewer coordinates and city, candidate same city without coordinates": Case(
        True, True, False, True, 0, True
    ),
    "viewer coordinates and city, candidate same city inside the radius": Case(
        True, True, True, True, 5, True
    ),
    "viewer coordinates and city, candidate same city outside the radius": Case(
        True, True, True, True, 40, True, crowded=True
    ),
    "viewer coordinates and city, candidate other city without coordinates": Case(
        True, True, False, False, 0, False
    ),
    "viewer coordinates, candidate coordinates inside the radius": Case(
        True, False, True, False, 5, True
    ),
    "viewer coordinates, candidate coordinates outside the radius": Case(
        True, False, True, False, 40, False, crowded=True
    ),
    # Outside the viewer's own radius, inside a widening step: nobody else is near.
    "viewer coordinates, candidate coordinates outside the radius, few people near": Case(
        True, False, True, False, 40, True
    ),
    "viewer coordinates, candidate coordinates beyond every widening": Case(
        True, False, True, False, 900, False
    ),
    "viewer coordinates, candidate without coordinates": Case(True, False, False, False, 0, False),
}


def lonely_spot() -> tuple[float, float]:
    """A point near Antarctica, far from any other test's people: more than 500 km (the
    widest widening) plus 900 km (the farthest candidate here) south of the e2e tests' spots
    (tests/e2e/people.py, none south of 45° S), which share this database."""
    return random.uniform(-70.0, -60.0), random.uniform(-150.0, 150.0)


def person(
    pool: db.Pool,
    gender: str,
    seeking: str,
    city: str | None,
    point: tuple[float, float] | None,
) -> int:
    latitude, longitude = point if point is not None else (None, None)
    return complete_profile(
        pool,
        gender=gender,
        seeking=seeking,
        city=city or "Somewhere",
        city_key=city.lower() if city is not None else None,
        latitude=latitude,
        longitude=longitude,
        radius_km=RADIUS_KM,
    )


def account(pool: db.Pool, user_id: int) -> Account:
    found = Accounts(pool).get(user_id)
    assert found is not None
    return found


def whole_feed(feed: Feed, viewer: Account, limit: int = 200) -> list[FeedCard]:
    cards: list[FeedCard] = []
    while len(cards) < limit and (card := feed.next_card(viewer)) is not None:
        cards.append(card)
    return cards


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_every_candidate_the_place_rule_allows_is_served(pool: db.Pool, case: Case) -> None:
    city, other_city = unique_city(), unique_city()
    lat, lon = lonely_spot()
    viewer = person(
        pool,
        "f",
        "m",
        city if case.viewer_city else None,
        (lat, lon) if case.viewer_coordinates else None,
    )
    candidate = person(
        pool,
        "m",
        "f",
        city if case.same_city else (other_city if not case.candidate_coordinates else None),
        (lat + case.km_apart / KM_PER_DEGREE, lon) if case.candidate_coordinates else None,
    )
    crowd = {
        person(pool, "m", "f", None, (lat + 3 / KM_PER_DEGREE, lon))
        for _ in range(30 if case.crowded else 0)
    }
    cards = whole_feed(Feed(pool), account(pool, viewer))
    served = {card.card.user_id for card in cards}
    assert (candidate in served) is case.served, served
    assert crowd <= served
    if case.crowded:
        assert all(card.widened_to_km is None for card in cards)


def test_widening_counts_people_of_the_city_without_coordinates(pool: db.Pool) -> None:
    """Thirty people of the viewer's city, none sharing coordinates, are enough: the radius
    is not widened past them, so someone 40 km away outside the city is never shown."""
    city = unique_city()
    lat, lon = lonely_spot()
    viewer = person(pool, "f", "m", city, (lat, lon))
    townspeople = {person(pool, "m", "f", city, None) for _ in range(30)}
    far = person(pool, "m", "f", None, (lat + 40 / KM_PER_DEGREE, lon))
    cards = whole_feed(Feed(pool), account(pool, viewer))
    served = {card.card.user_id for card in cards}
    assert townspeople <= served
    assert far not in served
    assert all(card.widened_to_km is None for card in cards)


def test_widening_counts_only_people_who_can_be_shown(pool: db.Pool) -> None:
    """Thirty paused people ranked above thirty visible ones 3 km away do not make the place
    look empty: the radius is not widened, so someone 40 km away is never shown, and the
    thirty are."""
    lat, lon = lonely_spot()
    viewer = person(pool, "f", "m", None, (lat, lon))
    near = (lat + 3 / KM_PER_DEGREE, lon)
    paused = [person(pool, "m", "f", None, near) for _ in range(30)]
    visible = {person(pool, "m", "f", None, near) for _ in range(30)}
    far = person(pool, "m", "f", None, (lat + 40 / KM_PER_DEGREE, lon))
    with pool.connection() as conn:
        conn.execute("UPDATE profiles SET feed_score = 0.9 WHERE user_id = ANY(%s)", (paused,))
        conn.execute("UPDATE users SET is_paused = true WHERE id = ANY(%s)", (paused,))
    cards = whole_feed(Feed(pool), account(pool, viewer))
    served = {card.card.user_id for card in cards}
    assert visible <= served
    assert far not in served
    assert all(card.widened_to_km is None for card in cards)


def test_many_people_who_cannot_be_shown_at_the_top_hide_nobody(pool: db.Pool) -> None:
    """A city's top holds 120 people who cannot be shown (paused, banned, without a photo),
    more than the pages a card may read: the first card is still the one visible person
    below them, not "nobody is left"."""
    city = unique_city()
    viewer = person(pool, "f", "m", city, None)
    hidden = [person(pool, "m", "f", city, None) for _ in range(120)]
    visible = person(pool, "m", "f", city, None)
    with pool.connection() as conn:
        conn.execute("UPDATE profiles SET feed_score = 0.9 WHERE user_id = ANY(%s)", (hidden,))
        conn.execute("UPDATE users SET is_paused = true WHERE id = ANY(%s)", (hidden[:40],))
        conn.execute("UPDATE users SET is_banned = true WHERE id = ANY(%s)", (hidden[40:80],))
        conn.execute("DELETE FROM photos WHERE user_id = ANY(%s)", (hidden[80:],))
        # Visible for an hour: read by the pages, not as newcomers.
        conn.execute(
            "UPDATE profiles SET visible_since = now() - interval '1 hour' WHERE user_id = %s",
            (visible,),
        )
    card = Feed(pool).next_card(account(pool, viewer))
    assert card is not None and card.card.user_id == visible


def test_widening_reaches_people_with_coordinates_when_the_city_is_small(pool: db.Pool) -> None:
    """With a few townspeople only (fewer than 30 people anywhere), the radius widens and the
    pass serves both kinds: everyone of the city and the person 40 km away, the first card
    saying the radius widened."""
    city = unique_city()
    lat, lon = lonely_spot()
    viewer = person(pool, "f", "m", city, (lat, lon))
    townspeople = {person(pool, "m", "f", city, None) for _ in range(3)}
    far = person(pool, "m", "f", None, (lat + 40 / KM_PER_DEGREE, lon))
    cards = whole_feed(Feed(pool), account(pool, viewer))
    assert townspeople | {far} <= {card.card.user_id for card in cards}
    widened = cards[0].widened_to_km
    assert widened is not None and widened >= 50
